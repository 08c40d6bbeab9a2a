/// How current a site's signals are at an instant: its newest sample, and the series that
/// stopped reporting (their state is unknown: last sample plus staleness limit has passed).
///
/// A silent device is what a security team must hear about first ("camera outages discovered
/// during incidents"), so the weekly review, `/api/v1/kpis` and `/metrics` all show it.
public struct SiteFreshness: Sendable, Equatable {
    /// One series whose state is unknown at the instant.
    public struct Silence: Sendable, Equatable {
        public var labels: Labels
        /// Its newest sample at or before the instant.
        public var lastSampleMs: Int64
        /// When its state became unknown (last sample plus its limit).
        public var unknownSinceMs: Int64
    }

    /// The newest sample of any of the site's signals at or before the instant; nil when none
    /// reported in the look-back.
    public var lastSampleMs: Int64?
    /// Series unknown at the instant, longest silent first.
    public var silent: [Silence]
    /// Series of the site that reported in the look-back (the denominator of ``silent``).
    public var seriesCount: Int

    public init(lastSampleMs: Int64?, silent: [Silence], seriesCount: Int) {
        self.lastSampleMs = lastSampleMs
        self.silent = silent
        self.seriesCount = seriesCount
    }

    /// How far back a series' last sample is looked for: older ones are decommissioned, not silent.
    public static let lookbackMs: Int64 = 35 * 86_400_000

    /// Whether `metric` is one kpid derives rather than a device sends: its own `kpid_*`
    /// series, the rules' `ALERTS` and `ALERTS_FOR_STATE`, and recording rules' results (named
    /// `level:metric:operations`, with colons, by Prometheus' convention). They say nothing
    /// about whether a site reports.
    public static func isDerived(metric: String) -> Bool {
        metric.hasPrefix("kpid_") || metric == "ALERTS" || metric == "ALERTS_FOR_STATE" || metric.contains(":")
    }

    /// The freshness of the series of `site` (label `site`; derived series, ``isDerived(metric:)``,
    /// left out) at `at`, through `querier` (its scope applies).
    public static func evaluate(
        querier: any Querier, site: String, at: Int64, staleness: StalenessPolicy
    ) throws -> SiteFreshness {
        let series = try querier.select([try LabelMatcher("site", .equal, site)])
        var out = SiteFreshness(lastSampleMs: nil, silent: [], seriesCount: 0)
        for entry in series {
            let metric = entry.labels.metricName ?? ""
            if isDerived(metric: metric) { continue }
            // The newest samples at or before `at`, in ever larger spans back.
            var span = max(staleness.lookbackMs(metric: metric), 3_600_000)
            var upper = at
            var recent: [Int64] = []
            let floor = at &- lookbackMs
            while upper > floor {
                let lower = max(floor, upper &- span)
                recent = try querier.samples(entry.id, start: lower, end: upper, staleness: .dropMarkers).timestamps
                if !recent.isEmpty { break }
                upper = lower &- 1
                span = span &+ span
            }
            guard let last = recent.last else { continue }
            out.seriesCount += 1
            out.lastSampleMs = max(out.lastSampleMs ?? .min, last)
            let limit = staleness.limitMs(metric: metric, timestamps: recent)
            let unknownSince = last &+ limit
            if unknownSince <= at {
                out.silent.append(Silence(labels: entry.labels, lastSampleMs: last, unknownSinceMs: unknownSince))
            }
        }
        out.silent.sort { ($0.unknownSinceMs, $0.labels.description) < ($1.unknownSinceMs, $1.labels.description) }
        return out
    }
}

extension SiteFreshness.Silence {
    /// A short name for people: the `device` label, else the series without its site.
    public var name: String {
        if let device = labels["device"] { return device }
        let rest = labels.pairs.filter { $0.name != "site" && $0.name != Labels.metricNameLabel }
        let inner = rest.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: ",")
        return (labels.metricName ?? "") + (inner.isEmpty ? "" : "{\(inner)}")
    }
}
