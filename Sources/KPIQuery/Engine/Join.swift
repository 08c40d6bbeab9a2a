extension Execution {
    /// Runs both sides and joins them: a hash join on the USING columns (or on the equalities of
    /// an ON condition between the two sides), then any remaining ON condition per pair.
    func join(_ j: Join, depth: Int) throws(QueryError) -> Relation {
        note(depth, (j.kind == .left ? "Left join" : "Join") + Execution.joinConditionText(j.condition))
        let (left, leftName) = try sideRelation(j.left, depth: depth + 1)
        let (right, rightName) = try sideRelation(j.right, depth: depth + 1)
        var leftKeys: [Int] = []
        var rightKeys: [Int] = []
        var columns: [Relation.Column] = []
        var leftRest = Array(left.columns.indices)
        var rightRest = Array(right.columns.indices)
        var residual: Expression? = nil
        switch j.condition {
        case .using(let names):
            for name in names {
                guard let l = left.columns.firstIndex(where: { $0.name == name }) else {
                    throw QueryError(
                        message: "USING column \"\(name)\" is not a column of the left side", position: position(of: name),
                        kind: .semantic)
                }
                guard let r = right.columns.firstIndex(where: { $0.name == name }) else {
                    throw QueryError(
                        message: "USING column \"\(name)\" is not a column of the right side", position: position(of: name),
                        kind: .semantic)
                }
                leftKeys.append(l)
                rightKeys.append(r)
                columns.append(Relation.Column(table: nil, name: name, type: left.columns[l].type))
            }
            leftRest.removeAll { leftKeys.contains($0) }
            rightRest.removeAll { rightKeys.contains($0) }
        case .on(let condition):
            residual = condition
        }
        // A side that is itself a join (no alias) keeps its columns' own qualifiers.
        columns += leftRest.map {
            Relation.Column(table: leftName ?? left.columns[$0].table, name: left.columns[$0].name, type: left.columns[$0].type)
        }
        columns += rightRest.map {
            Relation.Column(table: rightName ?? right.columns[$0].table, name: right.columns[$0].name, type: right.columns[$0].type)
        }

        // ON: compile against the concatenated row; equalities across sides become hash keys.
        var filter: Compiled? = nil
        if let condition = residual {
            let combined = Relation(
                columns: left.columns.map { Relation.Column(table: leftName ?? $0.table, name: $0.name, type: $0.type) }
                    + right.columns.map { Relation.Column(table: rightName ?? $0.table, name: $0.name, type: $0.type) }, rows: [])
            let scope = Execution.scope(of: combined, table: nil)
            let compiler = Compiler(scope: scope, options: options)
            var rest: [Expression] = []
            for conjunct in Execution.conjuncts(condition) {
                if case .binary(.equal, .column(let a, let ra), .column(let b, let rb), _) = conjunct,
                    let ca = try scope.resolve(a, range: ra), let cb = try scope.resolve(b, range: rb)
                {
                    let n = left.columns.count
                    if ca.slot < n && cb.slot >= n {
                        leftKeys.append(ca.slot)
                        rightKeys.append(cb.slot - n)
                        continue
                    }
                    if cb.slot < n && ca.slot >= n {
                        leftKeys.append(cb.slot)
                        rightKeys.append(ca.slot - n)
                        continue
                    }
                }
                rest.append(conjunct)
            }
            if let first = rest.first {
                let e = rest.dropFirst().reduce(first) { .binary(.and, $0, $1, range: $1.range) }
                let c = try compiler.compile(e)
                try compiler.expectType(c, [.boolean], "ON", e.range)
                filter = c
            }
        }
        if explainOnly { return Relation(columns: columns, rows: []) }

        var table: [[Value]: [Int]] = [:]
        for (i, row) in right.rows.enumerated() {
            let key = rightKeys.map { row[$0] }
            if key.contains(where: \.isNull) { continue }  // NULL never equals anything
            table[key, default: []].append(i)
        }
        try chargeGroupMemory(right.rows.count * (16 + rightKeys.count * 32))
        var rows: [[Value]] = []
        // USING puts its columns first, once; ON keeps every column of both sides.
        let using: Bool
        if case .using = j.condition { using = true } else { using = false }
        let pairRow = Row(count: left.columns.count + right.columns.count)
        let nullRight = [Value](repeating: .null, count: right.columns.count)
        for (n, l) in left.rows.enumerated() {
            if n & 0xFFF == 0 { try checkDeadline() }
            let key = leftKeys.map { l[$0] }
            var matched = false
            for i in (key.contains(where: \.isNull) ? nil : table[key]) ?? [] {
                let r = right.rows[i]
                if let filter {
                    pairRow.slots = l + r
                    if filter.eval(pairRow).truth != true { continue }
                }
                matched = true
                rows.append(using ? key + leftRest.map { l[$0] } + rightRest.map { r[$0] } : l + r)
                if rows.count > options.limits.maxRows {
                    throw limitError(
                        "the join produces more than \(options.limits.maxRows) rows", hint: "join on more keys or filter first")
                }
            }
            if !matched && j.kind == .left {
                rows.append(using ? key + leftRest.map { l[$0] } + rightRest.map { nullRight[$0] } : l + nullRight)
            }
        }
        return Relation(columns: columns, rows: rows)
    }

    private func sideRelation(_ source: Source, depth: Int) throws(QueryError) -> (Relation, String?) {
        switch source {
        case .subquery(let s, let alias):
            note(depth, "Subquery \(alias)")
            return (try select(s, depth: depth + 1), alias)
        case .metric(let name, let alias):
            return (try select(SelectStatement(items: [.wildcard], from: source), depth: depth), alias ?? name)
        case .function(let name, _, let alias):
            return (try select(SelectStatement(items: [.wildcard], from: source), depth: depth), alias ?? name)
        case .join(let inner):
            return (try join(inner, depth: depth), nil)
        }
    }

    static func joinConditionText(_ c: Join.Condition) -> String {
        switch c {
        case .using(let names): return " using (" + names.joined(separator: ", ") + ")"
        case .on(let e): return " on " + SQLPrinter.expression(e)
        }
    }
}
