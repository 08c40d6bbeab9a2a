import Foundation
import KPICore
import KPIHTTP
import Testing

@testable import KPIRuntime

/// Alerts to webhooks without an Alertmanager: grouped, in Alertmanager's webhook format,
/// signed (checked with openssl), retried on 5xx with the same idempotency key, and written to
/// an outbox that survives SIGKILL.
@Suite(.serialized) struct WebhookTests {
    static let secret = "s3cret-for-tests"

    static func rulesFile(_ dir: TempDir) throws -> String {
        let path = dir.path + "/rules.yaml"
        try AlertingTests.rules.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `openssl dgst -sha256 -hmac SECRET` over `body`: an HMAC computed outside kpid.
    static func opensslHMAC(_ body: Data) throws -> String {
        let r = try runTool("/usr/bin/openssl", ["dgst", "-sha256", "-hmac", secret, "-r"], input: body)
        return String(r.output.split(separator: " ").first ?? "")
    }

    static func downLines(_ devices: [String], from t0: Int64, minutes: ClosedRange<Int>, value: Int = 0) -> String {
        var lines = ""
        for m in minutes {
            for d in devices {
                lines +=
                    #"{"metric":"device_up","labels":{"site":"JFK","device":"\#(d)"},"ts":\#(t0 + Int64(m) * 60_000),"value":\#(value)}"#
                    + "\n"
            }
        }
        return lines
    }

    @Test func receiverURLsAreShownWithoutCredentials() {
        #expect(OutboundHTTP.redacted("https://user:secret@itsm.example/hook?token=abc#x") == "https://itsm.example/hook")
        #expect(OutboundHTTP.redacted("http://127.0.0.1:9093") == "http://127.0.0.1:9093")
    }

    @Test func twoCamerasDownAreOneSignedNotificationAndOneResolution() throws {
        let dir = TempDir()
        let hook = try WebhookReceiver()
        defer { hook.server.stop() }
        let rules = try Self.rulesFile(dir)
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.ruleFiles = [rules]
            $0.webhooks = [WebhookTarget(url: hook.url, matchers: [try! LabelMatcher("severity", .equal, "page")])]
            $0.webhookSecret = Self.secret
            $0.webhookGroupWaitMs = 1000
            $0.webhookGroupIntervalMs = 1000
        }
        defer { kpid.stop() }
        awaitFirstRuleEvaluation { try? http("GET", kpid.base + "/api/v1/rules").text }
        let t0 = fixturesEndMs
        #expect(
            try kpid.ingest(Self.downLines(["cam-1", "cam-2"], from: t0, minutes: 0...5), contentType: "application/x-ndjson").status == 200
        )
        for m in [0, 5] {
            #expect(
                try http("POST", kpid.base + "/api/v1/admin/rules/evaluate?time=\(Double(t0 + Int64(m) * 60_000) / 1000)").status == 200)
        }
        #expect(hook.wait(seconds: 20) { !$0.isEmpty })
        Thread.sleep(forTimeInterval: 1.5)
        let first = try #require(hook.requests.first)
        #expect(hook.requests.count == 1, "\(hook.bodies)")
        // The signature is HMAC-SHA256 of the body under the secret, as openssl computes it.
        #expect(first.headers["x-kpid-signature-256"] == "sha256=" + (try Self.opensslHMAC(first.body)))
        let body = try #require(try JSONSerialization.jsonObject(with: first.body) as? [String: Any])
        #expect(body["version"] as? String == "4" && body["status"] as? String == "firing")
        #expect(body["groupKey"] as? String == #"{}:{alertname="DeviceDown", site="JFK"}"#)
        #expect(body["groupLabels"] as? [String: String] == ["alertname": "DeviceDown", "site": "JFK"])
        #expect(body["commonLabels"] as? [String: String] == ["alertname": "DeviceDown", "site": "JFK", "severity": "page"])
        let alerts = body["alerts"] as? [[String: Any]] ?? []
        #expect(alerts.count == 2)
        #expect(alerts.compactMap { ($0["labels"] as? [String: String])?["device"] }.sorted() == ["cam-1", "cam-2"])
        #expect(alerts.allSatisfy { ($0["fingerprint"] as? String)?.count == 16 && $0["endsAt"] as? String == "0001-01-01T00:00:00Z" })
        let keys = Set(alerts.compactMap { $0["idempotencyKey"] as? String })
        #expect(keys.count == 2)

        // Both back: one resolved notification, the same per-alert keys.
        #expect(
            try kpid.ingest(Self.downLines(["cam-1", "cam-2"], from: t0, minutes: 6...6, value: 1), contentType: "application/x-ndjson")
                .status == 200)
        #expect(try http("POST", kpid.base + "/api/v1/admin/rules/evaluate?time=\(Double(t0 + 6 * 60_000) / 1000)").status == 200)
        #expect(hook.wait(seconds: 20) { $0.count >= 2 })
        Thread.sleep(forTimeInterval: 1.5)
        #expect(hook.requests.count == 2)
        let resolved = try #require(hook.bodies.last)
        #expect(resolved["status"] as? String == "resolved")
        let resolvedAlerts = resolved["alerts"] as? [[String: Any]] ?? []
        #expect(Set(resolvedAlerts.compactMap { $0["idempotencyKey"] as? String }) == keys)
        #expect(resolvedAlerts.allSatisfy { $0["status"] as? String == "resolved" })
        #expect(
            try http("GET", kpid.base + "/metrics").text.contains(
                #"kpid_webhook_notifications_total{webhook="\#(hook.url)",result="delivered"} 2"#))
    }

    @Test func aFailingReceiverGetsTheSameNotificationAgainUntilItTakesIt() throws {
        let dir = TempDir()
        let hook = try WebhookReceiver(statuses: [503, 503])
        defer { hook.server.stop() }
        let rules = try Self.rulesFile(dir)
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.ruleFiles = [rules]
            $0.webhooks = [WebhookTarget(url: hook.url, matchers: [])]
            $0.webhookGroupWaitMs = 0
        }
        defer { kpid.stop() }
        awaitFirstRuleEvaluation { try? http("GET", kpid.base + "/api/v1/rules").text }
        let t0 = fixturesEndMs
        #expect(try kpid.ingest(Self.downLines(["cam-1"], from: t0, minutes: 0...5), contentType: "application/x-ndjson").status == 200)
        for m in [0, 5] {
            #expect(
                try http("POST", kpid.base + "/api/v1/admin/rules/evaluate?time=\(Double(t0 + Int64(m) * 60_000) / 1000)").status == 200)
        }
        // 503, retried after 1 s; 503, after 2 s; then taken.
        #expect(waitUntil(seconds: 30) { hook.requests.count >= 3 })
        Thread.sleep(forTimeInterval: 1)
        let requests = hook.requests
        #expect(requests.count == 3)
        #expect(Set(requests.map { $0.body }).count == 1)
        #expect(Set(requests.compactMap { $0.headers["x-kpid-idempotency-key"] }).count == 1)
        let metrics = try http("GET", kpid.base + "/metrics").text
        #expect(metrics.contains(#"kpid_webhook_failed_attempts_total{webhook="\#(hook.url)"} 2"#), "\(metrics)")
        #expect(metrics.contains("kpid_webhook_outbox_pending 0"))
    }

    @Test func notificationsOfAGroupArriveInOrderAfterTheReceiverWasDown() throws {
        let dir = TempDir()
        let hook = try WebhookReceiver(statuses: [503, 503])
        defer { hook.server.stop() }
        let rules = try Self.rulesFile(dir)
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.ruleFiles = [rules]
            $0.webhooks = [WebhookTarget(url: hook.url, matchers: [])]
            $0.webhookGroupWaitMs = 0
            $0.webhookGroupIntervalMs = 0
        }
        defer { kpid.stop() }
        awaitFirstRuleEvaluation { try? http("GET", kpid.base + "/api/v1/rules").text }
        let t0 = fixturesEndMs
        var lines = Self.downLines(["cam-1"], from: t0, minutes: 0...5)
        lines += Self.downLines(["cam-1"], from: t0, minutes: 6...6, value: 1)
        #expect(try kpid.ingest(lines, contentType: "application/x-ndjson").status == 200)
        // Fires at minute 5; the firing notification fails (503) while the resolution at
        // minute 6 joins the outbox behind it.
        for m in [0, 5] {
            #expect(
                try http("POST", kpid.base + "/api/v1/admin/rules/evaluate?time=\(Double(t0 + Int64(m) * 60_000) / 1000)").status == 200)
        }
        #expect(waitUntil(seconds: 10) { hook.requests.count >= 1 })
        #expect(try http("POST", kpid.base + "/api/v1/admin/rules/evaluate?time=\(Double(t0 + 6 * 60_000) / 1000)").status == 200)
        #expect(waitUntil(seconds: 30) { hook.requests.count >= 4 })
        Thread.sleep(forTimeInterval: 1)
        // 503, 503, then the firing one taken, then the resolution: never the other way round.
        let statuses = hook.bodies.map { $0["status"] as? String ?? "?" }
        #expect(statuses == ["firing", "firing", "firing", "resolved"], "\(statuses)")
    }

    @Test func anAlertWhoseRuleIsRemovedResolvesWhenItExpires() throws {
        let dir = TempDir()
        let hook = try WebhookReceiver()
        defer { hook.server.stop() }
        let rules = dir.path + "/rules.yaml"
        // Evaluated every second at the real now, over data sent up to now: the alert fires at
        // once and is sent again every 250 ms resend delay, so it stays valid for 4 s.
        try AlertingTests.rules.replacingOccurrences(of: "    rules:", with: "    interval: 1s\n    rules:")
            .replacingOccurrences(of: "for: 5m", with: "for: 0s").write(toFile: rules, atomically: true, encoding: .utf8)
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.ruleFiles = [rules]
            $0.webhooks = [WebhookTarget(url: hook.url, matchers: [])]
            $0.webhookGroupWaitMs = 0
            $0.webhookGroupIntervalMs = 0
            $0.alertResendDelayMs = 250
        }
        defer { kpid.stop() }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var lines = ""
        for m in 0...20 {
            lines +=
                #"{"metric":"device_up","labels":{"site":"JFK","device":"cam-1"},"ts":\#(now - 60_000 + Int64(m) * 3_000),"value":0}"#
                + "\n"
        }
        #expect(try kpid.ingest(lines, contentType: "application/x-ndjson").status == 200)
        #expect(hook.wait(seconds: 20) { $0.contains { $0["status"] as? String == "firing" } })
        // The rule is removed: nothing sends the alert any more; 4 s later it resolves.
        try "groups: []\n".write(toFile: rules, atomically: true, encoding: .utf8)
        #expect(try http("POST", kpid.base + "/api/v1/admin/rules/reload").status == 200)
        #expect(hook.wait(seconds: 20) { $0.contains { $0["status"] as? String == "resolved" } }, "\(hook.bodies)")
    }

    @Test func aNotificationWrittenBeforeSIGKILLIsDeliveredAfterTheRestart() throws {
        let dir = TempDir()
        let rules = try Self.rulesFile(dir)
        let port = try freeLoopbackPort()  // nothing listens there yet: every attempt fails
        let url = "http://127.0.0.1:\(port)/hook"
        let arguments = ["--rule-files", rules, "--webhook-url", url, "--webhook-group-wait", "0s", "--rule-evaluation-interval", "1d"]
        let first = try KpidProcess(data: dir.path + "/data", extraArguments: arguments)
        awaitFirstRuleEvaluation { try? http("GET", first.base + "/api/v1/rules").text }
        let t0 = fixturesEndMs
        #expect(
            try http(
                "POST", first.base + "/api/v1/ingest", body: Data(Self.downLines(["cam-9"], from: t0, minutes: 0...5).utf8),
                headers: ["Content-Type": "application/x-ndjson"]
            ).status == 200)
        for m in [0, 5] {
            #expect(
                try http("POST", first.base + "/api/v1/admin/rules/evaluate?time=\(Double(t0 + Int64(m) * 60_000) / 1000)").status == 200)
        }
        // The notification is in the outbox once a delivery has been tried and failed.
        #expect(
            waitUntil(seconds: 20) {
                (try? http("GET", first.base + "/metrics"))?.text.contains("kpid_webhook_failed_attempts_total{webhook=\"\(url)\"} 1")
                    == true
            })
        first.kill()
        let hook = try WebhookReceiver(port: port)
        defer { hook.server.stop() }
        let second = try KpidProcess(data: dir.path + "/data", extraArguments: arguments)
        defer { second.terminate() }
        #expect(hook.wait(seconds: 30) { !$0.isEmpty })
        Thread.sleep(forTimeInterval: 1)
        let delivered = hook.bodies
        #expect(!delivered.isEmpty && delivered.allSatisfy { $0["status"] as? String == "firing" })
        // Duplicates are allowed only with the same key.
        #expect(Set(hook.requests.compactMap { $0.headers["x-kpid-idempotency-key"] }).count == 1)
        let devices = delivered.flatMap {
            ($0["alerts"] as? [[String: Any]] ?? []).compactMap { ($0["labels"] as? [String: String])?["device"] }
        }
        #expect(Set(devices) == ["cam-9"])
    }
}
