/// The instant a query must be finished by, on the monotonic clock (never the wall clock, so a
/// clock step cannot stretch or cut a query). The store, both query engines and regular
/// expression matching check it; passing it is an error of kind "timeout" (HTTP 503).
public struct QueryDeadline: Sendable, Comparable {
    public let instant: ContinuousClock.Instant

    public init(_ instant: ContinuousClock.Instant) { self.instant = instant }

    /// `duration` from now.
    public static func after(_ duration: Duration) -> QueryDeadline {
        QueryDeadline(ContinuousClock.now.advanced(by: duration))
    }

    /// `milliseconds` from now (a negative or zero budget has already passed).
    public static func after(milliseconds: Int64) -> QueryDeadline {
        after(.milliseconds(max(0, milliseconds)))
    }

    /// The longest anything may run when its caller gives no deadline: the default
    /// `query-timeout` (2 min).
    public static var ceiling: QueryDeadline { after(.seconds(120)) }

    /// Whether the deadline is behind us.
    public var hasPassed: Bool { ContinuousClock.now >= instant }

    public static func < (lhs: QueryDeadline, rhs: QueryDeadline) -> Bool { lhs.instant < rhs.instant }
}

/// A query step stopped because its `QueryDeadline` passed.
public struct DeadlineExceeded: Error, Sendable, Equatable {
    public init() {}
}
