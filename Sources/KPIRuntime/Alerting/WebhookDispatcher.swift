import Crypto
import Foundation
import KPIAlerting
import KPICore
import KPIStorage
import Logging
import Synchronization

/// Alerts to webhooks without an Alertmanager: grouped as Alertmanager groups them
/// (`webhook-group-by`, `-group-wait`, `-group-interval`, `-repeat-interval`), each notification
/// written to the SQLite outbox before it is sent (it survives a crash or restart), delivered at
/// least once in order per group, signed with HMAC-SHA256 over the body
/// (`X-Kpid-Signature-256: sha256=<hex>`), retried with backoff on 5xx, 429 and network errors,
/// dropped (and counted) on any other 4xx.
final class WebhookDispatcher: Sendable {
    private let targets: [WebhookTarget]
    private let configuration: ServiceConfiguration
    private let outbox: OutboxStore
    private let logger: Logger
    private let http = OutboundHTTP()
    private let thread = BackgroundThread()
    private let state = Mutex(State())
    private let externalURL: String

    /// How many outbox entries one delivery pass looks at, oldest first.
    static let deliveriesPerPass = 200

    /// The longest wait between two attempts of one notification.
    static let maximumBackoffMs: Int64 = 300_000

    private struct Group: Sendable {
        var receiver: String
        var key: String
        var labels: [String: String]
        /// The group's alerts by fingerprint.
        var alerts: [String: NotifiedAlert] = [:]
        /// Until when (wall clock, ms) each firing alert counts as firing without being received
        /// again: four resend intervals after it last was, as Alertmanager keeps one until its
        /// `endsAt`. One not heard of by then (its rule was removed, say) is resolved.
        var validUntil: [String: Int64] = [:]
        var createdMs: Int64
        var lastFlushMs: Int64?
        /// Whether an alert arrived, changed or resolved since the last notification.
        var changed = true
    }

    private struct State: Sendable {
        var groups: [String: Group] = [:]
        var delivered: [String: UInt64] = [:]
        var failedAttempts: [String: UInt64] = [:]
        var dropped: [String: UInt64] = [:]
        var pending = 0
    }

    init(configuration: ServiceConfiguration, outbox: OutboxStore, externalURL: String, logger: Logger) {
        self.targets = configuration.webhooks
        self.configuration = configuration
        self.outbox = outbox
        self.externalURL = externalURL
        self.logger = logger
    }

    func start() {
        thread.start(name: "kpid-webhooks") { [self] thread in
            while !thread.pause(0.2) {
                flushDueGroups()
                deliverDue()
            }
        }
    }

    func stop() {
        thread.stop()
        http.finish()
    }

    private var now: Int64 { configuration.clock.nowMilliseconds() }

    /// Takes the alerts a rule evaluation sends (firing ones every resend interval, resolved
    /// ones when they resolve) into their groups.
    func receive(_ alerts: [(rule: Rule, alert: Alert)], intervalMs: Int64) {
        guard !alerts.isEmpty, !targets.isEmpty else { return }
        let at = now
        let valid = at + 4 * max(configuration.alertResendDelayMs, intervalMs)
        state.withLock { s in
            for (rule, alert) in alerts {
                let notified = NotifiedAlert(
                    labels: alert.labels, annotations: alert.annotations, startsAt: alert.activeAt,
                    endsAt: alert.state == .inactive ? alert.resolvedAt : nil,
                    generatorURL: AlertmanagerPayload.generatorURL(rule, externalURL: externalURL))
                for target in targets where target.matchers.allSatisfy({ $0.matches(alert.labels[$0.name] ?? "") }) {
                    var groupLabels: [String: String] = [:]
                    for name in configuration.webhookGroupBy { if let v = alert.labels[name] { groupLabels[name] = v } }
                    let key =
                        "{}:{"
                        + groupLabels.sorted { $0.key < $1.key }.map { "\($0.key)=\(JSONString.literal($0.value))" }
                        .joined(separator: ", ") + "}"
                    let id = target.url + "\u{0}" + key
                    var group = s.groups[id] ?? Group(receiver: target.url, key: key, labels: groupLabels, createdMs: at)
                    let fingerprint = alert.labels.fingerprint
                    if group.alerts[fingerprint] != notified {
                        // A new alert, a change of annotations, or a resolution.
                        if group.alerts[fingerprint].map({ $0.isResolved != notified.isResolved || $0.startsAt != notified.startsAt })
                            ?? true
                        {
                            group.changed = true
                        }
                        group.alerts[fingerprint] = notified
                    }
                    group.validUntil[fingerprint] = valid
                    s.groups[id] = group
                }
            }
        }
    }

    /// Writes a notification for each group that is due (group_wait after it formed, then
    /// group_interval after a change, repeat_interval while unchanged and firing).
    func flushDueGroups() {
        let at = now
        var entries: [OutboxEntry] = []
        state.withLock { s in
            for (id, var group) in s.groups {
                // Firing alerts no rule sends any more resolve when they expire.
                for (fingerprint, alert) in group.alerts where !alert.isResolved {
                    if let valid = group.validUntil[fingerprint], at > valid {
                        group.alerts[fingerprint]?.endsAt = valid
                        group.changed = true
                    }
                }
                let due: Bool
                if let last = group.lastFlushMs {
                    due =
                        (group.changed && at - last >= configuration.webhookGroupIntervalMs)
                        || (at - last >= configuration.webhookRepeatIntervalMs && group.alerts.values.contains { !$0.isResolved })
                } else {
                    due = at - group.createdMs >= configuration.webhookGroupWaitMs
                }
                guard due, !group.alerts.isEmpty else { continue }
                let alerts = group.alerts.values.sorted { $0.labels.description < $1.labels.description }
                let body = WebhookPayload.encode(
                    receiver: group.receiver, groupKey: group.key, groupLabels: group.labels, alerts: alerts, externalURL: externalURL)
                let status = alerts.contains { !$0.isResolved } ? "firing" : "resolved"
                let key = SHA256.hash(
                    data: Data(
                        (group.key + "|" + status + "|" + alerts.map { $0.idempotencyKey(groupKey: group.key) }.joined(separator: ","))
                            .utf8)
                ).map { String(format: "%02x", $0) }.joined()
                entries.append(
                    OutboxEntry(
                        id: 0, receiver: group.receiver, groupKey: group.key, body: body, idempotencyKey: key, createdMs: at,
                        attempts: 0, nextAttemptMs: at))
                // Resolved alerts are notified once, then forgotten, as Alertmanager does.
                group.alerts = group.alerts.filter { !$0.value.isResolved }
                group.validUntil = group.validUntil.filter { group.alerts[$0.key] != nil }
                group.lastFlushMs = at
                group.changed = false
                if group.alerts.isEmpty { s.groups.removeValue(forKey: id) } else { s.groups[id] = group }
            }
        }
        guard !entries.isEmpty else { return }
        do {
            try outbox.add(entries)
        } catch {
            logger.error("webhook notifications not written to the outbox", metadata: ["error": "\(error)"])
        }
    }

    /// Sends what is due from the outbox, oldest first; a group whose oldest notification waits
    /// for a retry holds its later ones back (in order per group).
    func deliverDue() {
        // The oldest notifications first, a bounded number per pass (a long outage of a
        // receiver must not make every pass read the whole outbox).
        guard let entries = try? outbox.oldest(limit: Self.deliveriesPerPass) else { return }
        state.withLock { $0.pending = (try? outbox.count()) ?? entries.count }
        var blocked = Set<String>()
        let at = now
        for entry in entries {
            let groupID = entry.receiver + "\u{0}" + entry.groupKey
            guard !blocked.contains(groupID) else { continue }
            guard entry.nextAttemptMs <= at, let url = URL(string: entry.receiver) else {
                blocked.insert(groupID)
                continue
            }
            var headers = ["Content-Type": "application/json", "X-Kpid-Idempotency-Key": entry.idempotencyKey]
            if let secret = configuration.webhookSecret {
                let mac = HMAC<SHA256>.authenticationCode(for: entry.body, using: SymmetricKey(data: Data(secret.utf8)))
                headers["X-Kpid-Signature-256"] = "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
            }
            let answer = http.post(url, body: Data(entry.body), headers: headers, timeout: 10)
            let status = answer.status ?? 0
            do {
                if (200..<300).contains(status) {
                    try outbox.remove(entry.id)
                    state.withLock { $0.delivered[entry.receiver, default: 0] += 1 }
                } else if status == 0 || status == 429 || status >= 500 {
                    let backoff = min(Self.maximumBackoffMs, 1000 << min(entry.attempts, 20))
                    try outbox.retryLater(entry.id, nextAttemptMs: now + backoff)
                    state.withLock { $0.failedAttempts[entry.receiver, default: 0] += 1 }
                    blocked.insert(groupID)
                } else {
                    try outbox.remove(entry.id)
                    state.withLock { $0.dropped[entry.receiver, default: 0] += 1 }
                    logger.warning(
                        "webhook refused a notification; dropped",
                        metadata: [
                            "webhook": "\(OutboundHTTP.redacted(entry.receiver))", "status": "\(status)",
                            "answer": "\(answer.text.prefix(200))",
                        ])
                }
            } catch {
                logger.error("webhook outbox not updated", metadata: ["error": "\(error)"])
                return
            }
        }
    }

    /// The `kpid_webhook_*` families.
    func write(to out: inout ExpositionWriter) {
        let s = state.withLock { ($0.delivered, $0.failedAttempts, $0.dropped, $0.pending) }
        out.family("kpid_webhook_notifications_total", "counter", "Webhook notifications by result (delivered, dropped: a 4xx answer).")
        for t in targets {
            let name = OutboundHTTP.redacted(t.url)
            out.sample("kpid_webhook_notifications_total", [("webhook", name), ("result", "delivered")], Double(s.0[t.url] ?? 0))
            out.sample("kpid_webhook_notifications_total", [("webhook", name), ("result", "dropped")], Double(s.2[t.url] ?? 0))
        }
        out.family("kpid_webhook_failed_attempts_total", "counter", "Webhook deliveries retried after a 5xx, 429 or network error.")
        for t in targets {
            out.sample("kpid_webhook_failed_attempts_total", [("webhook", OutboundHTTP.redacted(t.url))], Double(s.1[t.url] ?? 0))
        }
        out.single("kpid_webhook_outbox_pending", "gauge", "Webhook notifications in the outbox, not delivered yet.", Double(s.3))
    }
}
