import KPICore

/// The alerts of one site in one week, per alert name and severity, read from the `ALERTS`
/// series the rules write (`alertstate="firing"`): an alert fires from its first firing sample
/// until its staleness marker (written when it resolves) or, when kpid stopped evaluating,
/// `silenceLimitMs` after its last sample.
public struct AlertWeek: Sendable, Equatable {
    public struct Line: Sendable, Equatable {
        public var alertname: String
        public var severity: String
        /// Times it started firing in the week.
        public var fired: Int
        /// Firing time inside the week, ms.
        public var firingMs: Int64
        /// The longest firing of the ones overlapping the week (whole, from its start to its
        /// resolution or the week's end / now), ms.
        public var longestMs: Int64
        /// Mean time from firing to resolution of the firings resolved in the week, ms; nil
        /// when none was.
        public var meanTimeToResolveMs: Int64?
        /// Firings still open at the week's end (or now).
        public var open: Int
    }

    public var lines: [Line]

    /// A silence longer than this ends a firing (kpid was down or stopped evaluating).
    public static let silenceLimitMs: Int64 = 3_600_000
    /// How far before the week the start of a firing is looked for.
    public static let lookbackMs: Int64 = 7 * 86_400_000

    /// The alerts of `site` over `[from, to)` as of `now`, through `querier` (its scope applies).
    public static func evaluate(querier: any Querier, site: String, from: Int64, to: Int64, now: Int64) throws -> AlertWeek {
        let series = try querier.select([
            try LabelMatcher(Labels.metricNameLabel, .equal, "ALERTS"), try LabelMatcher("site", .equal, site),
            try LabelMatcher("alertstate", .equal, "firing"),
        ])
        let horizon = min(to, now)
        var byKey: [String: Line] = [:]
        var resolvedCount: [String: Int] = [:]
        var resolvedSum: [String: Int64] = [:]
        for entry in series {
            let name = entry.labels["alertname"] ?? ""
            let severity = entry.labels["severity"] ?? ""
            let key = name + "\u{0}" + severity
            var line =
                byKey[key]
                ?? Line(alertname: name, severity: severity, fired: 0, firingMs: 0, longestMs: 0, meanTimeToResolveMs: nil, open: 0)
            let read = try querier.samples(entry.id, start: from &- lookbackMs, end: horizon - 1, staleness: .keepMarkers)
            var runs: [(start: Int64, end: Int64?)] = []
            var start: Int64? = nil
            var last: Int64 = 0
            for (t, v) in zip(read.timestamps, read.values) {
                if let s = start, t &- last > silenceLimitMs {
                    runs.append((s, last &+ silenceLimitMs))
                    start = nil
                }
                if StaleMarker.isMarker(v) {
                    if let s = start { runs.append((s, t)) }
                    start = nil
                } else if v == 1 {
                    if start == nil { start = t }
                    last = t
                }
            }
            if let s = start { runs.append((s, horizon &- last > silenceLimitMs ? last &+ silenceLimitMs : nil)) }
            for run in runs {
                let end = run.end ?? horizon
                guard end > from, run.start < horizon else { continue }
                if run.start >= from { line.fired += 1 }
                line.firingMs += min(end, horizon) - max(run.start, from)
                line.longestMs = max(line.longestMs, end - run.start)
                if let e = run.end, e >= from, e < horizon {
                    resolvedCount[key, default: 0] += 1
                    resolvedSum[key, default: 0] += e - run.start
                } else if run.end == nil {
                    line.open += 1
                }
            }
            let resolved = resolvedCount[key] ?? 0
            line.meanTimeToResolveMs = resolved > 0 ? (resolvedSum[key] ?? 0) / Int64(resolved) : nil
            byKey[key] = line
        }
        let lines = byKey.values.filter { $0.firingMs > 0 || $0.fired > 0 }.sorted {
            ($0.fired, $0.firingMs, $1.alertname) > ($1.fired, $1.firingMs, $0.alertname)
        }
        return AlertWeek(lines: lines)
    }
}
