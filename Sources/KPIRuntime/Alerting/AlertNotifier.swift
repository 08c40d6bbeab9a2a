import Foundation
import KPIAlerting
import KPICore
import Logging
import Synchronization

/// Sends alerts to the configured Alertmanagers (`alertmanager-url`) on their v2 API, as
/// Prometheus' notifier does: a bounded queue (the oldest alerts dropped past
/// ``capacity``), batches of at most ``batchSize`` posted to every Alertmanager, an error
/// counted and the batch given up (the rule manager sends firing alerts again every
/// `alert-resend-delay`, so nothing is lost for long).
final class AlertNotifier: Sendable {
    /// Most alerts waiting; past it the oldest are dropped.
    static let capacity = 10_000
    /// Most alerts in one request.
    static let batchSize = 64

    private let endpoints: [(name: String, url: URL)]
    private let externalURL: String
    private let logger: Logger
    private let http = OutboundHTTP()
    private let thread = BackgroundThread()
    private let state = Mutex(State())

    private struct State: Sendable {
        var queue: [(rule: Rule, alert: Alert)] = []
        var sent: [String: UInt64] = [:]
        var errors: [String: UInt64] = [:]
        var dropped: UInt64 = 0
    }

    init(urls: [String], externalURL: String, logger: Logger) {
        endpoints = urls.compactMap { base in URL(string: base + "/api/v2/alerts").map { (OutboundHTTP.redacted(base), $0) } }
        self.externalURL = externalURL
        self.logger = logger
    }

    /// Starts the sending thread.
    func start() {
        thread.start(name: "kpid-notify") { [self] thread in
            while !thread.pause(0.1) { drain() }
            drain()  // what was queued before stopping still goes out
        }
    }

    /// Stops after sending what is queued.
    func stop() {
        thread.stop()
        http.finish()
    }

    /// Queues alerts to send.
    func send(_ alerts: [(rule: Rule, alert: Alert)]) {
        guard !alerts.isEmpty, !endpoints.isEmpty else { return }
        state.withLock {
            $0.queue.append(contentsOf: alerts)
            let over = $0.queue.count - Self.capacity
            if over > 0 {
                $0.queue.removeFirst(over)
                $0.dropped += UInt64(over)
            }
        }
    }

    private func drain() {
        while true {
            let batch = state.withLock { s -> [(rule: Rule, alert: Alert)] in
                let n = min(Self.batchSize, s.queue.count)
                defer { s.queue.removeFirst(n) }
                return Array(s.queue.prefix(n))
            }
            if batch.isEmpty { return }
            let body = Data(AlertmanagerPayload.encode(batch, externalURL: externalURL))
            for (name, url) in endpoints {
                let answer = http.post(url, body: body, headers: ["Content-Type": "application/json"], timeout: 10)
                let ok = (200..<300).contains(answer.status ?? 0)
                state.withLock {
                    if ok { $0.sent[name, default: 0] += UInt64(batch.count) } else { $0.errors[name, default: 0] += UInt64(batch.count) }
                }
                if !ok {
                    logger.warning(
                        "alerts not accepted by Alertmanager",
                        metadata: [
                            "alertmanager": "\(name)", "status": "\(answer.status.map(String.init) ?? "no answer")",
                            "answer": "\(answer.text.prefix(200))",
                        ])
                }
            }
        }
    }

    /// The `kpid_notifications_*` families.
    func write(to out: inout ExpositionWriter) {
        let s = state.withLock { ($0.queue.count, $0.sent, $0.errors, $0.dropped) }
        out.family("kpid_notifications_sent_total", "counter", "Alerts sent to an Alertmanager (alertmanager-url).")
        for (name, _) in endpoints { out.sample("kpid_notifications_sent_total", [("alertmanager", name)], Double(s.1[name] ?? 0)) }
        out.family("kpid_notifications_errors_total", "counter", "Alerts an Alertmanager did not accept (error or no answer).")
        for (name, _) in endpoints {
            out.sample("kpid_notifications_errors_total", [("alertmanager", name)], Double(s.2[name] ?? 0))
        }
        out.single("kpid_notifications_dropped_total", "counter", "Alerts dropped from a full notification queue.", Double(s.3))
        out.single("kpid_notifications_queue_length", "gauge", "Alerts waiting to be sent.", Double(s.0))
        out.single(
            "kpid_notifications_alertmanagers_discovered", "gauge", "Alertmanagers alerts are sent to.", Double(endpoints.count))
    }
}
