import Dispatch
import Foundation
import KPICore
import KPIQuery
import KPIStorage
import KPITemplates
import KPIWire
import Logging

/// The rolling KPIs: every `kpi-interval`, each template of each site with signals is
/// evaluated over each of `kpi-windows` ending now; the values are kept in
/// ``RollingKPIState`` (for /metrics and the API) and recorded into the store as `kpid_kpi_*`
/// series stamped now (so PromQL, Grafana and alert rules read them like any series).
final class RollingKPIScheduler: Sendable {
    private let runtime: Runtime
    private let thread = BackgroundThread()
    private var configuration: ServiceConfiguration { runtime.configuration }
    private var logger: Logger { runtime.logger }

    init(runtime: Runtime) {
        self.runtime = runtime
    }

    /// Rounds every `kpi-interval` on their own thread, the first right away.
    func start() {
        thread.every(configuration.kpiIntervalSeconds, name: "kpid-kpis", immediately: true) { [self] in
            _ = self.runRound()
        }
    }

    /// Stops the thread, waiting for a round in progress.
    func stop() { thread.stop() }

    /// The value of every KPI of `template` at `site` over each window ending at `now`, with the
    /// value over the window before. Throws when a limit or timeout stopped the evaluation.
    func evaluateWindows(
        _ template: KPITemplate, site: SiteDefinition, windows: [RollingWindow], now: Int64, scope: [LabelMatcher]
    ) throws(TemplateEvaluationError) -> [RollingValue] {
        let zone = TimeZone(identifier: site.timeZone) ?? TimeZone(identifier: "UTC")!
        var options = runtime.queryOptions(scope: scope, timeZone: zone)
        options.now = now
        let evaluator = TemplateEvaluator(engine: QueryEngine(store: runtime.store))
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
    func runRound(force: Bool = false) -> Int {
        let started = DispatchTime.now().uptimeNanoseconds
        let now = configuration.clock.nowMilliseconds()
        let rolling = runtime.rollingKPIs
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
            templates = try runtime.catalog.templates()
            sites = try runtime.catalog.sites(templates)
        } catch {
            logger.warning("KPI evaluation skipped", metadata: ["reason": "\(error)"])
            rolling.counts.withLock {
                $0.evaluationsFailed += 1
                $0.lastRound = now
            }
            return 1
        }
        var failures = 0
        var batch = SampleBatch()
        var freshness: [String: SiteFreshness] = [:]
        let querier = runtime.store.querier(ReadScope())
        for site in sites where hasSignals(site: site.site) {
            freshness[site.site] = try? SiteFreshness.evaluate(
                querier: querier, site: site.site, at: now, staleness: configuration.staleness)
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
                    Self.record(values, at: now, into: &batch)
                } catch {
                    failures += 1
                    rolling.counts.withLock { $0.evaluationsFailed += 1 }
                    logger.warning(
                        "KPI evaluation failed",
                        metadata: ["site": "\(site.site)", "template": "\(name)", "kpi": "\(error.kpi)", "error": "\(error.error)"])
                }
            }
        }
        // Each site's newest sample, as a series the rules read (site not reporting).
        for (site, f) in freshness {
            guard let last = f.lastSampleMs else { continue }
            batch.append(
                Labels(metric: "kpid_site_last_sample_timestamp_seconds", ["site": site]), timestamp: now,
                value: Double(last) / 1000)
        }
        // Sites or templates no longer configured drop out.
        let live = Set(sites.flatMap { s in s.templates.map { s.site + "\u{0}" + $0 } })
        if let writer = runtime.writer, !batch.isEmpty {
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
            $0.freshness = freshness
            $0.rounds.observe(seconds)
            $0.lastRound = now
        }
        return failures
    }

    /// Whether any series of `site` besides the ones kpid derives exists: sites that send
    /// nothing yet are not evaluated (their counts would read 0 and fill the store).
    func hasSignals(site: String) -> Bool {
        runtime.store.series(withLabel: "site", equalTo: site).contains {
            !SiteFreshness.isDerived(metric: $0.labels.metricName ?? "")
        }
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
            if let c = v.result.coverage { add("kpid_kpi_coverage_ratio", c) }
        }
    }
}
