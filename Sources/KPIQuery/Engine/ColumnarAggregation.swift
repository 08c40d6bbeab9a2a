import KPICore

/// The columnar path of a grouped scan: when every GROUP BY key is a series label expression
/// or a monotonic bucket of `ts` (`ts`, `time_bucket`, `date_trunc`), every aggregate reads
/// `value` (or tests it against a constant), and no per-sample WHERE remains, each series is
/// cut into runs of samples falling in one bucket; a run costs one group lookup, and each
/// aggregate folds it in a tight loop over the column slices.
struct ColumnarAggregation {
    private let seriesKeys: [(index: Int, eval: Evaluator)]
    private let bucketKey: (index: Int, eval: Evaluator)?
    private let keyCount: Int

    init?(layout: GroupLayout, keys: [Compiled]) {
        guard layout.aggregates.allSatisfy(\.isColumnar) else { return nil }
        var seriesKeys: [(Int, Evaluator)] = []
        var bucket: (Int, Evaluator)? = nil
        for (k, key) in keys.enumerated() {
            if !key.readsRow {
                seriesKeys.append((k, key.eval))
            } else if bucket == nil && Self.isMonotonicBucket(layout.keys[k]) {
                bucket = (k, key.eval)
            } else {
                return nil
            }
        }
        self.seriesKeys = seriesKeys
        self.bucketKey = bucket
        self.keyCount = keys.count
    }

    /// `ts`, `time_bucket(width, ts[, origin])` or `date_trunc(unit, ts[, zone])`: never
    /// decreasing as `ts` grows, so a series' samples of one bucket are contiguous.
    static func isMonotonicBucket(_ e: Expression) -> Bool {
        func isTs(_ x: Expression) -> Bool {
            if case .column(let ref, _) = x, ref.name == "ts" { return true }
            return false
        }
        if isTs(e) { return true }
        guard case .function(let call, _) = e else { return false }
        switch call.name.lowercased() {
        case "time_bucket", "date_trunc": return call.arguments.count >= 2 && isTs(call.arguments[1])
        default: return false
        }
    }

    func run(
        series: [(id: SeriesID, labels: Labels)], start: Int64, end: Int64, previous: Bool, row: Row, labelNames: [String],
        seriesFilters: [Compiled], table: inout GroupTable, execution: Execution
    ) throws(QueryError) {
        var key = [Value](repeating: .null, count: keyCount)
        for (n, entry) in series.enumerated() {
            if n & 63 == 0 { try execution.checkDeadline() }
            if !execution.setLabels(row, entry.labels, labelNames, firstSlot: 2, filters: seriesFilters) { continue }
            row.series = Int(entry.id.rawValue)
            for (index, eval) in seriesKeys { key[index] = eval(row) }
            let (ts, vs, first) = try execution.readSeries(entry.id, start: start, end: end, previous: previous)
            if ts.count <= first { continue }
            let seriesNumber = row.series
            try ts.withUnsafeBufferPointer { t throws(QueryError) in
                try vs.withUnsafeBufferPointer { v throws(QueryError) in
                    guard let (bucketIndex, bucket) = bucketKey else {
                        let g = try table.group(for: key, execution: execution)
                        try table.addRun(g, ts: t, vs: v, first, t.count, series: seriesNumber, next: nil, execution: execution)
                        return
                    }
                    func bucketOf(_ i: Int) -> Value {
                        row.slots[0] = .timestamp(t[i])
                        return bucket(row)
                    }
                    var lo = first
                    while lo < t.count {
                        let b = bucketOf(lo)
                        // Gallop to the end of the run, then bisect.
                        var step = 1
                        while lo + step < t.count && bucketOf(lo + step) == b { step *= 2 }
                        var a = lo + step / 2
                        var z = min(lo + step, t.count)
                        while a + 1 < z {
                            let mid = (a + z) / 2
                            if bucketOf(mid) == b { a = mid } else { z = mid }
                        }
                        let hi = z
                        key[bucketIndex] = b
                        let g = try table.group(for: key, execution: execution)
                        try table.addRun(
                            g, ts: t, vs: v, lo, hi, series: seriesNumber, next: hi < t.count ? t[hi] : nil, execution: execution)
                        lo = hi
                    }
                }
            }
        }
    }
}
