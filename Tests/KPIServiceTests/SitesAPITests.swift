import Foundation
import KPIRuntime
import KPIService
import Testing

/// `POST /api/v1/sites`, `DELETE /api/v1/sites/<id>` and `GET /api/v1/sites` over real HTTP:
/// sites registered over the API are stored in SQLite, merged with the sites file, validated
/// like it, survive a restart, are admin-only and audited, and work for `/api/v1/kpis`.
@Suite(.serialized) struct SitesAPITests {
    static let templates = packageRoot.appendingPathComponent("Queries/templates").path
    static let sites = packageRoot.appendingPathComponent("Queries/sites.json").path
    static let fileSiteIDs = ["JFK", "NYC-5TH", "CAMPUS-E", "ARENA-1", "DC-ATL", "PLANT-1"]

    static func configure(_ c: inout ServiceConfiguration) {
        c.templatesDirectory = templates
        c.sitesFile = sites
        c.maxBodyBytes = 64 << 20
    }

    static let lhr = #"""
        {"site":"LHR","display_name":"Heathrow","time_zone":"Europe/London","templates":["airport"],
         "overrides":{"airport":{"avg_queue_wait":{"target":6,"warning":9}}},"capacities":{"zones":{"T5":900}}}
        """#

    func post(_ kpid: RunningService, _ body: String) throws -> ClientResponse {
        try http(
            "POST", kpid.base + "/api/v1/sites", body: Data(body.utf8), headers: ["Content-Type": "application/json"])
    }

    func list(_ kpid: RunningService) throws -> [[String: Any]] {
        let r = try http("GET", kpid.base + "/api/v1/sites")
        #expect(r.status == 200, "\(r.text)")
        return r.json["sites"] as? [[String: Any]] ?? []
    }

    func ids(_ sites: [[String: Any]]) -> [String] { sites.compactMap { $0["site"] as? String } }

    func source(_ sites: [[String: Any]], _ id: String) -> String? {
        sites.first { $0["site"] as? String == id }?["source"] as? String
    }

    func field(_ r: ClientResponse) -> String? {
        (r.json["details"] as? [[String: Any]])?.first?["field"] as? String
    }

    /// Attributes posted with a site are answered, listed and kept across a restart; `group`
    /// selects by them; a bad group is a 400 naming the parameter.
    @Test func attributesAndGroups() throws {
        let dir = TempDir()
        var kpid = try RunningService(data: dir.path, configure: Self.configure)
        let posted = try post(
            kpid,
            #"{"site":"BOS-1","templates":["retail"],"region":"northeast","format":"flagship","area_m2":1800.5,"#
                + #""opening_hours":{"sat":"10:00-18:00","mon":"08:30-20:00"},"labels":{"mall":"prudential"}}"#)
        #expect(posted.status == 201, "\(posted.text)")
        #expect(try post(kpid, #"{"site":"BOS-2","templates":["retail"],"region":"northeast","format":"outlet"}"#).status == 201)
        let bad = try post(kpid, #"{"site":"BOS-3","templates":["retail"],"area_m2":0}"#)
        #expect(bad.status == 400 && field(bad) == "area_m2", "\(bad.text)")
        for round in 0..<2 {
            let one = try http("GET", kpid.base + "/api/v1/sites/BOS-1")
            let attributes = (one.json["data"] as? [String: Any])?["attributes"] as? [String: Any] ?? [:]
            #expect(attributes["region"] as? String == "northeast" && attributes["format"] as? String == "flagship", "round \(round)")
            #expect(attributes["area_m2"] as? Double == 1800.5)
            #expect(attributes["opening_hours"] as? [String: [String]] == ["mon": ["08:30-20:00"], "sat": ["10:00-18:00"]])
            // 11.5 h Monday + 8 h Saturday.
            #expect(attributes["weekly_open_hours"] as? Double == 19.5)
            #expect(attributes["labels"] as? [String: String] == ["mall": "prudential"])
            let grouped = try http(
                "GET",
                kpid.base + "/api/v1/sites?group=" + "region=northeast,format=flagship".addingPercentEncoding(
                    withAllowedCharacters: .alphanumerics)!)
            // The shipped sites file gives NYC-5TH (flagship) and JFK (hub) the region too.
            #expect(
                grouped.status == 200 && ids(grouped.json["sites"] as? [[String: Any]] ?? []) == ["NYC-5TH", "BOS-1"], "\(grouped.text)")
            let northeast = try http("GET", kpid.base + "/api/v1/sites?group=region%3Dnortheast")
            #expect(ids(northeast.json["sites"] as? [[String: Any]] ?? []) == ["JFK", "NYC-5TH", "BOS-1", "BOS-2"])
            let outside = try http("GET", kpid.base + "/api/v1/sites?group=region!%3Dnortheast,template%3Dretail")
            #expect(ids(outside.json["sites"] as? [[String: Any]] ?? []).isEmpty, "\(outside.text)")
            // A file site's attributes: JFK is open around the clock (7 x 24 h).
            let jfk = try http("GET", kpid.base + "/api/v1/sites/JFK")
            let jfkAttributes = (jfk.json["data"] as? [String: Any])?["attributes"] as? [String: Any] ?? [:]
            #expect(
                jfkAttributes["weekly_open_hours"] as? Double == 168
                    && jfkAttributes["labels"] as? [String: String] == ["operator": "panynj"])
            kpid.stop()
            kpid = try RunningService(data: dir.path, configure: Self.configure)
        }
        let refused = try http("GET", kpid.base + "/api/v1/sites?group=region")
        #expect(refused.status == 400 && field(refused) == "group", "\(refused.text)")
    }

    @Test func createReplaceListAndDelete() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path, configure: Self.configure)
        #expect(ids(try list(kpid)) == Self.fileSiteIDs)
        #expect(Set(try list(kpid).compactMap { $0["source"] as? String }) == ["file"])

        // Create: 201, answered as stored and listed after the file's sites.
        let created = try post(kpid, Self.lhr)
        #expect(created.status == 201, "\(created.text)")
        let data = created.json["data"] as? [String: Any] ?? [:]
        #expect(data["site"] as? String == "LHR" && data["source"] as? String == "api")
        #expect(created.json["replaced"] is NSNull)
        var sites = try list(kpid)
        #expect(ids(sites) == Self.fileSiteIDs + ["LHR"])
        let lhr = sites.last!
        #expect(lhr["display_name"] as? String == "Heathrow")
        #expect(lhr["time_zone"] as? String == "Europe/London")
        #expect(lhr["templates"] as? [String] == ["airport"])
        #expect(
            (lhr["overrides"] as? [String: [String: [String: Double]]])?["airport"]?["avg_queue_wait"]
                == ["target": 6, "warning": 9])
        #expect(source(sites, "LHR") == "api")
        let one = try http("GET", kpid.base + "/api/v1/sites/LHR")
        #expect(one.status == 200 && (one.json["data"] as? [String: Any])?["display_name"] as? String == "Heathrow")
        #expect(try http("GET", kpid.base + "/api/v1/sites/NOPE").status == 404)

        // Replace a stored site: 200, the new definition wins, the position stays.
        let replaced = try post(
            kpid, #"{"site":"LHR","display_name":"London Heathrow","templates":["airport","security-operations"]}"#)
        #expect(replaced.status == 200, "\(replaced.text)")
        #expect(replaced.json["replaced"] as? String == "api")
        sites = try list(kpid)
        #expect(ids(sites) == Self.fileSiteIDs + ["LHR"])
        #expect(sites.last?["display_name"] as? String == "London Heathrow")
        #expect(sites.last?["time_zone"] as? String == "UTC")  // absent: UTC, as in the file
        #expect(sites.last?["templates"] as? [String] == ["airport", "security-operations"])
        #expect((sites.last?["overrides"] as? [String: Any])?.isEmpty == true)

        // A stored site with a file site's id replaces it in place, until deleted.
        let shadow = try post(kpid, #"{"site":"JFK","display_name":"JFK (API)","templates":["airport"]}"#)
        #expect(shadow.status == 200, "\(shadow.text)")
        #expect(shadow.json["replaced"] as? String == "file")
        sites = try list(kpid)
        #expect(ids(sites) == Self.fileSiteIDs + ["LHR"])
        #expect(sites[0]["display_name"] as? String == "JFK (API)" && sites[0]["source"] as? String == "api")
        #expect(sites[0]["replaces_file_site"] as? Bool == true)
        let restore = try http("DELETE", kpid.base + "/api/v1/sites/JFK")
        #expect(restore.status == 200, "\(restore.text)")
        #expect((restore.json["data"] as? [String: Any])?["file_site_restored"] as? Bool == true)
        sites = try list(kpid)
        #expect(sites[0]["display_name"] as? String == "JFK International Airport" && source(sites, "JFK") == "file")

        // File sites cannot be deleted (409 saying so); unknown ids are 404.
        let fromFile = try http("DELETE", kpid.base + "/api/v1/sites/JFK")
        #expect(fromFile.status == 409, "\(fromFile.text)")
        #expect(fromFile.text.contains("sites file"))
        #expect(try http("DELETE", kpid.base + "/api/v1/sites/NOPE").status == 404)
        let deleted = try http("DELETE", kpid.base + "/api/v1/sites/LHR")
        #expect(deleted.status == 200, "\(deleted.text)")
        #expect(try http("DELETE", kpid.base + "/api/v1/sites/LHR").status == 404)
        #expect(ids(try list(kpid)) == Self.fileSiteIDs)
    }

    @Test func storedSitesSurviveARestart() throws {
        let dir = TempDir()
        var kpid = try RunningService(data: dir.path, configure: Self.configure)
        #expect(try post(kpid, Self.lhr).status == 201)
        #expect(try post(kpid, #"{"site":"ORD","template":"airport"}"#).status == 201)
        #expect(try post(kpid, #"{"site":"JFK","display_name":"JFK (API)","templates":["airport"]}"#).status == 200)
        kpid.stop()
        kpid = try RunningService(data: dir.path, configure: Self.configure)
        let sites = try list(kpid)
        #expect(ids(sites) == Self.fileSiteIDs + ["LHR", "ORD"])
        #expect(sites[0]["display_name"] as? String == "JFK (API)")
        let lhr = sites.first { $0["site"] as? String == "LHR" }
        #expect(
            (lhr?["overrides"] as? [String: [String: [String: Double]]])?["airport"]?["avg_queue_wait"]
                == ["target": 6, "warning": 9])
        // The stored row itself is durable SQLite state: deletes persist across a restart too.
        #expect(try http("DELETE", kpid.base + "/api/v1/sites/ORD").status == 200)
        kpid.stop()
        kpid = try RunningService(data: dir.path, configure: Self.configure)
        #expect(ids(try list(kpid)) == Self.fileSiteIDs + ["LHR"])
    }

    @Test func withoutASitesFileOnlyStoredSitesExist() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path) {
            Self.configure(&$0)
            $0.sitesFile = ""
        }
        #expect(ids(try list(kpid)).isEmpty)
        #expect(try post(kpid, #"{"site":"JFK","templates":["airport"]}"#).status == 201)
        let sites = try list(kpid)
        #expect(ids(sites) == ["JFK"] && source(sites, "JFK") == "api")
        #expect(try http("DELETE", kpid.base + "/api/v1/sites/JFK").status == 200)
        #expect(try http("DELETE", kpid.base + "/api/v1/sites/JFK").status == 404)
    }

    /// A stored site is checked against the templates of the day: when its template is gone,
    /// listing answers 500 naming the site and the field, and deleting it still works.
    @Test func aStoredSiteThatNoLongerFitsTheTemplatesIsNamedAndCanBeDeleted() throws {
        let dir = TempDir()
        let templates = dir.path + "/templates"
        try FileManager.default.createDirectory(atPath: templates, withIntermediateDirectories: true)
        for name in ["airport", "retail", "security-operations"] {
            try FileManager.default.copyItem(atPath: Self.templates + "/\(name).yaml", toPath: templates + "/\(name).yaml")
        }
        var kpid = try RunningService(data: dir.path + "/data") {
            Self.configure(&$0)
            $0.templatesDirectory = templates
            $0.sitesFile = ""
        }
        #expect(try post(kpid, #"{"site":"SHOP-2","templates":["retail"]}"#).status == 201)
        kpid.stop()
        try FileManager.default.removeItem(atPath: templates + "/retail.yaml")
        kpid = try RunningService(data: dir.path + "/data") {
            Self.configure(&$0)
            $0.templatesDirectory = templates
            $0.sitesFile = ""
        }
        let broken = try http("GET", kpid.base + "/api/v1/sites")
        #expect(broken.status == 500, "\(broken.text)")
        #expect(broken.text.contains("SHOP-2") && field(broken) == "templates", "\(broken.text)")
        #expect(try http("DELETE", kpid.base + "/api/v1/sites/SHOP-2").status == 200)
        #expect(try http("GET", kpid.base + "/api/v1/sites").status == 200)
    }

    @Test func validationErrorsNameTheField() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path, configure: Self.configure)
        let cases: [(body: String, field: String)] = [
            ("not json", "body"),
            (#"["LHR"]"#, "body"),
            (#"{"display_name":"no id","templates":["airport"]}"#, "site"),
            (#"{"site":42}"#, "site"),
            (#"{"site":"A/B","templates":["airport"]}"#, "site"),
            (#"{"site":"LHR","display_name":7}"#, "display_name"),
            (#"{"site":"LHR","time_zone":"Mars/Base"}"#, "time_zone"),
            (#"{"site":"LHR","time_zone":3}"#, "time_zone"),
            (#"{"site":"LHR","templates":["airport","spaceport"]}"#, "templates"),
            (#"{"site":"LHR","templates":"airport"}"#, "templates"),
            (#"{"site":"LHR","templates":["airport","airport"]}"#, "templates"),
            (#"{"site":"LHR","templates":["airport"],"overrides":{"retail":{"footfall":{"target":1}}}}"#, "overrides.retail"),
            (#"{"site":"LHR","templates":["airport"],"overrides":{"airport":{"nope":{"target":1}}}}"#, "overrides.airport.nope"),
            (
                #"{"site":"LHR","templates":["airport"],"overrides":{"airport":{"avg_queue_wait":{"target":"5"}}}}"#,
                "overrides.airport.avg_queue_wait.target"
            ),
            (
                #"{"site":"LHR","templates":["airport"],"overrides":{"airport":{"avg_queue_wait":{"goal":5}}}}"#,
                "overrides.airport.avg_queue_wait.goal"
            ),
            // avg_queue_wait is lower_is_better: a warning below the target is on the wrong side.
            (
                #"{"site":"LHR","templates":["airport"],"overrides":{"airport":{"avg_queue_wait":{"target":8,"warning":6}}}}"#,
                "overrides.airport.avg_queue_wait.warning"
            ),
        ]
        for (body, expected) in cases {
            let r = try post(kpid, body)
            #expect(r.status == 400, "\(body): \(r.text)")
            #expect(field(r) == expected, "\(body): \(r.text)")
            let reason = (r.json["details"] as? [[String: Any]])?.first?["reason"] as? String ?? ""
            #expect(!reason.isEmpty, "\(body)")
        }
        // Nothing of the refused requests was stored.
        #expect(ids(try list(kpid)) == Self.fileSiteIDs)
        // Wrong methods and shapes of the path.
        #expect(try http("PUT", kpid.base + "/api/v1/sites").status == 405)
    }

    @Test func onlyAdminsChangeSitesEveryChangeIsAuditedAndScopesApply() throws {
        let s = try SecuredService(configure: Self.configure)
        let admin = try s.token(.admin, name: "site-admin")
        let read = try s.token(.read)
        let ingest = try s.token(.ingest)
        func send(_ method: String, _ path: String, _ body: String?, token: String?) throws -> ClientResponse {
            var headers = ["Content-Type": "application/json"]
            if let token { headers["Authorization"] = "Bearer \(token)" }
            return try curl(method, s.kpid.base + path, body: body.map { Data($0.utf8) }, headers: headers)
        }
        #expect(try send("POST", "/api/v1/sites", Self.lhr, token: nil).status == 401)
        #expect(try send("POST", "/api/v1/sites", Self.lhr, token: read).status == 403)
        #expect(try send("POST", "/api/v1/sites", Self.lhr, token: ingest).status == 403)
        let created = try send("POST", "/api/v1/sites", Self.lhr, token: admin)
        #expect(created.status == 201, "\(created.text)")
        let invalid = try send("POST", "/api/v1/sites", #"{"site":"LHR","time_zone":"Mars/Base"}"#, token: admin)
        #expect(invalid.status == 400)
        #expect(try send("DELETE", "/api/v1/sites/LHR", nil, token: read).status == 403)
        #expect(try send("GET", "/api/v1/sites", nil, token: ingest).status == 403)

        // A token limited to LHR sees only LHR (a stored site), one limited to JFK only JFK.
        let lhrOnly = try s.token(.read, sites: ["LHR"])
        let seen = try s.get("/api/v1/sites", token: lhrOnly)
        #expect(seen.status == 200)
        #expect(ids(seen.json["sites"] as? [[String: Any]] ?? []) == ["LHR"])
        #expect(try s.get("/api/v1/sites/LHR", token: lhrOnly).status == 200)
        #expect(try s.get("/api/v1/sites/JFK", token: lhrOnly).status == 404)
        let jfkOnly = try s.token(.read, sites: ["JFK"])
        #expect(ids(try s.get("/api/v1/sites", token: jfkOnly).json["sites"] as? [[String: Any]] ?? []) == ["JFK"])
        #expect(ids(try s.get("/api/v1/sites", token: read).json["sites"] as? [[String: Any]] ?? []) == Self.fileSiteIDs + ["LHR"])

        #expect(try send("DELETE", "/api/v1/sites/LHR", nil, token: admin).status == 200)
        #expect(try send("DELETE", "/api/v1/sites/JFK", nil, token: admin).status == 409)

        // The audit log holds each change with who made it, and the refusals.
        let audit = try s.get("/api/v1/audit?principal=site-admin", token: admin)
        #expect(audit.status == 200, "\(audit.text)")
        let entries = (audit.json["data"] as? [[String: Any]] ?? []).filter {
            ($0["action"] as? String)?.contains("/api/v1/sites") == true
        }
        let summary = entries.map { "\($0["action"] as? String ?? "") \($0["status"] as? Int ?? 0) \($0["detail"] as? String ?? "")" }
        #expect(
            summary == [
                "POST /api/v1/sites 201 create site LHR templates=airport",
                "POST /api/v1/sites 400 refused site LHR: time_zone",
                "DELETE /api/v1/sites/:id /api/v1/sites/LHR 200 delete site LHR",
                "DELETE /api/v1/sites/:id /api/v1/sites/JFK 409 delete site JFK",
            ], "\(summary)")
        let all = try s.get("/api/v1/audit", token: admin)
        let refused = (all.json["data"] as? [[String: Any]] ?? []).filter {
            $0["action"] as? String == "POST /api/v1/sites" && $0["status"] as? Int == 403
        }
        #expect(refused.count == 2)
    }

    /// The fixture of a site as ndjson text (the plain file, or the gzip one the fixtures
    /// generator writes).
    static func fixtureText(_ relative: String) throws -> String {
        let path = packageRoot.appendingPathComponent("Fixtures/" + relative).path
        if let data = FileManager.default.contents(atPath: path) { return String(decoding: data, as: UTF8.self) }
        let gz = path + ".gz"
        guard FileManager.default.fileExists(atPath: gz) else { throw TestFailure("no fixture \(path)[.gz]") }
        let result = try runTool("/usr/bin/gzip", ["-dc", gz])
        guard result.status == 0 else { throw TestFailure("gzip -dc \(gz): \(result.output)") }
        return result.output
    }

    @Test func kpisWorkForASiteCreatedOverTheAPI() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path) {
            Self.configure(&$0)
            $0.kpiIntervalSeconds = 1
        }
        // The JFK fixture twice: as JFK (a file site) and relabelled as JFK2, a site created
        // over the API with the same template and time zone but its own avg_queue_wait target.
        let jfk = try Self.fixtureText("airport/jfk.ndjson")
        let copy = jfk.replacingOccurrences(of: #""site":"JFK""#, with: #""site":"JFK2""#)
        #expect(copy != jfk)
        for body in [jfk, copy] {
            let r = try http(
                "POST", kpid.base + "/api/v1/ingest", body: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"],
                timeout: 120)
            #expect(r.status == 200, "\(r.text.prefix(300))")
        }
        let week = "&template=airport&from=2026-11-16T00:00:00Z&to=2026-11-23T00:00:00Z"
        #expect(try http("GET", kpid.base + "/api/v1/kpis?site=JFK2" + week).status == 404)
        let created = try post(
            kpid,
            #"{"site":"JFK2","time_zone":"America/New_York","templates":["airport"],"overrides":{"airport":{"avg_queue_wait":{"target":9,"warning":12}}}}"#
        )
        #expect(created.status == 201, "\(created.text)")

        func kpis(_ site: String) throws -> [String: [String: Any]] {
            let r = try http("GET", kpid.base + "/api/v1/kpis?site=\(site)" + week)
            #expect(r.status == 200, "\(r.text)")
            let templates = r.json["templates"] as? [[String: Any]] ?? []
            let list = templates.first?["kpis"] as? [[String: Any]] ?? []
            return Dictionary(uniqueKeysWithValues: list.map { ($0["id"] as! String, $0) })
        }
        let original = try kpis("JFK")
        let api = try kpis("JFK2")
        #expect(!original.isEmpty && Set(original.keys) == Set(api.keys))
        // Same samples, template and time zone: the same values; thresholds per site.
        for (id, kpi) in original {
            #expect(kpi["value"] is Double, "\(id)")
            #expect(api[id]?["value"] as? Double == kpi["value"] as? Double, "\(id)")
        }
        #expect(original["avg_queue_wait"]?["target"] as? Double == 4)  // the sites file's override
        #expect(api["avg_queue_wait"]?["target"] as? Double == 9 && api["avg_queue_wait"]?["warning"] as? Double == 12)
        let wait = api["avg_queue_wait"]?["value"] as? Double ?? .nan
        #expect(api["avg_queue_wait"]?["status"] as? String == (wait <= 9 ? "green" : wait <= 12 ? "amber" : "red"))
        #expect(original["passenger_throughput"]?["target"] as? Double == 70000)
        #expect(api["passenger_throughput"]?["target"] as? Double != 70000)

        // The rolling KPIs (which read the same merged list) evaluate the new site too, with
        // its own target: on /metrics within a few rounds.
        let wanted = #"kpid_kpi_target{site="JFK2",template="airport",kpi="avg_queue_wait",window="7d""#
        var line: Substring? = nil
        let deadline = Date().addingTimeInterval(60)
        while line == nil && Date() < deadline {
            line = try http("GET", kpid.base + "/metrics").text.split(separator: "\n").first { $0.hasPrefix(wanted) }
            if line == nil { Thread.sleep(forTimeInterval: 0.2) }
        }
        #expect(line?.hasSuffix(" 9") == true, "\(line ?? "no \(wanted) on /metrics")")
    }
}
