import Dispatch
import Foundation
import KPICore
import KPIHTTP
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
struct RollingValue: Sendable {
    var site: String
    var template: String
    var window: RollingWindow
    /// Value, thresholds (scaled to the window), status and the definition.
    var result: KPIResult
    /// The value over the window before, `[evaluatedAt - 2w, evaluatedAt - w)`.
    var previous: Double?
    var evaluatedAt: Int64
}

/// The latest rolling KPI values and the evaluation's own metrics.
final class RollingKPIState: Sendable {
    struct Counts: Sendable {
        /// Latest values by "site\u{0}template".
        var values: [String: [RollingValue]] = [:]
        /// Unix ms of the last successful evaluation by "site\u{0}template".
        var lastSuccess: [String: Int64] = [:]
        var evaluationsOK: UInt64 = 0
        var evaluationsFailed: UInt64 = 0
        var recordFailures: UInt64 = 0
        var recordedSamples: UInt64 = 0
        var rounds = Histogram(bounds: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120])
        var lastRound: Int64?
    }

    let counts = Mutex(Counts())

    /// The latest values of one site (every template), in template then KPI order.
    func values(site: String) -> [RollingValue] {
        counts.withLock { c in
            c.values.filter { $0.key.hasPrefix(site + "\u{0}") }.sorted { $0.key < $1.key }.flatMap(\.value)
        }
    }

    /// Appends the `kpid_kpi_*` families in the text format (OpenMetrics names for counters when
    /// asked), keeping a trailing `# EOF` last. With `sites` (a site-scoped reader), only those
    /// sites' KPI series, and none of the evaluation's own families.
    func append(to body: inout [UInt8], openMetrics: Bool, sites: [String] = []) {
        var c = counts.withLock { $0 }
        let scoped = !sites.isEmpty
        if scoped {
            c.values = c.values.filter { key, _ in sites.contains { key.hasPrefix($0 + "\u{0}") } }
            c.lastSuccess = c.lastSuccess.filter { key, _ in sites.contains { key.hasPrefix($0 + "\u{0}") } }
        }
        let all = c.values.sorted { $0.key < $1.key }.flatMap(\.value)
        ExpositionWriter.append(to: &body, openMetrics: openMetrics) { out in
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
            out.family("kpid_kpi_status", "gauge", "KPI status against target and warning: 0 green, 1 amber, 2 red.")
            for v in all { if let s = v.result.status { out.sample("kpid_kpi_status", labels(v), RollingKPIState.code(s)) } }
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
            guard !scoped else { return }
            out.family(
                "kpid_kpi_evaluation_duration_seconds", "histogram",
                "Duration of a scheduled round evaluating every KPI of every site over every window.")
            out.histogram("kpid_kpi_evaluation_duration_seconds", [], c.rounds)
            out.family("kpid_kpi_evaluations_total", "counter", "Evaluations of one template at one site, by result.")
            out.sample("kpid_kpi_evaluations_total", [("result", "ok")], Double(c.evaluationsOK))
            out.sample("kpid_kpi_evaluations_total", [("result", "error")], Double(c.evaluationsFailed))
            out.family("kpid_kpi_recorded_samples_total", "counter", "KPI samples written into the store (kpid_kpi_* series).")
            out.sample("kpid_kpi_recorded_samples_total", [], Double(c.recordedSamples))
            out.family("kpid_kpi_record_failures_total", "counter", "Rounds whose KPI samples the store refused.")
            out.sample("kpid_kpi_record_failures_total", [], Double(c.recordFailures))
            if let last = c.lastRound {
                out.family("kpid_kpi_last_evaluation_timestamp_seconds", "gauge", "Unix time of the last evaluation round.")
                out.sample("kpid_kpi_last_evaluation_timestamp_seconds", [], Double(last) / 1000)
            }
            out.family(
                "kpid_kpi_last_success_timestamp_seconds", "gauge",
                "Unix time of the last successful evaluation of a template at a site (old values are kept on failure).")
            for (key, ms) in c.lastSuccess.sorted(by: { $0.key < $1.key }) {
                let parts = key.split(separator: "\u{0}", maxSplits: 1).map(String.init)
                out.sample("kpid_kpi_last_success_timestamp_seconds", [("site", parts[0]), ("template", parts[1])], Double(ms) / 1000)
            }
        }
    }

    static func code(_ status: KPIStatus) -> Double {
        switch status {
        case .green: return 0
        case .amber: return 1
        case .red: return 2
        }
    }
}

extension KPIService {
    static let rollingRoutes: [Route] = [
        Route(
            "/api/v1/admin/kpis/evaluate", ["POST"], .admin,
            .now { s, _, m throws(APIError) in try s.evaluateRollingNow(m) })
    ]

    /// Starts the scheduled rounds (after the writer, so rounds can record their values).
    func startRollingKPIs() {
        guard configuration.kpiIntervalSeconds > 0 else { return }
        // Every kpi-interval on its own thread, the first round right after start.
        let scheduler = BackgroundThread()
        state.withLock { $0.rollingScheduler = scheduler }
        scheduler.every(configuration.kpiIntervalSeconds, name: "kpid-kpis", immediately: true) { [self] in
            _ = self.runRollingRound()
        }
    }

    func stopRollingKPIs() {
        let scheduler = state.withLock { s -> BackgroundThread? in
            defer { s.rollingScheduler = nil }
            return s.rollingScheduler
        }
        scheduler?.stop()
    }

    /// The value of every KPI of `template` at `site` over each window ending at `now`, with the
    /// value over the window before. Throws when a limit or timeout stopped the evaluation.
    func evaluateWindows(
        _ template: KPITemplate, site: SiteDefinition, windows: [RollingWindow], now: Int64, scope: [LabelMatcher]
    ) throws(TemplateEvaluationError) -> [RollingValue] {
        let zone = TimeZone(identifier: site.timeZone) ?? TimeZone(identifier: "UTC")!
        var options = queryOptions(parameters: [:], principal: .unrestricted, timeZone: zone)
        options.seriesScope = scope
        options.now = now
        let evaluator = TemplateEvaluator(engine: QueryEngine(store: store))
        let overrides = site.overrides[template.name] ?? [:]
        var out: [RollingValue] = []
        for window in windows {
            let current = try evaluator.evaluate(
                template, site: site.site, from: now - window.milliseconds, to: now, options: options,
                overrides: overrides, worst: 0)
            let previous = try evaluator.evaluate(
                template, site: site.site, from: now - 2 * window.milliseconds, to: now - window.milliseconds,
                options: options, overrides: overrides, worst: 0)
            var before: [String: Double] = [:]
            for r in previous { if let v = r.value { before[r.kpi.id] = v } }
            for r in current {
                out.append(
                    RollingValue(
                        site: site.site, template: template.name, window: window, result: r, previous: before[r.kpi.id],
                        evaluatedAt: now))
            }
        }
        return out
    }

    /// One round: every template of every site over every window that is due (all with
    /// `force`); keeps the values, writes every latest value into the store as `kpid_kpi_*`
    /// series stamped now, and counts successes and failures.
    /// Returns the number of (site, template) evaluations that failed.
    @discardableResult
    func runRollingRound(force: Bool = false) -> Int {
        let started = DispatchTime.now().uptimeNanoseconds
        let now = configuration.clock.nowMilliseconds()
        let rolling = rollingKPIs
        let templates: [KPITemplate]
        let sites: [SiteDefinition]
        // No templates directory at all (kpid run outside a checkout, no templates-dir): nothing
        // to evaluate, and nothing to warn about every minute.
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configuration.templatesDirectory, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            rolling.counts.withLock { $0.lastRound = now }
            return 0
        }
        do {
            templates = try loadTemplates()
            sites = try loadSites(templates)
        } catch {
            logger.warning("KPI evaluation skipped", metadata: ["reason": "\(error.message)"])
            rolling.counts.withLock {
                $0.evaluationsFailed += 1
                $0.lastRound = now
            }
            return 1
        }
        var failures = 0
        var batch = SampleBatch()
        for site in sites where hasSignals(site: site.site) {
            for name in site.templates {
                guard let template = templates.first(where: { $0.name == name }) else { continue }
                let key = site.site + "\u{0}" + name
                let kept = rolling.counts.withLock { $0.values[key] ?? [] }
                // Windows evaluated recently enough are kept; the others (all on `force`) are due.
                let due = configuration.kpiWindows.filter { window in
                    guard !force, let last = kept.first(where: { $0.window == window })?.evaluatedAt else { return true }
                    return now - last >= window.refreshMilliseconds(interval: configuration.kpiIntervalSeconds) - 500
                }
                do {
                    let fresh =
                        due.isEmpty
                        ? [] : try evaluateWindows(template, site: site, windows: due, now: now, scope: [])
                    var values: [RollingValue] = []
                    for window in configuration.kpiWindows {
                        values += due.contains(window) ? fresh.filter { $0.window == window } : kept.filter { $0.window == window }
                    }
                    rolling.counts.withLock {
                        $0.values[key] = values
                        $0.lastSuccess[key] = now
                        $0.evaluationsOK += 1
                    }
                    KPIService.record(values, at: now, into: &batch)
                } catch {
                    failures += 1
                    rolling.counts.withLock { $0.evaluationsFailed += 1 }
                    logger.warning(
                        "KPI evaluation failed",
                        metadata: ["site": "\(site.site)", "template": "\(name)", "kpi": "\(error.kpi)", "error": "\(error.error)"])
                }
            }
        }
        // Sites or templates no longer configured drop out.
        let live = Set(sites.flatMap { s in s.templates.map { s.site + "\u{0}" + $0 } })
        if let writer, !batch.isEmpty {
            switch writer.submit(batch) {
            case .success(let r): rolling.counts.withLock { $0.recordedSamples += UInt64(r.samples) }
            case .failure(let error):
                rolling.counts.withLock { $0.recordFailures += 1 }
                logger.warning("KPI values not recorded", metadata: ["error": "\(error)"])
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        rolling.counts.withLock {
            $0.values = $0.values.filter { live.contains($0.key) }
            $0.lastSuccess = $0.lastSuccess.filter { live.contains($0.key) }
            $0.rounds.observe(seconds)
            $0.lastRound = now
        }
        return failures
    }

    /// Whether any series of `site` besides kpid's own KPI series exists: sites that send
    /// nothing yet are not evaluated (their counts would read 0 and fill the store).
    func hasSignals(site: String) -> Bool {
        store.series(withLabel: "site", equalTo: site).contains { !($0.labels.metricName ?? "").hasPrefix("kpid_kpi_") }
    }

    /// The samples of one round's values: value, target, warning and status per KPI and window.
    static func record(_ values: [RollingValue], at now: Int64, into batch: inout SampleBatch) {
        for v in values {
            let labels: [String: String] = [
                "site": v.site, "template": v.template, "kpi": v.result.kpi.id, "window": v.window.name,
                "unit": v.result.kpi.unit,
            ]
            func add(_ metric: String, _ value: Double) {
                guard value.isFinite else { return }
                batch.append(Labels(metric: metric, labels), timestamp: now, value: value)
            }
            if let x = v.result.value { add("kpid_kpi_value", x) }
            add("kpid_kpi_target", v.result.target)
            add("kpid_kpi_warning", v.result.warning)
            if let s = v.result.status { add("kpid_kpi_status", RollingKPIState.code(s)) }
        }
    }

    /// `POST /api/v1/admin/kpis/evaluate`: one round of every window now (waits for it); answers how many
    /// evaluations failed.
    func evaluateRollingNow(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let failures = runRollingRound(force: true)
        let c = rollingKPIs.counts.withLock { $0 }
        let count = c.values.values.reduce(0) { $0 + $1.count }
        audit(match, rows: count, detail: "KPI round: \(failures) failed")
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":{\"values\":\(count),\"failures\":\(failures)}}\n")
        return .json(200, w.bytes)
    }
}
