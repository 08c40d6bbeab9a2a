import Foundation
import KPIRuntime
import Testing

/// Notes on a KPI of a week over real HTTP with authentication on: written by an admin or by
/// the KPI's owner at the site (the sites file's `owners` names the token), refused to anyone
/// else, validated by field, stored in SQLite across a restart, audited, and shown in the
/// weekly review.
@Suite(.serialized) struct NotesTests {
    func post(_ s: SecuredService, _ token: String, _ body: String) throws -> ClientResponse {
        try curl(
            "POST", s.kpid.base + "/api/v1/notes", body: Data(body.utf8),
            headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"])
    }

    func field(_ r: ClientResponse) -> String? { (r.json["details"] as? [[String: Any]])?.first?["field"] as? String }

    @Test func writeReadShowAndDelete() throws {
        let s = try SecuredService()
        let admin = try s.token(.admin)
        // The shipped sites file makes "Store manager" the owner of NYC-5TH's footfall.
        let owner = try s.token(.read, sites: ["NYC-5TH"], name: "Store manager")
        let analyst = try s.token(.read, name: "analyst")
        let note = #"{"site":"NYC-5TH","template":"retail","kpi":"footfall","week":"2026-W45","text":"  entrance B closed for repairs "}"#

        let created = try post(s, owner, note)
        #expect(created.status == 201, "\(created.text)")
        let data = created.json["data"] as? [String: Any] ?? [:]
        #expect(data["text"] as? String == "entrance B closed for repairs" && data["author"] as? String == "Store manager")
        let replaced = try post(s, admin, note.replacingOccurrences(of: "entrance B", with: "entrance C"))
        #expect(replaced.status == 200 && (replaced.json["data"] as? [String: Any])?["author"] as? String == "admin-")

        // Anyone else: 403, naming the KPI; the owner only for the KPIs and site it owns.
        #expect(try post(s, analyst, note).status == 403)
        let other = try post(s, owner, note.replacingOccurrences(of: "\"footfall\"", with: "\"sales\""))
        #expect(other.status == 403 && field(other) == "kpi", "\(other.text)")
        let elsewhere = try post(s, owner, #"{"site":"JFK","template":"airport","kpi":"avg_queue_wait","week":"2026-W45","text":"x"}"#)
        #expect(elsewhere.status == 403 && field(elsewhere) == "site", "\(elsewhere.text)")

        // Validation names the field.
        for (body, name) in [
            (note.replacingOccurrences(of: "\"footfall\"", with: "\"nope\""), "kpi"),
            (note.replacingOccurrences(of: "2026-W45", with: "2026-W60"), "week"),
            (note.replacingOccurrences(of: "  entrance B closed for repairs ", with: "   "), "text"),
            (note.replacingOccurrences(of: "  entrance B closed for repairs ", with: String(repeating: "x", count: 501)), "text"),
            (note.replacingOccurrences(of: "\"retail\"", with: "\"airport\""), "template"),
            (#"{"site":"NYC-5TH","colour":"red"}"#, "colour"),
        ] {
            let r = try post(s, admin, body)
            #expect(r.status == 400 && field(r) == name, "\(name): \(r.status) \(r.text)")
        }

        // Listed for the site and week, and shown in the review of that week only.
        let listed = try s.get("/api/v1/notes?site=NYC-5TH&week=2026-W45", token: analyst)
        #expect((listed.json["data"] as? [[String: Any]])?.map { $0["text"] as? String } == ["entrance C closed for repairs"])
        let review = try s.get("/reports/weekly.json?site=NYC-5TH&week=2026-W45&template=retail", token: analyst)
        let kpis = ((review.json["templates"] as? [[String: Any]])?.first?["kpis"] as? [[String: Any]]) ?? []
        let footfall = kpis.first { $0["id"] as? String == "footfall" }
        #expect((footfall?["note"] as? [String: Any])?["text"] as? String == "entrance C closed for repairs", "\(review.text.prefix(300))")
        #expect((footfall?["note"] as? [String: Any])?["author"] as? String == "admin-")
        #expect(kpis.filter { !($0["note"] is NSNull) }.count == 1)
        let lastWeek = try s.get("/reports/weekly.json?site=NYC-5TH&week=2026-W44&template=retail", token: analyst)
        #expect(!lastWeek.text.contains("entrance C"))

        // Audited.
        let audit = try s.get("/api/v1/audit", token: admin)
        #expect(audit.text.contains("note NYC-5TH retail/footfall 2026-W45: entrance B closed for repairs"), "\(audit.text.prefix(500))")
        #expect(audit.text.contains("refused note on NYC-5TH"))

        // Delete: the owner may; then 404.
        let path = "/api/v1/notes?site=NYC-5TH&template=retail&kpi=footfall&week=2026-W45"
        #expect(try curl("DELETE", s.kpid.base + path, headers: ["Authorization": "Bearer \(owner)"]).status == 200)
        #expect(try curl("DELETE", s.kpid.base + path, headers: ["Authorization": "Bearer \(owner)"]).status == 404)
        #expect((try s.get("/api/v1/notes?site=NYC-5TH", token: analyst).json["data"] as? [Any])?.isEmpty == true)
    }

    @Test func notesSurviveARestart() throws {
        let dir = TempDir()
        var kpid = try RunningService(data: dir.path)
        let body = #"{"site":"JFK","template":"airport","kpi":"avg_queue_wait","week":"2026-W45","text":"lane 3 closed"}"#
        let r = try http("POST", kpid.base + "/api/v1/notes", body: Data(body.utf8), headers: ["Content-Type": "application/json"])
        #expect(r.status == 201, "\(r.text)")
        kpid.stop()
        kpid = try RunningService(data: dir.path)
        let listed = try http("GET", kpid.base + "/api/v1/notes?site=JFK")
        #expect((listed.json["data"] as? [[String: Any]])?.first?["text"] as? String == "lane 3 closed", "\(listed.text)")
        kpid.stop()
    }
}
