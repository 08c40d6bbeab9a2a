import Foundation
import KPICore

extension Evaluator {
    func call(_ name: String, _ args: [Expr], _ grid: Grid) throws(PromQLError) -> [StepSeries] {
        switch name {
        case "rate", "increase", "delta", "irate", "idelta", "deriv", "changes", "resets", "avg_over_time", "min_over_time",
            "max_over_time", "sum_over_time", "count_over_time", "last_over_time", "stddev_over_time", "stdvar_over_time",
            "present_over_time", "quantile_over_time", "predict_linear", "holt_winters":
            return try rangeFunction(name, args, grid)
        case "absent_over_time":
            let source = try rangeSource(args[0], grid)
            var values = [Double?](repeating: nil, count: grid.count)
            for i in 0..<grid.count {
                let ref = source.reference(for: grid.time(i), self)
                let found = source.series.contains { s in s.timestamps.contains { $0 >= ref - source.range && $0 <= ref } }
                if !found { values[i] = 1 }
            }
            return [StepSeries(labels: Evaluator.absentLabels(source.matchers), values: values)]
                .filter { $0.values.contains { $0 != nil } }
        case "absent":
            let input = try vector(args[0], grid)
            var values = [Double?](repeating: 1, count: grid.count)
            for s in input { for i in 0..<grid.count where s.values[i] != nil { values[i] = nil } }
            var matchers: [LabelMatcher] = []
            if case .vectorSelector(let sel) = args[0].unwrapped { matchers = sel.matchers }
            return [StepSeries(labels: Evaluator.absentLabels(matchers), values: values)].filter { $0.values.contains { $0 != nil } }
        case "abs": return try mapValues(args, grid) { v, _ in Swift.abs(v) }
        case "ceil": return try mapValues(args, grid) { v, _ in v.rounded(.up) }
        case "floor": return try mapValues(args, grid) { v, _ in v.rounded(.down) }
        case "exp": return try mapValues(args, grid) { v, _ in Foundation.exp(v) }
        case "ln": return try mapValues(args, grid) { v, _ in Foundation.log(v) }
        case "log2": return try mapValues(args, grid) { v, _ in Foundation.log2(v) }
        case "log10": return try mapValues(args, grid) { v, _ in Foundation.log10(v) }
        case "sqrt": return try mapValues(args, grid) { v, _ in v.squareRoot() }
        case "sgn": return try mapValues(args, grid) { v, _ in v > 0 ? 1 : v < 0 ? -1 : v }
        case "deg": return try mapValues(args, grid) { v, _ in v * 180 / Double.pi }
        case "rad": return try mapValues(args, grid) { v, _ in v * Double.pi / 180 }
        case "acos": return try mapValues(args, grid) { v, _ in Foundation.acos(v) }
        case "acosh": return try mapValues(args, grid) { v, _ in Foundation.acosh(v) }
        case "asin": return try mapValues(args, grid) { v, _ in Foundation.asin(v) }
        case "asinh": return try mapValues(args, grid) { v, _ in Foundation.asinh(v) }
        case "atan": return try mapValues(args, grid) { v, _ in Foundation.atan(v) }
        case "atanh": return try mapValues(args, grid) { v, _ in Foundation.atanh(v) }
        case "cos": return try mapValues(args, grid) { v, _ in Foundation.cos(v) }
        case "cosh": return try mapValues(args, grid) { v, _ in Foundation.cosh(v) }
        case "sin": return try mapValues(args, grid) { v, _ in Foundation.sin(v) }
        case "sinh": return try mapValues(args, grid) { v, _ in Foundation.sinh(v) }
        case "tan": return try mapValues(args, grid) { v, _ in Foundation.tan(v) }
        case "tanh": return try mapValues(args, grid) { v, _ in Foundation.tanh(v) }
        case "round":
            let nearest = args.count > 1 ? try scalar(args[1], grid) : Array(repeating: 1, count: grid.count)
            return try mapValues(args, grid) { v, i in
                let inverse = 1.0 / nearest[i]
                return (v * inverse + 0.5).rounded(.down) / inverse
            }
        case "clamp":
            let low = try scalar(args[1], grid)
            let high = try scalar(args[2], grid)
            return try mapValues(args, grid) { v, i in
                high[i] < low[i] ? nil : Evaluator.goMax(low[i], Evaluator.goMin(high[i], v))
            }
        case "clamp_min":
            let low = try scalar(args[1], grid)
            return try mapValues(args, grid) { v, i in Evaluator.goMax(low[i], v) }
        case "clamp_max":
            let high = try scalar(args[1], grid)
            return try mapValues(args, grid) { v, i in Evaluator.goMin(high[i], v) }
        case "timestamp":
            if case .vectorSelector(let sel) = args[0].unwrapped {
                var v = try selectVector(sel, grid, timestamps: true)
                for k in v.indices { v[k].labels = v[k].labels.droppingMetricName }
                return try merge(v, grid)
            }
            return try mapValues(args, grid) { _, i in Double(grid.time(i)) / 1000 }
        case "vector":
            let s = try scalar(args[0], grid)
            return [StepSeries(labels: Labels([]), values: s.map { $0 })]
        case "sort", "sort_desc":
            return try vector(args[0], grid)
        case "label_replace":
            return try labelReplace(args, grid)
        case "label_join":
            return try labelJoin(args, grid)
        case "histogram_quantile":
            return try histogramQuantile(args, grid)
        case "day_of_week", "day_of_month", "day_of_year", "hour", "minute", "month", "year", "days_in_month":
            let transform = Evaluator.dateFunction(name)
            if args.isEmpty {
                return [
                    StepSeries(
                        labels: Labels([]), values: (0..<grid.count).map { transform(Double(grid.time($0)) / 1000) })
                ]
            }
            return try mapValues(args, grid) { v, _ in transform(v) }
        default:
            throw .badData("function \(name) is not supported")
        }
    }

    /// Applies `f` to every value of the first argument (nil drops the value); drops the name.
    func mapValues(_ args: [Expr], _ grid: Grid, _ f: (Double, Int) -> Double?) throws(PromQLError) -> [StepSeries] {
        var v = try vector(args[0], grid)
        for k in v.indices {
            v[k].labels = v[k].labels.droppingMetricName
            for i in 0..<grid.count { if let x = v[k].values[i] { v[k].values[i] = f(x, i) } }
        }
        return try merge(v, grid)
    }

    /// Labels of absent(): the selector's equality matchers, except the name and names matched twice.
    static func absentLabels(_ matchers: [LabelMatcher]) -> Labels {
        var pairs: [Label] = []
        var repeated = Set<String>()
        for m in matchers where m.op == .equal && m.name != Labels.metricNameLabel {
            if pairs.contains(where: { $0.name == m.name }) { repeated.insert(m.name) }
            pairs.append(Label(name: m.name, value: m.value))
        }
        return Labels(pairs.filter { !repeated.contains($0.name) })
    }

    static func dateFunction(_ name: String) -> (Double) -> Double {
        { v in
            guard v.isFinite, v.magnitude < 9e15 else { return .nan }
            let seconds = Int64(v)
            let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
            let secondOfDay = seconds - days * 86_400
            let (year, month, day) = CivilCalendar.date(fromDays: days)
            switch name {
            case "day_of_week": return Double(((days + 4) % 7 + 7) % 7)
            case "day_of_month": return Double(day)
            case "day_of_year": return Double(days - CivilCalendar.days(year: year, month: 1, day: 1) + 1)
            case "hour": return Double(secondOfDay / 3600)
            case "minute": return Double(secondOfDay % 3600 / 60)
            case "month": return Double(month)
            case "year": return Double(year)
            default: return Double(CivilCalendar.daysInMonth(year: year, month: month))
            }
        }
    }

    // MARK: Range-vector functions

    func rangeFunction(_ name: String, _ args: [Expr], _ grid: Grid) throws(PromQLError) -> [StepSeries] {
        let matrixArg = name == "quantile_over_time" ? 1 : 0
        let source = try rangeSource(args[matrixArg], grid)
        let q: [Double] =
            name == "quantile_over_time" || name == "predict_linear" || name == "holt_winters"
            ? try scalar(args[name == "quantile_over_time" ? 0 : 1], grid) : []
        let trend: [Double] = name == "holt_winters" ? try scalar(args[2], grid) : []
        let keepName = name == "last_over_time"
        // Resolved once: the per-window dispatch must not compare strings.
        guard let function = RangeFunction(rawValue: name) else { throw .badData("function \(name) is not supported") }
        var out: [StepSeries] = []
        out.reserveCapacity(source.series.count)
        var scratch: [Double] = []
        // sum and avg over overlapping windows of a range query: one running sum per series,
        // each sample added once and removed once, instead of every window summed again.
        let slides = (function == .sumOverTime || function == .avgOverTime) && grid.count > 1 && grid.step < source.range
        for s in source.series {
            try check()
            var values = [Double?](repeating: nil, count: grid.count)
            var lo = 0
            var hi = 0
            var any = false
            var window = SlidingSum()
            let sliding = slides && s.values.allSatisfy(\.isFinite)
            for i in 0..<grid.count {
                let t = grid.time(i)
                let end = source.reference(for: t, self)
                let start = end - source.range
                // Windows only move forward: advance both bounds.
                while lo < s.timestamps.count && s.timestamps[lo] < start { lo += 1 }
                if hi < lo { hi = lo }
                while hi < s.timestamps.count && s.timestamps[hi] <= end { hi += 1 }
                guard hi > lo else { continue }
                let ts = s.timestamps[lo..<hi]
                let vs = s.values[lo..<hi]
                let v: Double?
                switch function {
                case .rate, .increase, .delta:
                    v = Evaluator.extrapolatedRate(
                        ts, vs, rangeStart: start, rangeEnd: end, range: source.range, isCounter: function != .delta,
                        isRate: function == .rate)
                case .irate, .idelta:
                    v = Evaluator.instantDelta(ts, vs, isRate: function == .irate)
                case .deriv:
                    v = vs.count < 2 ? nil : Evaluator.linearRegression(ts, vs, interceptTime: ts.first!).slope
                case .predictLinear:
                    if vs.count < 2 {
                        v = nil
                    } else {
                        let (slope, intercept) = Evaluator.linearRegression(ts, vs, interceptTime: t)
                        v = slope * q[i] + intercept
                    }
                case .changes, .resets:
                    var n = 0
                    var previous = vs.first!
                    let changes = function == .changes
                    for x in vs.dropFirst() {
                        if changes ? !(x == previous || (x.isNaN && previous.isNaN)) : x < previous { n += 1 }
                        previous = x
                    }
                    v = Double(n)
                case .avgOverTime where sliding:
                    v = window.move(lo: lo, hi: hi, s.values) / Double(hi - lo)
                case .sumOverTime where sliding:
                    v = window.move(lo: lo, hi: hi, s.values)
                case .avgOverTime:
                    v = Evaluator.average(vs)
                case .minOverTime:
                    var m = vs.first!
                    for x in vs where x < m || m.isNaN { m = x }
                    v = m
                case .maxOverTime:
                    var m = vs.first!
                    for x in vs where x > m || m.isNaN { m = x }
                    v = m
                case .sumOverTime:
                    var sum = 0.0
                    var c = 0.0
                    for x in vs { Evaluator.kahanAdd(x, &sum, &c) }
                    v = sum + c
                case .countOverTime:
                    v = Double(vs.count)
                case .lastOverTime:
                    v = vs.last!
                case .presentOverTime:
                    v = 1
                case .stddevOverTime, .stdvarOverTime:
                    var n = 0.0
                    var mean = 0.0
                    var cMean = 0.0
                    var aux = 0.0
                    var cAux = 0.0
                    for x in vs {
                        n += 1
                        let delta = x - (mean + cMean)
                        Evaluator.kahanAdd(delta / n, &mean, &cMean)
                        Evaluator.kahanAdd(delta * (x - (mean + cMean)), &aux, &cAux)
                    }
                    let variance = (aux + cAux) / n
                    v = function == .stddevOverTime ? variance.squareRoot() : variance
                case .holtWinters:
                    v = try Evaluator.holtWinters(vs, smoothing: q[i], trend: trend[i])
                case .quantileOverTime:
                    scratch.removeAll(keepingCapacity: true)
                    scratch.append(contentsOf: vs)
                    v = Evaluator.quantile(q[i], &scratch)
                }
                if let v {
                    values[i] = v
                    any = true
                }
            }
            if any {
                try count(samples: grid.count)
                out.append(StepSeries(labels: keepName ? s.labels : s.labels.droppingMetricName, values: values))
            }
        }
        return try merge(out, grid)
    }

    /// The sum of a window moving forward over one series' finite values: entering samples are
    /// added and leaving ones subtracted, compensated (Kahan), so each sample costs two
    /// additions whatever the window's length. The rounding it can have gathered is bounded as
    /// it goes; once the bound passes 1e-13 of the sum, or the windows stop overlapping, the
    /// window is summed afresh, so a result is within about 1e-13 relative of summing the window
    /// itself (PromQL answers are compared with Prometheus' at 1e-9).
    struct SlidingSum {
        private var lo = 0
        private var hi = 0
        private var sum = 0.0
        private var compensation = 0.0
        private var errorBound = 0.0

        private static let epsilon = Double.ulpOfOne

        /// The sum of `values[lo..<hi]`; `lo` and `hi` never below the previous call's.
        mutating func move(lo newLo: Int, hi newHi: Int, _ values: [Double]) -> Double {
            if newLo >= hi || newHi <= lo {
                restart(newLo, newHi, values)
            } else {
                for k in hi..<newHi { add(values[k]) }
                for k in lo..<newLo { add(-values[k]) }
                lo = newLo
                hi = newHi
                let total = sum + compensation
                if errorBound > 1e-13 * total.magnitude { restart(newLo, newHi, values) }
            }
            return sum + compensation
        }

        private mutating func add(_ x: Double) {
            Evaluator.kahanAdd(x, &sum, &compensation)
            errorBound += 4 * Self.epsilon * (x.magnitude + sum.magnitude)
        }

        private mutating func restart(_ newLo: Int, _ newHi: Int, _ values: [Double]) {
            sum = 0
            compensation = 0
            for k in newLo..<newHi { Evaluator.kahanAdd(values[k], &sum, &compensation) }
            lo = newLo
            hi = newHi
            errorBound = 0
        }
    }

    /// Double exponential smoothing of the window (Prometheus' holt_winters).
    static func holtWinters(_ vs: ArraySlice<Double>, smoothing sf: Double, trend tf: Double) throws(PromQLError) -> Double? {
        guard sf > 0 && sf < 1 else {
            throw .execution("invalid smoothing factor. Expected: 0 < sf < 1, got: \(String(format: "%f", sf))")
        }
        guard tf > 0 && tf < 1 else {
            throw .execution("invalid trend factor. Expected: 0 < tf < 1, got: \(String(format: "%f", tf))")
        }
        guard vs.count >= 2 else { return nil }
        let values = Array(vs)
        var s0 = 0.0
        var s1 = values[0]
        var b = values[1] - values[0]
        for i in 1..<values.count {
            let x = sf * values[i]
            if i > 1 { b = tf * (s1 - s0) + (1 - tf) * b }
            let y = (1 - sf) * (s1 + b)
            s0 = s1
            s1 = x + y
        }
        return s1
    }

    /// The functions over a range vector's windows.
    enum RangeFunction: String {
        case rate, increase, delta, irate, idelta, deriv, changes, resets
        case predictLinear = "predict_linear"
        case holtWinters = "holt_winters"
        case avgOverTime = "avg_over_time"
        case minOverTime = "min_over_time"
        case maxOverTime = "max_over_time"
        case sumOverTime = "sum_over_time"
        case countOverTime = "count_over_time"
        case lastOverTime = "last_over_time"
        case stddevOverTime = "stddev_over_time"
        case stdvarOverTime = "stdvar_over_time"
        case presentOverTime = "present_over_time"
        case quantileOverTime = "quantile_over_time"
    }

    @inline(__always) static func kahanAdd(_ x: Double, _ sum: inout Double, _ c: inout Double) {
        let t = sum + x
        if sum.magnitude >= x.magnitude {
            c += (sum - t) + x
        } else {
            c += (x - t) + sum
        }
        sum = t
    }

    /// avg_over_time as Prometheus computes it (incremental, compensated, infinities kept).
    static func average(_ vs: ArraySlice<Double>) -> Double {
        var mean = 0.0
        var c = 0.0
        var n = 0.0
        for x in vs {
            n += 1
            if mean.isInfinite {
                if x.isInfinite && (mean > 0) == (x > 0) { continue }
                if !x.isInfinite && !x.isNaN { continue }
            }
            kahanAdd(x / n - mean / n, &mean, &c)
        }
        return mean.isInfinite ? mean : mean + c
    }

    /// rate, increase and delta: the change over the window, corrected for counter resets and
    /// extrapolated towards the window's edges (by at most half an average interval where
    /// the samples stop short of it, and never below a counter's zero).
    static func extrapolatedRate(
        _ ts: ArraySlice<Int64>, _ vs: ArraySlice<Double>, rangeStart: Int64, rangeEnd: Int64, range: Int64, isCounter: Bool,
        isRate: Bool
    ) -> Double? {
        guard vs.count >= 2 else { return nil }
        let firstV = vs.first!
        let lastV = vs.last!
        var result = lastV - firstV
        if isCounter {
            var previous = firstV
            for x in vs.dropFirst() {
                if x < previous { result += previous }
                previous = x
            }
        }
        let firstT = ts.first!
        let lastT = ts.last!
        var durationToStart = Double(firstT - rangeStart) / 1000
        let durationToEnd = Double(rangeEnd - lastT) / 1000
        let sampledInterval = Double(lastT - firstT) / 1000
        let averageInterval = sampledInterval / Double(vs.count - 1)
        if isCounter && result > 0 && firstV >= 0 {
            let durationToZero = sampledInterval * (firstV / result)
            if durationToZero < durationToStart { durationToStart = durationToZero }
        }
        let threshold = averageInterval * 1.1
        var extrapolateTo = sampledInterval
        extrapolateTo += durationToStart < threshold ? durationToStart : averageInterval / 2
        extrapolateTo += durationToEnd < threshold ? durationToEnd : averageInterval / 2
        var factor = extrapolateTo / sampledInterval
        if isRate { factor /= Double(range) / 1000 }
        return result * factor
    }

    /// irate / idelta from the last two samples.
    static func instantDelta(_ ts: ArraySlice<Int64>, _ vs: ArraySlice<Double>, isRate: Bool) -> Double? {
        guard vs.count >= 2 else { return nil }
        let last = vs.last!
        let previous = vs[vs.index(before: vs.endIndex) - 1]
        var result = last - previous
        if isRate && last < previous { result = last }
        let interval = ts.last! - ts[ts.index(before: ts.endIndex) - 1]
        guard interval != 0 else { return nil }
        if isRate { result /= Double(interval) / 1000 }
        return result
    }

    /// Least-squares slope and the intercept at `interceptTime`, with compensated sums.
    static func linearRegression(_ ts: ArraySlice<Int64>, _ vs: ArraySlice<Double>, interceptTime: Int64) -> (
        slope: Double, intercept: Double
    ) {
        var n = 0.0
        var sumX = 0.0
        var cX = 0.0
        var sumY = 0.0
        var cY = 0.0
        var sumXY = 0.0
        var cXY = 0.0
        var sumX2 = 0.0
        var cX2 = 0.0
        let initY = vs.first!
        var constY = true
        for (t, y) in zip(ts, vs) {
            if constY && n > 0 && y != initY { constY = false }
            n += 1
            let x = Double(t - interceptTime) / 1000
            kahanAdd(x, &sumX, &cX)
            kahanAdd(y, &sumY, &cY)
            kahanAdd(x * y, &sumXY, &cXY)
            kahanAdd(x * x, &sumX2, &cX2)
        }
        if constY {
            if initY.isInfinite { return (.nan, .nan) }
            return (0, initY)
        }
        sumX += cX
        sumY += cY
        sumXY += cXY
        sumX2 += cX2
        let covXY = sumXY - sumX * sumY / n
        let varX = sumX2 - sumX * sumX / n
        let slope = covXY / varX
        return (slope, sumY / n - slope * sumX / n)
    }

    // MARK: Labels

    func stringArgument(_ e: Expr) throws(PromQLError) -> String {
        guard case .string(let s) = e.unwrapped else { throw .execution("expected a string literal") }
        return s
    }

    func labelReplace(_ args: [Expr], _ grid: Grid) throws(PromQLError) -> [StepSeries] {
        let destination = try stringArgument(args[1])
        let replacement = try stringArgument(args[2])
        let source = try stringArgument(args[3])
        let pattern = try stringArgument(args[4])
        // Checked when evaluated, as Prometheus does (an execution error, not a parse error).
        let regex: BoundedRegex
        do {
            regex = try BoundedRegex(pattern, anchored: true)
        } catch {
            throw .execution("invalid regular expression in label_replace(): \(pattern)")
        }
        guard Evaluator.isValidLabelName(destination) else {
            throw .execution("invalid destination label name in label_replace(): \(destination)")
        }
        var v = try vector(args[0], grid)
        for k in v.indices {
            let value = v[k].labels[source] ?? ""
            let found: NSTextCheckingResult?
            do {
                found = try regex.firstMatch(in: value, deadline: regexDeadline)
            } catch {
                throw .timeout("query timed out matching the regular expression of label_replace()")
            }
            guard let match = found else { continue }
            let result = Evaluator.expand(replacement, match: match, in: value, regex: regex.expression)
            v[k].labels = v[k].labels.setting(destination, result)
        }
        return try merge(v, grid)
    }

    /// Prometheus' label name rule `[a-zA-Z_][a-zA-Z0-9_]*` (reserved `__` names included).
    static func isValidLabelName(_ name: String) -> Bool {
        LabelValidator.isValidLabelName(name)
    }

    /// Go's `Regexp.Expand`: `$1`, `${1}`, `$name`, `${name}`, `$$`; a name is as long as possible.
    static func expand(_ template: String, match: NSTextCheckingResult, in value: String, regex: NSRegularExpression) -> String {
        let t = Array(template.unicodeScalars)
        var out = ""
        var i = 0
        func group(_ name: String) -> String {
            var range = NSRange(location: NSNotFound, length: 0)
            if let n = Int(name) {
                if n <= regex.numberOfCaptureGroups { range = match.range(at: n) }
            } else if !name.isEmpty {
                range = match.range(withName: name)
            }
            guard range.location != NSNotFound, let r = Range(range, in: value) else { return "" }
            return String(value[r])
        }
        func isNameChar(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_"
        }
        while i < t.count {
            if t[i] != "$" || i + 1 >= t.count {
                out.unicodeScalars.append(t[i])
                i += 1
                continue
            }
            i += 1
            if t[i] == "$" {
                out += "$"
                i += 1
            } else if t[i] == "{" {
                var j = i + 1
                while j < t.count && isNameChar(t[j]) { j += 1 }
                if j < t.count && t[j] == "}" && j > i + 1 {
                    out += group(String(String.UnicodeScalarView(t[(i + 1)..<j])))
                    i = j + 1
                } else {
                    out += "$"
                }
            } else {
                var j = i
                while j < t.count && isNameChar(t[j]) { j += 1 }
                if j > i {
                    out += group(String(String.UnicodeScalarView(t[i..<j])))
                    i = j
                } else {
                    out += "$"
                }
            }
        }
        return out
    }

    func labelJoin(_ args: [Expr], _ grid: Grid) throws(PromQLError) -> [StepSeries] {
        let destination = try stringArgument(args[1])
        let separator = try stringArgument(args[2])
        var sources: [String] = []
        for a in args.dropFirst(3) {
            let name = try stringArgument(a)
            guard Evaluator.isValidLabelName(name) else { throw .execution("invalid source label name in label_join(): \(name)") }
            sources.append(name)
        }
        guard Evaluator.isValidLabelName(destination) else {
            throw .execution("invalid destination label name in label_join(): \(destination)")
        }
        var v = try vector(args[0], grid)
        for k in v.indices {
            let joined = sources.map { v[k].labels[$0] ?? "" }.joined(separator: separator)
            v[k].labels = v[k].labels.setting(destination, joined)
        }
        return try merge(v, grid)
    }

    /// histogram_quantile over classic buckets: series grouped by their labels without `le`
    /// and the name; buckets sorted, merged by bound, made monotonic, then interpolated.
    func histogramQuantile(_ args: [Expr], _ grid: Grid) throws(PromQLError) -> [StepSeries] {
        let q = try scalar(args[0], grid)
        let input = try vector(args[1], grid)
        var groupIndex: [Labels: Int] = [:]
        var groups: [(labels: Labels, members: [(bound: Double, series: Int)])] = []
        for (k, s) in input.enumerated() {
            guard let text = s.labels["le"], let bound = Evaluator.parseGoFloat(text) else { continue }
            let key = Labels(s.labels.pairs.filter { $0.name != "le" && $0.name != Labels.metricNameLabel })
            if let g = groupIndex[key] {
                groups[g].members.append((bound, k))
            } else {
                groupIndex[key] = groups.count
                groups.append((key, [(bound, k)]))
            }
        }
        var out: [StepSeries] = []
        var buckets: [(bound: Double, count: Double)] = []
        for group in groups {
            let members = group.members.sorted { $0.bound < $1.bound }
            var values = [Double?](repeating: nil, count: grid.count)
            for i in 0..<grid.count {
                buckets.removeAll(keepingCapacity: true)
                for m in members { if let v = input[m.series].values[i] { buckets.append((m.bound, v)) } }
                guard !buckets.isEmpty else { continue }
                values[i] = Evaluator.bucketQuantile(q[i], &buckets)
            }
            out.append(StepSeries(labels: group.labels, values: values))
        }
        return out.filter { $0.values.contains { $0 != nil } }
    }

    /// Prometheus' `bucketQuantile` on buckets sorted by upper bound.
    static func bucketQuantile(_ q: Double, _ buckets: inout [(bound: Double, count: Double)]) -> Double {
        if q.isNaN { return .nan }
        if q < 0 { return -.infinity }
        if q > 1 { return .infinity }
        guard let last = buckets.last, last.bound == .infinity else { return .nan }
        // Merge buckets with the same bound.
        var merged: [(bound: Double, count: Double)] = []
        for b in buckets {
            if let l = merged.last, l.bound == b.bound {
                merged[merged.count - 1].count += b.count
            } else {
                merged.append(b)
            }
        }
        // Counts must not decrease.
        var maximum = -Double.infinity
        for k in merged.indices {
            if merged[k].count > maximum {
                maximum = merged[k].count
            } else if merged[k].count < maximum {
                merged[k].count = maximum
            }
        }
        guard merged.count >= 2 else { return .nan }
        let observations = merged[merged.count - 1].count
        guard observations != 0 else { return .nan }
        var rank = q * observations
        var b = merged.count - 1
        for k in 0..<(merged.count - 1) where merged[k].count >= rank {
            b = k
            break
        }
        if b == merged.count - 1 { return merged[merged.count - 2].bound }
        if b == 0 && merged[0].bound <= 0 { return merged[0].bound }
        var bucketStart = 0.0
        let bucketEnd = merged[b].bound
        var count = merged[b].count
        if b > 0 {
            bucketStart = merged[b - 1].bound
            count -= merged[b - 1].count
            rank -= merged[b - 1].count
        }
        return bucketStart + (bucketEnd - bucketStart) * (rank / count)
    }

    /// Go's `strconv.ParseFloat` for the forms `le` labels use (`0.5`, `+Inf`, `1e3`).
    static func parseGoFloat(_ text: String) -> Double? {
        switch text.lowercased() {
        case "+inf", "inf", "+infinity", "infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        case "nan": return .nan
        default: return Double(text)
        }
    }
}
