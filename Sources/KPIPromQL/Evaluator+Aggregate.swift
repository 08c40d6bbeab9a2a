import KPICore

extension Evaluator {
    /// The group labels of a series under `by (...)` or `without (...)`.
    static func groupLabels(_ labels: Labels, grouping: [String], without: Bool) -> Labels {
        without
            ? Labels(labels.pairs.filter { $0.name != Labels.metricNameLabel && !grouping.contains($0.name) })
            : labels.keeping(grouping)
    }

    func aggregate(
        _ op: AggregateOperator, _ expr: Expr, parameter: Expr?, grouping: [String], without: Bool, _ grid: Grid
    ) throws(PromQLError) -> [StepSeries] {
        let input = try vector(expr, grid)
        if op == .countValues {
            guard case .string(let label) = parameter?.unwrapped else { throw .execution("count_values needs a label name") }
            guard Evaluator.isValidLabelName(label) else { throw .execution("invalid label name \"\(label)\"") }
            return try countValues(input, label: label, grouping: grouping, without: without, grid)
        }
        let param: [Double] = try parameter.map { (p) throws(PromQLError) -> [Double] in try scalar(p, grid) } ?? []
        // Group membership, once: labels do not change between steps.
        var groupIndex: [Labels: Int] = [:]
        var groups: [(labels: Labels, members: [Int])] = []
        for (k, s) in input.enumerated() {
            let key = Evaluator.groupLabels(s.labels, grouping: grouping, without: without)
            if let g = groupIndex[key] {
                groups[g].members.append(k)
            } else {
                groupIndex[key] = groups.count
                groups.append((key, [k]))
            }
        }
        if op == .topk || op == .bottomk {
            return try selectK(input, groups: groups, k: param, top: op == .topk, grid)
        }
        var out: [StepSeries] = []
        out.reserveCapacity(groups.count)
        var scratch: [Double] = []
        for group in groups {
            try check()
            var values = [Double?](repeating: nil, count: grid.count)
            for i in 0..<grid.count {
                var n = 0
                var value = 0.0
                var mean = 0.0
                var compensation = 0.0
                scratch.removeAll(keepingCapacity: true)
                for m in group.members {
                    guard let v = input[m].values[i] else { continue }
                    n += 1
                    switch op {
                    case .sum:
                        value += v
                    case .avg:
                        // Prometheus' incremental mean, which keeps infinities intact.
                        if mean.isInfinite {
                            if v.isInfinite && (mean > 0) == (v > 0) { break }
                            if !v.isInfinite && !v.isNaN { break }
                        }
                        mean += v / Double(n) - mean / Double(n)
                    case .min:
                        if n == 1 || value > v || value.isNaN { value = v }
                    case .max:
                        if n == 1 || value < v || value.isNaN { value = v }
                    case .count, .group:
                        break
                    case .stddev, .stdvar:
                        let delta = v - mean
                        mean += delta / Double(n)
                        compensation += delta * (v - mean)
                    case .quantile:
                        scratch.append(v)
                    case .topk, .bottomk, .countValues:
                        break
                    }
                }
                guard n > 0 else { continue }
                switch op {
                case .sum, .min, .max: values[i] = value
                case .avg: values[i] = mean
                case .count: values[i] = Double(n)
                case .group: values[i] = 1
                case .stdvar: values[i] = compensation / Double(n)
                case .stddev: values[i] = (compensation / Double(n)).squareRoot()
                case .quantile: values[i] = Evaluator.quantile(param[i], &scratch)
                case .topk, .bottomk, .countValues: break
                }
            }
            out.append(StepSeries(labels: group.labels, values: values))
        }
        return out
    }

    /// Prometheus' `quantile`: linear interpolation between the closest ranks; NaN first.
    static func quantile(_ q: Double, _ values: inout [Double]) -> Double {
        if values.isEmpty || q.isNaN { return .nan }
        if q < 0 { return -.infinity }
        if q > 1 { return .infinity }
        values.sort { a, b in a.isNaN ? !b.isNaN : a < b }
        let n = Double(values.count)
        let rank = q * (n - 1)
        let lower = Swift.max(0, rank.rounded(.down))
        let upper = Swift.min(n - 1, lower + 1)
        let weight = rank - rank.rounded(.down)
        return values[Int(lower)] * (1 - weight) + values[Int(upper)] * weight
    }

    /// topk / bottomk: per step and group, the k largest (smallest) values; series keep their labels.
    func selectK(
        _ input: [StepSeries], groups: [(labels: Labels, members: [Int])], k: [Double], top: Bool, _ grid: Grid
    ) throws(PromQLError) -> [StepSeries] {
        var out = input.map { StepSeries(labels: $0.labels, values: [Double?](repeating: nil, count: grid.count)) }
        var candidates: [(value: Double, index: Int)] = []
        for i in 0..<grid.count {
            try check()
            let kv = k[i]
            // Prometheus refuses a k that does not fit an Int64 (NaN included), at every step.
            guard kv >= -9.223372036854775e18 && kv <= 9.223372036854775e18 else {
                throw .execution("Scalar value \(PromQLFormat.value(kv)) overflows int64")
            }
            guard kv >= 1 else { continue }
            let limit = kv >= Double(Int.max / 2) ? Int.max / 2 : Int(kv)
            for group in groups {
                // Keep the best `limit` in order; a value ranks before another when larger
                // (smaller for bottomk), NaN ranks last, and ties keep the input order.
                candidates.removeAll(keepingCapacity: true)
                if limit >= group.members.count / 8 {
                    // A large k: sort them all (stable on the input order).
                    for m in group.members { if let v = input[m].values[i] { candidates.append((v, m)) } }
                    candidates.sort { a, b in
                        Evaluator.ranksBefore(a.value, b.value, top: top)
                            || (!Evaluator.ranksBefore(b.value, a.value, top: top) && a.index < b.index)
                    }
                    for c in candidates.prefix(limit) { out[c.index].values[i] = c.value }
                    continue
                }
                for m in group.members {
                    guard let v = input[m].values[i] else { continue }
                    if candidates.count == limit, let worst = candidates.last, !Evaluator.ranksBefore(v, worst.value, top: top) {
                        continue
                    }
                    var position = candidates.count
                    while position > 0 && Evaluator.ranksBefore(v, candidates[position - 1].value, top: top) { position -= 1 }
                    candidates.insert((v, m), at: position)
                    if candidates.count > limit { candidates.removeLast() }
                }
                for c in candidates { out[c.index].values[i] = c.value }
            }
        }
        return out.filter { $0.values.contains { $0 != nil } }
    }

    /// Whether `a` strictly outranks `b` for topk (`top`) or bottomk; NaN never does.
    @inline(__always) static func ranksBefore(_ a: Double, _ b: Double, top: Bool) -> Bool {
        if a.isNaN { return false }
        if b.isNaN { return true }
        return top ? a > b : a < b
    }

    /// count_values: per step, how many series of each group have each value; the value
    /// (formatted as Prometheus does) becomes the label `label`. Every output series is charged
    /// to `maxSamples` (its points) when it is created.
    func countValues(_ input: [StepSeries], label: String, grouping: [String], without: Bool, _ grid: Grid) throws(PromQLError)
        -> [StepSeries]
    {
        let groupBy = without ? grouping : grouping + [label]
        var index: [Labels: Int] = [:]
        var out: [StepSeries] = []
        for i in 0..<grid.count {
            try check()
            for s in input {
                guard let v = s.values[i] else { continue }
                let labels = s.labels.setting(label, PromQLFormat.fixed(v))
                let key = Evaluator.groupLabels(labels, grouping: groupBy, without: without)
                let target: Int
                if let t = index[key] {
                    target = t
                } else {
                    // Each new value is a whole new series of the grid's length: charged to
                    // the query's sample budget before it is allocated (distinct values are
                    // unbounded, and were once the way to many gigabytes).
                    try count(samples: grid.count)
                    target = out.count
                    index[key] = target
                    out.append(StepSeries(labels: key, values: [Double?](repeating: nil, count: grid.count)))
                }
                out[target].values[i] = (out[target].values[i] ?? 0) + 1
            }
        }
        return out
    }
}
