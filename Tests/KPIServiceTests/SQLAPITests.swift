import Foundation
import Testing

/// `/api/v1/sql` through real HTTP: JSON and CSV answers, parameters, errors with positions,
/// limits.
@Suite(.serialized) struct SQLAPITests {
    /// 2026-11-16T00:00:00Z.
    static let t0: Int64 = 1_794_787_200_000

    func load(_ kpid: RunningService) throws {
        var lines: [String] = []
        for (zone, values) in [("T4-A", [10.0, 20, 30]), ("T4-B", [5.0, 15, 25])] {
            for (i, v) in values.enumerated() {
                lines.append(
                    #"{"metric":"queue_wait_seconds","labels":{"site":"JFK","zone":"\#(zone)"},"ts":\#(Self.t0 + Int64(i) * 1_800_000),"value":\#(v)}"#
                )
            }
        }
        lines.append(#"{"metric":"queue_wait_seconds","labels":{"site":"LHR","zone":"a,\"b\""},"ts":\#(Self.t0),"value":7.5}"#)
        #expect(try kpid.ingest(lines.joined(separator: "\n"), contentType: "application/x-ndjson").status == 200)
    }

    @Test func jsonAnswerWithColumnsRowsAndStats() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        try load(kpid)
        let query = """
            SELECT time_bucket('1h', ts) AS hour, zone, avg(value) AS avg_wait, count(*) AS n
            FROM queue_wait_seconds WHERE site = 'JFK' GROUP BY hour, zone ORDER BY hour, zone
            """
        let r = try http("POST", kpid.base + "/api/v1/sql", body: Data(query.utf8), headers: ["Content-Type": "text/plain"])
        #expect(r.status == 200)
        let columns = r.json["columns"] as? [[String: String]]
        #expect(columns?.map { $0["name"]! } == ["hour", "zone", "avg_wait", "n"])
        #expect(columns?.map { $0["type"]! } == ["timestamp", "string", "double", "integer"])
        let rows = r.json["rows"] as? [[Any]]
        // Hour 0 holds the samples at +0 and +30 min, hour 1 the one at +60 min.
        #expect(rows?.count == 4)
        #expect(rows?[0][0] as? String == "2026-11-16T00:00:00Z")
        #expect(rows?[0][1] as? String == "T4-A")
        #expect((rows?[0][2] as? NSNumber)?.doubleValue == 15)
        #expect((rows?[0][3] as? NSNumber)?.intValue == 2)
        #expect((rows?[3][2] as? NSNumber)?.doubleValue == 25)
        let stats = r.json["stats"] as? [String: Any]
        #expect((stats?["series_scanned"] as? NSNumber)?.intValue == 2)
        #expect((stats?["samples_scanned"] as? NSNumber)?.intValue == 6)
        #expect(stats?["elapsed_ms"] is NSNumber)
    }

    @Test func jsonBodyWithTypedParameters() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        try load(kpid)
        let body: [String: Any] = [
            "query": "SELECT count(*) AS n, sum(value) AS s FROM queue_wait_seconds WHERE site = :site AND value > :min",
            "params": ["site": "JFK", "min": 12],
        ]
        let r = try http(
            "POST", kpid.base + "/api/v1/sql", body: try JSONSerialization.data(withJSONObject: body),
            headers: ["Content-Type": "application/json"])
        #expect(r.status == 200)
        let row = (r.json["rows"] as? [[NSNumber]])?.first
        #expect(row?.map(\.doubleValue) == [4, 90])
        // A parameter is a value, never SQL text.
        let injection: [String: Any] = [
            "query": "SELECT count(*) AS n FROM queue_wait_seconds WHERE site = :site", "params": ["site": "JFK' OR 'x'='x"],
        ]
        let safe = try http(
            "POST", kpid.base + "/api/v1/sql", body: try JSONSerialization.data(withJSONObject: injection),
            headers: ["Content-Type": "application/json"])
        #expect((safe.json["rows"] as? [[NSNumber]])?.first?.first?.intValue == 0)
    }

    @Test func csvIsRFC4180() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        try load(kpid)
        let q = percentEncoded("SELECT zone, value FROM queue_wait_seconds WHERE site = 'LHR'")
        let r = try http("GET", kpid.base + "/api/v1/sql?query=\(q)", headers: ["Accept": "text/csv"])
        #expect(r.status == 200)
        #expect(r.headers["content-type"]?.hasPrefix("text/csv") == true)
        #expect(r.text == "zone,value\r\n\"a,\"\"b\"\"\",7.5\r\n")
        let byFormat = try http("GET", kpid.base + "/api/v1/sql?format=csv&query=\(q)")
        #expect(byFormat.text == r.text)
        let form = try http(
            "POST", kpid.base + "/api/v1/sql", body: Data("format=csv&query=\(q)".utf8),
            headers: ["Content-Type": "application/x-www-form-urlencoded"])
        #expect(form.text == r.text)
    }

    @Test func errorsCarryPositionAndHint() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        try load(kpid)
        let r = try http(
            "POST", kpid.base + "/api/v1/sql", body: Data("SELECT avg(value)\nFROM queue_wait_secs".utf8),
            headers: ["Content-Type": "text/plain"])
        #expect(r.status == 400)
        #expect(r.json["error"] as? String == "unknown metric \"queue_wait_secs\"")
        let position = r.json["position"] as? [String: Int]
        #expect(position == ["line": 2, "column": 6])
        #expect(r.json["hint"] as? String == "did you mean queue_wait_seconds?")
        let syntax = try http(
            "POST", kpid.base + "/api/v1/sql", body: Data("SELECT value FROM queue_wait_seconds WHERE".utf8),
            headers: ["Content-Type": "text/plain"])
        #expect(syntax.status == 400)
        #expect((syntax.json["position"] as? [String: Int])?["column"] == 43)
        let missing = try http("GET", kpid.base + "/api/v1/sql")
        #expect(missing.status == 400)
    }

    @Test func limitsAnswer422() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path) { $0.queryMaxRows = 3 }
        try load(kpid)
        let r = try http(
            "POST", kpid.base + "/api/v1/sql", body: Data("SELECT ts, value FROM queue_wait_seconds".utf8),
            headers: ["Content-Type": "text/plain"])
        #expect(r.status == 422)
        #expect((r.json["error"] as? String)?.contains("more than 3 rows") == true)
        let limited = try http(
            "POST", kpid.base + "/api/v1/sql", body: Data("SELECT ts, value FROM queue_wait_seconds ORDER BY value LIMIT 3".utf8),
            headers: ["Content-Type": "text/plain"])
        #expect(limited.status == 200)
    }
}
