import KPICore

/// One row of `intervals(metric, condition[, from, to])`: a run of time in which a series'
/// state met the condition, with the state carried and held as a sample-and-hold signal; with
/// the condition `unknown`, a run in which the series' state was unknown (``Execution/unknownRuns``).
///
/// A sample's state holds from its timestamp until the next sample, or until its series'
/// staleness limit runs out (``StalenessPolicy``): then the series is unknown, and a run ends
/// there (`went_unknown`). The range is half-open, `[from, to)`: the state at `from` is the
/// last sample before it (within the limit), so a run that started before the range is seen
/// from `from` (`started_before`); a run starting at `to` belongs to the next range. Columns:
///
/// - `start`, `end`, `duration`: the run clipped to the range (what falls inside it).
/// - `run_start`, `run_end`: the whole run; `run_end` is NULL while it still held at the
///   range's end (or now, for a range reaching into the future).
/// - `started_before`: the run began before `from` (count a run once: where it starts).
/// - `ended`: a sample inside the range showed the condition no longer holding (a repair, for
///   outages: MTTR averages `run_end - run_start` of these).
/// - `went_unknown`: the series went silent inside the range while the condition held.
/// - `planned`: the row lies in a maintenance window covering the series (``MaintenanceSpan``;
///   a run is cut at window edges into rows, each but the first `started_before`, only the
///   last one `ended` or `went_unknown`), so planned downtime is told from unknown downtime.
struct IntervalRun {
    static let columns: [(name: String, type: ValueType)] = [
        ("start", .timestamp), ("end", .timestamp), ("duration", .interval), ("run_start", .timestamp),
        ("run_end", .timestamp), ("started_before", .boolean), ("ended", .boolean), ("went_unknown", .boolean),
        ("planned", .boolean),
    ]

    /// How far back the start of a run that began before a range is looked for.
    static let maximumRunLookbackMs: Int64 = 35 * 86_400_000

    var runStart: Int64
    var runEnd: Int64?
    var start: Int64
    var end: Int64
    var startedBefore: Bool
    var ended: Bool
    var wentUnknown: Bool
    var planned = false

    /// The run cut at the edges of `windows` (the spans of the maintenance windows covering
    /// its series): the parts inside one are `planned`.
    func split(by windows: [(start: Int64, end: Int64)]) -> [IntervalRun] {
        let inside = windows.filter { $0.end > start && $0.start < end }.sorted { $0.start < $1.start }
        if inside.isEmpty && !(start == end && windows.contains { $0.start <= start && start < $0.end }) { return [self] }
        if start == end {
            var only = self
            only.planned = true
            return [only]
        }
        // The covered parts, merged.
        var covered: [(Int64, Int64)] = []
        for w in inside {
            let a = max(w.start, start)
            let b = min(w.end, end)
            if let last = covered.last, a <= last.1 {
                covered[covered.count - 1].1 = max(last.1, b)
            } else {
                covered.append((a, b))
            }
        }
        var cuts: [(Int64, Int64, Bool)] = []
        var at = start
        for (a, b) in covered {
            if a > at { cuts.append((at, a, false)) }
            cuts.append((a, b, true))
            at = b
        }
        if at < end { cuts.append((at, end, false)) }
        return cuts.map { a, b, planned in
            var piece = self
            piece.start = a
            piece.end = b
            piece.planned = planned
            piece.startedBefore = startedBefore || a > start
            piece.ended = ended && b == end
            piece.wentUnknown = wentUnknown && b == end
            return piece
        }
    }

    func store(into row: Row) {
        row.slots[0] = .timestamp(start)
        row.slots[1] = .timestamp(end)
        row.slots[2] = .interval(end - start)
        row.slots[3] = .timestamp(runStart)
        row.slots[4] = runEnd.map { .timestamp($0) } ?? .null
        row.slots[5] = .bool(startedBefore)
        row.slots[6] = .bool(ended)
        row.slots[7] = .bool(wentUnknown)
        row.slots[8] = .bool(planned)
    }
}

extension Execution {
    /// The runs of one series of `metric` where `holds` is true, overlapping `[from, to)`.
    func intervalRuns(
        _ id: SeriesID, metric: String, start from: Int64, end to: Int64, holds: (Int64, Double) -> Bool
    ) throws(QueryError) -> [IntervalRun] {
        let policy = options.staleness
        let lookback = policy.lookbackMs(metric: metric)
        let readStart = from == .min ? Int64.min : from.subtractingClamped(lookback)
        let (ts, vs, _) = try readSeries(id, start: readStart, end: to)
        guard !ts.isEmpty else { return [] }
        let limit = policy.limitMs(metric: metric, timestamps: ts)
        // A run still holding is known up to the range's end, and no later than now.
        let horizon = min(to, options.now)
        var out: [IntervalRun] = []

        func close(_ runStart: Int64, _ runEnd: Int64?, ended: Bool, unknown: Bool) {
            let effectiveEnd = runEnd ?? max(horizon, runStart)
            guard runStart < to, effectiveEnd > from || (effectiveEnd == from && ended) else { return }
            let inside = runEnd.map { $0 < to } ?? false
            let clippedStart = max(runStart, from)
            out.append(
                IntervalRun(
                    runStart: runStart, runEnd: runEnd, start: clippedStart, end: max(clippedStart, min(effectiveEnd, to)),
                    startedBefore: runStart < from, ended: ended && inside, wentUnknown: unknown && inside))
        }

        var runStart: Int64? = nil
        var lastHold: Int64 = 0
        for i in ts.indices {
            let t = ts[i]
            if let s0 = runStart, t - lastHold > limit {
                close(s0, lastHold.addingClamped(limit), ended: false, unknown: true)
                runStart = nil
            }
            if holds(t, vs[i]) {
                if runStart == nil {
                    // The first sample read may continue a run that began further back.
                    runStart = i == 0 && readStart != .min ? try runStartBefore(id, readStart, t, limit, holds) : t
                }
                lastHold = t
            } else if let s0 = runStart {
                close(s0, t, ended: true, unknown: false)
                runStart = nil
            }
        }
        if let s0 = runStart {
            let knownUntil = lastHold.addingClamped(limit)
            if knownUntil < horizon {
                close(s0, knownUntil, ended: false, unknown: true)
            } else {
                close(s0, nil, ended: false, unknown: false)
            }
        }
        return out
    }

    /// The runs of one series of `metric` in which its state was unknown, overlapping
    /// `[from, to)` (`intervals(metric, unknown, ...)`): each begins one staleness limit after a
    /// sample not followed by another within the limit, and ends at the next sample (`ended`:
    /// the series reported again inside the range) or is still open at the range's end or now.
    /// A series that sent nothing in the ``SiteFreshness/lookbackMs`` before the range is
    /// decommissioned or not installed yet: it has no run before its first sample. Up, down and
    /// unknown runs of a series that reported in that look-back cover `[from, min(to, now))`.
    func unknownRuns(_ id: SeriesID, metric: String, start from: Int64, end to: Int64) throws(QueryError) -> [IntervalRun] {
        let policy = options.staleness
        let readStart = from == .min ? Int64.min : from.subtractingClamped(policy.lookbackMs(metric: metric))
        let (ts, _, _) = try readSeries(id, start: readStart, end: to)
        let limit = policy.limitMs(metric: metric, timestamps: ts)
        let horizon = min(to, options.now)
        var out: [IntervalRun] = []

        func close(_ runStart: Int64, _ runEnd: Int64?) {
            let effectiveEnd = runEnd ?? horizon
            guard runStart < to, effectiveEnd > from, effectiveEnd > runStart else { return }
            let inside = runEnd.map { $0 < to } ?? false
            let clippedStart = max(runStart, from)
            out.append(
                IntervalRun(
                    runStart: runStart, runEnd: runEnd, start: clippedStart, end: max(clippedStart, min(effectiveEnd, to)),
                    startedBefore: runStart < from, ended: inside, wentUnknown: false))
        }

        if readStart != .min, ts.first.map({ $0 >= from }) ?? true,
            let prior = try lastSamplesBefore(id, readStart, floor: readStart.subtractingClamped(SiteFreshness.lookbackMs)),
            let last = prior.last
        {
            // Unknown since the last sample before the look-back, by the limit of its own cadence.
            close(last.addingClamped(policy.limitMs(metric: metric, timestamps: prior)), ts.first)
        }
        for i in ts.indices {
            let unknownFrom = ts[i].addingClamped(limit)
            if i + 1 < ts.count {
                if ts[i + 1] > unknownFrom { close(unknownFrom, ts[i + 1]) }
            } else if unknownFrom < horizon {
                close(unknownFrom, nil)
            }
        }
        return out
    }

    /// The timestamps of the span, read back from `upper` in doubling spans no earlier than
    /// `floor`, that holds the series' last sample before `upper`; nil when there is none.
    private func lastSamplesBefore(_ id: SeriesID, _ upper: Int64, floor: Int64) throws(QueryError) -> [Int64]? {
        var upper = upper
        var span: Int64 = 3_600_000
        while upper > floor {
            let lower = max(floor, upper.subtractingClamped(span))
            let (bt, _, _) = try readSeries(id, start: lower, end: upper - 1)
            if !bt.isEmpty { return bt }
            upper = lower
            span = span.addingClamped(span)
        }
        return nil
    }

    /// Where a run holding at `first` (the first sample at or after `readStart`) began: walks
    /// back through earlier samples while they hold with no silence longer than `limit`,
    /// reading ever larger spans, at most ``IntervalRun/maximumRunLookbackMs`` back.
    private func runStartBefore(
        _ id: SeriesID, _ readStart: Int64, _ first: Int64, _ limit: Int64, _ holds: (Int64, Double) -> Bool
    ) throws(QueryError) -> Int64 {
        var start = first
        var upper = readStart
        var span = max(limit, 3_600_000)
        let floor = first.subtractingClamped(IntervalRun.maximumRunLookbackMs)
        while upper > floor {
            let lower = max(floor, upper.subtractingClamped(span))
            let (bt, bv, _) = try readSeries(id, start: lower, end: upper - 1)
            var k = bt.count - 1
            while k >= 0 {
                guard start - bt[k] <= limit, holds(bt[k], bv[k]) else { return start }
                start = bt[k]
                k -= 1
            }
            // No sample left in this span: silence longer than the limit ends the search.
            if start - lower > limit { return start }
            upper = lower
            span = span.addingClamped(span)
        }
        return start
    }
}

extension Int64 {
    /// `self - other`, held at `Int64.min` instead of overflowing.
    func subtractingClamped(_ other: Int64) -> Int64 {
        let (value, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : value
    }

    /// `self + other`, held at `Int64.max` instead of overflowing.
    func addingClamped(_ other: Int64) -> Int64 {
        let (value, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : value
    }
}
