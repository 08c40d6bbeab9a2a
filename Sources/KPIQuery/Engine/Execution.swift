import Dispatch
import Foundation
import KPICore

/// Runs SQL queries against a `QuerierSource` (the local `ColumnarStore`).
///
/// Each metric is a table with the columns `ts` (timestamp), `value` (double) and one string
/// column per label (NULL where a series lacks it). Predicates on labels select series through
/// the store's label index and are checked once per series; predicates on `ts` become the time
/// range read from each series' chunks; the rest is evaluated per sample. Every read goes
/// through one `Querier` opened per query for the options' scope and deadline.
public struct QueryEngine: Sendable {
    public let source: any QuerierSource

    public init(source: any QuerierSource) {
        self.source = source
    }

    /// An engine over the local store.
    public init(store: ColumnarStore) {
        self.source = store
    }

    /// Parses and runs one statement.
    public func execute(_ text: String, options: QueryOptions = QueryOptions()) throws(QueryError) -> QueryResult {
        try execute(try QueryParser.parse(text), text: text, options: options)
    }

    /// Runs a parsed statement; `text` (the query as written) lets errors about metrics point
    /// at their name.
    public func execute(_ statement: Statement, text: String = "", options: QueryOptions = QueryOptions()) throws(QueryError)
        -> QueryResult
    {
        let started = DispatchTime.now().uptimeNanoseconds
        var options = options
        options.arithmeticFaults = ArithmeticFaults()
        options.deadline = .after(milliseconds: options.limits.timeoutMilliseconds)
        let querier = source.querier(
            ReadScope(
                matchers: options.seriesScope, deadline: options.deadline,
                budget: SampleBudget(limit: options.limits.maxSamples)))
        let execution = Execution(querier: querier, options: options, text: text)
        var result: QueryResult
        switch statement {
        case .select(let select):
            let relation = try execution.select(select, depth: 0)
            result = QueryResult(
                columns: relation.columns.map { ResultColumn(name: $0.name, type: $0.type) }, rows: relation.rows)
        case .explain(let select):
            execution.explainOnly = true
            _ = try execution.select(select, depth: 0)
            result = QueryResult(columns: [ResultColumn(name: "plan", type: .string)], rows: execution.plan.map { [.string($0)] })
        }
        // A regular expression cut off by the deadline answered "no match" so that the scan
        // could stop; the rows may then be incomplete, so a run that ended past its deadline
        // is a timeout, never a partial answer.
        try execution.checkDeadline()
        if let fault = options.arithmeticFaults.firstFault {
            throw QueryError(
                message: fault, position: .start, hint: "cast to double (CAST(x AS DOUBLE)) for results past ±9.2e18",
                kind: .semantic)
        }
        execution.stats.elapsedMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
        result.stats = execution.stats
        result.warnings = execution.warnings
        return result
    }
}

/// A materialized intermediate result: a subquery's or a join's rows.
struct Relation {
    struct Column {
        var table: String?
        var name: String
        var type: ValueType
    }

    var columns: [Column]
    var rows: [[Value]]
}

/// The state of one query run: statistics, limits, plan lines for EXPLAIN.
final class Execution {
    /// The query's only way to the data; it applies the scope itself.
    let querier: any Querier
    let options: QueryOptions
    let text: String
    var stats = QueryStats()
    var warnings: [String] = []
    var explainOnly = false
    var plan: [String] = []
    var groupBytes = 0

    init(querier: any Querier, options: QueryOptions, text: String) {
        self.querier = querier
        self.options = options
        self.text = text
    }

    private init(parent: Execution) {
        querier = parent.querier
        options = parent.options
        text = parent.text
    }

    /// A run for one share of a parallel scan: same deadline and limits, its own counters.
    func child() -> Execution { Execution(parent: self) }

    /// Adds a finished share's counters to this run and checks the limits on the totals.
    func absorb(_ child: Execution) throws(QueryError) {
        try countScanned(series: child.stats.seriesScanned, samples: child.stats.samplesScanned)
        countRollups(buckets: child.stats.rollupBucketsScanned, samples: child.stats.samplesFromRollups)
        try chargeGroupMemory(child.groupBytes)
    }

    /// Adds series and samples read to the statistics and checks the series limit (the
    /// querier charged the samples to the scope's budget as it returned them).
    func countScanned(series: Int, samples: Int) throws(QueryError) {
        stats.seriesScanned += series
        stats.samplesScanned += samples
        if stats.seriesScanned > options.limits.maxSeries {
            throw limitError(
                "the query reads more than \(options.limits.maxSeries) series", hint: "filter on more labels or raise the series limit")
        }
    }

    /// Counts rollup buckets read (and the samples they stand for) in the statistics; the
    /// querier charged each bucket as one sample against the budget.
    func countRollups(buckets: Int, samples: Int) {
        stats.rollupBucketsScanned += buckets
        stats.samplesFromRollups += samples
    }

    /// The error of a read past the scope's sample budget (`maxSamples`).
    func sampleLimitError() -> QueryError {
        limitError(
            "the query reads more than \(options.limits.maxSamples) samples",
            hint: "narrow the time range (WHERE ts >= ...), filter on labels, or raise the sample limit")
    }

    /// The samples of one series through the querier, charged to the scope's budget.
    func read(_ id: SeriesID, start: Int64, end: Int64) throws(QueryError) -> (timestamps: [Int64], values: [Double]) {
        do {
            return try querier.samples(id, start: start, end: end, staleness: .dropMarkers)
        } catch {
            throw sampleLimitError()
        }
    }

    func limitError(_ message: String, hint: String) -> QueryError {
        QueryError(message: message, position: .start, hint: hint, kind: .limit)
    }

    func checkDeadline() throws(QueryError) {
        if querier.scope.deadline.hasPassed { throw timeoutError }
    }

    var timeoutError: QueryError {
        QueryError(
            message: "query timed out after \(options.limits.timeoutMilliseconds) ms and was stopped", position: .start,
            hint: "narrow the time range or the series, or raise the query timeout", kind: .timeout)
    }

    /// The series matching `matchers` inside the query's scope, regular expressions matched
    /// under the run's deadline.
    func selectSeries(_ matchers: [LabelMatcher]) throws(QueryError) -> [(id: SeriesID, labels: Labels)] {
        do {
            return try querier.select(matchers)
        } catch {
            throw timeoutError
        }
    }

    func chargeGroupMemory(_ bytes: Int) throws(QueryError) {
        groupBytes += bytes
        if groupBytes > options.limits.maxGroupBytes {
            throw limitError(
                "the query needs more than \(options.limits.maxGroupBytes) bytes for GROUP BY state",
                hint: "use fewer groups (wider buckets, fewer keys) or raise the GROUP BY memory limit")
        }
    }

    /// Where `name` first appears in the query text (after FROM when it can tell), for errors
    /// about sources, which the AST does not locate.
    func position(of name: String) -> SourcePosition {
        guard let range = text.range(of: name) else { return .start }
        let before = text[..<range.lowerBound]
        let line = before.reduce(1) { $0 + ($1 == "\n" ? 1 : 0) }
        let lineStart = before.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex
        let column = text[lineStart..<range.lowerBound].unicodeScalars.count + 1
        return SourcePosition(line: line, column: column, offset: text.utf8.distance(from: text.startIndex, to: range.lowerBound))
    }

    func note(_ depth: Int, _ line: String) {
        if explainOnly { plan.append(String(repeating: "  ", count: depth) + line) }
    }
}
