import KPICore

extension Evaluator {
    /// A binary operation with at least one vector operand.
    func binary(
        _ op: BinaryOperator, _ l: Expr, _ r: Expr, matching: VectorMatching, returnBool: Bool, _ grid: Grid
    ) throws(PromQLError) -> [StepSeries] {
        switch (l.type, r.type) {
        case (.vector, .vector):
            let lhs = try vector(l, grid)
            let rhs = try vector(r, grid)
            switch op {
            case .and, .unless: return try setFilter(lhs, rhs, keepMatches: op == .and, matching: matching, grid)
            case .or: return try union(lhs, rhs, matching: matching, grid)
            default: return try vectorVector(op, lhs, rhs, matching: matching, returnBool: returnBool, grid)
            }
        case (.vector, .scalar):
            return try vectorScalar(op, try vector(l, grid), try scalar(r, grid), swapped: false, returnBool: returnBool, grid)
        case (.scalar, .vector):
            return try vectorScalar(op, try vector(r, grid), try scalar(l, grid), swapped: true, returnBool: returnBool, grid)
        default:
            throw .execution("unexpected operand types for \(op.rawValue)")
        }
    }

    func vectorScalar(
        _ op: BinaryOperator, _ vec: [StepSeries], _ s: [Double], swapped: Bool, returnBool: Bool, _ grid: Grid
    ) throws(PromQLError) -> [StepSeries] {
        var out = vec
        let dropName = op.dropsMetricName || returnBool
        for k in out.indices {
            if dropName { out[k].labels = out[k].labels.droppingMetricName }
            for i in 0..<grid.count {
                guard let v = out[k].values[i] else { continue }
                let (a, b) = swapped ? (s[i], v) : (v, s[i])
                var (value, keep) = Evaluator.arithmetic(op, a, b)
                // A comparison keeps the vector's value even when the scalar is on the left.
                if op.isComparison && swapped { value = v }
                if returnBool {
                    out[k].values[i] = keep ? 1 : 0
                } else {
                    out[k].values[i] = keep ? value : nil
                }
            }
        }
        return dropName ? try merge(out, grid) : out.filter { $0.values.contains { $0 != nil } }
    }

    /// The matching signature of each series: the `on` labels, or all but the `ignoring`
    /// labels and the metric name. Returned as small integers (equal signature, equal id).
    func signatures(_ series: [StepSeries], _ matching: VectorMatching, table: inout [Labels: Int]) -> [Int] {
        series.map { s in
            let key =
                matching.on
                ? s.labels.keeping(matching.labels)
                : Labels(s.labels.pairs.filter { $0.name != Labels.metricNameLabel && !matching.labels.contains($0.name) })
            if let id = table[key] { return id }
            let id = table.count
            table[key] = id
            return id
        }
    }

    /// `and` (keep left series that match a right one at the step) and `unless` (those that do not).
    func setFilter(
        _ lhs: [StepSeries], _ rhs: [StepSeries], keepMatches: Bool, matching: VectorMatching, _ grid: Grid
    ) throws(PromQLError) -> [StepSeries] {
        var table: [Labels: Int] = [:]
        let ls = signatures(lhs, matching, table: &table)
        let rs = signatures(rhs, matching, table: &table)
        var present = [Bool](repeating: false, count: table.count)
        var out = lhs
        for i in 0..<grid.count {
            for k in rhs.indices where rhs[k].values[i] != nil { present[rs[k]] = true }
            for k in out.indices where out[k].values[i] != nil && present[ls[k]] != keepMatches { out[k].values[i] = nil }
            for k in rhs.indices { present[rs[k]] = false }
        }
        return out.filter { $0.values.contains { $0 != nil } }
    }

    /// `or`: every left series, and right series whose signature no left series has at the step.
    func union(_ lhs: [StepSeries], _ rhs: [StepSeries], matching: VectorMatching, _ grid: Grid) throws(PromQLError) -> [StepSeries] {
        var table: [Labels: Int] = [:]
        let ls = signatures(lhs, matching, table: &table)
        let rs = signatures(rhs, matching, table: &table)
        var present = [Bool](repeating: false, count: table.count)
        var right = rhs
        for i in 0..<grid.count {
            for k in lhs.indices where lhs[k].values[i] != nil { present[ls[k]] = true }
            for k in right.indices where right[k].values[i] != nil && present[rs[k]] { right[k].values[i] = nil }
            for k in lhs.indices { present[ls[k]] = false }
        }
        return try merge(lhs + right, grid)
    }

    /// Arithmetic and comparison between two vectors, one-to-one or with group_left/right.
    func vectorVector(
        _ op: BinaryOperator, _ lhsIn: [StepSeries], _ rhsIn: [StepSeries], matching: VectorMatching, returnBool: Bool,
        _ grid: Grid
    ) throws(PromQLError) -> [StepSeries] {
        // The "many" side is iterated; the "one" side is looked up by signature.
        let oneToMany = matching.cardinality == .oneToMany
        let many = oneToMany ? rhsIn : lhsIn
        let one = oneToMany ? lhsIn : rhsIn
        var table: [Labels: Int] = [:]
        let manySig = signatures(many, matching, table: &table)
        let oneSig = signatures(one, matching, table: &table)
        var oneAt = [Int](repeating: -1, count: table.count)
        var manySeen = [Int](repeating: -1, count: table.count)
        var outIndex: [Labels: Int] = [:]
        var pairOutput: [Int: Int] = [:]  // many * one.count + one -> output series
        var out: [StepSeries] = []
        let grouped = matching.cardinality == .manyToOne || matching.cardinality == .oneToMany
        for i in 0..<grid.count {
            if i % 64 == 0 { try check() }
            for k in one.indices where one[k].values[i] != nil {
                let sig = oneSig[k]
                if oneAt[sig] >= 0 {
                    let side = oneToMany ? "left" : "right"
                    throw .execution(
                        "found duplicate series for the match group \(signatureText(one[k].labels, matching)) on the \(side) hand-side of the operation: [\(one[oneAt[sig]].labels), \(one[k].labels)];many-to-many matching not allowed: matching labels must be unique on one side"
                    )
                }
                oneAt[sig] = k
            }
            for m in many.indices {
                guard let mv = many[m].values[i] else { continue }
                let sig = manySig[m]
                let o = oneAt[sig]
                guard o >= 0, let ov = one[o].values[i] else { continue }
                if !grouped {
                    if manySeen[sig] >= 0 {
                        throw .execution("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
                    }
                    manySeen[sig] = m
                }
                let (a, b) = oneToMany ? (ov, mv) : (mv, ov)
                var (value, keep) = Evaluator.arithmetic(op, a, b)
                if returnBool {
                    value = keep ? 1 : 0
                    keep = true
                }
                guard keep else { continue }
                let pair = m * one.count + o
                let target: Int
                if let t = pairOutput[pair] {
                    target = t
                } else {
                    let labels = resultLabels(many[m].labels, one[o].labels, op: op, matching: matching, returnBool: returnBool)
                    if let t = outIndex[labels] {
                        target = t
                    } else {
                        target = out.count
                        outIndex[labels] = target
                        out.append(StepSeries(labels: labels, values: [Double?](repeating: nil, count: grid.count)))
                    }
                    pairOutput[pair] = target
                }
                if out[target].values[i] != nil {
                    throw .execution(
                        grouped
                            ? "multiple matches for labels: grouping labels must ensure unique matches"
                            : "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
                }
                out[target].values[i] = value
            }
            for k in one.indices { oneAt[oneSig[k]] = -1 }
            for m in many.indices { manySeen[manySig[m]] = -1 }
        }
        return out
    }

    func signatureText(_ labels: Labels, _ matching: VectorMatching) -> String {
        let key =
            matching.on
            ? labels.keeping(matching.labels)
            : Labels(labels.pairs.filter { $0.name != Labels.metricNameLabel && !matching.labels.contains($0.name) })
        return "{" + key.pairs.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: ", ") + "}"
    }

    /// Prometheus' `resultMetric`: the many side's labels, the name dropped by arithmetic and
    /// `bool`, reduced to the `on` labels (or without the `ignoring` ones) when one-to-one, and
    /// the `group_x(...)` labels copied from the one side.
    func resultLabels(_ many: Labels, _ one: Labels, op: BinaryOperator, matching: VectorMatching, returnBool: Bool) -> Labels {
        var pairs = many.pairs
        if op.dropsMetricName || returnBool { pairs.removeAll { $0.name == Labels.metricNameLabel } }
        if matching.cardinality == .oneToOne {
            if matching.on {
                pairs.removeAll { !matching.labels.contains($0.name) }
            } else {
                pairs.removeAll { matching.labels.contains($0.name) }
            }
        }
        for name in matching.include {
            pairs.removeAll { $0.name == name }
            if let v = one[name] { pairs.append(Label(name: name, value: v)) }
        }
        return Labels(pairs)
    }
}
