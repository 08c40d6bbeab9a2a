import Foundation
import KPICore
import KPIPromQL

/// The state of an alert, as Prometheus names it.
public enum AlertState: String, Sendable, Equatable {
    /// Resolved: kept a while (``RuleGroupState/resolvedRetentionMs``) so the resolution is sent.
    case inactive
    /// The condition holds, for less than the rule's `for`.
    case pending
    case firing
}

/// One alert of an alerting rule: a series of the rule's result, with the rule's labels.
public struct Alert: Sendable, Equatable {
    /// The alert's labels: the result series' labels (no `__name__`), the rule's labels, and
    /// `alertname`.
    public var labels: Labels
    public var annotations: [String: String]
    public var state: AlertState
    /// The value of the result series at the last evaluation.
    public var value: Double
    /// When the condition first held (ms).
    public var activeAt: Int64
    public var firedAt: Int64?
    public var resolvedAt: Int64?
    public var lastSentAt: Int64?
    /// How long Alertmanager may keep the alert firing without hearing from kpid again (ms).
    public var validUntil: Int64 = 0
    /// Since when a firing alert has been kept firing by `keep_firing_for` (ms).
    public var keepFiringSince: Int64?

    /// Whether the alert must go to Alertmanager at `ts`: never while pending; at once when
    /// resolved since the last send; else when the last send is older than `resendDelay`.
    public func needsSending(at ts: Int64, resendDelayMs: Int64) -> Bool {
        if state == .pending { return false }
        if let resolved = resolvedAt, resolved > (lastSentAt ?? .min) { return true }
        guard let last = lastSentAt else { return true }
        return last + resendDelayMs < ts
    }
}

/// How one rule fared at its last evaluation.
public struct RuleState: Sendable {
    public let rule: Rule
    /// `ok`, `err` or `unknown` (not evaluated yet), as Prometheus' API says.
    public var health = "unknown"
    public var lastError: String?
    public var lastEvaluation: Int64?
    public var evaluationSeconds = 0.0
    /// Alerting rules: the active alerts (pending, firing, and resolved ones kept to be sent),
    /// by their labels.
    public var active: [Labels: Alert] = [:]
    /// The series the rule wrote at its last evaluation (a series that disappears gets a
    /// staleness marker, as in Prometheus).
    var written: Set<Labels> = []

    public init(rule: Rule) { self.rule = rule }

    /// The alerts that are pending or firing, by labels.
    public var alerts: [Alert] {
        active.values.filter { $0.state != .inactive }.sorted { $0.labels.description < $1.labels.description }
    }

    /// The rule's state as Prometheus' `/api/v1/rules` says it: firing if any alert fires, else
    /// pending if any is pending, else inactive.
    public var state: AlertState {
        let states = Set(active.values.map(\.state))
        return states.contains(.firing) ? .firing : states.contains(.pending) ? .pending : .inactive
    }
}

/// What evaluating a group needs from the rest of kpid.
public struct RuleEnvironment {
    /// Evaluates PromQL at an instant (ms).
    public var query: (String, Int64) throws -> QueryValue
    /// Writes samples (series and value) stamped `ts` into the store, as one commit.
    public var write: ([(Labels, Double)], Int64) -> Void
    /// The latest `ALERTS_FOR_STATE` sample of an alert (its labels) within the hour before
    /// `ts`: the `activeAt` it holds and when it was written (both ms); nil when none.
    public var restore: (Labels, Int64) -> (activeAt: Int64, writtenAt: Int64)?
    /// Where kpid answers, for the templates' `$externalURL`.
    public var externalURL: String

    public init(
        query: @escaping (String, Int64) throws -> QueryValue, write: @escaping ([(Labels, Double)], Int64) -> Void,
        restore: @escaping (Labels, Int64) -> (activeAt: Int64, writtenAt: Int64)?, externalURL: String
    ) {
        self.query = query
        self.write = write
        self.restore = restore
        self.externalURL = externalURL
    }
}

/// A rule group and the state of its rules, evaluated as Prometheus evaluates one: the rules
/// one after the other at the same instant, each rule's samples written before the next rule
/// runs (so a later rule reads an earlier one's results); alerts move inactive → pending →
/// firing → resolved; `ALERTS` and `ALERTS_FOR_STATE` and recording results are written as
/// series; a series a rule no longer produces gets a staleness marker.
///
/// A restart neither re-fires nor forgets a pending `for`: at the first evaluation each
/// alert's `activeAt` is restored from its `ALERTS_FOR_STATE` series, as Prometheus does
/// (the time kpid was down does not count toward `for`; an alert due to fire within the grace
/// period of ``forGracePeriodMs`` after the restart waits that long).
public struct RuleGroupState: Sendable {
    public let group: RuleGroup
    public var rules: [RuleState]
    public var lastEvaluation: Int64?
    public var evaluationSeconds = 0.0
    /// Whether `for` state has been restored (done at the first evaluation).
    var restored = false

    /// How long a resolved alert is kept (and re-sent) after it resolves: 15 minutes.
    public static let resolvedRetentionMs: Int64 = 15 * 60_000
    /// How far back `ALERTS_FOR_STATE` is read when restoring: an hour.
    public static let outageToleranceMs: Int64 = 3_600_000
    /// The least time a restored alert waits before firing after a restart: 10 minutes.
    public static let forGracePeriodMs: Int64 = 10 * 60_000

    public init(group: RuleGroup) {
        self.group = group
        self.rules = group.rules.map(RuleState.init)
    }

    /// Takes over the alerts of `previous` for the rules that are unchanged (a reload keeps
    /// what is pending and firing).
    public mutating func inherit(from previous: RuleGroupState) {
        for i in rules.indices {
            guard let old = previous.rules.first(where: { $0.rule == rules[i].rule }) else { continue }
            rules[i].active = old.active
            rules[i].written = old.written
            rules[i].health = old.health
            rules[i].lastError = old.lastError
            rules[i].lastEvaluation = old.lastEvaluation
        }
        restored = previous.restored
        lastEvaluation = previous.lastEvaluation
    }

    /// Evaluates every rule at `ts` (ms).
    public mutating func evaluate(at ts: Int64, _ env: RuleEnvironment) {
        let started = ContinuousClock.now
        for i in rules.indices {
            let ruleStarted = ContinuousClock.now
            do {
                let samples: [(Labels, Double)]
                switch rules[i].rule.kind {
                case .recording: samples = try evaluateRecording(i, at: ts, env)
                case .alerting: samples = try evaluateAlerting(i, at: ts, env)
                }
                var present = Set<Labels>()
                for (labels, _) in samples { present.insert(labels) }
                var out = samples
                for gone in rules[i].written.subtracting(present) { out.append((gone, StaleMarker.value)) }
                rules[i].written = present
                if !out.isEmpty { env.write(out, ts) }
                rules[i].health = "ok"
                rules[i].lastError = nil
            } catch {
                rules[i].health = "err"
                rules[i].lastError = "\(error)"
            }
            rules[i].lastEvaluation = ts
            rules[i].evaluationSeconds = Self.seconds(since: ruleStarted)
        }
        restored = true
        lastEvaluation = ts
        evaluationSeconds = Self.seconds(since: started)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    struct RuleError: Error, CustomStringConvertible {
        var description: String
    }

    /// The result of a rule's expression as series and values (a scalar is one series without labels).
    private func vector(_ rule: Rule, at ts: Int64, _ env: RuleEnvironment) throws -> [(Labels, Double)] {
        switch try env.query(rule.expr, ts) {
        case .vector(let samples): return samples.map { ($0.labels, $0.value) }
        case .scalar(_, let v): return [(Labels([]), v)]
        default: throw RuleError(description: "rule result is not a vector or scalar")
        }
    }

    private mutating func evaluateRecording(_ i: Int, at ts: Int64, _ env: RuleEnvironment) throws -> [(Labels, Double)] {
        let rule = rules[i].rule
        var out: [(Labels, Double)] = []
        var seen = Set<Labels>()
        for (labels, value) in try vector(rule, at: ts, env) {
            var map = labels.dictionary
            map.removeValue(forKey: Labels.metricNameLabel)
            for (name, template) in rule.labels { map[name] = template.source }
            let series = Labels(metric: rule.name, map.filter { !$0.value.isEmpty })
            guard seen.insert(series).inserted else {
                throw RuleError(description: "vector contains metrics with the same labelset after applying rule labels")
            }
            out.append((series, value))
        }
        if group.limit > 0 && out.count > group.limit {
            throw RuleError(description: "exceeded limit of \(group.limit) with \(out.count) series")
        }
        return out
    }

    private mutating func evaluateAlerting(_ i: Int, at ts: Int64, _ env: RuleEnvironment) throws -> [(Labels, Double)] {
        let rule = rules[i].rule
        var current: [Labels: Alert] = [:]
        for (labels, value) in try vector(rule, at: ts, env) {
            var map = labels.dictionary
            map.removeValue(forKey: Labels.metricNameLabel)
            let data = AlertTemplate.Data(labels: map, value: value, externalURL: env.externalURL)
            for (name, template) in rule.labels { map[name] = template.expand(data) }
            map["alertname"] = rule.name
            let alertLabels = Labels(unnamed: map)
            let annotations = rule.annotations.mapValues { $0.expand(data) }
            guard current[alertLabels] == nil else {
                throw RuleError(description: "vector contains metrics with the same labelset after applying alert labels")
            }
            current[alertLabels] = Alert(
                labels: alertLabels, annotations: annotations, state: .pending, value: value, activeAt: ts)
        }
        var active = rules[i].active
        for (key, alert) in current {
            if var existing = active[key], existing.state != .inactive {
                existing.value = alert.value
                existing.annotations = alert.annotations
                active[key] = existing
                continue
            }
            var fresh = alert
            if !restored, rule.forMs > 0, let (activeAt, writtenAt) = env.restore(key, ts) {
                fresh.activeAt = Self.restoredActiveAt(activeAt, writtenAt: writtenAt, at: ts, forMs: rule.forMs)
            }
            active[key] = fresh
        }
        var out: [(Labels, Double)] = []
        var pendingOrFiring = 0
        for key in Array(active.keys) {
            var alert = active[key]!
            if current[key] == nil {
                var keepFiring = false
                if alert.state == .firing && rule.keepFiringForMs > 0 {
                    if alert.keepFiringSince == nil { alert.keepFiringSince = ts }
                    if ts - alert.keepFiringSince! < rule.keepFiringForMs { keepFiring = true }
                }
                if alert.state == .pending
                    || (alert.resolvedAt.map { ts - $0 > Self.resolvedRetentionMs } ?? false)
                {
                    active.removeValue(forKey: key)
                    continue
                }
                if alert.state != .inactive && !keepFiring {
                    alert.state = .inactive
                    alert.resolvedAt = ts
                }
                if !keepFiring {
                    active[key] = alert
                    continue
                }
            } else {
                alert.keepFiringSince = nil
            }
            pendingOrFiring += 1
            if alert.state == .pending && ts - alert.activeAt >= rule.forMs {
                alert.state = .firing
                alert.firedAt = ts
            }
            active[key] = alert
            var alertsLabels = alert.labels.dictionary
            alertsLabels["alertstate"] = alert.state.rawValue
            out.append((Labels(metric: "ALERTS", alertsLabels), 1))
            out.append((Labels(metric: "ALERTS_FOR_STATE", alert.labels.dictionary), Double(alert.activeAt / 1000)))
        }
        if group.limit > 0 && pendingOrFiring > group.limit {
            rules[i].active = [:]
            throw RuleError(description: "exceeded limit of \(group.limit) with \(pendingOrFiring) alerts")
        }
        rules[i].active = active
        return out
    }

    /// Prometheus' restore of a pending `for` across a restart: the time spent pending before
    /// the last `ALERTS_FOR_STATE` sample counts, the time kpid was down does not; an alert due
    /// within the grace period waits for it; one that was firing fires at once.
    static func restoredActiveAt(_ activeAt: Int64, writtenAt: Int64, at ts: Int64, forMs: Int64) -> Int64 {
        let spentPending = writtenAt - activeAt
        let remaining = forMs - spentPending
        if remaining <= 0 { return activeAt }
        if remaining < forGracePeriodMs { return ts + forGracePeriodMs - forMs }
        return activeAt + (ts - writtenAt)
    }

    /// The alerts of every alerting rule that must go to Alertmanager at `ts`, marking them
    /// sent: each firing alert every `resendDelay`, each resolution at once (and re-sent while
    /// it is kept). `validUntil` allows four missed sends.
    public mutating func alertsToSend(at ts: Int64, resendDelayMs: Int64, intervalMs: Int64) -> [(rule: Rule, alert: Alert)] {
        var out: [(Rule, Alert)] = []
        for i in rules.indices where rules[i].rule.kind == .alerting {
            for key in rules[i].active.keys.sorted(by: { $0.description < $1.description }) {
                var alert = rules[i].active[key]!
                guard alert.needsSending(at: ts, resendDelayMs: resendDelayMs) else { continue }
                alert.lastSentAt = ts
                alert.validUntil = ts + 4 * max(resendDelayMs, intervalMs)
                rules[i].active[key] = alert
                out.append((rules[i].rule, alert))
            }
        }
        return out
    }
}

extension Labels {
    /// The labels as a dictionary.
    var dictionary: [String: String] {
        var out: [String: String] = [:]
        for pair in pairs { out[pair.name] = pair.value }
        return out
    }

    /// Labels from a dictionary, without a metric name.
    init(unnamed labels: [String: String]) {
        self.init(labels.map { Label(name: $0.key, value: $0.value) })
    }
}
