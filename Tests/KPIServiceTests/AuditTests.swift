import Foundation
import KPIRuntime
import KPIService
import KPIStorage
import Testing

/// The audit log through HTTP: what is recorded, and `GET /api/v1/audit`.
@Suite(.serialized) struct AuditTests {
    func audit(_ s: SecuredService, _ admin: String, _ query: String = "") throws -> [[String: Any]] {
        let r = try s.get("/api/v1/audit" + query, token: admin)
        precondition(r.status == 200, "audit failed: \(r.status) \(r.text)")
        return r.json["data"] as? [[String: Any]] ?? []
    }

    @Test func queriesAdminActionsAndRefusalsAreRecorded() throws {
        let s = try SecuredService()
        let admin = try s.token(.admin, name: "ops")
        let grafana = try s.token(.read, name: "grafana")
        let writer = try s.token(.ingest, name: "camera-gateway")
        #expect(try s.ingest(threeSites, token: writer).status == 200)
        #expect(try s.get("/api/v1/series?match=occupancy_people", token: grafana).status == 200)
        #expect(try s.get("/api/v1/label/site/values", token: grafana).status == 200)
        #expect(try s.get("/api/v1/export?match=device_up", token: grafana).status == 200)
        #expect(try s.get("/api/v1/series?match=", token: grafana).status == 400)
        #expect(try s.get("/api/v1/tokens", token: grafana).status == 403)
        #expect(try s.get("/api/v1/labels", token: "kpid_guess").status == 401)
        #expect(try s.get("/metrics", token: grafana).status == 200)
        let created = try curl(
            "POST", s.kpid.base + "/api/v1/tokens", body: Data(#"{"role":"ingest","name":"new gateway"}"#.utf8),
            headers: ["Authorization": "Bearer \(admin)"])
        #expect(created.status == 201)

        let byGrafana = try audit(s, admin, "?principal=grafana")
        #expect(
            byGrafana.map { $0["action"] as? String } == [
                "GET /api/v1/series", "GET /api/v1/label/:name/values /api/v1/label/site/values", "GET /api/v1/export",
                "GET /api/v1/series", "GET /api/v1/tokens",
            ])
        #expect(byGrafana.map { $0["status"] as? Int } == [200, 200, 200, 400, 403])
        // Rows: 3 occupancy series, 3 site values, 1 device_up series, none for the refusals.
        #expect(byGrafana.map { $0["rows"] as? Int } == [3, 3, 1, nil, nil])
        #expect(byGrafana[0]["detail"] as? String == "match=occupancy_people")
        for entry in byGrafana {
            #expect(entry["remote"] as? String == "127.0.0.1")
            #expect((entry["elapsed_ms"] as? Double ?? -1) >= 0)
            #expect(entry["token_id"] is Int)
            let ts = entry["ts"] as? Int64 ?? 0
            #expect(abs(ts - Int64(Date().timeIntervalSince1970 * 1000)) < 600_000)
        }

        let everything = try audit(s, admin)
        let actions = everything.map {
            "\($0["principal"] as? String ?? "?") \($0["action"] as? String ?? "?") \($0["status"] as? Int ?? 0)"
        }
        // Refusals: the 403 (known token, wrong role) and the 401 (no principal).
        #expect(actions.contains("grafana GET /api/v1/tokens 403"))
        #expect(actions.contains("- GET /api/v1/labels 401"))
        // The admin's token creation, with what was created (never the token itself).
        let creation = try #require(everything.first { ($0["action"] as? String) == "POST /api/v1/tokens" })
        #expect(creation["principal"] as? String == "ops")
        #expect((creation["detail"] as? String)?.contains("role=ingest") == true)
        #expect((creation["detail"] as? String)?.contains("kpid_") == false)
        // Writes and scrapes are not queries: not in the log.
        #expect(!actions.contains { $0.contains("/api/v1/ingest") || $0.contains("/metrics") })
        #expect(everything.allSatisfy { ($0["principal"] as? String) != "camera-gateway" })

        // Time filters and validation.
        #expect(try audit(s, admin, "?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z").isEmpty)
        #expect(try audit(s, admin, "?limit=2").count == 2)
        let bad = try s.get("/api/v1/audit?from=yesterday", token: admin)
        #expect(bad.status == 400)
        #expect((bad.json["details"] as? [[String: Any]])?.first?["field"] as? String == "from")
    }

    /// A query stopped at its timeout (here a catastrophically backtracking pattern) is
    /// recorded with its 503 and its statement, like any other answer.
    @Test func timedOutQueriesAreRecorded() throws {
        let s = try SecuredService()
        let admin = try s.token(.admin, name: "ops")
        let reader = try s.token(.read, name: "analyst")
        // 20 values of 1,000 a's: each takes the backtracking engine about half a second.
        let run = String(repeating: "a", count: 1_000)
        let lines = (0..<20).map { #"{"metric":"queue","labels":{"zone":"\#(run)\#($0)"},"ts":1795392000000,"value":1}"# }
        #expect(try s.ingest(lines.joined(separator: "\n"), token: try s.token(.ingest)).status == 200)
        let sql = "SELECT count(*) FROM queue WHERE zone ~ '^(a+)+b'"
        #expect(try s.get("/api/v1/sql?timeout=1s&query=" + percentEncoded(sql), token: reader).status == 503)
        let promql = #"queue{zone=~"(a+)+b"}"#
        #expect(try s.get("/api/v1/query?time=1795392000&timeout=1s&query=" + percentEncoded(promql), token: reader).status == 503)
        let entries = try audit(s, admin, "?principal=analyst")
        #expect(entries.map { $0["status"] as? Int } == [503, 503], "\(entries)")
        #expect(entries.map { $0["action"] as? String } == ["GET /api/v1/sql", "GET /api/v1/query"])
        #expect((entries.first?["detail"] as? String)?.contains("(a+)+b") == true, "\(entries)")
    }

    @Test func withAuthenticationOffTheCallerIsAnonymous() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data")
        #expect(try http("GET", kpid.base + "/api/v1/labels").status == 200)
        let r = try http("GET", kpid.base + "/api/v1/audit?principal=anonymous")
        let entries = r.json["data"] as? [[String: Any]] ?? []
        #expect(entries.first?["action"] as? String == "GET /api/v1/labels")
        #expect(entries.first?["token_id"] is NSNull)
    }

    @Test func entriesQueuedWhileTheDatabaseIsLockedAreWrittenLater() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data")
        // Another connection holds the write lock: audit writes cannot happen, queries must
        // still be answered (the log is written off the request path), and nothing is lost.
        let blocker = try SQLiteConnection(path: kpid.service.configuration.databasePath)
        try blocker.execute("BEGIN IMMEDIATE")
        for i in 0..<30 { #expect(try http("GET", kpid.base + "/api/v1/labels?blocked=\(i)").status == 200) }
        // Let the writer thread try (and fail) at least once before the lock goes.
        Thread.sleep(forTimeInterval: 1.5)
        try blocker.execute("COMMIT")
        blocker.close()
        let r = try http("GET", kpid.base + "/api/v1/audit?limit=1000")
        let details = (r.json["data"] as? [[String: Any]] ?? []).compactMap { $0["detail"] as? String }
        #expect(details.filter { $0.hasPrefix("blocked=") } == (0..<30).map { "blocked=\($0)" })
    }

    @Test func entriesSurviveARestart() throws {
        let dir = TempDir()
        var kpid: RunningService? = try RunningService(data: dir.path + "/data")
        for i in 0..<50 { #expect(try http("GET", kpid!.base + "/api/v1/labels?n=\(i)").status == 200) }
        kpid!.stop()
        kpid = nil
        let again = try RunningService(data: dir.path + "/data")
        let r = try http("GET", again.base + "/api/v1/audit?limit=1000")
        let details = (r.json["data"] as? [[String: Any]] ?? []).compactMap { $0["detail"] as? String }
        #expect(details.filter { $0.hasPrefix("n=") } == (0..<50).map { "n=\($0)" })
    }
}
