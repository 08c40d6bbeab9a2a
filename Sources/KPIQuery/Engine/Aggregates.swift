import KPICore

/// Running state of one aggregate for one group. One struct for every function keeps groups in
/// a flat array without existentials; each function uses the fields it needs.
struct AggregateState {
    var n: Int64 = 0
    /// Sum (sum, avg), or running mean (stddev, variance: Welford).
    var a: Double = 0
    /// Welford's sum of squared deviations.
    var m2: Double = 0
    var integerSum: Int64 = 0
    /// min, max, first, last.
    var value: Value = .null
    var timestamp: Int64 = 0
    /// Kept values for exact quantiles.
    var values: [Double] = []
    var distinct: Set<Value> = []
    /// rate / increase: per series.
    var counters: [Int: CounterState] = [:]
    /// approx_quantile.
    var sketch = QuantileSketch()

    /// Approximate bytes this state holds beyond its inline size.
    var heapBytes: Int { values.capacity * 8 + distinct.count * 48 + counters.count * 64 + sketch.memoryBytes }
}

/// A counter's progress within one group: first and last sample and the reset-aware increase.
struct CounterState {
    var firstTimestamp: Int64
    var lastTimestamp: Int64
    var lastValue: Double
    var increase: Double
}

extension AggregateSpec {
    /// Folds one input row into `state`. Aggregates skip NULL inputs, as in SQL.
    @inline(__always)
    func accumulate(_ state: inout AggregateState, _ row: Row) {
        switch function {
        case .countStar:
            state.n += 1
        case .count:
            if !arguments[0].eval(row).isNull { state.n += 1 }
        case .countDistinct:
            let v = arguments[0].eval(row)
            if !v.isNull { state.distinct.insert(Self.normalized(v)) }
        case .sum, .avg:
            switch arguments[0].eval(row) {
            case .int(let i):
                state.n += 1
                state.integerSum &+= i
                state.a += Double(i)
            case .double(let d):
                state.n += 1
                state.a += d
            case .interval(let i):
                state.n += 1
                state.integerSum &+= i
                state.a += Double(i)
            default: break
            }
        case .stddev, .stddevPop, .variance:
            guard let x = arguments[0].eval(row).number ?? arguments[0].eval(row).milliseconds.map(Double.init) else { return }
            state.n += 1
            let delta = x - state.a
            state.a += delta / Double(state.n)
            state.m2 += delta * (x - state.a)
        case .min, .max:
            let v = arguments[0].eval(row)
            if v.isNull { return }
            if state.value.isNull {
                state.value = v
            } else if let c = Value.compare(v, state.value), function == .min ? c < 0 : c > 0 {
                state.value = v
            }
        case .first, .last:
            let v = arguments[0].eval(row)
            if v.isNull { return }
            let t: Int64
            if let slot = timestampSlot, case .timestamp(let rowTime) = row.slots[slot] { t = rowTime } else { t = state.n }
            state.n += 1
            if state.value.isNull || (function == .first ? t < state.timestamp : t >= state.timestamp) {
                state.value = v
                state.timestamp = t
            }
        case .quantile:
            let v = arguments[0].eval(row)
            if let x = v.number ?? v.milliseconds.map(Double.init) { state.values.append(x) }
        case .approxQuantile:
            let v = arguments[0].eval(row)
            if let x = v.number ?? v.milliseconds.map(Double.init) { state.sketch.add(x) }
        case .countIf:
            if arguments[0].eval(row).truth == true { state.n += 1 }
        case .sumIf:
            if arguments[1].eval(row).truth == true, let x = arguments[0].eval(row).number {
                state.n += 1
                state.a += x
            }
        case .rate, .increase:
            let v = arguments[0].eval(row)
            guard let x = v.number ?? v.milliseconds.map(Double.init), let slot = timestampSlot,
                case .timestamp(let t) = row.slots[slot]
            else { return }
            var c: CounterState
            if let existing = state.counters[row.series] {
                c = existing
            } else if valueArgument, let previous = row.previousTimestamp {
                // The step from the series' previous sample belongs to this group, so the
                // increases of consecutive buckets add up to the increase of the whole range.
                c = CounterState(firstTimestamp: previous, lastTimestamp: previous, lastValue: row.previousValue, increase: 0)
            } else {
                state.counters[row.series] = CounterState(firstTimestamp: t, lastTimestamp: t, lastValue: x, increase: 0)
                return
            }
            // A drop means the counter restarted from zero (as Prometheus' rate assumes).
            c.increase += x >= c.lastValue ? x - c.lastValue : x
            c.lastValue = x
            c.lastTimestamp = t
            state.counters[row.series] = c
        case .timeInState:
            guard arguments[0].eval(row).truth == true, let next = row.nextTimestamp, let slot = timestampSlot,
                case .timestamp(let t) = row.slots[slot]
            else { return }
            state.integerSum &+= next - t
            state.n += 1
        }
    }

    /// Integers and doubles with equal values count once in count(DISTINCT x).
    private static func normalized(_ v: Value) -> Value {
        if case .int(let i) = v { return .double(Double(i)) }
        return v
    }

    /// The aggregate's value for a finished group.
    func result(_ state: inout AggregateState) -> Value {
        switch function {
        case .countStar, .count, .countIf: return .int(state.n)
        case .countDistinct: return .int(Int64(state.distinct.count))
        case .sum:
            if state.n == 0 { return .null }
            switch resultType {
            case .integer: return .int(state.integerSum)
            case .interval: return .interval(state.integerSum)
            default: return .double(state.a)
            }
        case .avg:
            if state.n == 0 { return .null }
            if resultType == .interval { return .interval(Int64((state.a / Double(state.n)).rounded())) }
            return .double(state.a / Double(state.n))
        case .stddev:
            return state.n < 2 ? .null : .double((state.m2 / Double(state.n - 1)).squareRoot())
        case .variance:
            return state.n < 2 ? .null : .double(state.m2 / Double(state.n - 1))
        case .stddevPop:
            return state.n < 1 ? .null : .double((state.m2 / Double(state.n)).squareRoot())
        case .min, .max, .first, .last:
            return state.value
        case .quantile:
            guard !state.values.isEmpty else { return .null }
            let x = Self.quantile(q, &state.values)
            return resultType == .interval ? .interval(Int64(x.rounded())) : .double(x)
        case .approxQuantile:
            guard let x = state.sketch.quantile(q) else { return .null }
            return resultType == .interval ? .interval(Int64(x.rounded())) : .double(x)
        case .sumIf:
            return state.n == 0 ? .null : .double(state.a)
        case .increase, .rate:
            var total = 0.0
            var any = false
            for c in state.counters.values where c.lastTimestamp > c.firstTimestamp {
                any = true
                total += function == .rate ? c.increase / (Double(c.lastTimestamp - c.firstTimestamp) / 1000) : c.increase
            }
            return any ? .double(total) : .null
        case .timeInState:
            return .interval(state.integerSum)
        }
    }

    /// Exact quantile with linear interpolation between closest ranks (the R-7 / "continuous"
    /// definition used by DuckDB's quantile_cont, PostgreSQL's percentile_cont and Prometheus).
    /// Reorders the kept values in place: NaNs go last (they sort above every number), then a
    /// selection finds the lower rank in linear time and the upper rank is the smallest value
    /// above it, so no full sort is needed.
    static func quantile(_ q: Double, _ values: inout [Double]) -> Double {
        let count = values.count
        let position = q * Double(count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, count - 1)
        let fraction = position - Double(lower)
        return values.withUnsafeMutableBufferPointer { v -> Double in
            // Numbers first, NaNs after them.
            var numbers = 0
            for i in 0..<count where !v[i].isNaN {
                v.swapAt(i, numbers)
                numbers += 1
            }
            func value(atRank rank: Int) -> Double {
                rank >= numbers ? .nan : select(v, rank, numbers)
            }
            let a = value(atRank: lower)
            if fraction == 0 || upper == lower { return a }
            // After selecting `lower`, everything at positions above it is >= v[lower].
            var b = Double.nan
            if upper < numbers {
                b = v[upper]
                for i in (upper + 1)..<numbers where v[i] < b { b = v[i] }
            }
            return a + (b - a) * fraction
        }
    }

    /// The value of rank `k` among the first `n` elements (no NaNs), moving it to position `k`
    /// with smaller-or-equal values before it and greater-or-equal after (Hoare's selection
    /// with a median-of-three pivot; insertion sort for short ranges).
    private static func select(_ v: UnsafeMutableBufferPointer<Double>, _ k: Int, _ n: Int) -> Double {
        var lo = 0
        var hi = n - 1
        while hi - lo > 16 {
            let mid = lo + (hi - lo) / 2
            if v[mid] < v[lo] { v.swapAt(mid, lo) }
            if v[hi] < v[lo] { v.swapAt(hi, lo) }
            if v[hi] < v[mid] { v.swapAt(hi, mid) }
            let pivot = v[mid]
            var i = lo
            var j = hi
            while i <= j {
                while v[i] < pivot { i += 1 }
                while pivot < v[j] { j -= 1 }
                if i <= j {
                    v.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if k <= j {
                hi = j
            } else if k >= i {
                lo = i
            } else {
                return v[k]
            }
        }
        if lo < hi {
            for i in (lo + 1)...hi {
                let x = v[i]
                var j = i - 1
                while j >= lo && x < v[j] {
                    v[j + 1] = v[j]
                    j -= 1
                }
                v[j + 1] = x
            }
        }
        return v[k]
    }
}

extension AggregateSpec {
    /// Whether the columnar path can compute this aggregate from the `value` column alone.
    var isColumnar: Bool {
        switch function {
        case .countStar: return true
        case .countDistinct: return false
        case .countIf, .timeInState: return valuePredicate != nil
        case .sumIf: return valueArgument && valuePredicate != nil
        default: return valueArgument
        }
    }

    /// Folds a state held into a group's span from before it (`time_in_state` only): `value`
    /// lasted `duration` ms inside the span.
    func accumulateHeld(_ state: inout AggregateState, value: Double, duration: Int64) {
        guard function == .timeInState, duration > 0, let p = valuePredicate, p(value) else { return }
        state.integerSum &+= duration
        state.n += 1
    }

    /// Folds the samples `lo..<hi` of one series (one group, ascending time) into `state`:
    /// tight loops over the column slices, no per-sample `Value`. `next` is the timestamp of
    /// the series' sample after `hi - 1` (for time_in_state), if any; `hold` bounds how long
    /// a sample's state lasts (``StateHold``).
    func accumulateRun(
        _ state: inout AggregateState, ts: UnsafeBufferPointer<Int64>, vs: UnsafeBufferPointer<Double>, _ lo: Int, _ hi: Int,
        series: Int, next: Int64?, hold: StateHold = .none
    ) {
        switch function {
        case .countStar, .count:
            state.n += Int64(hi - lo)
        case .sum, .avg:
            var s = 0.0
            for k in lo..<hi { s += vs[k] }
            state.a += s
            state.n += Int64(hi - lo)
        case .min, .max:
            var best = vs[lo]
            let isMin = function == .min
            for k in (lo + 1)..<max(hi, lo + 1) {
                let c = Value.compareDoubles(vs[k], best)
                if isMin ? c < 0 : c > 0 { best = vs[k] }
            }
            if case .double(let current) = state.value {
                let c = Value.compareDoubles(best, current)
                if isMin ? c < 0 : c > 0 { state.value = .double(best) }
            } else {
                state.value = .double(best)
            }
        case .first:
            if state.value.isNull || ts[lo] < state.timestamp {
                state.value = .double(vs[lo])
                state.timestamp = ts[lo]
            }
            state.n += Int64(hi - lo)
        case .last:
            if state.value.isNull || ts[hi - 1] >= state.timestamp {
                state.value = .double(vs[hi - 1])
                state.timestamp = ts[hi - 1]
            }
            state.n += Int64(hi - lo)
        case .stddev, .stddevPop, .variance:
            for k in lo..<hi {
                state.n += 1
                let delta = vs[k] - state.a
                state.a += delta / Double(state.n)
                state.m2 += delta * (vs[k] - state.a)
            }
        case .quantile:
            state.values.append(contentsOf: UnsafeBufferPointer(rebasing: vs[lo..<hi]))
        case .approxQuantile:
            state.sketch.add(UnsafeBufferPointer(rebasing: vs[lo..<hi]))
        case .countIf:
            let p = valuePredicate!
            var n: Int64 = 0
            for k in lo..<hi where p(vs[k]) { n += 1 }
            state.n += n
        case .sumIf:
            let p = valuePredicate!
            for k in lo..<hi where p(vs[k]) {
                state.n += 1
                state.a += vs[k]
            }
        case .timeInState:
            let p = valuePredicate!
            var total: Int64 = 0
            var n: Int64 = 0
            for k in lo..<hi where p(vs[k]) {
                guard let until = hold.until(ts[k], following: k + 1 < hi ? ts[k + 1] : next), until > ts[k] else { continue }
                total &+= until - ts[k]
                n += 1
            }
            state.integerSum &+= total
            state.n += n
        case .rate, .increase:
            let first = lo > 0 ? lo - 1 : lo
            var c =
                state.counters[series]
                ?? CounterState(firstTimestamp: ts[first], lastTimestamp: ts[first], lastValue: vs[first], increase: 0)
            var last = c.lastValue
            var increase = 0.0
            for k in lo..<hi {
                let x = vs[k]
                increase += x >= last ? x - last : x
                last = x
            }
            c.increase += increase
            c.lastValue = last
            c.lastTimestamp = ts[hi - 1]
            state.counters[series] = c
        case .countDistinct:
            break
        }
    }
}

extension AggregateSpec {
    /// Whether this aggregate can be computed from rollup buckets (count, sum, avg, min, max,
    /// first, last and approx_quantile of `value`).
    var isRollupable: Bool {
        switch function {
        case .countStar: return true
        case .count, .sum, .avg, .min, .max, .first, .last, .approxQuantile: return valueArgument
        default: return false
        }
    }

    /// Folds one rollup bucket of one series (a run of its samples, in time order with the
    /// runs before and after it) into `state`; the same result as `accumulateRun` over those
    /// samples.
    @inline(__always)
    func accumulateBucket(_ state: inout AggregateState, _ b: RollupBucket, rollup: ChunkRollup) {
        switch function {
        case .countStar, .count:
            state.n += b.count
        case .sum, .avg:
            state.a += b.sum
            state.n += b.count
        case .min, .max:
            let best = function == .min ? b.min : b.max
            if case .double(let current) = state.value {
                let c = Value.compareDoubles(best, current)
                if function == .min ? c < 0 : c > 0 { state.value = .double(best) }
            } else {
                state.value = .double(best)
            }
        case .first:
            if state.value.isNull || b.firstTime < state.timestamp {
                state.value = .double(b.first)
                state.timestamp = b.firstTime
            }
            state.n += b.count
        case .last:
            if state.value.isNull || b.lastTime >= state.timestamp {
                state.value = .double(b.last)
                state.timestamp = b.lastTime
            }
            state.n += b.count
        case .approxQuantile:
            rollup.mergeSketch(of: b, into: &state.sketch)
        default:
            preconditionFailure("\(function) is not computed from rollups")
        }
    }

    /// Combines the state of the same group computed on another share of the series (parallel
    /// scans). Shares are contiguous ranges of series merged in order, so ties of first/last
    /// resolve as in one sequential pass.
    func merge(_ state: inout AggregateState, _ other: AggregateState) {
        switch function {
        case .countStar, .count, .countIf:
            state.n += other.n
        case .countDistinct:
            state.distinct.formUnion(other.distinct)
        case .sum, .avg, .sumIf:
            state.n += other.n
            state.a += other.a
            state.integerSum &+= other.integerSum
        case .stddev, .stddevPop, .variance:
            // Chan et al.'s pairwise combination of means and squared deviations.
            guard other.n > 0 else { return }
            guard state.n > 0 else {
                state = other
                return
            }
            let n = state.n + other.n
            let delta = other.a - state.a
            state.a += delta * Double(other.n) / Double(n)
            state.m2 += other.m2 + delta * delta * Double(state.n) * Double(other.n) / Double(n)
            state.n = n
        case .min, .max:
            if other.value.isNull { return }
            if state.value.isNull {
                state.value = other.value
            } else if let c = Value.compare(other.value, state.value), function == .min ? c < 0 : c > 0 {
                state.value = other.value
            }
        case .first, .last:
            if other.value.isNull { return }
            if state.value.isNull
                || (function == .first ? other.timestamp < state.timestamp : other.timestamp >= state.timestamp)
            {
                state.value = other.value
                state.timestamp = other.timestamp
            }
            state.n += other.n
        case .quantile:
            state.values.append(contentsOf: other.values)
        case .approxQuantile:
            state.sketch.merge(other.sketch)
        case .rate, .increase:
            state.counters.merge(other.counters) { a, _ in a }
        case .timeInState:
            state.integerSum &+= other.integerSum
            state.n += other.n
        }
    }
}
