import Foundation
import KPIAlerting
import KPICore
import KPIPromQL
import KPIStorage
import Logging
import Synchronization

/// Why the rule files were not (re)loaded: every file's problem; the rules that ran before
/// keep running.
public struct RuleLoadError: Error, Sendable, CustomStringConvertible {
    public var errors: [RuleFileError]
    public var description: String { errors.map(\.description).joined(separator: "; ") }
}

/// The alerting and recording rules of `rule-files`: loads and reloads them (all files or
/// none), evaluates each group every interval on its own thread, writes the results into the
/// store through the writer, and hands the alerts to send to the ``AlertNotifier``.
public final class RuleManager: Sendable {
    private let runtime: Runtime
    private let thread = BackgroundThread()
    private let notifier: AlertNotifier?
    private let webhooks: WebhookDispatcher?
    private let outbox: OutboxStore?
    private let state = Mutex(State())
    /// Held while groups are evaluated or replaced: a reload waits for an evaluation in progress.
    private let evaluating = Mutex(())

    private struct State: Sendable {
        var groups: [RuleGroupState] = []
        /// When each group (file and name) is due next, ms.
        var due: [String: Int64] = [:]
        var files: [String] = []
        var lastReload: (at: Int64, ok: Bool)?
        var lastReloadError: String?
        var evaluations: [String: UInt64] = [:]
        var failures: [String: UInt64] = [:]
        var missed: [String: UInt64] = [:]
    }

    init(runtime: Runtime) throws {
        self.runtime = runtime
        let configuration = runtime.configuration
        if configuration.webhooks.isEmpty {
            outbox = nil
            webhooks = nil
        } else {
            let store = try OutboxStore(path: configuration.databasePath)
            outbox = store
            webhooks = WebhookDispatcher(
                configuration: configuration, outbox: store, externalURL: Self.externalURL(configuration), logger: runtime.logger)
        }
        notifier =
            configuration.alertmanagerURLs.isEmpty
            ? nil
            : AlertNotifier(urls: configuration.alertmanagerURLs, externalURL: Self.externalURL(configuration), logger: runtime.logger)
    }

    /// `external-url`, else the address kpid listens on.
    static func externalURL(_ configuration: ServiceConfiguration) -> String {
        if !configuration.externalURL.isEmpty { return configuration.externalURL }
        let host = configuration.bind.contains(":") ? "[\(configuration.bind)]" : configuration.bind
        return "http://\(host):\(configuration.port)"
    }

    private var configuration: ServiceConfiguration { runtime.configuration }

    static func key(_ group: RuleGroup) -> String { group.file + "\u{0}" + group.name }

    /// The files `rule-files` matches now, sorted.
    func matchedFiles() -> [String] {
        var out = Set<String>()
        for pattern in configuration.ruleFiles {
            var g = glob_t()
            defer { globfree(&g) }
            guard glob(pattern, 0, nil, &g) == 0 else { continue }
            for i in 0..<Int(g.gl_pathc) {
                if let p = g.gl_pathv[i] { out.insert(String(cString: p)) }
            }
        }
        return out.sorted()
    }

    /// Reads every rule file again: on success the new groups replace the old (unchanged rules
    /// keep their alerts); on any error nothing changes and the error says what and where.
    @discardableResult
    public func reload() throws(RuleLoadError) -> (files: Int, groups: Int, rules: Int) {
        let files = matchedFiles()
        var groups: [RuleGroup] = []
        var errors: [RuleFileError] = []
        var names = Set<String>()
        for file in files {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                errors.append(RuleFileError(file: file, line: 1, column: 1, reason: "the file cannot be read as UTF-8"))
                continue
            }
            do throws(RuleFileError) {
                for group in try RuleFileParser.parse(text, file: file) {
                    names.insert(Self.key(group))
                    groups.append(group)
                }
            } catch {
                errors.append(error)
            }
        }
        // The KPIs that declare `alert:` in their templates.
        if let templates = try? runtime.catalog.templates() {
            do throws(RuleFileError) {
                for group in try KPIAlertRules.groups(
                    templates, directory: configuration.templatesDirectory, windows: configuration.kpiWindows.map(\.name))
                {
                    names.insert(Self.key(group))
                    groups.append(group)
                }
            } catch {
                errors.append(error)
            }
        }
        let now = configuration.clock.nowMilliseconds()
        guard errors.isEmpty else {
            let error = RuleLoadError(errors: errors)
            state.withLock {
                $0.lastReload = (now, false)
                $0.lastReloadError = error.description
            }
            runtime.logger.error("rule files not loaded; the previous rules keep running", metadata: ["error": "\(error)"])
            throw error
        }
        evaluating.withLock { _ in
            state.withLock { s in
                var next: [RuleGroupState] = []
                for group in groups {
                    var fresh = RuleGroupState(group: group)
                    if let old = s.groups.first(where: { Self.key($0.group) == Self.key(group) }) { fresh.inherit(from: old) }
                    next.append(fresh)
                    if s.due[Self.key(group)] == nil { s.due[Self.key(group)] = now }
                }
                s.groups = next
                s.due = s.due.filter { names.contains($0.key) }
                s.files = files
                s.lastReload = (now, true)
                s.lastReloadError = nil
            }
        }
        let rules = groups.reduce(0) { $0 + $1.rules.count }
        runtime.logger.info("rules loaded", metadata: ["files": "\(files.count)", "groups": "\(groups.count)", "rules": "\(rules)"])
        return (files.count, groups.count, rules)
    }

    /// Loads the rules (an error is logged; kpid runs without them) and starts evaluating.
    func start() {
        do throws(RuleLoadError) {
            try reload()
        } catch {}
        notifier?.start()
        webhooks?.start()
        thread.start(name: "kpid-rules") { [self] thread in
            while !thread.pause(0.2) { evaluateDue() }
        }
    }

    func stop() {
        thread.stop()
        notifier?.stop()
        webhooks?.stop()
        outbox?.close()
    }

    /// The group's interval, or `rule-evaluation-interval`, in ms.
    public func intervalMs(_ group: RuleGroup) -> Int64 { group.intervalMs ?? configuration.ruleEvaluationIntervalMs }

    /// Evaluates the groups that are due now.
    func evaluateDue() {
        let now = configuration.clock.nowMilliseconds()
        let due = state.withLock { s in s.groups.map(\.group).filter { (s.due[Self.key($0)] ?? now) <= now } }
        for group in due { evaluate(group, at: now, scheduled: true) }
    }

    /// Evaluates every group at `ts` now, whether due or not (`POST /api/v1/admin/rules/evaluate`).
    public func evaluateAll(at ts: Int64) {
        for group in state.withLock({ $0.groups.map(\.group) }) { evaluate(group, at: ts, scheduled: false) }
    }

    private func evaluate(_ group: RuleGroup, at ts: Int64, scheduled: Bool) {
        let key = Self.key(group)
        let interval = intervalMs(group)
        evaluating.withLock { _ in
            guard var current = state.withLock({ s in s.groups.first { Self.key($0.group) == key } }),
                current.group == group
            else { return }
            current.evaluate(at: ts, environment)
            // Alerts in a maintenance window are evaluated but not notified.
            let maintenance = runtime.maintenance
            let toSend = current.alertsToSend(at: ts, resendDelayMs: configuration.alertResendDelayMs, intervalMs: interval)
                .filter { maintenance?.window(covering: $0.alert.labels, at: ts) == nil }
            let failed = current.rules.filter { $0.health == "err" }.count
            state.withLock { s in
                if let i = s.groups.firstIndex(where: { Self.key($0.group) == key }) { s.groups[i] = current }
                s.evaluations[key, default: 0] += UInt64(current.rules.count)
                s.failures[key, default: 0] += UInt64(failed)
                if scheduled {
                    var next = (s.due[key] ?? ts) + interval
                    if next <= ts {
                        // Behind by whole intervals: those iterations are missed, not run late.
                        let skipped = (ts - next) / interval + 1
                        s.missed[key, default: 0] += UInt64(skipped)
                        next += skipped * interval
                    }
                    s.due[key] = next
                }
            }
            notifier?.send(toSend)
            webhooks?.receive(toSend, intervalMs: interval)
        }
    }

    private var environment: RuleEnvironment {
        let engine = runtime.promQLEngine
        let runtime = self.runtime
        return RuleEnvironment(
            query: { expr, ts in try engine.instantQuery(expr, at: ts) },
            write: { samples, ts in
                var batch = SampleBatch()
                for (labels, value) in samples { batch.append(labels, timestamp: ts, value: value) }
                if case .failure(let error) = runtime.write(batch) {
                    runtime.logger.warning("rule results not recorded", metadata: ["error": "\(error)"])
                }
            },
            restore: { labels, ts in
                let querier = runtime.store.querier(ReadScope())
                var matchers = [try! LabelMatcher(Labels.metricNameLabel, .equal, "ALERTS_FOR_STATE")]
                for pair in labels.pairs { if let m = try? LabelMatcher(pair.name, .equal, pair.value) { matchers.append(m) } }
                guard let series = try? querier.select(matchers),
                    let entry = series.first(where: { $0.labels.pairs.count == labels.pairs.count + 1 }),
                    // An unlimited budget: the read cannot be refused.
                    let read = try? querier.samples(
                        entry.id, start: ts - RuleGroupState.outageToleranceMs, end: ts, staleness: .dropMarkers)
                else { return nil }
                // The value is a unix time in seconds; anything else (a client can write this
                // series too) is not a state to restore.
                guard let t = read.timestamps.last, let v = read.values.last, v.isFinite, abs(v) <= 1e13 else { return nil }
                return (Int64(v) * 1000, t)
            },
            externalURL: Self.externalURL(runtime.configuration))
    }

    /// The groups and their rules' states, for `/api/v1/rules` and `/api/v1/alerts`.
    public var groups: [RuleGroupState] { state.withLock { $0.groups } }

    /// The files last loaded, and whether the last reload worked.
    public var lastReload: (at: Int64, ok: Bool, error: String?)? {
        state.withLock { s in s.lastReload.map { ($0.at, $0.ok, s.lastReloadError) } }
    }

    /// The `kpid_rule_*` families (and the notifier's).
    public func write(to out: inout ExpositionWriter) {
        let s = state.withLock { $0 }
        let names = s.groups.map { ($0, Self.key($0.group), $0.group.file + ";" + $0.group.name) }
        out.family("kpid_rule_evaluations_total", "counter", "Rule evaluations, by group (file;name).")
        for (_, key, label) in names { out.sample("kpid_rule_evaluations_total", [("rule_group", label)], Double(s.evaluations[key] ?? 0)) }
        out.family("kpid_rule_evaluation_failures_total", "counter", "Rule evaluations that failed, by group.")
        for (_, key, label) in names {
            out.sample("kpid_rule_evaluation_failures_total", [("rule_group", label)], Double(s.failures[key] ?? 0))
        }
        out.family("kpid_rule_group_iterations_missed_total", "counter", "Group evaluations skipped because the last one ran late.")
        for (_, key, label) in names {
            out.sample("kpid_rule_group_iterations_missed_total", [("rule_group", label)], Double(s.missed[key] ?? 0))
        }
        out.family("kpid_rule_group_last_duration_seconds", "gauge", "How long the group's last evaluation took.")
        for (g, _, label) in names { out.sample("kpid_rule_group_last_duration_seconds", [("rule_group", label)], g.evaluationSeconds) }
        out.family("kpid_rule_group_interval_seconds", "gauge", "The group's evaluation interval.")
        for (g, _, label) in names {
            out.sample("kpid_rule_group_interval_seconds", [("rule_group", label)], Double(intervalMs(g.group)) / 1000)
        }
        out.family("kpid_rule_group_rules", "gauge", "Rules in the group.")
        for (g, _, label) in names { out.sample("kpid_rule_group_rules", [("rule_group", label)], Double(g.rules.count)) }
        out.single(
            "kpid_rule_files_last_reload_successful", "gauge", "Whether the last reload of rule-files worked (1) or failed (0).",
            s.lastReload.map { $0.ok ? 1 : 0 } ?? 1)
        var counts: [AlertState: Int] = [:]
        for g in s.groups { for r in g.rules { for a in r.alerts { counts[a.state, default: 0] += 1 } } }
        out.family("kpid_alerts", "gauge", "Alerts pending or firing.")
        for st in [AlertState.pending, .firing] { out.sample("kpid_alerts", [("state", st.rawValue)], Double(counts[st] ?? 0)) }
        notifier?.write(to: &out)
        webhooks?.write(to: &out)
    }
}
