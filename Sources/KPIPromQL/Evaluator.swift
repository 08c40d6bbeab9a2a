import Foundation
import KPICore

/// The evaluation times of a query or subquery: `start + i * step` for `i` in `0..<count`.
struct Grid {
    var start: Int64
    var step: Int64
    var count: Int

    @inline(__always) func time(_ i: Int) -> Int64 { start + Int64(i) * step }
    var end: Int64 { time(count - 1) }
}

/// A series evaluated at every step of a grid; nil where it has no value.
struct StepSeries {
    var labels: Labels
    var values: [Double?]
}

/// Samples a range-vector function reads: per series, time-ordered samples without stale
/// markers, plus the window's range, offset and `@`.
struct RangeSource {
    struct Series {
        var labels: Labels
        var timestamps: [Int64]
        var values: [Double]
    }
    var series: [Series]
    var range: Int64
    var offset: Int64
    var at: Int64?
    /// Equality matchers of the selector, for absent_over_time's labels.
    var matchers: [LabelMatcher]

    /// The end of the window at evaluation time `t` (inclusive; the start is `end - range`).
    func reference(for t: Int64, _ e: Evaluator) -> Int64 { (at ?? t) - offset }
}

/// Evaluates expressions over a grid of steps. One instance per query; not shared.
final class Evaluator {
    /// The query's only way to the data; it applies the caller's scope itself.
    let querier: any Querier
    let options: PromQLOptions
    let queryStart: Int64
    let queryEnd: Int64

    init(querier: any Querier, options: PromQLOptions, queryStart: Int64, queryEnd: Int64) {
        self.querier = querier
        self.options = options
        self.queryStart = queryStart
        self.queryEnd = queryEnd
    }

    /// The query's deadline (the scope's: the caller's, or the 2 min ceiling); regular
    /// expressions are matched under it too.
    var regexDeadline: QueryDeadline { querier.scope.deadline }

    /// Throws once the deadline has passed, so a long query stops instead of running on.
    func check() throws(PromQLError) {
        if querier.scope.deadline.hasPassed {
            throw .timeout("query timed out in expression evaluation")
        }
    }

    /// Charges `n` points the evaluation makes itself (steps of a result, of a subquery) to the
    /// scope's sample budget, which the querier charges with every sample it returns.
    func count(samples n: Int) throws(PromQLError) {
        do {
            try querier.scope.budget.charge(n)
        } catch {
            throw Self.tooManySamples(querier.scope.budget.limit)
        }
    }

    /// The samples of one series through the querier, charged to the budget.
    func read(_ id: SeriesID, start: Int64, end: Int64, staleness: Staleness) throws(PromQLError) -> (
        timestamps: [Int64], values: [Double]
    ) {
        do {
            return try querier.samples(id, start: start, end: end, staleness: staleness)
        } catch {
            throw Self.tooManySamples(querier.scope.budget.limit)
        }
    }

    static func tooManySamples(_ limit: Int) -> PromQLError {
        .execution("query processing would load too many samples into memory in query execution (limit \(limit))")
    }

    func resolve(_ at: AtModifier?) -> Int64? {
        switch at {
        case nil: return nil
        case .time(let t): return t
        case .start: return queryStart
        case .end: return queryEnd
        }
    }

    // MARK: Dispatch

    func scalar(_ expr: Expr, _ grid: Grid) throws(PromQLError) -> [Double] {
        switch expr {
        case .number(let n):
            return Array(repeating: n, count: grid.count)
        case .paren(let e):
            return try scalar(e, grid)
        case .negate(let e):
            return try scalar(e, grid).map { -$0 }
        case .binary(let op, let l, let r, _, _):
            // Between scalars a comparison always has `bool` (the parser checks it).
            let a = try scalar(l, grid)
            let b = try scalar(r, grid)
            var out = a
            for i in out.indices {
                let (value, keep) = Evaluator.arithmetic(op, a[i], b[i])
                out[i] = op.isComparison ? (keep ? 1 : 0) : value
            }
            return out
        case .call(let name, let args):
            switch name {
            case "time":
                return (0..<grid.count).map { Double(grid.time($0)) / 1000 }
            case "pi":
                return Array(repeating: Double.pi, count: grid.count)
            case "scalar":
                let v = try vector(args[0], grid)
                var out = Array(repeating: Double.nan, count: grid.count)
                for i in 0..<grid.count {
                    var found: Double? = nil
                    var n = 0
                    for s in v { if let x = s.values[i] { found = x; n += 1 } }
                    if n == 1, let found { out[i] = found }
                }
                return out
            default:
                throw .execution("function \(name) does not return a scalar")
            }
        default:
            throw .execution("expected a scalar expression")
        }
    }

    func vector(_ expr: Expr, _ grid: Grid) throws(PromQLError) -> [StepSeries] {
        try check()
        switch expr {
        case .paren(let e):
            return try vector(e, grid)
        case .vectorSelector(let sel):
            return try selectVector(sel, grid, timestamps: false)
        case .negate(let e):
            var v = try vector(e, grid)
            for k in v.indices {
                v[k].labels = v[k].labels.droppingMetricName
                for i in v[k].values.indices { if let x = v[k].values[i] { v[k].values[i] = -x } }
            }
            return try merge(v, grid)
        case .binary(let op, let l, let r, let matching, let returnBool):
            return try binary(op, l, r, matching: matching, returnBool: returnBool, grid)
        case .aggregate(let op, let e, let parameter, let grouping, let without):
            return try aggregate(op, e, parameter: parameter, grouping: grouping, without: without, grid)
        case .call(let name, let args):
            return try call(name, args, grid)
        default:
            throw .execution("expected an instant vector expression")
        }
    }

    // MARK: Selectors

    /// The series a selector picks (with the caller's scope), label regular expressions
    /// matched under the query's deadline.
    func selected(_ matchers: [LabelMatcher]) throws(PromQLError) -> [(id: SeriesID, labels: Labels)] {
        var found: [(id: SeriesID, labels: Labels)]
        do {
            found = try querier.select(matchers)
        } catch {
            throw .timeout("query timed out matching label regular expressions")
        }
        found.sort { labelsLess($0.labels, $1.labels) }
        return found
    }

    /// An instant vector selector: at each step the latest sample within the lookback delta,
    /// unless it is a stale marker. With `timestamps`, the sample times (seconds) instead.
    func selectVector(_ sel: VectorSelector, _ grid: Grid, timestamps: Bool) throws(PromQLError) -> [StepSeries] {
        let at = resolve(sel.at)
        let firstRef = (at ?? grid.start) - sel.offset
        let lastRef = (at ?? grid.end) - sel.offset
        let lookback = options.lookbackDeltaMs
        var out: [StepSeries] = []
        for entry in try selected(sel.matchers) {
            try check()
            let (ts, vs) = try read(entry.id, start: firstRef - lookback, end: lastRef, staleness: .keepMarkers)
            if ts.isEmpty { continue }
            var values = [Double?](repeating: nil, count: grid.count)
            var any = false
            var j = 0
            for i in 0..<grid.count {
                let ref = (at ?? grid.time(i)) - sel.offset
                while j < ts.count && ts[j] <= ref { j += 1 }
                guard j > 0 else { continue }
                let t = ts[j - 1]
                let v = vs[j - 1]
                if t < ref - lookback || StaleMarker.isMarker(v) { continue }
                values[i] = timestamps ? Double(t) / 1000 : v
                any = true
            }
            if any {
                // The step values are held in memory too.
                try count(samples: grid.count)
                out.append(StepSeries(labels: entry.labels, values: values))
            }
        }
        return out
    }

    /// The samples behind a range vector (selector or subquery) for every step of `grid`.
    func rangeSource(_ expr: Expr, _ grid: Grid) throws(PromQLError) -> RangeSource {
        switch expr {
        case .paren(let e):
            return try rangeSource(e, grid)
        case .matrixSelector(let sel, let range):
            let at = resolve(sel.at)
            let first = (at ?? grid.start) - sel.offset - range
            let last = (at ?? grid.end) - sel.offset
            var series: [RangeSource.Series] = []
            for entry in try selected(sel.matchers) {
                try check()
                let (ts, vs) = try read(entry.id, start: first, end: last, staleness: .dropMarkers)
                if !ts.isEmpty { series.append(RangeSource.Series(labels: entry.labels, timestamps: ts, values: vs)) }
            }
            return RangeSource(series: series, range: range, offset: sel.offset, at: at, matchers: sel.matchers)
        case .subquery(let inner, let range, let stepOrZero, let offset, let atModifier):
            let at = resolve(atModifier)
            let step = stepOrZero > 0 ? stepOrZero : options.defaultSubqueryStepMs
            let spanStart = (at ?? grid.start) - offset - range
            let spanEnd = (at ?? grid.end) - offset
            // The first multiple of the step at or after the span's start (Go's truncating
            // division, as Prometheus computes it).
            var start = step * (spanStart / step)
            if start < spanStart { start += step }
            var series: [RangeSource.Series] = []
            if spanEnd >= start {
                // Every inner step is a point in memory: refuse before allocating them.
                let steps = (spanEnd - start) / step + 1
                let budget = querier.scope.budget
                guard steps <= Int64(budget.limit) - Int64(budget.spent) else { throw Self.tooManySamples(budget.limit) }
                let innerGrid = Grid(start: start, step: step, count: Int(steps))
                let values = try vector(inner, innerGrid)
                for s in values {
                    var ts: [Int64] = []
                    var vs: [Double] = []
                    for i in 0..<innerGrid.count {
                        if let v = s.values[i] {
                            ts.append(innerGrid.time(i))
                            vs.append(v)
                        }
                    }
                    try count(samples: ts.count)
                    if !ts.isEmpty { series.append(RangeSource.Series(labels: s.labels, timestamps: ts, values: vs)) }
                }
            }
            return RangeSource(series: series, range: range, offset: offset, at: at, matchers: [])
        default:
            throw .execution("expected a range vector expression")
        }
    }

    // MARK: Helpers

    /// Combines series that have the same labels (after a function dropped the metric name),
    /// as Prometheus does step by step; two values for one label set at one step are an error.
    func merge(_ series: [StepSeries], _ grid: Grid) throws(PromQLError) -> [StepSeries] {
        var index: [Labels: Int] = [:]
        var out: [StepSeries] = []
        out.reserveCapacity(series.count)
        for s in series {
            guard s.values.contains(where: { $0 != nil }) else { continue }
            if let k = index[s.labels] {
                for i in 0..<grid.count {
                    guard let v = s.values[i] else { continue }
                    if out[k].values[i] != nil {
                        throw .execution("vector cannot contain metrics with the same labelset")
                    }
                    out[k].values[i] = v
                }
            } else {
                index[s.labels] = out.count
                out.append(s)
            }
        }
        return out
    }

    /// Go's `math.Max` / `math.Min` (NaN wins).
    static func goMax(_ a: Double, _ b: Double) -> Double {
        if a.isNaN || b.isNaN { return .nan }
        return Swift.max(a, b)
    }
    static func goMin(_ a: Double, _ b: Double) -> Double {
        if a.isNaN || b.isNaN { return .nan }
        return Swift.min(a, b)
    }

    /// The value of `a op b`, and for comparisons whether it holds.
    static func arithmetic(_ op: BinaryOperator, _ a: Double, _ b: Double) -> (value: Double, keep: Bool) {
        switch op {
        case .add: return (a + b, true)
        case .subtract: return (a - b, true)
        case .multiply: return (a * b, true)
        case .divide: return (a / b, true)
        case .modulo: return (fmod(a, b), true)
        case .power: return (pow(a, b), true)
        case .atan2: return (Foundation.atan2(a, b), true)
        case .equal: return (a, a == b)
        case .notEqual: return (a, a != b)
        case .greater: return (a, a > b)
        case .less: return (a, a < b)
        case .greaterOrEqual: return (a, a >= b)
        case .lessOrEqual: return (a, a <= b)
        case .and, .or, .unless: return (a, true)
        }
    }
}

extension Labels {
    /// The labels without `__name__`.
    var droppingMetricName: Labels {
        guard self.metricName != nil else { return self }
        return Labels(withoutMetricName)
    }

    /// Only the named labels.
    func keeping(_ names: [String]) -> Labels {
        Labels(pairs.filter { names.contains($0.name) })
    }

    /// Without the named labels.
    func removing(_ names: [String]) -> Labels {
        Labels(pairs.filter { !names.contains($0.name) })
    }

    /// With `name` set to `value` (removed when `value` is empty).
    func setting(_ name: String, _ value: String) -> Labels {
        var p = pairs.filter { $0.name != name }
        if !value.isEmpty { p.append(Label(name: name, value: value)) }
        return Labels(p)
    }
}
