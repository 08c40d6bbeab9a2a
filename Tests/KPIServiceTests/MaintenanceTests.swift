import Foundation
import KPICore
import KPIRuntime
import Testing

/// Maintenance windows: stored and audited over the API with their errors named, and while a
/// window runs its alerts are evaluated but reach no receiver.
@Suite(.serialized) struct MaintenanceTests {
    static func post(_ base: String, _ json: String) throws -> ClientResponse {
        try http("POST", base + "/api/v1/maintenance", body: Data(json.utf8), headers: ["Content-Type": "application/json"])
    }

    @Test func windowsAreStoredListedEndedDeletedAndAudited() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data") { $0.clock = .pinned(at: fixturesEndMs) }
        defer { kpid.stop() }
        let start = fixturesEndMs / 1000 - 3600
        let end = fixturesEndMs / 1000 + 3600
        let created = try Self.post(
            kpid.base, #"{"site":"JFK","matchers":"{device=\"cam-7\"}","start":\#(start),"end":\#(end),"reason":"firmware upgrade"}"#)
        #expect(created.status == 201, "\(created.text)")
        let object = try #require(try JSONSerialization.jsonObject(with: created.body) as? [String: Any])
        let window = try #require(object["data"] as? [String: Any])
        let id = try #require(window["id"] as? Int)
        #expect(window["matchers"] as? String == #"{device="cam-7",site="JFK"}"#)
        #expect(window["active"] as? Bool == true && window["author"] as? String == "anonymous")
        // Refusals name the field.
        for (body, field) in [
            (#"{"site":"JFK","start":\#(end),"end":\#(start),"reason":"x"}"#, "end"),
            (#"{"site":"JFK","start":\#(start),"end":\#(end)}"#, "reason"),
            (#"{"start":\#(start),"end":\#(end),"reason":"x"}"#, "matchers"),
            (#"{"matchers":"{device=","start":\#(start),"end":\#(end),"reason":"x"}"#, "matchers"),
            (#"{"site":"JFK","start":"soon","end":\#(end),"reason":"x"}"#, "start"),
            (#"{"site":"JFK","start":\#(start),"end":\#(end),"reason":"x","color":"red"}"#, "color"),
        ] {
            let r = try Self.post(kpid.base, body)
            #expect(r.status == 400 && r.text.contains("\"\(field)\""), "\(body): \(r.status) \(r.text)")
        }
        #expect(try http("GET", kpid.base + "/api/v1/maintenance").text.contains("firmware upgrade"))
        #expect(try http("POST", kpid.base + "/api/v1/maintenance/\(id)/end").status == 200)
        let listed = try http("GET", kpid.base + "/api/v1/maintenance").text
        #expect(listed.contains("\"active\":false"), "\(listed)")
        #expect(try http("DELETE", kpid.base + "/api/v1/maintenance/\(id)").status == 200)
        #expect(try http("DELETE", kpid.base + "/api/v1/maintenance/\(id)").status == 404)
        let audit = try http("GET", kpid.base + "/api/v1/audit?limit=50").text
        #expect(audit.contains("maintenance window \(id)") && audit.contains("firmware upgrade"), "\(audit.prefix(500))")
    }

    @Test func aCameraInAWindowIsNotNotifiedAndOneOutsideIs() throws {
        let dir = TempDir()
        let hook = try WebhookReceiver()
        defer { hook.server.stop() }
        let rules = try WebhookTests.rulesFile(dir)
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.ruleFiles = [rules]
            $0.webhooks = [WebhookTarget(url: hook.url, matchers: [])]
            $0.webhookGroupWaitMs = 0
            $0.webhookGroupBy = ["alertname", "site", "device"]
        }
        defer { kpid.stop() }
        awaitFirstRuleEvaluation { try? http("GET", kpid.base + "/api/v1/rules").text }
        let t0 = fixturesEndMs
        let window = try Self.post(
            kpid.base,
            #"{"site":"JFK","matchers":"{device=\"cam-7\"}","start":\#(t0 / 1000 - 600),"end":\#(t0 / 1000 + 3600),"reason":"lens cleaning"}"#
        )
        #expect(window.status == 201)
        #expect(
            try kpid.ingest(WebhookTests.downLines(["cam-7", "cam-8"], from: t0, minutes: 0...5), contentType: "application/x-ndjson")
                .status == 200)
        for m in [0, 5] {
            #expect(
                try http("POST", kpid.base + "/api/v1/admin/rules/evaluate?time=\(Double(t0 + Int64(m) * 60_000) / 1000)").status == 200)
        }
        #expect(hook.wait(seconds: 20) { !$0.isEmpty })
        Thread.sleep(forTimeInterval: 1.5)
        let devices = hook.bodies.flatMap {
            ($0["alerts"] as? [[String: Any]] ?? []).compactMap { ($0["labels"] as? [String: String])?["device"] }
        }
        #expect(devices == ["cam-8"], "\(hook.bodies)")
        // Both still evaluate: the API lists both as firing.
        let alerts = try http("GET", kpid.base + "/api/v1/alerts").text
        #expect(alerts.contains("cam-7") && alerts.contains("cam-8"), "\(alerts)")
    }

    @Test func downtimeInAWindowIsPlannedNotUnknown() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data") {
            KPIAPITests.configure(&$0)
            $0.clock = .pinned(at: fixturesEndMs + 3 * 3_600_000)
        }
        defer { kpid.stop() }
        // cam-7 down from t0 for 60 minutes (a probe each minute), up from minute 60; a window
        // for it over minutes 30-50: 40 minutes of unknown downtime, 20 planned, one incident.
        let t0 = fixturesEndMs
        var lines = WebhookTests.downLines(["cam-7"], from: t0, minutes: 0...59)
        lines += WebhookTests.downLines(["cam-7"], from: t0, minutes: 60...120, value: 1)
        lines += WebhookTests.downLines(["cam-7"], from: t0 - 3_600_000, minutes: 0...59, value: 1)
        #expect(try kpid.ingest(lines, contentType: "application/x-ndjson").status == 200)
        let window = try Self.post(
            kpid.base,
            #"{"site":"JFK","matchers":"{device=\"cam-7\"}","start":\#(t0 / 1000 + 1800),"end":\#(t0 / 1000 + 3000),"reason":"planned"}"#)
        #expect(window.status == 201, "\(window.text)")
        let from = rfc3339Text(t0 - 3_600_000)
        let to = rfc3339Text(t0 + 2 * 3_600_000)
        let r = try http("GET", kpid.base + "/api/v1/kpis?site=JFK&template=security-operations&from=\(from)&to=\(to)")
        #expect(r.status == 200, "\(r.text)")
        let kpis = KPIAPITests().kpis(r, template: "security-operations")
        #expect(kpis["downtime"]?["value"] as? Double == 40, "\(kpis["downtime"] ?? [:])")
        #expect(kpis["planned_downtime"]?["value"] as? Double == 20, "\(kpis["planned_downtime"] ?? [:])")
        #expect(kpis["incidents"]?["value"] as? Double == 1)
        // The outage was repaired outside the window: its whole 60 minutes are its repair time.
        #expect(kpis["mttr"]?["value"] as? Double == 60)
    }
}

/// RFC 3339 of a time in ms (UTC, whole seconds).
func rfc3339Text(_ ms: Int64) -> String {
    let f = ISO8601DateFormatter()
    f.timeZone = TimeZone(identifier: "UTC")
    return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
}

/// Maintenance windows from `maintenance-file`: listed beside the API's, read-only over the
/// API, errors naming the entry and field.
@Suite struct MaintenanceFileTests {
    @Test func fileWindowsAreListedAndReadOnly() throws {
        let dir = TempDir()
        let file = dir.path + "/maintenance.yaml"
        try """
        windows:
          - site: JFK
            matchers: '{device="cam-7"}'
            start: 2026-11-22T02:00:00Z
            end: 2026-11-22T04:00:00Z
            reason: firmware upgrade
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.maintenanceFile = file
            $0.clock = .pinned(at: fixturesEndMs)
        }
        defer { kpid.stop() }
        let list = try http("GET", kpid.base + "/api/v1/maintenance").text
        #expect(list.contains(#""matchers":"{device=\"cam-7\",site=\"JFK\"}""#) && list.contains(#""source":"file""#), "\(list)")
        #expect(list.contains(#""start":"2026-11-22T02:00:00Z""#) && list.contains(#""id":-1"#), "\(list)")
        #expect(try http("DELETE", kpid.base + "/api/v1/maintenance/-1").status == 409)
        // A bad file on reload is refused, naming the window and field; the old windows stay.
        try "windows:\n  - site: JFK\n    start: 2026-11-22T02:00:00Z\n    end: 2026-11-22T01:00:00Z\n    reason: x\n".write(
            toFile: file, atomically: true, encoding: .utf8)
        let r = try http("POST", kpid.base + "/api/v1/admin/rules/reload")
        #expect(r.status == 400 && r.text.contains("window #1: end"), "\(r.text)")
        #expect(try http("GET", kpid.base + "/api/v1/maintenance").text.contains("firmware upgrade"))
    }
}
