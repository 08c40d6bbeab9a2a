import Foundation
import Testing

@testable import KPIService

/// Site scope by construction: every route a read token may call is probed with a token
/// limited to JFK over a store where another site holds marked data, and no answer may carry
/// the marks. The list of probes is checked against the service's route table, so a new read
/// route fails this test until it is probed here.
@Suite(.serialized) struct ScopeTests {
    /// Marks only NYC-5TH's data carries: a metric name and a label value.
    static let marks = ["nyc_secret_metric", "nyc-secret-zone"]

    /// Requests per read route (pattern -> paths with their query strings). The routes taking a
    /// site ask for the other site (they must refuse or answer without its data).
    static func probes(at t: Int64) -> [String: [String]] {
        let everything = percentEncoded(#"{__name__=~".+"}"#)
        let seconds = t / 1000
        return [
            "/metrics": ["/metrics"],
            "/api/v1/alerts": ["/api/v1/alerts"],
            "/api/v1/maintenance": ["/api/v1/maintenance"],
            "/api/v1/notes": ["/api/v1/notes?site=NYC-5TH", "/api/v1/notes?site=JFK"],
            "/api/v1/rules": ["/api/v1/rules", "/api/v1/rules?type=alert"],
            "/api/v1/export": ["/api/v1/export?match[]=\(everything)", "/api/v1/export?match[]=nyc_secret_metric"],
            "/api/v1/series": ["/api/v1/series?match[]=\(everything)"],
            "/api/v1/labels": ["/api/v1/labels", "/api/v1/labels?match[]=\(everything)"],
            "/api/v1/label/:name/values": [
                "/api/v1/label/__name__/values", "/api/v1/label/zone/values", "/api/v1/label/zone/values?match[]=\(everything)",
            ],
            "/api/v1/query": [
                "/api/v1/query?time=\(seconds)&query=" + percentEncoded(#"{__name__=~".+"}"#),
                "/api/v1/query?time=\(seconds)&query=" + percentEncoded(#"count_values("v", {__name__=~".+"})"#),
                "/api/v1/query?time=\(seconds)&query=" + percentEncoded(#"label_replace(nyc_secret_metric, "a", "$1", "zone", "(.*)")"#),
            ],
            "/api/v1/query_range": [
                "/api/v1/query_range?start=\(seconds - 3600)&end=\(seconds)&step=60&query=" + percentEncoded(#"{__name__=~".+"}"#)
            ],
            "/api/v1/metadata": ["/api/v1/metadata"],
            "/api/v1/status/buildinfo": ["/api/v1/status/buildinfo"],
            "/api/v1/sql": [
                "/api/v1/sql?query=" + percentEncoded("SELECT * FROM nyc_secret_metric"),
                "/api/v1/sql?query=" + percentEncoded("SELECT site, zone, count(*) FROM device_up GROUP BY site, zone"),
                "/api/v1/sql?query=" + percentEncoded("SELECT * FROM nyc_secret_metri"),
                "/api/v1/sql?format=csv&query=" + percentEncoded("SELECT zone, value FROM device_up"),
            ],
            "/api/v1/queries": ["/api/v1/queries"],
            "/api/v1/queries/:group/:name": [
                "/api/v1/queries/security/device_uptime?site=NYC-5TH&from=\(seconds - 3600)&to=\(seconds)",
                "/api/v1/queries/security/device_uptime?site=JFK&from=\(seconds - 3600)&to=\(seconds)",
            ],
            "/api/v1/kpis": ["/api/v1/kpis?site=NYC-5TH", "/api/v1/kpis?site=JFK"],
            "/api/v1/templates": ["/api/v1/templates"],
            "/api/v1/sites": ["/api/v1/sites"],
            "/api/v1/sites/:id": ["/api/v1/sites/NYC-5TH"],
            "/reports": ["/reports"],
            "/reports/weekly": ["/reports/weekly?site=NYC-5TH", "/reports/weekly?site=JFK&format=json"],
            "/reports/weekly.html": ["/reports/weekly.html?site=NYC-5TH"],
            "/reports/weekly.json": ["/reports/weekly.json?site=NYC-5TH", "/reports/weekly.json?site=JFK"],
            "/reports/weekly.csv": ["/reports/weekly.csv?site=NYC-5TH", "/reports/weekly.csv?site=JFK"],
            "/reports/weekly.md": ["/reports/weekly.md?site=NYC-5TH"],
        ]
    }

    @Test func everyReadRouteKeepsASiteScopedTokenInsideItsSites() throws {
        // A rule that fires for every down device: NYC-5TH's alert must not reach a JFK token.
        let rulesDir = TempDir()
        try "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: device_up == 0\n".write(
            toFile: rulesDir.path + "/rules.yaml", atomically: true, encoding: .utf8)
        let secured = try SecuredService {
            $0.ruleFiles = [rulesDir.path + "/rules.yaml"]
            $0.ruleEvaluationIntervalMs = 3_600_000
            $0.queriesDirectory = packageRoot.appendingPathComponent("Queries").path
            $0.templatesDirectory = packageRoot.appendingPathComponent("Queries/templates").path
            $0.sitesFile = packageRoot.appendingPathComponent("Queries/sites.json").path
            $0.clock = .pinned(at: fixturesEndMs)
        }
        let admin = try secured.token(.admin)
        awaitFirstRuleEvaluation { try? secured.get("/api/v1/rules", token: admin).text }
        let ingest = try secured.token(.ingest)
        var lines: [String] = []
        for m in 0..<30 {
            let t = fixturesEndMs - Int64(m) * 60_000
            lines.append(#"{"metric":"device_up","labels":{"site":"JFK","zone":"T4","device":"cam-1"},"ts":\#(t),"value":1}"#)
            lines.append(
                #"{"metric":"device_up","labels":{"site":"NYC-5TH","zone":"nyc-secret-zone","device":"cam-9"},"ts":\#(t),"value":0}"#)
            lines.append(#"{"metric":"nyc_secret_metric","labels":{"site":"NYC-5TH"},"ts":\#(t),"value":7}"#)
        }
        #expect(try secured.ingest(lines.joined(separator: "\n"), token: ingest).status == 200)
        let round = try curl("POST", secured.kpid.base + "/api/v1/admin/kpis/evaluate", headers: ["Authorization": "Bearer \(admin)"])
        #expect(round.status == 200, "\(round.text)")
        let window = try curl(
            "POST", secured.kpid.base + "/api/v1/maintenance",
            body: Data(#"{"site":"NYC-5TH","matchers":"{zone=\"nyc-secret-zone\"}","start":0,"end":3600,"reason":"r"}"#.utf8),
            headers: ["Authorization": "Bearer \(admin)", "Content-Type": "application/json"])
        #expect(window.status == 201, "\(window.text)")
        let note = try curl(
            "POST", secured.kpid.base + "/api/v1/notes",
            body: Data(#"{"site":"NYC-5TH","template":"retail","kpi":"footfall","week":"2026-W45","text":"nyc-secret-zone shut"}"#.utf8),
            headers: ["Authorization": "Bearer \(admin)", "Content-Type": "application/json"])
        #expect(note.status == 201, "\(note.text)")
        let rules = try curl(
            "POST", secured.kpid.base + "/api/v1/admin/rules/evaluate?time=\(fixturesEndMs / 1000)",
            headers: ["Authorization": "Bearer \(admin)"])
        #expect(rules.status == 200, "\(rules.text)")

        let unscoped = try secured.token(.read)
        let jfk = try secured.token(.read, sites: ["JFK"])
        let probes = Self.probes(at: fixturesEndMs)
        // Every route a read token may call is listed (a read route added later must be probed).
        for route in secured.kpid.service.routes where route.access == .read && route.methods.contains("GET") {
            if probes[route.pattern] == nil { Issue.record("read route \(route.pattern) has no scope probe in ScopeTests") }
        }
        let patterns = Set(secured.kpid.service.routes.map(\.pattern))
        for pattern in probes.keys where !patterns.contains(pattern) { Issue.record("probe for \(pattern), which is no route") }
        // The marks are there for an unscoped reader (so their absence below means something).
        let all = try secured.get("/api/v1/export?match[]=" + percentEncoded(#"{__name__=~".+"}"#), token: unscoped)
        #expect(Self.marks.allSatisfy { all.text.contains($0) }, "\(all.text.prefix(300))")
        #expect(try secured.get("/api/v1/alerts", token: unscoped).text.contains("nyc-secret-zone"))
        #expect(try secured.get("/api/v1/maintenance", token: unscoped).text.contains("nyc-secret-zone"))
        for (pattern, paths) in probes.sorted(by: { $0.key < $1.key }) {
            for path in paths {
                let r = try secured.get(path, token: jfk)
                #expect(r.status < 500, "\(pattern): \(path) answered \(r.status) \(r.text.prefix(200))")
                // A mark the request names itself may be echoed ("unknown metric ..."); every
                // other mark must not appear.
                for mark in Self.marks where !path.contains(mark) {
                    #expect(!r.text.contains(mark), "\(pattern): \(path) shows \(mark) to a JFK token: \(r.text.prefix(300))")
                }
            }
        }
    }
}
