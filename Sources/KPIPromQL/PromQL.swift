import KPICore

/// PromQL for the Prometheus HTTP query API (`/api/v1/query`, `/api/v1/query_range`):
/// ``PromQL/parse(_:)`` and ``PromQLEngine``.
public enum PromQL {
    /// The largest evaluation or `@` time, in seconds either side of the epoch (about 285,000
    /// years): with durations of at most 292 years, time arithmetic cannot overflow.
    public static let maxTimeSeconds = 9e12
}

/// Settings of the PromQL engine.
public struct PromQLOptions: Sendable {
    /// How far back an instant vector selector looks for the latest sample (Prometheus'
    /// `--query.lookback-delta`). Default 5 minutes.
    public var lookbackDeltaMs: Int64 = 300_000
    /// The most samples one query may load from the store (subquery points included); more
    /// fails the query with an execution error.
    public var maxSamples = 50_000_000
    /// The step of subqueries written without one (`x[1h:]`): Prometheus' evaluation interval.
    public var defaultSubqueryStepMs: Int64 = 60_000
    /// The most points per series a range query may ask for (Prometheus' limit).
    public var maxPointsPerSeries = 11_000

    /// Options with a lookback delta and a sample limit; the rest at Prometheus' defaults.
    public init(lookbackDeltaMs: Int64 = 300_000, maxSamples: Int = 50_000_000) {
        self.lookbackDeltaMs = min(max(lookbackDeltaMs, 1), Lexer.maxDurationMs)
        self.maxSamples = maxSamples
    }
}

/// Why a query failed, with Prometheus' error classes.
public enum PromQLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The query does not parse or has a type error (HTTP 400, `bad_data`).
    case parse(PromQLParseError)
    /// A bad parameter such as too many points (HTTP 400, `bad_data`).
    case badData(String)
    /// The query parsed but cannot be evaluated (HTTP 422, `execution`).
    case execution(String)
    /// The query ran past its deadline and was cancelled (HTTP 503, `timeout`).
    case timeout(String)

    /// The message for the API's `error` field.
    public var description: String {
        switch self {
        case .parse(let e): return e.description
        case .badData(let m), .execution(let m), .timeout(let m): return m
        }
    }
}

/// One sample of an instant vector result.
public struct InstantSample: Sendable, Equatable {
    /// The series' labels (after the query's label changes).
    public var labels: Labels
    /// The evaluation time in milliseconds.
    public var timestamp: Int64
    public var value: Double
}

/// One series of a range (matrix) result.
public struct RangeSeries: Sendable, Equatable {
    /// The series' labels.
    public var labels: Labels
    /// Times in milliseconds, ascending; `values` are parallel.
    public var timestamps: [Int64]
    public var values: [Double]
}

/// The result of a query, shaped like Prometheus' `data` (`resultType` and `result`).
public enum QueryValue: Sendable, Equatable {
    case scalar(timestamp: Int64, value: Double)
    case string(timestamp: Int64, value: String)
    case vector([InstantSample])
    case matrix([RangeSeries])

    /// Prometheus' `resultType`.
    public var resultType: String {
        switch self {
        case .scalar: return "scalar"
        case .string: return "string"
        case .vector: return "vector"
        case .matrix: return "matrix"
        }
    }
}

/// Evaluates PromQL over a ``QuerierSource`` (the local ``ColumnarStore``) with Prometheus 2.x
/// semantics (lookback, staleness markers, inclusive range windows, extrapolated rates). Each
/// query reads through one `Querier` opened for its scope (`extraMatchers`) and deadline.
public struct PromQLEngine: Sendable {
    /// Where the samples come from.
    public let source: any QuerierSource
    /// Lookback, limits and defaults.
    public let options: PromQLOptions

    /// An engine over `source`; it holds no state between queries.
    public init(source: any QuerierSource, options: PromQLOptions = PromQLOptions()) {
        self.source = source
        self.options = options
    }

    /// An engine over the local store.
    public init(store: ColumnarStore, options: PromQLOptions = PromQLOptions()) {
        self.init(source: store, options: options)
    }

    /// The querier of one query: `extraMatchers` as its scope, `deadline` (or the ceiling),
    /// the options' sample limit as its budget.
    func querier(_ extraMatchers: [LabelMatcher], _ deadline: ContinuousClock.Instant?) -> any Querier {
        source.querier(
            ReadScope(
                matchers: extraMatchers, deadline: deadline.map(QueryDeadline.init) ?? .ceiling,
                budget: SampleBudget(limit: options.maxSamples)))
    }

    /// Evaluates `query` at one instant (milliseconds). `extraMatchers` are added to every
    /// selector (e.g. a caller's site scope); `deadline` cancels a query that runs too long.
    public func instantQuery(
        _ query: String, at time: Int64, extraMatchers: [LabelMatcher] = [], deadline: ContinuousClock.Instant? = nil
    ) throws(PromQLError) -> QueryValue {
        guard Double(time.magnitude) <= PromQL.maxTimeSeconds * 1000 else { throw .badData("time out of range") }
        let expr = try parsed(query)
        let evaluator = Evaluator(
            querier: querier(extraMatchers, deadline), options: options, queryStart: time, queryEnd: time)
        let grid = Grid(start: time, step: 1, count: 1)
        try evaluator.check()
        switch expr.type {
        case .string:
            if case .string(let s) = expr.unwrapped { return .string(timestamp: time, value: s) }
            throw .execution("unexpected string expression")
        case .scalar:
            let v = try evaluator.scalar(expr, grid)
            return .scalar(timestamp: time, value: v[0])
        case .vector:
            let series = try evaluator.vector(expr, grid)
            var out: [InstantSample] = []
            for s in series { if let v = s.values[0] { out.append(InstantSample(labels: s.labels, timestamp: time, value: v)) } }
            if case .call(let name, _) = expr.unwrapped, name == "sort" || name == "sort_desc" {
                let descending = name == "sort_desc"
                out.sort { a, b in
                    if a.value.isNaN { return false }
                    if b.value.isNaN { return true }
                    return descending ? a.value > b.value : a.value < b.value
                }
            } else {
                out.sort { labelsLess($0.labels, $1.labels) }
            }
            return .vector(out)
        case .matrix:
            let source = try evaluator.rangeSource(expr, grid)
            let ref = source.reference(for: time, evaluator)
            var out: [RangeSeries] = []
            for s in source.series {
                var ts: [Int64] = []
                var vs: [Double] = []
                for k in s.timestamps.indices where s.timestamps[k] >= ref - source.range && s.timestamps[k] <= ref {
                    ts.append(s.timestamps[k])
                    vs.append(s.values[k])
                }
                if !ts.isEmpty { out.append(RangeSeries(labels: s.labels, timestamps: ts, values: vs)) }
            }
            out.sort { labelsLess($0.labels, $1.labels) }
            return .matrix(out)
        }
    }

    /// Evaluates `query` at `start`, `start + step`, ... up to `end` (milliseconds); the result
    /// is a matrix sorted by labels (a scalar becomes one series without labels).
    public func rangeQuery(
        _ query: String, start: Int64, end: Int64, step: Int64, extraMatchers: [LabelMatcher] = [],
        deadline: ContinuousClock.Instant? = nil
    ) throws(PromQLError) -> QueryValue {
        guard step > 0 else {
            throw .badData("zero or negative query resolution step widths are not accepted. Try a positive integer")
        }
        guard end >= start else { throw .badData("end timestamp must not be before start time") }
        guard Double(start.magnitude) <= PromQL.maxTimeSeconds * 1000, Double(end.magnitude) <= PromQL.maxTimeSeconds * 1000
        else { throw .badData("start or end out of range") }
        let points = (end - start) / step
        guard points <= Int64(options.maxPointsPerSeries) else {
            throw .badData(
                "exceeded maximum resolution of \(options.maxPointsPerSeries) points per timeseries. Try decreasing the query resolution (?step=XX)"
            )
        }
        let expr = try parsed(query)
        guard expr.type == .scalar || expr.type == .vector else {
            throw .badData("invalid expression type \"\(expr.type.errorName)\" for range query, must be Scalar or instant Vector")
        }
        let evaluator = Evaluator(
            querier: querier(extraMatchers, deadline), options: options, queryStart: start, queryEnd: end)
        let grid = Grid(start: start, step: step, count: Int(points) + 1)
        try evaluator.check()
        var series: [StepSeries]
        if expr.type == .scalar {
            series = [StepSeries(labels: Labels([]), values: try evaluator.scalar(expr, grid).map { $0 })]
        } else {
            series = try evaluator.vector(expr, grid)
        }
        var out: [RangeSeries] = []
        for s in series {
            var ts: [Int64] = []
            var vs: [Double] = []
            for i in 0..<grid.count {
                if let v = s.values[i] {
                    ts.append(grid.time(i))
                    vs.append(v)
                }
            }
            if !ts.isEmpty { out.append(RangeSeries(labels: s.labels, timestamps: ts, values: vs)) }
        }
        out.sort { labelsLess($0.labels, $1.labels) }
        return .matrix(out)
    }

    private func parsed(_ query: String) throws(PromQLError) -> Expr {
        do {
            return try PromQL.parse(query)
        } catch {
            throw .parse(error)
        }
    }
}

/// Orders label sets as Prometheus does: pair by pair (name, then value), shorter first.
func labelsLess(_ a: Labels, _ b: Labels) -> Bool {
    let n = min(a.count, b.count)
    var i = 0
    while i < n {
        let x = a[i]
        let y = b[i]
        if x.name != y.name { return x.name.utf8.lexicographicallyPrecedes(y.name.utf8) }
        if x.value != y.value { return x.value.utf8.lexicographicallyPrecedes(y.value.utf8) }
        i += 1
    }
    return a.count < b.count
}
