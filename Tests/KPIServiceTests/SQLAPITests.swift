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

    /// Sealed chunks are read as rollup buckets over HTTP, with the same answer as from the
    /// samples (`?rollups=false`), and still after a restart (the rollups come from the file).
    @Test func rollupsAnswerLikeSamplesAndSurviveARestart() throws {
        let dir = TempDir()
        // 3,000 samples 10 s apart (8 h 20 min): what is older than the 1 h out-of-order
        // window is sealed into 512-sample chunks with rollups.
        let lines = (0..<3_000).map {
            #"{"metric":"queue_length_people","labels":{"site":"JFK"},"ts":\#(Self.t0 + Int64($0) * 10_000),"value":\#($0 % 9)}"#
        }
        let query = percentEncoded(
            "SELECT time_bucket('1h', ts) AS h, avg(value) AS a, max(value) AS m, count(*) AS n FROM queue_length_people "
                + "GROUP BY h ORDER BY h")
        func ask(_ kpid: RunningService, _ extra: String = "") throws -> (rows: [[Any]], stats: [String: NSNumber]) {
            let r = try http("GET", kpid.base + "/api/v1/sql?query=\(query)" + extra)
            #expect(r.status == 200)
            return ((r.json["rows"] as? [[Any]]) ?? [], (r.json["stats"] as? [String: NSNumber]) ?? [:])
        }
        var expected: [[Double]] = []
        do {
            let kpid = try RunningService(data: dir.path)
            #expect(try kpid.ingest(lines.joined(separator: "\n"), contentType: "application/x-ndjson").status == 200)
            let viaRollups = try ask(kpid)
            let viaSamples = try ask(kpid, "&rollups=false")
            #expect(viaRollups.stats["rollup_buckets_scanned"]!.intValue > 0)
            #expect(viaRollups.stats["samples_from_rollups"]!.intValue >= 1_024)
            #expect(viaSamples.stats["rollup_buckets_scanned"]!.intValue == 0)
            #expect(viaSamples.stats["samples_scanned"]!.intValue == 3_000)
            func numbers(_ rows: [[Any]]) -> [[Double]] { rows.map { $0.dropFirst().map { ($0 as? NSNumber)?.doubleValue ?? .nan } } }
            expected = numbers(viaSamples.rows)
            #expect(expected.count == 9)
            // Hand-computed: a full hour holds 360 samples, 40 of each of 0...8: mean 4, max 8.
            #expect(expected[1] == [4, 8, 360])
            #expect(numbers(viaRollups.rows) == expected)
            let bad = try http("GET", kpid.base + "/api/v1/sql?query=\(query)&rollups=maybe")
            #expect(bad.status == 400)
            #expect((bad.json["error"] as? String)?.contains("rollups") == true)
            kpid.stop()
        }
        let again = try RunningService(data: dir.path)
        let reloaded = try ask(again)
        #expect(reloaded.stats["rollup_buckets_scanned"]!.intValue > 0)
        #expect(reloaded.rows.map { $0.dropFirst().map { ($0 as? NSNumber)?.doubleValue ?? .nan } } == expected)
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
