import Synchronization

/// What one read may see, how long it may take and how much it may load: the caller's site
/// scope, the query's deadline and its sample budget. A `Querier` is opened for one scope and
/// applies it to everything it returns, so a reader cannot forget it.
public struct ReadScope: Sendable {
    /// Matchers every selected series must satisfy besides the query's own (a site-scoped
    /// token's `site=~"JFK|LHR"`); empty for an unrestricted reader.
    public var matchers: [LabelMatcher]
    /// When the read must be done; label regular expressions are matched under it, and the
    /// engines stop at it.
    public var deadline: QueryDeadline
    /// How many samples the read may load, shared by every part of it (the querier charges what
    /// it returns; an engine charges the points it makes itself, e.g. a subquery's steps).
    public var budget: SampleBudget

    public init(matchers: [LabelMatcher] = [], deadline: QueryDeadline = .ceiling, budget: SampleBudget = .unlimited) {
        self.matchers = matchers
        self.deadline = deadline
        self.budget = budget
    }

    /// No restriction, the default ceiling.
    public static var unrestricted: ReadScope { ReadScope() }
}

/// The number of samples one read may load (the `query-max-samples` setting), counted across
/// threads: a parallel scan's shares charge the same budget.
public final class SampleBudget: Sendable {
    /// The most samples the read may load.
    public let limit: Int
    private let used = Atomic<Int>(0)

    public init(limit: Int) { self.limit = max(0, limit) }

    /// A budget nothing exhausts (background readers whose size the data bounds).
    public static var unlimited: SampleBudget { SampleBudget(limit: .max) }

    /// The samples charged so far.
    public var spent: Int { used.load(ordering: .relaxed) }

    /// Charges `count` samples; throws once the total passes the limit (the charge stays).
    public func charge(_ count: Int) throws(ReadError) {
        guard count > 0 else { return }
        // Wrapping: a total past Int.max reads negative, which is past any limit too.
        let (_, total) = used.wrappingAdd(count, ordering: .relaxed)
        if total > limit || total < 0 { throw .sampleLimitExceeded(limit: limit) }
    }
}

/// A read stopped before it was done.
public enum ReadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The scope's deadline passed (while matching label regular expressions).
    case deadlineExceeded
    /// The read would load more samples than the scope's budget allows.
    case sampleLimitExceeded(limit: Int)

    public var description: String {
        switch self {
        case .deadlineExceeded: return "the read ran past its deadline"
        case .sampleLimitExceeded(let limit): return "the read loads more than \(limit) samples"
        }
    }
}

/// The read contract: the one way the query engines (SQL, PromQL, and the KPI engine on top of
/// SQL), export and `/metrics` read samples. Modelled on Prometheus' `storage.Querier`.
///
/// A querier is opened for a ``ReadScope`` (`QuerierSource.querier(_:)`) and serves one query:
/// every series it selects satisfies the scope's matchers, selection stops at the scope's
/// deadline, and every sample or rollup bucket it hands out is charged to the scope's budget
/// (a read past it throws ``ReadError/sampleLimitExceeded(limit:)``). Samples come as time-ordered columns; Prometheus staleness markers are kept only
/// where asked for (``Staleness/keepMarkers``: PromQL's instant selector, where a marker ends a
/// series), so no reader filters them itself.
///
/// ``ColumnarStore`` is the local implementation (``StoreQuerier``), with rollup buckets
/// (``withSegments(_:start:end:level:sketches:rollup:slice:)``) as a hint a reader may use in
/// place of samples. A second implementation, e.g. a remote Prometheus-compatible store read
/// over its HTTP API (series from `/api/v1/series`, samples from `/api/v1/query_range` or
/// remote read), plugs in by conforming: select by matchers plus the scope, return samples in
/// `[start, end]` oldest first, and offer no rollup (call `slice` with every sample instead);
/// the engines need no change.
public protocol Querier: AnyObject, Sendable {
    /// The scope this querier was opened for.
    var scope: ReadScope { get }

    /// The series matching every matcher and the scope's, ascending by id, with their labels;
    /// throws when the scope's deadline passes while matching regular expressions.
    func select(_ matchers: [LabelMatcher]) throws(ReadError) -> [(id: SeriesID, labels: Labels)]

    /// The samples of a series with timestamps in `[start, end]`, oldest first, at most `limit`
    /// of them (the oldest; for paging: the next page starts after the last timestamp), charged
    /// to the scope's budget.
    func samples(_ id: SeriesID, start: Int64, end: Int64, limit: Int, staleness: Staleness) throws(ReadError) -> (
        timestamps: [Int64], values: [Double]
    )

    /// The series' data in `[start, end]` as rollup chunks where one lies wholly inside (`rollup`,
    /// with buckets of `level`) and as sample slices elsewhere (`slice`, staleness markers
    /// included: a reader of slices removes them with ``StaleMarker``). An implementation
    /// without rollups calls `slice` only. A rollup chunk is charged its buckets of `level`, a
    /// slice its samples; past the budget it throws ``ReadError`` (else what the closures throw).
    func withSegments(
        _ id: SeriesID, start: Int64, end: Int64, level: RollupLevel, sketches: Bool,
        rollup: (Chunk) throws -> Void, slice: (ArraySlice<Int64>, ArraySlice<Double>) throws -> Void
    ) throws

    /// The values of label `name` among the series inside the scope, sorted.
    func labelValues(_ name: String) -> [String]
}

extension Querier {
    /// Every sample of a series in `[start, end]`, oldest first.
    public func samples(_ id: SeriesID, start: Int64, end: Int64, staleness: Staleness) throws(ReadError) -> (
        timestamps: [Int64], values: [Double]
    ) {
        try samples(id, start: start, end: end, limit: .max, staleness: staleness)
    }
}

/// Whether a read keeps Prometheus staleness markers.
public enum Staleness: Sendable {
    /// Markers removed: they are not samples (SQL, range vectors, export of values).
    case dropMarkers
    /// Markers kept: PromQL's instant selector needs them to end a series at the marker.
    case keepMarkers
}

/// Something queriers are opened on: the local store, or (later) a remote store.
public protocol QuerierSource: Sendable {
    /// A querier for one read under `scope`.
    func querier(_ scope: ReadScope) -> any Querier
}

extension ColumnarStore: QuerierSource {
    public func querier(_ scope: ReadScope) -> any Querier { StoreQuerier(store: self, scope: scope) }
}

/// The ``Querier`` of the local ``ColumnarStore``.
public final class StoreQuerier: Querier {
    public let store: ColumnarStore
    public let scope: ReadScope

    public init(store: ColumnarStore, scope: ReadScope) {
        self.store = store
        self.scope = scope
    }

    public func select(_ matchers: [LabelMatcher]) throws(ReadError) -> [(id: SeriesID, labels: Labels)] {
        do {
            return try store.select(matchers + scope.matchers, deadline: scope.deadline)
        } catch {
            throw .deadlineExceeded
        }
    }

    public func samples(_ id: SeriesID, start: Int64, end: Int64, limit: Int, staleness: Staleness) throws(ReadError) -> (
        timestamps: [Int64], values: [Double]
    ) {
        var (ts, vs) = limit == .max ? store.read(id, start: start, end: end) : store.read(id, start: start, end: end, limit: limit)
        if staleness == .dropMarkers { StaleMarker.remove(from: &ts, &vs) }
        try scope.budget.charge(ts.count)
        return (ts, vs)
    }

    public func withSegments(
        _ id: SeriesID, start: Int64, end: Int64, level: RollupLevel, sketches: Bool,
        rollup: (Chunk) throws -> Void, slice: (ArraySlice<Int64>, ArraySlice<Double>) throws -> Void
    ) throws {
        let budget = scope.budget
        try store.withSegments(id, start: start, end: end, level: level, sketches: sketches) { chunk in
            try budget.charge(chunk.rollup?.bucketCount(level) ?? chunk.count)
            try rollup(chunk)
        } slice: { t, v in
            try budget.charge(t.count)
            try slice(t, v)
        }
    }

    public func labelValues(_ name: String) -> [String] {
        if scope.matchers.isEmpty { return store.labelValues(name) }
        let visible = (try? select([])) ?? []
        return Set(visible.compactMap { $0.labels[name] }).sorted()
    }
}

/// Prometheus' staleness marker: a NaN with one bit pattern, written when a series ends. It is
/// not a sample: readers remove it, except PromQL's instant selector, which stops at it.
public enum StaleMarker {
    /// The marker's bit pattern.
    public static let bitPattern: UInt64 = 0x7ff0_0000_0000_0002

    /// The marker as a value.
    public static var value: Double { Double(bitPattern: bitPattern) }

    /// Whether `value` is the marker (not any other NaN).
    @inline(__always)
    public static func isMarker(_ value: Double) -> Bool { value.bitPattern == bitPattern }

    /// Removes markers (and their timestamps) from parallel columns, in place.
    public static func remove(from timestamps: inout [Int64], _ values: inout [Double]) {
        guard values.contains(where: isMarker) else { return }
        var keep = 0
        for k in values.indices where !isMarker(values[k]) {
            timestamps[keep] = timestamps[k]
            values[keep] = values[k]
            keep += 1
        }
        timestamps.removeSubrange(keep...)
        values.removeSubrange(keep...)
    }
}
