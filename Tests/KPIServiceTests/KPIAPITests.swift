import Foundation
import KPIRuntime
import KPIService
import KPIWire
import Testing

/// `GET /api/v1/templates`, `/api/v1/sites` and `/api/v1/kpis` over real HTTP, on the JFK and
/// NYC-5TH fixtures; values checked against the raw samples the client exports itself.
@Suite(.serialized) struct KPIAPITests {
    static let templates = packageRoot.appendingPathComponent("Queries/templates").path
    static let sites = packageRoot.appendingPathComponent("Queries/sites.json").path
    static let week = "from=2026-11-16T00:00:00Z&to=2026-11-23T00:00:00Z"

    static func configure(_ c: inout ServiceConfiguration) {
        c.templatesDirectory = templates
        c.sitesFile = sites
    }

    static func fixture(_ path: String) throws -> Data {
        try Data(contentsOf: packageRoot.appendingPathComponent("Fixtures/" + path))
    }

    func service(_ dir: TempDir) throws -> RunningService {
        let kpid = try RunningService(data: dir.path, configure: Self.configure)
        for file in ["airport/jfk.ndjson.gz", "retail/nyc-5th.ndjson.gz"] {
            // The 8-week fixtures travel gzip-compressed, as committed.
            let r = try http(
                "POST", kpid.base + "/api/v1/ingest", body: try Self.fixture(file),
                headers: ["Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"],
                timeout: 120)
            #expect(r.status == 200, "\(file): \(r.text)")
        }
        return kpid
    }

    /// The KPI objects of one template in a /api/v1/kpis answer, by id.
    func kpis(_ r: ClientResponse, template: String) -> [String: [String: Any]] {
        let templates = r.json["templates"] as? [[String: Any]] ?? []
        let kpis =
            templates.first { $0["template"] as? String == template }?["kpis"] as? [[String: Any]] ?? []
        return Dictionary(uniqueKeysWithValues: kpis.map { ($0["id"] as! String, $0) })
    }

    @Test func templatesAndSitesAreListed() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path, configure: Self.configure)
        let t = try http("GET", kpid.base + "/api/v1/templates")
        #expect(t.status == 200, "\(t.text)")
        let templates = t.json["templates"] as? [[String: Any]] ?? []
        #expect(
            Set(templates.compactMap { $0["name"] as? String })
                == [
                    "airport", "campus", "logistics", "manufacturing", "retail", "security-operations",
                    "stadium",
                ])
        let retail =
            templates.first { $0["name"] as? String == "retail" }?["kpis"] as? [[String: Any]] ?? []
        let conversion = retail.first { $0["id"] as? String == "conversion_rate" }
        #expect(conversion?["unit"] as? String == "%")
        #expect(conversion?["direction"] as? String == "higher_is_better")
        #expect(conversion?["formula"] as? String == "transactions / footfall * 100")
        let footfall = retail.first { $0["id"] as? String == "footfall" }
        #expect(footfall?["breakdown"] as? String == "door")
        #expect((footfall?["query"] as? String)?.contains("entries_total") == true)

        let s = try http("GET", kpid.base + "/api/v1/sites")
        #expect(s.status == 200, "\(s.text)")
        let sites = s.json["sites"] as? [[String: Any]] ?? []
        #expect(
            sites.compactMap { $0["site"] as? String } == [
                "JFK", "NYC-5TH", "CAMPUS-E", "ARENA-1", "DC-ATL", "PLANT-1",
            ])
        let jfk = sites.first!
        #expect(jfk["time_zone"] as? String == "America/New_York")
        #expect(jfk["templates"] as? [String] == ["airport", "security-operations"])
        let overrides = (jfk["overrides"] as? [String: [String: [String: Double]]])?["airport"]
        #expect(overrides?["passenger_throughput"] == ["target": 70000, "warning": 60000])
    }

    @Test func kpisOfAWeekMatchTheRawSamples() throws {
        let dir = TempDir()
        let kpid = try service(dir)
        let r = try http("GET", kpid.base + "/api/v1/kpis?site=NYC-5TH&template=retail&" + Self.week)
        #expect(r.status == 200, "\(r.text)")
        #expect(r.json["time_zone"] as? String == "America/New_York")
        #expect(r.json["from"] as? String == "2026-11-16T00:00:00Z")
        #expect((r.json["templates"] as? [[String: Any]])?.count == 1)
        let k = kpis(r, template: "retail")
        #expect(k.count == templateKPICount(["retail"]))
        // Independent: counter increases from the exported raw samples of the week [from, to)
        // (the fixtures hold 8 weeks; no counter resets here). The step from each series' last
        // sample before the week into it counts in the week (README: increase).
        func increase(_ selector: String) throws -> Double {
            let from: Int64 = 1_794_787_200_000
            let to: Int64 = 1_795_392_000_000
            var bySeries: [String: [(Int64, Double)]] = [:]
            for (labels, ts, v) in try kpid.exportedSamples(selector) where ts < to {
                bySeries[labels, default: []].append((ts, v))
            }
            return bySeries.values.map { all in
                let s = all.sorted { $0.0 < $1.0 }
                let first = max(0, (s.firstIndex { $0.0 >= from } ?? s.count) - 1)
                let week = Array(s[first...])
                return zip(week, week.dropFirst()).map { $1.1 >= $0.1 ? $1.1 - $0.1 : $1.1 }.reduce(0, +)
            }.reduce(0, +)
        }
        let footfall = try increase(#"entries_total{site="NYC-5TH"}"#)
        let transactions = try increase(#"transactions_total{site="NYC-5TH"}"#)
        let f = k["footfall"]!
        #expect(abs((f["value"] as? Double ?? -1) - footfall) < 1e-6)
        // Site override from Queries/sites.json: target 45000, warning 38000.
        #expect(f["target"] as? Double == 45000 && f["warning"] as? Double == 38000)
        let expectedStatus = footfall >= 45000 ? "green" : footfall >= 38000 ? "amber" : "red"
        #expect(f["status"] as? String == expectedStatus)
        let worst = f["worst"] as? [[String: Any]] ?? []
        #expect(worst.count == 2)  // two doors; the weaker first for a higher_is_better KPI
        #expect((worst.first?["value"] as? Double ?? 0) <= (worst.last?["value"] as? Double ?? 0))
        let conversion = k["conversion_rate"]!
        let expected = transactions / footfall * 100
        #expect(abs((conversion["value"] as? Double ?? -1) - expected) < 1e-9 * expected)
        #expect(conversion["unit"] as? String == "%" && conversion["breakdown"] is NSNull)
        #expect(
            conversion["status"] as? String
                == (expected >= 18 ? "green" : expected >= 15 ? "amber" : "red"))

        // Both templates of JFK without template=; worst=1 keeps one item.
        let all = try http("GET", kpid.base + "/api/v1/kpis?site=JFK&worst=1&" + Self.week)
        #expect(all.status == 200, "\(all.text)")
        #expect(
            (all.json["templates"] as? [[String: Any]])?.compactMap { $0["template"] as? String } == [
                "airport", "security-operations",
            ])
        for (id, kpi) in kpis(all, template: "airport") {
            #expect(kpi["value"] is Double, "\(id)")
            #expect((kpi["worst"] as? [Any])?.count == 1, "\(id)")
        }
        #expect(kpis(all, template: "security-operations").count == templateKPICount(["security-operations"]))
    }

    @Test func defaultRangeIsTheLastSevenDays() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path, configure: Self.configure)
        let r = try http("GET", kpid.base + "/api/v1/kpis?site=CAMPUS-E&template=campus")
        #expect(r.status == 200, "\(r.text)")
        let format = ISO8601DateFormatter()
        format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func date(_ s: Any?) -> Date? {
            guard let s = s as? String else { return nil }
            return format.date(from: s) ?? ISO8601DateFormatter().date(from: s)
        }
        let from = date(r.json["from"])
        let to = date(r.json["to"])
        #expect(to.map { abs($0.timeIntervalSinceNow) < 60 } == true)
        #expect(from != nil && to != nil && to!.timeIntervalSince(from!) == 7 * 86_400)
        // No data in this service: no value, no status, and each KPI says which metric the
        // store has never seen.
        #expect(kpis(r, template: "campus").count == templateKPICount(["campus"]))
        for (id, kpi) in kpis(r, template: "campus") {
            #expect(kpi["value"] is NSNull && kpi["status"] is NSNull, "\(id)")
            #expect((kpi["error"] as? String)?.hasPrefix("unknown metric") == true, "\(id)")
        }
    }

    @Test func badRequestsNameTheField() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path, configure: Self.configure)
        func field(_ query: String) throws -> (Int, String?) {
            let r = try http("GET", kpid.base + "/api/v1/kpis" + query)
            return (r.status, (r.json["details"] as? [[String: Any]])?.first?["field"] as? String)
        }
        #expect(try field("") == (400, "site"))
        #expect(try field("?site=NOPE") == (404, "site"))
        #expect(try field("?site=JFK&template=retail") == (400, "template"))
        #expect(
            try field("?site=JFK&from=2026-11-20T00:00:00Z&to=2026-11-19T00:00:00Z") == (400, "from"))
        #expect(try field("?site=JFK&from=yesterday") == (400, "from"))
        #expect(try field("?site=JFK&worst=-1") == (400, "worst"))
        #expect(try field("?site=JFK&worst=many") == (400, "worst"))
    }

    @Test func brokenTemplateAnswers500NamingFileKPIAndField() throws {
        let dir = TempDir()
        let templates = dir.path + "/templates"
        try FileManager.default.createDirectory(atPath: templates, withIntermediateDirectories: true)
        let text = try String(contentsOfFile: Self.templates + "/retail.yaml", encoding: .utf8)
            .replacingOccurrences(
                of: "formula: transactions / footfall * 100", with: "formula: transactions / visitors * 100"
            )
        try text.write(toFile: templates + "/retail.yaml", atomically: true, encoding: .utf8)
        let kpid = try RunningService(data: dir.path + "/data") { $0.templatesDirectory = templates }
        let r = try http("GET", kpid.base + "/api/v1/templates")
        #expect(r.status == 500)
        let detail = (r.json["details"] as? [[String: Any]])?.first
        #expect(detail?["field"] as? String == "formula")
        #expect(
            detail?["reason"] as? String
                == "retail.yaml: kpi conversion_rate: field formula: unknown KPI \"visitors\" in the formula"
        )
    }

    @Test func siteScopedTokenSeesOnlyItsSites() throws {
        let s = try SecuredService(configure: Self.configure)
        let ingest = try s.token(.ingest)
        let body = String(
            decoding: try GzipDecoder.inflate([UInt8](try Self.fixture("airport/jfk.ndjson.gz")), limit: 1 << 30),
            as: UTF8.self)
        #expect(try s.ingest(body, token: ingest).status == 200)
        let jfk = try s.token(.read, sites: ["JFK"])
        let sites = try s.get("/api/v1/sites", token: jfk)
        #expect(
            (sites.json["sites"] as? [[String: Any]])?.compactMap { $0["site"] as? String } == ["JFK"])
        let other = try s.get("/api/v1/kpis?site=NYC-5TH", token: jfk)
        #expect(other.status == 403)
        #expect((other.json["details"] as? [[String: Any]])?.first?["field"] as? String == "site")
        let own = try s.get(
            "/api/v1/kpis?site=JFK&template=security-operations&" + Self.week, token: jfk)
        #expect(own.status == 200, "\(own.text)")
        #expect(kpis(own, template: "security-operations")["device_uptime"]?["value"] is Double)
        #expect(try s.get("/api/v1/kpis?site=JFK", token: nil).status == 401)
    }
}
