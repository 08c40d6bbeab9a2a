import Foundation
import KPICore
import Synchronization

/// Limits on one query. Each is checked while the query runs; exceeding one stops the query
/// with an error that names the limit and how to change it.
public struct QueryLimits: Sendable, Equatable {
    /// Series a query may read (after label filtering).
    public var maxSeries: Int
    /// Samples a query may read.
    public var maxSamples: Int
    /// Rows a result may have.
    public var maxRows: Int
    /// Wall-clock budget; the query is stopped, not left running, when it runs out.
    public var timeoutMilliseconds: Int64
    /// Memory for GROUP BY state (groups, kept values for exact quantiles, join tables), in bytes.
    public var maxGroupBytes: Int

    public init(
        maxSeries: Int = 100_000, maxSamples: Int = 500_000_000, maxRows: Int = 1_000_000,
        timeoutMilliseconds: Int64 = 60_000, maxGroupBytes: Int = 1 << 30
    ) {
        self.maxSeries = maxSeries
        self.maxSamples = maxSamples
        self.maxRows = maxRows
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxGroupBytes = maxGroupBytes
    }
}

/// Everything a query needs besides its text and the store.
public struct QueryOptions: Sendable {
    /// The instant `now()` returns (Unix ms); fixed for the whole query.
    public var now: Int64
    /// Time zone for `date_trunc` and `date_part` when the call names none.
    public var timeZone: TimeZone
    /// Values of named parameters (`:site`), by name without the colon.
    public var parameters: [String: Value]
    public var limits: QueryLimits
    /// Matchers every series a query reads must also satisfy (a token's site scope): series
    /// outside it are invisible, as if they did not exist.
    public var seriesScope: [LabelMatcher] = []
    /// When a series' last sample stops telling its state (`intervals` ends a run there and
    /// reads that far before a range for the state carried into it).
    public var staleness = StalenessPolicy()
    /// Maintenance windows: `intervals()` splits runs at their edges and marks the parts inside
    /// a window covering the series `planned`.
    public var maintenance: [MaintenanceSpan] = []
    /// Threads a large grouped scan may use; nil for one per core, 1 for a single thread.
    public var parallelism: Int? = nil
    /// Whether grouped scans may read sealed chunks' rollups instead of their samples when the
    /// buckets and aggregates allow (the answer is the same; false forces raw samples, for
    /// comparisons and benchmarks).
    public var useRollups = true
    /// Where evaluation records integer overflow; a fresh one per run (`QueryEngine.execute`).
    var arithmeticFaults = ArithmeticFaults()
    /// The run's one deadline (`timeoutMilliseconds` from its start), set by
    /// `QueryEngine.execute`: the querier's scope, the scan and regular expressions share it.
    var deadline = QueryDeadline.ceiling

    public init(
        now: Int64 = WallClock.system.nowMilliseconds(),
        timeZone: TimeZone = TimeZone(identifier: "UTC")!, parameters: [String: Value] = [:],
        limits: QueryLimits = QueryLimits()
    ) {
        self.now = now
        self.timeZone = timeZone
        self.parameters = parameters
        self.limits = limits
    }
}

/// What a query read and how long it took.
public struct QueryStats: Sendable, Equatable {
    public var seriesScanned = 0
    public var samplesScanned = 0
    /// Rollup buckets read instead of samples (see `ChunkRollup`).
    public var rollupBucketsScanned = 0
    /// Samples those buckets stand for (not included in `samplesScanned`).
    public var samplesFromRollups = 0
    public var elapsedMilliseconds = 0.0

    public init() {}
}

/// A result column: its name (the alias, or the expression's text) and type.
public struct ResultColumn: Sendable, Equatable {
    public var name: String
    public var type: ValueType

    public init(name: String, type: ValueType) {
        self.name = name
        self.type = type
    }
}

/// The answer to a query: columns, rows, statistics and warnings (e.g. a column no series
/// has, which is NULL everywhere and likely a typo).
public struct QueryResult: Sendable {
    public var columns: [ResultColumn]
    public var rows: [[Value]]
    public var stats: QueryStats
    public var warnings: [String]

    public init(columns: [ResultColumn], rows: [[Value]], stats: QueryStats = QueryStats(), warnings: [String] = []) {
        self.columns = columns
        self.rows = rows
        self.stats = stats
        self.warnings = warnings
    }
}

/// The first integer overflow of a query run. Compiled expressions cannot throw (they run per
/// sample without allocation), so they record the overflow here and yield NULL; the run then
/// ends with an error instead of answering (PostgreSQL's "bigint out of range"): an integer
/// result past Int64 is an error, never a wrapped or silently missing value.
final class ArithmeticFaults: Sendable {
    private let first = Mutex<String?>(nil)

    /// Records `message` unless an earlier fault was recorded.
    func record(_ message: @autoclosure () -> String) {
        first.withLock { if $0 == nil { $0 = message() } }
    }

    /// The first recorded fault, if any.
    var firstFault: String? { first.withLock { $0 } }
}
