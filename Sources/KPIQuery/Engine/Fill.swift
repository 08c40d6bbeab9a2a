extension Execution {
    /// Adds the missing buckets of a bucketed query: every bucket from the range's first to its
    /// last appears once per combination of the other GROUP BY keys. The range is the WHERE
    /// clause's `ts` range when it has one, else the buckets present in the result.
    func fill(
        _ rows: [[Value]], strategy: FillStrategy, items: [(expression: Expression, name: String)], layout: GroupLayout?,
        start: Int64, end: Int64, columns: inout [Relation.Column]
    ) throws(QueryError) -> [[Value]] {
        guard let layout,
            let keyIndex = layout.keys.firstIndex(where: {
                if case .function(let call, _) = $0, call.name.lowercased() == "time_bucket" { return true }
                return false
            }),
            case .function(let call, _) = layout.keys[keyIndex]
        else {
            throw QueryError(
                message: "FILL needs a query grouped by time_bucket(...)", position: .start,
                hint: "add GROUP BY time_bucket('1h', ts) (or its alias)", kind: .semantic)
        }
        let key = layout.keys[keyIndex]
        guard let bucketColumn = items.firstIndex(where: { $0.expression.strippingRanges() == key }) else {
            throw QueryError(
                message: "FILL needs the time_bucket(...) key in the select list", position: .start, kind: .semantic)
        }
        guard let (width, origin) = try bucketWidth(of: call) else { return rows }
        let otherKeys = Set(layout.keys.indices.filter { $0 != keyIndex }.map { layout.keys[$0] })
        let partitionColumns = items.indices.filter { otherKeys.contains(items[$0].expression.strippingRanges()) }
        let valueColumns = items.indices.filter { $0 != bucketColumn && !partitionColumns.contains($0) }

        // Partitions in order of first appearance, each a bucket -> row map.
        var order: [[Value]] = []
        var partitions: [[Value]: [Int64: [Value]]] = [:]
        var lo = Int64.max
        var hi = Int64.min
        for row in rows {
            guard case .timestamp(let b) = row[bucketColumn] else { continue }
            let p = partitionColumns.map { row[$0] }
            if partitions[p] == nil {
                order.append(p)
                partitions[p] = [:]
            }
            partitions[p]![b] = row
            lo = min(lo, b)
            hi = max(hi, b)
        }
        if start != .min { lo = TimeBucket.start(start, width: width, origin: origin) }
        if end != .max { hi = TimeBucket.start(end, width: width, origin: origin) }
        if order.isEmpty && partitionColumns.isEmpty && start != .min && end != .max {
            order.append([])
            partitions[[]] = [:]
        }
        guard lo <= hi else { return rows }
        // Checked: a range bound from the query may be any Int64 (the limit error covers overflow).
        let (span, spanOverflow) = hi.subtractingReportingOverflow(lo)
        let bucketCount = span / width + 1
        let (total, totalOverflow) = bucketCount.multipliedReportingOverflow(by: Int64(max(order.count, 1)))
        if spanOverflow || totalOverflow || total > Int64(options.limits.maxRows) {
            throw limitError(
                "FILL would produce more than \(options.limits.maxRows) rows",
                hint: "use wider buckets or a shorter time range")
        }
        let width0 = rows.first?.count ?? items.count
        var out: [[Value]] = []
        out.reserveCapacity(Int(bucketCount) * order.count)
        for p in order {
            let present = partitions[p]!
            let known = present.keys.sorted()
            var previous: [Value]? = nil
            var nextIndex = 0
            var b = lo
            while b <= hi {
                while nextIndex < known.count && known[nextIndex] <= b { nextIndex += 1 }
                if let row = present[b] {
                    out.append(row)
                    previous = row
                } else {
                    var row = [Value](repeating: .null, count: width0)
                    row[bucketColumn] = .timestamp(b)
                    for (k, c) in partitionColumns.enumerated() { row[c] = p[k] }
                    let next = nextIndex < known.count ? present[known[nextIndex]] : nil
                    for c in valueColumns {
                        switch strategy {
                        case .null: row[c] = .null
                        case .value(let v):
                            row[c] = columns[c].type == .integer && v == v.rounded() && abs(v) < 9e18 ? .int(Int64(v)) : .double(v)
                        case .previous: row[c] = previous?[c] ?? .null
                        case .linear:
                            guard let previous, let next, case .timestamp(let t0) = previous[bucketColumn],
                                case .timestamp(let t1) = next[bucketColumn], let y0 = previous[c].number, let y1 = next[c].number
                            else {
                                row[c] = .null
                                continue
                            }
                            row[c] = .double(y0 + (y1 - y0) * Double(b - t0) / Double(t1 - t0))
                        }
                    }
                    // Extra ORDER BY columns of filled rows stay NULL.
                    out.append(row)
                }
                let (following, overflow) = b.addingReportingOverflow(width)
                if overflow { break }
                b = following
            }
        }
        if case .linear = strategy {
            for c in valueColumns where columns[c].type == .integer { columns[c].type = .double }
        }
        if case .value(let v) = strategy, v != v.rounded() || abs(v) >= 9e18 {
            for c in valueColumns where columns[c].type == .integer { columns[c].type = .double }
        }
        return out
    }

    /// Width and origin of a `time_bucket(width, ts[, origin])` call with constant arguments.
    func bucketWidth(of call: FunctionCall) throws(QueryError) -> (width: Int64, origin: Int64)? {
        guard call.name.lowercased() == "time_bucket", call.arguments.count >= 2 else { return nil }
        let compiler = Compiler(scope: Scope(columns: [], qualifiers: [], labelsOnDemand: false), options: options)
        var width: Int64 = 0
        switch try compiler.compile(call.arguments[0]).constant {
        case .interval(let ms)?: width = ms
        case .string(let text)?: width = (try? IntervalLiteral.milliseconds(text)) ?? 0
        default: break
        }
        var origin: Int64 = 0
        if call.arguments.count == 3,
            case .timestamp(let t)? = try compiler.coerce(
                try compiler.compile(call.arguments[2]), to: .timestamp, range: call.arguments[2].range
            ).constant
        {
            origin = t
        }
        return width > 0 ? (width, origin) : nil
    }
}
