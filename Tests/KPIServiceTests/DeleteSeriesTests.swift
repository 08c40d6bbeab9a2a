import Foundation
import KPIRuntime
import KPIService
import KPIStorage
import Synchronization
import Testing

/// One exported sample: series text, timestamp, value.
struct ExportedSample: Hashable {
    var series: String
    var ts: Int64
    var value: Double
}

/// Reads one number from a real SQLite file (the service must be stopped or idle).
func sqliteInt(_ path: String, _ sql: String) throws -> Int64 {
    let connection = try SQLiteConnection(path: path, readOnly: true)
    defer { connection.close() }
    let statement = try connection.prepare(sql)
    guard try statement.step() else { return 0 }
    return statement.int64(at: 0)
}

/// ndjson lines for `metric{site}` at `timestamps` with values `value(ts)`.
func ndjson(_ metric: String, site: String, _ timestamps: [Int64], value: (Int64) -> Double) -> String {
    timestamps.map { #"{"metric":"\#(metric)","labels":{"site":"\#(site)"},"ts":\#($0),"value":\#(value($0))}"# }
        .joined(separator: "\n")
}

func exportSet(_ base: String, _ selector: String) throws -> Set<ExportedSample> {
    let r = try http("GET", base + "/api/v1/export?match=" + percentEncoded(selector))
    guard r.status == 200 else { throw TestFailure("export \(selector): \(r.status) \(r.text)") }
    var out = Set<ExportedSample>()
    for line in r.text.split(separator: "\n") {
        let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        let labels = (o["labels"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let value = (o["value"] as? NSNumber)?.doubleValue ?? .nan
        out.insert(
            ExportedSample(
                series: "\(o["metric"]!){\(labels.joined(separator: ","))}", ts: (o["ts"] as! NSNumber).int64Value, value: value))
    }
    return out
}

/// `DELETE /api/v1/series` and Prometheus' `delete_series`: exactly the selected samples go,
/// durably (restart, SIGKILL), and concurrent ingest of other series loses nothing.
@Suite(.serialized) struct DeleteSeriesTests {
    static let t0: Int64 = 1_762_000_000_000
    /// 200 samples a minute apart: with a 1 s out-of-order window and 16-sample chunks, most
    /// are sealed into chunks and the newest stay in the head.
    static let timestamps = (0..<200).map { t0 + Int64($0) * 60_000 }

    static func seconds(_ ms: Int64) -> String { String(ms / 1000) }

    func ingest(_ base: String, _ body: String) throws {
        let r = try http("POST", base + "/api/v1/ingest", body: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"])
        guard r.status == 200 else { throw TestFailure("ingest: \(r.status) \(r.text)") }
    }

    func delete(_ base: String, _ query: String) throws -> ClientResponse {
        try http("DELETE", base + "/api/v1/series?" + query)
    }

    @Test func deletesExactlyTheSelectedSamplesAndSurvivesRestart() throws {
        let dir = TempDir()
        let configure: (inout ServiceConfiguration) -> Void = {
            $0.chunkSize = 16
            $0.outOfOrderWindowMs = 1000
        }
        var service = try RunningService(data: dir.path, configure: configure)
        let ts = DeleteSeriesTests.timestamps
        try ingest(service.base, ndjson("del_m", site: "JFK", ts) { Double(($0 - DeleteSeriesTests.t0) / 60_000) })
        try ingest(service.base, ndjson("del_m", site: "LHR", ts) { Double(($0 - DeleteSeriesTests.t0) / 1000) + 0.5 })
        try ingest(service.base, ndjson("other_m", site: "JFK", ts) { -Double(($0 - DeleteSeriesTests.t0) / 60_000) })
        let before = try exportSet(service.base, "{__name__=~\"del_m|other_m\"}")
        #expect(before.count == 600)
        #expect(service.service.store.stats.chunkCount >= 3 * 11)

        // Samples 50...120 of JFK (start and end inclusive, in unix seconds).
        let start = ts[50]
        let end = ts[120]
        let r = try delete(
            service.base,
            "match%5B%5D=" + percentEncoded("del_m{site=\"JFK\"}")
                + "&start=\(DeleteSeriesTests.seconds(start))&end=\(DeleteSeriesTests.seconds(end))")
        #expect(r.status == 200, "\(r.text)")
        let data = r.json["data"] as? [String: Any] ?? [:]
        #expect((data["samples_deleted"] as? NSNumber)?.intValue == 71)
        #expect((data["series_removed"] as? NSNumber)?.intValue == 0)
        var expected = before.filter { !($0.series == "del_m{site=JFK}" && $0.ts >= start && $0.ts <= end) }
        #expect(expected.count == 600 - 71)
        #expect(try exportSet(service.base, "{__name__=~\"del_m|other_m\"}") == expected)

        // All of LHR: the series goes, and with it the label value LHR.
        let all = try delete(service.base, "match%5B%5D=" + percentEncoded("del_m{site=\"LHR\"}"))
        #expect(all.status == 200, "\(all.text)")
        #expect(((all.json["data"] as? [String: Any])?["series_removed"] as? NSNumber)?.intValue == 1)
        expected = expected.filter { $0.series != "del_m{site=LHR}" }
        #expect(try exportSet(service.base, "{__name__=~\"del_m|other_m\"}") == expected)
        let values = try http("GET", service.base + "/api/v1/label/site/values")
        #expect((values.json["data"] as? [String]) == ["JFK"])
        let listed = try http("GET", service.base + "/api/v1/series?match%5B%5D=del_m")
        #expect((listed.json["data"] as? [[String: String]])?.map { $0["site"] ?? "" } == ["JFK"])

        // Prometheus' shape: form body, 204. Deletes other_m samples 0...9.
        let form = "match[]=" + percentEncoded("other_m") + "&end=" + DeleteSeriesTests.seconds(ts[9])
        let p = try http(
            "POST", service.base + "/api/v1/admin/tsdb/delete_series", body: Data(form.utf8),
            headers: ["Content-Type": "application/x-www-form-urlencoded"])
        #expect(p.status == 204, "\(p.text)")
        expected = expected.filter { !($0.series == "other_m{site=JFK}" && $0.ts <= ts[9]) }
        #expect(try exportSet(service.base, "{__name__=~\"del_m|other_m\"}") == expected)

        service.stop()
        let db = dir.path + "/kpid.sqlite"
        #expect(try sqliteInt(db, "SELECT count(*) FROM series WHERE labels_text LIKE '%LHR%'") == 0)
        #expect(try sqliteInt(db, "SELECT count(*) FROM series") == 2)
        service = try RunningService(data: dir.path, configure: configure)
        #expect(try exportSet(service.base, "{__name__=~\"del_m|other_m\"}") == expected)
        #expect((try http("GET", service.base + "/api/v1/label/site/values").json["data"] as? [String]) == ["JFK"])
        service.stop()
    }

    @Test func refusesMissingOrEverythingSelectors() throws {
        let dir = TempDir()
        let service = try RunningService(data: dir.path)
        try ingest(service.base, ndjson("a_m", site: "JFK", [DeleteSeriesTests.t0]) { _ in 1 })
        try ingest(service.base, ndjson("b_m", site: "JFK", [DeleteSeriesTests.t0]) { _ in 2 })
        let none = try http("DELETE", service.base + "/api/v1/series")
        #expect(none.status == 400)
        #expect(none.text.contains("match[]"))
        let everything = try delete(service.base, "match%5B%5D=" + percentEncoded("{__name__=~\".+\"}"))
        #expect(everything.status == 400)
        #expect(everything.text.contains("all=true"))
        let empty = try delete(service.base, "match%5B%5D=" + percentEncoded("{site=~\".*\"}"))
        #expect(empty.status == 400)
        let badRange = try delete(service.base, "match%5B%5D=a_m&start=20&end=10")
        #expect(badRange.status == 400)
        #expect(badRange.text.contains("end"))
        // Nothing was deleted by the refusals.
        #expect(try exportSet(service.base, "{__name__=~\"a_m|b_m\"}").count == 2)
        let explicit = try delete(service.base, "match%5B%5D=" + percentEncoded("{__name__=~\".+\"}") + "&all=true")
        #expect(explicit.status == 200)
        #expect(try exportSet(service.base, "{__name__=~\"a_m|b_m\"}").isEmpty)
        // GET on the same path still lists series (the route table picks by method).
        #expect(try http("GET", service.base + "/api/v1/series?match%5B%5D=a_m").status == 200)
        service.stop()
    }

    /// Admin only; a site-limited admin deletes only in its sites; the deletion is audited.
    @Test func adminOnlySiteScopedAndAudited() throws {
        let s = try SecuredService()
        let writer = try s.token(.ingest, name: "gateway")
        let reader = try s.token(.read, name: "grafana")
        let admin = try s.token(.admin, name: "ops")
        let jfkAdmin = try s.token(.admin, sites: ["JFK"], name: "jfk-ops")
        #expect(try s.ingest(threeSites, token: writer).status == 200)
        let url = s.kpid.base + "/api/v1/series?match%5B%5D=occupancy_people"
        #expect(try curl("DELETE", url, headers: ["Authorization": "Bearer \(reader)"]).status == 403)
        #expect(try curl("DELETE", url).status == 401)
        let r = try curl("DELETE", url, headers: ["Authorization": "Bearer \(jfkAdmin)"])
        #expect(r.status == 200, "\(r.text)")
        #expect(((r.json["data"] as? [String: Any])?["samples_deleted"] as? NSNumber)?.intValue == 1)
        #expect(try s.sitesSeen(admin, selector: "occupancy_people") == ["LAX", "ORD"])
        let entries = try s.get("/api/v1/audit?principal=jfk-ops", token: admin).json["data"] as? [[String: Any]] ?? []
        let entry = try #require(entries.first { ($0["action"] as? String) == "DELETE /api/v1/series" })
        #expect(entry["status"] as? Int == 200)
        #expect(entry["rows"] as? Int == 1)
        #expect((entry["detail"] as? String)?.contains("delete series occupancy_people") == true)
        // The refused attempt is audited too.
        let refused = try s.get("/api/v1/audit?principal=grafana", token: admin).json["data"] as? [[String: Any]] ?? []
        #expect(refused.contains { ($0["action"] as? String) == "DELETE /api/v1/series" && ($0["status"] as? Int) == 403 })
    }

    /// SIGKILL right after the answer: samples still in write-ahead rows when the delete came
    /// must not come back on recovery; samples acknowledged after it must.
    @Test(arguments: [["--chunk-size", "16", "--out-of-order-window", "1s"], ["--checkpoint-interval", "100ms"]])
    func sigkillAfterDeleteNeverResurrects(arguments: [String]) throws {
        let dir = TempDir()
        let ts = DeleteSeriesTests.timestamps
        var kpid = try KpidProcess(data: dir.path, extraArguments: arguments)
        try ingest(kpid.base, ndjson("crash_del", site: "JFK", ts) { Double($0 % 1000) + 1 })
        try ingest(kpid.base, ndjson("crash_del", site: "LHR", ts) { Double($0 % 1000) + 2 })
        try ingest(kpid.base, ndjson("crash_keep", site: "JFK", ts) { Double($0 % 1000) + 3 })
        let before = try exportSet(kpid.base, "{__name__=~\"crash_.*\"}")
        #expect(before.count == 600)
        let d1 = try delete(
            kpid.base,
            "match%5B%5D=" + percentEncoded("crash_del{site=\"JFK\"}")
                + "&start=\(DeleteSeriesTests.seconds(ts[10]))&end=\(DeleteSeriesTests.seconds(ts[189]))")
        #expect(d1.status == 200)
        let d2 = try delete(kpid.base, "match%5B%5D=" + percentEncoded("crash_del{site=\"LHR\"}"))
        #expect(d2.status == 200)
        // Acknowledged after the deletes: LHR comes back as a new series with new samples.
        let later = (200..<210).map { DeleteSeriesTests.t0 + Int64($0) * 60_000 }
        try ingest(kpid.base, ndjson("crash_del", site: "LHR", later) { _ in 7 })
        kpid.kill()

        var expected = before.filter {
            !($0.series == "crash_del{site=JFK}" && $0.ts >= ts[10] && $0.ts <= ts[189]) && $0.series != "crash_del{site=LHR}"
        }
        for t in later { expected.insert(ExportedSample(series: "crash_del{site=LHR}", ts: t, value: 7)) }
        kpid = try KpidProcess(data: dir.path, extraArguments: arguments)
        #expect(try exportSet(kpid.base, "{__name__=~\"crash_.*\"}") == expected)
        // And once more after a second crash (recovery itself wrote nothing wrong).
        kpid.kill()
        kpid = try KpidProcess(data: dir.path, extraArguments: arguments)
        #expect(try exportSet(kpid.base, "{__name__=~\"crash_.*\"}") == expected)
        kpid.terminate()
    }

    /// Deletes run on the writer between group commits: ingest of other series goes on, and
    /// every acknowledged sample of them is there afterwards (and after a restart).
    @Test func deletingWhileIngestingLosesNoAcknowledgedSample() throws {
        let dir = TempDir()
        let configure: (inout ServiceConfiguration) -> Void = {
            $0.chunkSize = 16
            $0.outOfOrderWindowMs = 1000
        }
        var service = try RunningService(data: dir.path, configure: configure)
        let base = service.base
        let writers = 3
        let acked = Mutex<[Set<ExportedSample>]>(Array(repeating: [], count: writers))
        let stop = Atomic<Bool>(false)
        let failures = Atomic<Int>(0)
        let group = DispatchGroup()
        for w in 0..<writers {
            group.enter()
            Thread.detachNewThread {
                var r = 0
                while !stop.load(ordering: .relaxed) && r < 400 {
                    let times = (0..<20).map { DeleteSeriesTests.t0 + Int64(r * 20 + $0) * 60_000 }
                    let body = ndjson("conc_b", site: "w\(w)", times) { Double($0 / 60_000 % 1000) }
                    guard
                        let response = try? http(
                            "POST", base + "/api/v1/ingest", body: Data(body.utf8),
                            headers: ["Content-Type": "application/x-ndjson"]), response.status == 200
                    else {
                        failures.add(1, ordering: .relaxed)
                        break
                    }
                    acked.withLock {
                        for t in times {
                            $0[w].insert(ExportedSample(series: "conc_b{site=w\(w)}", ts: t, value: Double(t / 60_000 % 1000)))
                        }
                    }
                    r += 1
                }
                group.leave()
            }
        }
        var deletes = 0
        for round in 0..<15 {
            let times = (0..<40).map { DeleteSeriesTests.t0 + Int64(round * 40 + $0) * 60_000 }
            try ingest(base, ndjson("conc_a", site: "JFK", times) { _ in 1 })
            let r = try delete(base, "match%5B%5D=conc_a&end=\(DeleteSeriesTests.seconds(times[39]))")
            #expect(r.status == 200)
            if r.status == 200 { deletes += 1 }
        }
        stop.store(true, ordering: .relaxed)
        group.wait()
        #expect(failures.load(ordering: .relaxed) == 0)
        #expect(deletes == 15)
        let expected = acked.withLock { $0.reduce(into: Set<ExportedSample>()) { $0.formUnion($1) } }
        #expect(!expected.isEmpty)
        #expect(try exportSet(base, "conc_b") == expected)
        #expect(try exportSet(base, "conc_a").isEmpty)
        service.stop()
        service = try RunningService(data: dir.path, configure: configure)
        #expect(try exportSet(service.base, "conc_b") == expected)
        #expect(try exportSet(service.base, "conc_a").isEmpty)
        service.stop()
    }
}
