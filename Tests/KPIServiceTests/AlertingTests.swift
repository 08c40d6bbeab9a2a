import Foundation
import KPICore
import KPIHTTP
import KPIRuntime
import KPIService
import Testing

/// Debian's Alertmanager, delivering to a webhook URL (grouping by alert name and site, waits
/// of a second).
final class AlertmanagerServer: PeerServer {
    init(dir: String, webhook: String) throws {
        let config = """
            route:
              receiver: hook
              group_by: [alertname, site]
              group_wait: 1s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: hook
                webhook_configs:
                  - url: \(webhook)
                    send_resolved: true
            """
        try config.write(toFile: dir + "/alertmanager.yml", atomically: true, encoding: .utf8)
        try super.init(
            name: "alertmanager", binary: "/usr/bin/prometheus-alertmanager", package: "prometheus-alertmanager",
            logPath: dir + "/alertmanager.log"
        ) { port in
            [
                "--config.file=\(dir)/alertmanager.yml", "--storage.path=\(dir)/am-data", "--web.listen-address=127.0.0.1:\(port)",
                "--cluster.listen-address=", "--log.level=warn",
            ]
        }
    }
}

/// A webhook receiver: a real HTTP server keeping every request posted to it (headers and
/// body), answering with the statuses of `statuses` in turn and then 200.
final class WebhookReceiver: Sendable {
    final class Requests: @unchecked Sendable {
        // @unchecked: everything is only touched under `lock`.
        let lock = NSLock()
        var list: [(headers: [String: String], body: Data)] = []
        var statuses: [Int] = []
    }

    let server: HTTPServer
    private let received = Requests()

    init(port: UInt16 = 0, statuses: [Int] = []) throws {
        var configuration = HTTPServerConfiguration()
        configuration.port = port
        let box = received
        box.statuses = statuses
        server = HTTPServer(configuration: configuration) { request in
            box.lock.lock()
            box.list.append((request.headers, Data(request.body)))
            let status = box.statuses.isEmpty ? 200 : box.statuses.removeFirst()
            box.lock.unlock()
            return .text(HTTPStatus(status), status == 200 ? "ok" : "try later")
        }
        try server.start()
    }

    var url: String { "http://127.0.0.1:\(server.boundPort)/hook" }

    /// Every request so far.
    var requests: [(headers: [String: String], body: Data)] {
        received.lock.lock()
        defer { received.lock.unlock() }
        return received.list
    }

    var bodies: [[String: Any]] { requests.compactMap { try? JSONSerialization.jsonObject(with: $0.body) as? [String: Any] } }

    /// Waits until `condition` holds for the bodies received (at most `seconds`).
    func wait(seconds: Double, _ condition: ([[String: Any]]) -> Bool) -> Bool {
        waitUntil(seconds: seconds) { condition(bodies) }
    }
}

/// Waits until the rules' scheduled evaluation at start has run (`/api/v1/rules`, read by
/// `rules`, shows a last evaluation): the next scheduled one is an hour away in tests, so from
/// then on only the test's own evaluations (at the instants it chooses) change the alerts.
func awaitFirstRuleEvaluation(_ rules: () -> String?) {
    let done = waitUntil(seconds: 20) {
        guard let text = rules() else { return false }
        return text.contains("\"lastEvaluation\":\"") && !text.contains("\"lastEvaluation\":\"0001-")
    }
    #expect(done, "the rules were not evaluated at start")
}

/// Polls `condition` every 100 ms until it holds or `seconds` pass.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    // The monotonic clock: a wall-clock step (faketime) must not stretch or cut the wait.
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return condition()
}

/// kpid's rules against a real Alertmanager: a camera that stops answering fires once its
/// `for` has passed, Alertmanager groups it and posts one notification to a webhook, and the
/// camera coming back sends exactly one resolution; the API shows the alert as Prometheus does.
@Suite(.serialized) struct AlertingTests {
    static let rules = """
        groups:
          - name: devices
            rules:
              - alert: DeviceDown
                expr: device_up == 0
                for: 5m
                labels:
                  severity: page
                annotations:
                  summary: "{{ $labels.device }} at {{ $labels.site }} is down"
        """

    /// A webhook receiver behind a real Alertmanager behind a kpid with `rules`, whose start-up
    /// evaluation is done (from then on the test evaluates on demand).
    static func kpidWithAlertmanager(_ dir: TempDir) throws -> (WebhookReceiver, AlertmanagerServer, RunningService) {
        try rules.write(toFile: dir.path + "/rules.yaml", atomically: true, encoding: .utf8)
        let hook = try WebhookReceiver()
        try FileManager.default.createDirectory(atPath: dir.path + "/am", withIntermediateDirectories: true)
        let am = try AlertmanagerServer(dir: dir.path + "/am", webhook: hook.url)
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.ruleFiles = [dir.path + "/rules.yaml"]
            $0.alertmanagerURLs = [am.base]
        }
        awaitFirstRuleEvaluation { try? http("GET", kpid.base + "/api/v1/rules").text }
        return (hook, am, kpid)
    }

    @Test func aCameraThatStopsAnsweringFiresOnceAndResolvesOnce() throws {
        let dir = TempDir()
        let (hook, am, kpid) = try Self.kpidWithAlertmanager(dir)
        defer {
            kpid.stop()
            am.stop()
            hook.server.stop()
        }
        // Alertmanager judges endsAt by its own clock: the data sit around the real now.
        let t0 = try peerClockMilliseconds() / 60_000 * 60_000 - 10 * 60_000
        var lines = ""
        for m in 0...5 {
            lines +=
                "{\"metric\":\"device_up\",\"labels\":{\"site\":\"JFK\",\"device\":\"cam-7\"},\"ts\":\(t0 + Int64(m) * 60_000),\"value\":0}\n"
        }
        #expect(try kpid.ingest(lines, contentType: "application/x-ndjson").status == 200)
        func evaluate(_ ms: Int64) throws {
            let r = try http("POST", kpid.base + "/api/v1/admin/rules/evaluate?time=\(Double(ms) / 1000)")
            #expect(r.status == 200, "\(r.text)")
        }
        try evaluate(t0)
        let pending = try http("GET", kpid.base + "/api/v1/alerts")
        let pendingAlerts =
            ((try JSONSerialization.jsonObject(with: pending.body) as? [String: Any])?["data"] as? [String: Any])?["alerts"]
            as? [[String: Any]]
        #expect(pendingAlerts?.count == 1)
        #expect(pendingAlerts?.first?["state"] as? String == "pending")
        #expect((pendingAlerts?.first?["labels"] as? [String: String])?["alertname"] == "DeviceDown")
        #expect(pendingAlerts?.first?["value"] as? String == "0e+00")
        // Pending alerts are not sent.
        Thread.sleep(forTimeInterval: 1.5)
        #expect(hook.bodies.isEmpty)

        try evaluate(t0 + 5 * 60_000)
        let fired = hook.wait(seconds: 30) { bodies in bodies.contains { $0["status"] as? String == "firing" } }
        #expect(fired, "no notification; alertmanager log: \(am.logText)")
        let firing = hook.bodies.filter { $0["status"] as? String == "firing" }
        #expect(firing.count == 1)
        let alert = (firing.first?["alerts"] as? [[String: Any]])?.first
        #expect(
            (alert?["labels"] as? [String: String]) == ["alertname": "DeviceDown", "device": "cam-7", "site": "JFK", "severity": "page"])
        #expect((alert?["annotations"] as? [String: String])?["summary"] == "cam-7 at JFK is down")
        #expect((alert?["generatorURL"] as? String)?.hasPrefix("http://127.0.0.1:") == true)
        // The rules API agrees.
        let rules = try http("GET", kpid.base + "/api/v1/rules")
        #expect(rules.text.contains("\"state\":\"firing\"") && rules.text.contains("\"type\":\"alerting\""), "\(rules.text)")
        #expect(try http("GET", kpid.base + "/metrics").text.contains("kpid_notifications_sent_total{alertmanager=\"\(am.base)\"} 1"))

        // Back up: one resolution.
        let up = "{\"metric\":\"device_up\",\"labels\":{\"site\":\"JFK\",\"device\":\"cam-7\"},\"ts\":\(t0 + 6 * 60_000),\"value\":1}\n"
        #expect(try kpid.ingest(up, contentType: "application/x-ndjson").status == 200)
        try evaluate(t0 + 6 * 60_000)
        let resolved = hook.wait(seconds: 30) { bodies in bodies.contains { $0["status"] as? String == "resolved" } }
        #expect(resolved, "no resolution; alertmanager log: \(am.logText)")
        Thread.sleep(forTimeInterval: 2)  // a duplicate would come within Alertmanager's group_interval
        #expect(hook.bodies.filter { $0["status"] as? String == "firing" }.count == 1)
        #expect(hook.bodies.filter { $0["status"] as? String == "resolved" }.count == 1)
        // ALERTS is a series like any other.
        let series = try http("GET", kpid.base + "/api/v1/series?match[]=" + percentEncoded("ALERTS"))
        #expect(series.text.contains("\"alertstate\":\"firing\""), "\(series.text)")
    }

    @Test func aBadRuleFileIsRefusedAndTheOldRulesKeepRunning() throws {
        let dir = TempDir()
        let path = dir.path + "/rules.yaml"
        try Self.rules.write(toFile: path, atomically: true, encoding: .utf8)
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.ruleFiles = [path]
            $0.ruleEvaluationIntervalMs = 3_600_000
        }
        defer { kpid.stop() }
        try Self.rules.replacingOccurrences(of: "device_up == 0", with: "device_up ==").write(
            toFile: path, atomically: true, encoding: .utf8)
        let r = try http("POST", kpid.base + "/api/v1/admin/rules/reload")
        #expect(r.status == 400)
        #expect(r.text.contains("rules.yaml:5:") && r.text.contains("DeviceDown") && r.text.contains("expr"), "\(r.text)")
        let rules = try http("GET", kpid.base + "/api/v1/rules")
        #expect(rules.text.contains("\"query\":\"device_up == 0\""), "\(rules.text)")
        #expect(try http("GET", kpid.base + "/metrics").text.contains("kpid_rule_files_last_reload_successful 0"))
        try Self.rules.replacingOccurrences(of: "5m", with: "10m").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try http("POST", kpid.base + "/api/v1/admin/rules/reload").status == 200)
        #expect(try http("GET", kpid.base + "/api/v1/rules").text.contains("\"duration\":600"))
    }

    @Test func theWeeklyReviewListsTheWeeksAlerts() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data") {
            KPIAPITests.configure(&$0)
            $0.clock = .pinned(at: fixturesEndMs)
        }
        defer { kpid.stop() }
        // JFK's cam-7 fired for 20 minutes on Wednesday of 2026-W47 and resolved (the marker
        // is written by the rules; here it is sent as remote write would: the stale NaN).
        let wednesday = fixturesEndMs - 4 * 86_400_000
        var lines = ""
        for m in 0..<20 {
            lines +=
                #"{"metric":"ALERTS","labels":{"alertname":"DeviceDown","alertstate":"firing","severity":"page","site":"JFK","device":"cam-7"},"ts":\#(wednesday + Int64(m) * 60_000),"value":1}"#
                + "\n"
        }
        #expect(try kpid.ingest(lines, contentType: "application/x-ndjson").status == 200)
        var batch = SampleBatch()
        batch.append(
            Labels(
                metric: "ALERTS", ["alertname": "DeviceDown", "alertstate": "firing", "severity": "page", "site": "JFK", "device": "cam-7"]),
            timestamp: wednesday + 20 * 60_000, value: StaleMarker.value)
        _ = kpid.service.runtime.write(batch)
        let json = try http("GET", kpid.base + "/reports/weekly.json?site=JFK&week=2026-W47")
        let alerts = json.json["alerts"] as? [[String: Any]] ?? []
        #expect(alerts.count == 1, "\(json.text.prefix(400))")
        #expect(alerts.first?["alertname"] as? String == "DeviceDown" && alerts.first?["fired"] as? Int == 1)
        #expect(alerts.first?["firing_seconds"] as? Int == 1200 && alerts.first?["mean_time_to_resolve_seconds"] as? Int == 1200)
        let html = try http("GET", kpid.base + "/reports/weekly?site=JFK&week=2026-W47").text
        #expect(html.contains("Alerts this week") && html.contains("<th scope=\"row\">DeviceDown</th>") && html.contains("20 min"))
        let md = try http("GET", kpid.base + "/reports/weekly?site=JFK&week=2026-W47&format=md").text
        #expect(md.contains("| DeviceDown | page | 1 | 20 min | 20 min | 20 min | 0 |"), "\(md)")
    }

    @Test func aSilenceInAlertmanagerHoldsTheNotification() throws {
        let dir = TempDir()
        let (hook, am, kpid) = try Self.kpidWithAlertmanager(dir)
        defer {
            kpid.stop()
            am.stop()
            hook.server.stop()
        }
        let t0 = try peerClockMilliseconds() / 60_000 * 60_000 - 10 * 60_000
        // A silence for cam-8, set in Alertmanager (its API, its clock).
        let silence = """
            {"matchers":[{"name":"device","value":"cam-8","isRegex":false,"isEqual":true}],
             "startsAt":"\(rfc3339Text(t0 - 3_600_000))","endsAt":"\(rfc3339Text(t0 + 3_600_000))",
             "createdBy":"test","comment":"lens cleaning"}
            """
        let created = try http(
            "POST", am.base + "/api/v2/silences", body: Data(silence.utf8), headers: ["Content-Type": "application/json"])
        #expect(created.status == 200, "\(created.text)")
        var lines = ""
        for m in 0...5 {
            for d in ["cam-7", "cam-8"] {
                lines +=
                    "{\"metric\":\"device_up\",\"labels\":{\"site\":\"JFK\",\"device\":\"\(d)\"},\"ts\":\(t0 + Int64(m) * 60_000),\"value\":0}\n"
            }
        }
        #expect(try kpid.ingest(lines, contentType: "application/x-ndjson").status == 200)
        for m in [0, 5] {
            #expect(
                try http("POST", kpid.base + "/api/v1/admin/rules/evaluate?time=\(Double(t0 + Int64(m) * 60_000) / 1000)").status == 200)
        }
        #expect(hook.wait(seconds: 30) { !$0.isEmpty }, "no notification; alertmanager log: \(am.logText)")
        Thread.sleep(forTimeInterval: 2)
        let devices = hook.bodies.flatMap {
            ($0["alerts"] as? [[String: Any]] ?? []).compactMap { ($0["labels"] as? [String: String])?["device"] }
        }
        #expect(Set(devices) == ["cam-7"], "\(hook.bodies)")
        // Alertmanager has both; it holds cam-8's.
        let held = try http("GET", am.base + "/api/v2/alerts?silenced=true&active=false")
        #expect(held.text.contains("cam-8"), "\(held.text)")
    }
}
