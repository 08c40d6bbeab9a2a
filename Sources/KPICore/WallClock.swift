import Foundation

/// The one source of "now" for everything that depends on the calendar: rolling KPI rounds,
/// the default review week, `now()` in SQL and PromQL's default evaluation time, retention
/// cutoffs, saved-query defaults, missing ingest timestamps, token and audit times, the demo feed.
///
/// Durations (timeouts, elapsed times) are measured on the monotonic clock and do not come
/// from here. A pinned clock (`kpid serve --now`) answers the same instant for the life of the
/// process: for tests and for evaluating KPIs "as of" a past instant (backfills).
public struct WallClock: Sendable, Equatable {
    /// The pinned instant in Unix milliseconds; nil for the system clock.
    public let pinnedMilliseconds: Int64?

    /// The system's real-time clock.
    public static let system = WallClock(pinnedMilliseconds: nil)

    /// A clock that always answers `milliseconds` (Unix ms).
    public static func pinned(at milliseconds: Int64) -> WallClock { WallClock(pinnedMilliseconds: milliseconds) }

    /// Whether this clock is pinned.
    public var isPinned: Bool { pinnedMilliseconds != nil }

    /// Now, in Unix milliseconds (rounded down).
    public func nowMilliseconds() -> Int64 {
        if let pinnedMilliseconds { return pinnedMilliseconds }
        return Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// Now, as a `Date`.
    public func now() -> Date { Date(timeIntervalSince1970: Double(nowMilliseconds()) / 1000) }
}
