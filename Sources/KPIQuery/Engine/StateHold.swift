import KPICore

/// How `time_in_state` holds one series' samples, as a sample-and-hold signal (the same rule
/// as `intervals`): a sample's state lasts from its timestamp until the series' next sample,
/// at most the series' staleness limit (then the series is unknown), and never past the end
/// of the query's time range or now. The state at the range's start is the last sample before
/// it (within the limit), held from the start: a device that reported "down" at 03:00 and
/// nothing since counts as down from a 05:00 range start.
struct StateHold {
    /// The series' staleness limit (``StalenessPolicy``), in ms.
    var limit: Int64
    /// The exclusive end of what is counted: the range's end, or now when that is earlier.
    var end: Int64

    /// No holding: aggregates that do not hold states.
    static let none = StateHold(limit: .max, end: .max)

    /// The hold of a query's `ts` range `[start, end]` (inclusive bounds, `.min`/`.max` when
    /// open), at query time `now`.
    init(limit: Int64, rangeEnd: Int64, now: Int64) {
        self.limit = limit
        self.end = min(rangeEnd == .max ? .max : rangeEnd + 1, now)
    }

    init(limit: Int64, end: Int64) {
        self.limit = limit
        self.end = end
    }

    /// Until when a sample at `t` holds when the series' next sample is at `following` (nil:
    /// none inside the range); nil when it would hold without bound.
    @inline(__always)
    func until(_ t: Int64, following: Int64?) -> Int64? {
        let until = min(following ?? end, t.addingClamped(limit), end)
        return until == .max ? nil : until
    }
}
