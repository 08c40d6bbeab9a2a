import Dispatch
import Foundation
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
    /// `time_bucket`'s width and origin: runs end at computed boundaries, no evaluation per sample.
    private let fixedWidth: (width: Int64, origin: Int64)?
    /// The rollup level sealed chunks are read at instead of their samples, when every
    /// aggregate can be computed from buckets and every bucket of the level falls in one group
    /// (time_bucket widths and origins that are whole multiples of it; date_trunc, checked per
    /// bucket; no time key at all); nil to read samples only.
    let rollupLevel: RollupLevel?
    /// Whether the rollups read must carry sketches (approx_quantile).
    private let needsSketches: Bool

    init?(layout: GroupLayout, keys: [Compiled], fixedWidth: (width: Int64, origin: Int64)?, useRollups: Bool = true) {
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
        self.fixedWidth = fixedWidth
        var level: RollupLevel? = nil
        if useRollups && layout.aggregates.allSatisfy(\.isRollupable) {
            if let b = bucket {
                if let (width, origin) = fixedWidth {
                    // The coarsest level whose buckets each fall in one query bucket: it reads
                    // the fewest buckets.
                    level = RollupLevel.allCases.reversed().first {
                        width % $0.milliseconds == 0 && origin.floorDivMod($0.milliseconds).1 == 0
                    }
                } else if case .function = layout.keys[b.0] {
                    level = .hour
                }
            } else {
                level = .hour
            }
        }
        self.rollupLevel = level
        self.needsSketches = layout.aggregates.contains { $0.function == .approxQuantile }
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

    /// Scans the series into `table`; large scans are split into contiguous shares of the
    /// series, one per core, each with its own groups, merged in order at the end.
    func run(
        series: [(id: SeriesID, labels: Labels)], start: Int64, end: Int64, previous: Bool, row: Row, labelNames: [String],
        seriesFilters: [Compiled], table: inout GroupTable, execution: Execution
    ) throws(QueryError) {
        let cores = execution.options.parallelism ?? ProcessInfo.processInfo.activeProcessorCount
        let workers = min(cores, series.count / Self.seriesPerWorker, 16)
        guard workers > 1 else {
            try runShare(
                series[...], start: start, end: end, previous: previous, row: row, labelNames: labelNames,
                seriesFilters: seriesFilters, table: &table, execution: execution)
            return
        }
        final class Share: @unchecked Sendable {
            // @unchecked: each Share is written by exactly one worker, and read after the join.
            var table: GroupTable
            let execution: Execution
            let row: Row
            var error: QueryError?
            init(table: GroupTable, execution: Execution, slots: Int) {
                self.table = table
                self.execution = execution
                self.row = Row(count: slots)
            }
        }
        final class Job: @unchecked Sendable {
            // @unchecked: the compiled evaluators only read their captured constants and the
            // row they are given; every worker has its own row, table and statistics.
            let body: (Int) -> Void
            init(_ body: @escaping (Int) -> Void) { self.body = body }
        }
        let shares = (0..<workers).map { _ in Share(table: table, execution: execution.child(), slots: row.slots.count) }
        let per = (series.count + workers - 1) / workers
        let job = Job { w in
            let share = shares[w]
            let range = (w * per)..<min(series.count, (w + 1) * per)
            do throws(QueryError) {
                try self.runShare(
                    series[range], start: start, end: end, previous: previous, row: share.row, labelNames: labelNames,
                    seriesFilters: seriesFilters, table: &share.table, execution: share.execution)
            } catch {
                share.error = error
            }
        }
        DispatchQueue.concurrentPerform(iterations: workers) { job.body($0) }
        for share in shares {
            if let error = share.error { throw error }
            try execution.absorb(share.execution)
            try table.merge(share.table, execution: execution)
        }
    }

    /// Below this many series per core a scan stays on one thread.
    static let seriesPerWorker = 32

    private func runShare(
        _ series: ArraySlice<(id: SeriesID, labels: Labels)>, start: Int64, end: Int64, previous: Bool, row: Row,
        labelNames: [String], seriesFilters: [Compiled], table: inout GroupTable, execution: Execution
    ) throws(QueryError) {
        var key = [Value](repeating: .null, count: keyCount)
        for (n, entry) in series.enumerated() {
            if n & 63 == 0 { try execution.checkDeadline() }
            if !execution.setLabels(row, entry.labels, labelNames, firstSlot: 2, filters: seriesFilters) { continue }
            row.series = Int(entry.id.rawValue)
            for (index, eval) in seriesKeys { key[index] = eval(row) }
            let prefix = table.prefix(for: seriesKeys.map { key[$0.index] })
            if let level = rollupLevel {
                try foldSegments(
                    entry.id, level: level, start: start, end: end, key: &key, prefix: prefix, series: row.series, row: row,
                    table: &table, execution: execution)
                continue
            }
            let metric = entry.labels.metricName ?? ""
            let holds = table.holdsStates
            let (ts, vs, first) = try execution.readSeries(
                entry.id, start: start, end: end, previous: previous,
                holdLookback: holds ? execution.options.staleness.lookbackMs(metric: metric) : 0)
            let seriesNumber = row.series
            // time_in_state: a sample's state holds until the next sample, at most the series'
            // staleness limit, and the state before the range is carried in from its start.
            let hold = holds ? execution.stateHold(metric: metric, timestamps: ts, rangeEnd: end) : .none
            let held = holds ? execution.heldIntoRange(ts, first: first, start: start, hold: hold) : 0
            if ts.count <= first && held == 0 { continue }
            try ts.withUnsafeBufferPointer { t throws(QueryError) in
                try vs.withUnsafeBufferPointer { v throws(QueryError) in
                    if held > 0 {
                        try spreadHeld(
                            v[first - 1], from: start, until: start + held, key: &key, prefix: prefix, row: row, table: &table,
                            execution: execution)
                    }
                    if t.count > first {
                        try foldRuns(
                            t, v, first: first, key: &key, prefix: prefix, series: seriesNumber, hold: hold, row: row,
                            table: &table, execution: execution)
                    }
                }
            }
        }
    }

    /// Folds the samples `first...` of one series (ascending time) into their groups: one run
    /// per bucket, each folded by `addRun`.
    private func foldRuns(
        _ t: UnsafeBufferPointer<Int64>, _ v: UnsafeBufferPointer<Double>, first: Int, key: inout [Value], prefix: Int32,
        series seriesNumber: Int, hold: StateHold, row: Row, table: inout GroupTable, execution: Execution
    ) throws(QueryError) {
        guard let (bucketIndex, bucket) = bucketKey else {
            let g = try table.group(for: key, execution: execution)
            try table.addRun(g, ts: t, vs: v, first, t.count, series: seriesNumber, next: nil, hold: hold, execution: execution)
            return
        }
        func bucketOf(_ i: Int) -> Value {
            row.slots[0] = .timestamp(t[i])
            return bucket(row)
        }
        var lo = first
        if let (width, origin) = fixedWidth {
            while lo < t.count {
                let b = TimeBucket.start(t[lo], width: width, origin: origin)
                let boundary = b &+ width
                var hi = lo + 1
                while hi < t.count && t[hi] < boundary { hi += 1 }
                key[bucketIndex] = .timestamp(b)
                let g = try table.group(prefix: prefix, bucket: b, key: key, execution: execution)
                // A state is split at bucket boundaries: what the last sample's state holds
                // past this bucket goes to the next ones.
                var inBucket = hold
                inBucket.end = min(hold.end, boundary)
                try table.addRun(
                    g, ts: t, vs: v, lo, hi, series: seriesNumber, next: hi < t.count ? t[hi] : nil, hold: inBucket,
                    execution: execution)
                if table.holdsStates, boundary < hold.end,
                    let until = hold.until(t[hi - 1], following: hi < t.count ? t[hi] : nil), until > boundary
                {
                    try spreadHeld(
                        v[hi - 1], from: boundary, until: until, key: &key, prefix: prefix, row: row, table: &table,
                        execution: execution)
                }
                lo = hi
            }
            return
        }
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
            guard case .timestamp(let start) = b else { return }
            let g = try table.group(prefix: prefix, bucket: start, key: key, execution: execution)
            try table.addRun(
                g, ts: t, vs: v, lo, hi, series: seriesNumber, next: hi < t.count ? t[hi] : nil, hold: hold,
                execution: execution)
            lo = hi
        }
    }

    /// Adds a state `value` held over `[from, until)` to the groups it falls in: the one group
    /// without a time key; each `time_bucket` bucket it crosses (empty ones too); the bucket of
    /// `from` for calendar buckets (their ends are not known here).
    private func spreadHeld(
        _ value: Double, from: Int64, until: Int64, key: inout [Value], prefix: Int32, row: Row, table: inout GroupTable,
        execution: Execution
    ) throws(QueryError) {
        guard until > from else { return }
        guard let (bucketIndex, bucket) = bucketKey else {
            let g = try table.group(for: key, execution: execution)
            table.addHeldState(g, value: value, duration: until - from)
            return
        }
        guard let (width, origin) = fixedWidth else {
            row.slots[0] = .timestamp(from)
            let b = bucket(row)
            guard case .timestamp(let bucketStart) = b else { return }
            key[bucketIndex] = b
            let g = try table.group(prefix: prefix, bucket: bucketStart, key: key, execution: execution)
            table.addHeldState(g, value: value, duration: until - from)
            return
        }
        var at = from
        var steps = 0
        while at < until {
            let b = TimeBucket.start(at, width: width, origin: origin)
            let next = min(b.addingClamped(width), until)
            key[bucketIndex] = .timestamp(b)
            let g = try table.group(prefix: prefix, bucket: b, key: key, execution: execution)
            table.addHeldState(g, value: value, duration: next - at)
            at = next
            steps += 1
            if steps & 0xFFF == 0 { try execution.checkDeadline() }
        }
    }

    /// Folds one series read through the store's segments: sealed chunks wholly in range are
    /// folded from their rollup buckets at `level`, everything else from samples. Only for
    /// rollup-able aggregates (no time_in_state or rate, so runs need no neighbours).
    private func foldSegments(
        _ id: SeriesID, level: RollupLevel, start: Int64, end: Int64, key: inout [Value], prefix: Int32, series seriesNumber: Int,
        row: Row, table: inout GroupTable, execution: Execution
    ) throws(QueryError) {
        var samples = 0
        var buckets = 0
        var bucketSamples = 0
        var kept: ([Int64], [Double]) = ([], [])
        var failure: QueryError? = nil
        let width = level.milliseconds
        // Samples: staleness markers are not samples (as in `Execution.readSeries`).
        func fold(_ t: ArraySlice<Int64>, _ v: ArraySlice<Double>) throws(QueryError) {
            samples += t.count
            if v.contains(where: StaleMarker.isMarker) {
                kept.0.removeAll(keepingCapacity: true)
                kept.1.removeAll(keepingCapacity: true)
                for k in t.indices where !StaleMarker.isMarker(v[k]) {
                    kept.0.append(t[k])
                    kept.1.append(v[k])
                }
                if kept.0.isEmpty { return }
                try kept.0.withUnsafeBufferPointer { tp throws(QueryError) in
                    try kept.1.withUnsafeBufferPointer { vp throws(QueryError) in
                        try foldRuns(
                            tp, vp, first: 0, key: &key, prefix: prefix, series: seriesNumber, hold: .none, row: row,
                            table: &table, execution: execution)
                    }
                }
                return
            }
            try t.withUnsafeBufferPointer { tp throws(QueryError) in
                try v.withUnsafeBufferPointer { vp throws(QueryError) in
                    try foldRuns(
                        tp, vp, first: 0, key: &key, prefix: prefix, series: seriesNumber, hold: .none, row: row,
                        table: &table, execution: execution)
                }
            }
        }
        /// The group start of a rollup bucket, nil when its span crosses a group boundary.
        func groupStart(_ b: RollupBucket) -> Int64? {
            guard let (_, bucket) = bucketKey else { return 0 }
            if let (w, origin) = fixedWidth { return TimeBucket.start(b.start, width: w, origin: origin) }
            row.slots[0] = .timestamp(b.start)
            let first = bucket(row)
            row.slots[0] = .timestamp(b.start + width - 1)
            guard case .timestamp(let s) = first, bucket(row) == first else { return nil }
            return s
        }
        do {
        try execution.querier.withSegments(id, start: start, end: end, level: level, sketches: needsSketches) { chunk in
            guard failure == nil, let rollup = chunk.rollup else { return }
            do throws(QueryError) {
                if fixedWidth == nil, bucketKey != nil {
                    // date_trunc: every bucket must fall in one group, else the chunk's samples.
                    var aligned = true
                    rollup.forEachBucket(level) { b in if groupStart(b) == nil { aligned = false } }
                    if !aligned {
                        let (t, v) = chunk.columns
                        try fold(t[...], v[...])
                        return
                    }
                }
                try rollup.forEachBucket(level) { (b: RollupBucket) throws(QueryError) in
                    let g: Int
                    if let (bucketIndex, _) = bucketKey {
                        let s = groupStart(b)!
                        key[bucketIndex] = .timestamp(s)
                        g = try table.group(prefix: prefix, bucket: s, key: key, execution: execution)
                    } else {
                        g = try table.group(for: key, execution: execution)
                    }
                    table.addBucket(g, b, rollup: rollup)
                    buckets += 1
                    bucketSamples += Int(b.count)
                }
            } catch {
                failure = error
            }
        } slice: { t, v in
            guard failure == nil else { return }
            do throws(QueryError) { try fold(t, v) } catch { failure = error }
        }
        } catch {
            // The closures keep their own errors in `failure`: what reaches here is the budget's.
            throw execution.sampleLimitError()
        }
        if let failure { throw failure }
        try execution.countScanned(series: 1, samples: samples)
        execution.countRollups(buckets: buckets, samples: bucketSamples)
    }
}
