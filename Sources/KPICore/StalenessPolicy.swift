/// When a series' last sample stops telling its state: past its last sample plus its
/// staleness limit, a series is **unknown** (not up, not down) until it reports again.
///
/// The limit of a series is the metric's rule when there is one (`staleness-rules`, e.g.
/// `device_up=6h` for devices that report on change only); otherwise three times the series'
/// own median sampling step (the median of up to 33 steps spread evenly over the samples in view) (three missed reports, as camera platforms flag a device offline
/// after a few missed heartbeats), at least a second and at most ``maximumMs``
/// (`staleness-max`, default an hour: a gauge sampled every 15 minutes goes unknown after 45). A series with fewer than two samples in view gets ``maximumMs``.
public struct StalenessPolicy: Sendable, Equatable {
    /// The longest derived limit, in milliseconds.
    public var maximumMs: Int64
    /// Explicit limits by metric name, in milliseconds (may exceed ``maximumMs``).
    public var rules: [String: Int64]

    /// How many steps the median is taken over, at most.
    static let sampledSteps = 33

    /// How many median steps of silence make a series unknown.
    public static let stepMultiple: Int64 = 3

    public init(maximumMs: Int64 = 3_600_000, rules: [String: Int64] = [:]) {
        self.maximumMs = maximumMs
        self.rules = rules
    }

    /// How far before a range a reader must look to know a series' state at the range's start:
    /// the metric's rule, else the maximum (a derived limit is never longer).
    public func lookbackMs(metric: String) -> Int64 { rules[metric] ?? maximumMs }

    /// The limit of one series of `metric` whose samples (oldest first) are `timestamps`.
    public func limitMs(metric: String, timestamps: some RandomAccessCollection<Int64>) -> Int64 {
        if let rule = rules[metric] { return rule }
        guard timestamps.count >= 2 else { return maximumMs }
        // The median of at most 33 steps spread evenly over the series (all of them when there
        // are fewer): constant work per series, the same answer for the same samples.
        let n = timestamps.count - 1
        let picks = min(n, Self.sampledSteps)
        var steps: [Int64] = []
        steps.reserveCapacity(picks)
        let start = timestamps.startIndex
        for i in 0..<picks {
            let k = picks == n ? i : (picks == 1 ? 0 : i * (n - 1) / (picks - 1))
            let at = timestamps.index(start, offsetBy: k)
            steps.append(timestamps[timestamps.index(after: at)] &- timestamps[at])
        }
        steps.sort()
        let median = steps[steps.count / 2]
        let (scaled, overflow) = median.multipliedReportingOverflow(by: Self.stepMultiple)
        return min(maximumMs, max(1000, overflow ? maximumMs : scaled))
    }
}
