import Dispatch
import Foundation
import KPICore
import KPIQuery
import KPIStorage
import KPITemplates
import KPIWire
import Logging
import Synchronization

/// A rolling window of the scheduled KPI evaluation: `1h`, `24h`, `7d`, `28d`.
public struct RollingWindow: Sendable, Equatable {
    /// As written in the setting and shown in the `window` label.
    public var name: String
    public var milliseconds: Int64

    public init(name: String, milliseconds: Int64) {
        self.name = name
        self.milliseconds = milliseconds
    }

    /// The default windows.
    public static let defaults: [RollingWindow] = [
        RollingWindow(name: "1h", milliseconds: 3_600_000),
        RollingWindow(name: "24h", milliseconds: 86_400_000),
        RollingWindow(name: "7d", milliseconds: 7 * 86_400_000),
        RollingWindow(name: "28d", milliseconds: 28 * 86_400_000),
    ]

    /// How stale a value of this window may get before a round evaluates it again: 1/288 of the
    /// window (12.5 s for 1 h, 5 min for 24 h, 35 min for 7 d, 2 h 20 min for 28 d), but at
    /// least one round. A round re-evaluates only the windows that are due, so a minute's round
    /// does not rescan 28 days of raw samples; every round still records every latest value.
    public func refreshMilliseconds(interval: TimeInterval) -> Int64 {
        max(Int64(interval * 1000), milliseconds / 288)
    }

    /// A comma-separated list like `1h,24h,7d,28d`; nil when an entry is not a window or is
    /// listed twice.
    public static func parseList(_ text: String) -> [RollingWindow]? {
        var out: [RollingWindow] = []
        for part in text.split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces)
            guard let ms = TemplateLoader.windowMilliseconds(name), !out.contains(where: { $0.name == name })
            else { return nil }
            out.append(RollingWindow(name: name, milliseconds: ms))
        }
        return out.isEmpty ? nil : out
    }
}

/// One KPI of one site over one rolling window ending at `evaluatedAt`.
public struct RollingValue: Sendable {
    public var site: String
    public var template: String
    public var window: RollingWindow
    /// Value, thresholds (scaled to the window), status and the definition.
    public var result: KPIResult
    /// The value over the window before, `[evaluatedAt - 2w, evaluatedAt - w)`.
    public var previous: Double?
    public var evaluatedAt: Int64
}

/// The latest rolling KPI values and the evaluation's own metrics.
public final class RollingKPIState: Sendable {
    public struct Counts: Sendable {
        /// Latest values by "site\u{0}template".
        public var values: [String: [RollingValue]] = [:]
        /// Unix ms of the last successful evaluation by "site\u{0}template".
        public var lastSuccess: [String: Int64] = [:]
        public var evaluationsOK: UInt64 = 0
        public var evaluationsFailed: UInt64 = 0
        public var recordFailures: UInt64 = 0
        public var recordedSamples: UInt64 = 0
        var rounds = Histogram(bounds: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120])
        public var lastRound: Int64?
        /// Each evaluated site's signals at the last round (newest sample, silent series).
        public var freshness: [String: SiteFreshness] = [:]
    }

    public let counts = Mutex(Counts())

    /// The latest values of one site (every template), in template then KPI order.
    public func values(site: String) -> [RollingValue] {
        counts.withLock { c in
            c.values.filter { $0.key.hasPrefix(site + "\u{0}") }.sorted { $0.key < $1.key }.flatMap(\.value)
        }
    }

    /// Appends the `kpid_kpi_*` families in the text format (OpenMetrics names for counters when
    /// asked), keeping a trailing `# EOF` last. With `sites` (a site-scoped reader), only those
    /// sites' KPI series, and none of the evaluation's own families.
    public func write(to out: inout ExpositionWriter, sites: [String] = []) {
        var c = counts.withLock { $0 }
        let scoped = !sites.isEmpty
        if scoped {
            c.values = c.values.filter { key, _ in sites.contains { key.hasPrefix($0 + "\u{0}") } }
            c.lastSuccess = c.lastSuccess.filter { key, _ in sites.contains { key.hasPrefix($0 + "\u{0}") } }
            c.freshness = c.freshness.filter { sites.contains($0.key) }
        }
        let all = c.values.sorted { $0.key < $1.key }.flatMap(\.value)
        func labels(_ v: RollingValue) -> [(String, String)] {
            [
                ("site", v.site), ("template", v.template), ("kpi", v.result.kpi.id), ("window", v.window.name),
                ("unit", v.result.kpi.unit),
            ]
        }
        let templates = Set(all.map(\.template)).sorted().joined(separator: ", ")
        out.family(
            "kpid_kpi_value", "gauge",
            "KPI value over a rolling window ending at the last evaluation, from the templates (\(templates)); "
                + "kpid_kpi_info carries each KPI's title, direction and breakdown.")
        for v in all { if let x = v.result.value { out.sample("kpid_kpi_value", labels(v), x) } }
        out.family("kpid_kpi_previous_value", "gauge", "KPI value over the window before the current one.")
        for v in all { if let x = v.previous { out.sample("kpid_kpi_previous_value", labels(v), x) } }
        out.family("kpid_kpi_target", "gauge", "KPI target after site overrides, scaled to the window for totals.")
        for v in all { out.sample("kpid_kpi_target", labels(v), v.result.target) }
        out.family("kpid_kpi_warning", "gauge", "KPI warning (amber) threshold after site overrides, scaled like the target.")
        for v in all { out.sample("kpid_kpi_warning", labels(v), v.result.warning) }
        out.family(
            "kpid_kpi_status", "gauge", "KPI status against target and warning: 0 green, 1 amber, 2 red, 3 insufficient data.")
        for v in all { if let s = v.result.status { out.sample("kpid_kpi_status", labels(v), RollingKPIState.code(s)) } }
        out.family(
            "kpid_kpi_coverage_ratio", "gauge",
            "Share of the window in which the KPI's input series were known (a sample within their staleness limit).")
        for v in all { if let c = v.result.coverage { out.sample("kpid_kpi_coverage_ratio", labels(v), c) } }
        out.family(
            "kpid_kpi_info", "gauge",
            "A KPI of a site's template: title, unit, direction and breakdown label from the template; always 1.")
        var seen = Set<String>()
        for v in all where seen.insert("\(v.site)\u{0}\(v.template)\u{0}\(v.result.kpi.id)").inserted {
            let k = v.result.kpi
            out.sample(
                "kpid_kpi_info",
                [
                    ("site", v.site), ("template", v.template), ("kpi", k.id), ("title", k.title), ("unit", k.unit),
                    ("direction", k.direction.rawValue), ("breakdown", k.breakdown ?? ""),
                ], 1)
        }
        let sitesFreshness = c.freshness.sorted { $0.key < $1.key }
        out.family(
            "kpid_site_last_sample_timestamp_seconds", "gauge",
            "Unix time of the newest sample of any of a site's signals, at the last KPI round.")
        for (site, f) in sitesFreshness {
            if let last = f.lastSampleMs { out.sample("kpid_site_last_sample_timestamp_seconds", [("site", site)], Double(last) / 1000) }
        }
        out.family(
            "kpid_series_unknown", "gauge",
            "Series of a site whose state is unknown (no sample for longer than their staleness limit), at the last KPI round.")
        for (site, f) in sitesFreshness { out.sample("kpid_series_unknown", [("site", site)], Double(f.silent.count)) }
        guard !scoped else { return }
        out.family(
            "kpid_kpi_evaluation_duration_seconds", "histogram",
            "Duration of a scheduled round evaluating every KPI of every site over every window.")
        out.histogram("kpid_kpi_evaluation_duration_seconds", [], c.rounds)
        out.family("kpid_kpi_evaluations_total", "counter", "Evaluations of one template at one site, by result.")
        out.sample("kpid_kpi_evaluations_total", [("result", "ok")], Double(c.evaluationsOK))
        out.sample("kpid_kpi_evaluations_total", [("result", "error")], Double(c.evaluationsFailed))
        out.single(
            "kpid_kpi_recorded_samples_total", "counter", "KPI samples written into the store (kpid_kpi_* series).",
            Double(c.recordedSamples))
        out.single("kpid_kpi_record_failures_total", "counter", "Rounds whose KPI samples the store refused.", Double(c.recordFailures))
        if let last = c.lastRound {
            out.single(
                "kpid_kpi_last_evaluation_timestamp_seconds", "gauge", "Unix time of the last evaluation round.", Double(last) / 1000)
        }
        out.family(
            "kpid_kpi_last_success_timestamp_seconds", "gauge",
            "Unix time of the last successful evaluation of a template at a site (old values are kept on failure).")
        for (key, ms) in c.lastSuccess.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            out.sample("kpid_kpi_last_success_timestamp_seconds", [("site", parts[0]), ("template", parts[1])], Double(ms) / 1000)
        }
    }

    public static func code(_ status: KPIStatus) -> Double {
        switch status {
        case .green: return 0
        case .amber: return 1
        case .red: return 2
        case .insufficient: return 3
        }
    }
}
