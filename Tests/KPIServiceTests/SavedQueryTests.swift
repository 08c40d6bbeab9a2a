import Foundation
import KPIQuery
import Testing

/// Every saved query under Queries/ runs against the fixtures of its industry, through HTTP.
@Suite(.serialized) struct SavedQueryTests {
    static let queriesDirectory = packageRoot.appendingPathComponent("Queries").path
    static let fixtures = packageRoot.appendingPathComponent("Fixtures").path

    /// A service with every fixture loaded.
    func fixtureService(_ dir: TempDir) throws -> RunningService {
        let kpid = try RunningService(data: dir.path) { $0.queriesDirectory = Self.queriesDirectory }
        let fm = FileManager.default
        for group in try fm.contentsOfDirectory(atPath: Self.fixtures).sorted() {
            let path = Self.fixtures + "/" + group
            guard let files = try? fm.contentsOfDirectory(atPath: path) else { continue }
            for file in files where file.hasSuffix(".ndjson.gz") {
                let body = try Data(contentsOf: URL(fileURLWithPath: path + "/" + file))
                let r = try http(
                    "POST", kpid.base + "/api/v1/ingest", body: body,
                    headers: ["Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"], timeout: 120)
                #expect(r.status == 200, "\(file): \(r.text)")
            }
        }
        return kpid
    }

    @Test func everySavedQueryAnswersOnTheFixtures() throws {
        let dir = TempDir()
        let kpid = try fixtureService(dir)
        let list = try http("GET", kpid.base + "/api/v1/queries")
        #expect(list.status == 200, "\(list.text)")
        let queries = list.json["queries"] as? [[String: Any]] ?? []
        let groups = Set(queries.compactMap { ($0["name"] as? String)?.split(separator: "/").first.map(String.init) })
        #expect(groups.isSuperset(of: ["airport", "retail", "campus", "stadium", "logistics", "manufacturing"]))
        for group in groups where group != "security" {
            #expect(queries.filter { ($0["name"] as? String)?.hasPrefix(group + "/") == true }.count >= 3, "\(group)")
        }
        for entry in queries {
            let name = entry["name"] as! String
            let text = try String(contentsOfFile: Self.queriesDirectory + "/" + name + ".sql", encoding: .utf8)
            let saved = try SavedQuery.parse(name: name, text: text)
            #expect(!saved.example.isEmpty, "\(name) has no -- example: line")
            let query = saved.example.map { "\($0.key)=\(percentEncoded($0.value))" }.sorted().joined(separator: "&")
            let r = try http("GET", kpid.base + "/api/v1/queries/\(name)?\(query)")
            #expect(r.status == 200, "\(name): \(r.text)")
            let rows = r.json["rows"] as? [[Any]] ?? []
            #expect(!rows.isEmpty, "\(name) returned no rows on the fixtures")
            #expect((r.json["warnings"] as? [String] ?? []).isEmpty, "\(name): \(r.json["warnings"] ?? "")")
            // No column is NULL in every row: that would be a query reading the wrong metric or label.
            let columns = r.json["columns"] as? [[String: String]] ?? []
            for (i, column) in columns.enumerated() {
                #expect(rows.contains { !($0[i] is NSNull) }, "\(name): column \(column["name"] ?? "") is NULL in every row")
            }
        }
    }

    /// Every statement of the README's per-industry example block runs and returns rows.
    @Test func readmeExamplesRunOnTheFixtures() throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let marker = readme.range(of: "More examples, one per industry"),
            let open = readme.range(of: "```sql\n", range: marker.upperBound..<readme.endIndex),
            let close = readme.range(of: "```", range: open.upperBound..<readme.endIndex)
        else {
            Issue.record("the README's example block is missing")
            return
        }
        let statements = readme[open.upperBound..<close.lowerBound].components(separatedBy: "\n\n")
        #expect(statements.count >= 6)
        let dir = TempDir()
        let kpid = try fixtureService(dir)
        for statement in statements {
            let r = try http("POST", kpid.base + "/api/v1/sql", body: Data(statement.utf8), headers: ["Content-Type": "text/plain"])
            #expect(r.status == 200, "\(statement): \(r.text)")
            #expect(!((r.json["rows"] as? [[Any]]) ?? []).isEmpty, "\(statement) returned no rows")
            #expect(((r.json["warnings"] as? [String]) ?? []).isEmpty, "\(statement): \(r.text)")
        }
    }

    @Test func missingParameterIsA400NamingIt() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path) { $0.queriesDirectory = Self.queriesDirectory }
        #expect(
            try kpid.ingest(
                #"{"metric":"device_up","labels":{"site":"JFK","device":"c1"},"ts":1,"value":1}"#, contentType: "application/x-ndjson"
            ).status == 200)
        let r = try http("GET", kpid.base + "/api/v1/queries/security/device_uptime")
        #expect(r.status == 400)
        #expect((r.json["details"] as? [[String: Any]])?.first?["field"] as? String == "site")
        let unknown = try http("GET", kpid.base + "/api/v1/queries/security/nosuch")
        #expect(unknown.status == 404)
    }

    @Test func headerFormatErrorsNameFileAndLine() throws {
        #expect(throws: SavedQuery.FormatError(file: "a/b", line: 1, reason: "missing \"-- title: ...\" line")) {
            try SavedQuery.parse(name: "a/b", text: "SELECT 1 FROM m")
        }
        #expect(
            throws: SavedQuery.FormatError(file: "a/b", line: 1, reason: "the query uses :site, which no \"-- param:\" line declares")
        ) {
            try SavedQuery.parse(name: "a/b", text: "-- title: t\nSELECT value FROM m WHERE site = :site")
        }
        #expect(throws: SavedQuery.FormatError(file: "a/b", line: 3, reason: "expected FROM after select list, found end of input")) {
            try SavedQuery.parse(name: "a/b", text: "-- title: t\n\nSELECT value")
        }
        let q = try SavedQuery.parse(
            name: "a/b", text: "-- title: T\n-- param: from timestamp default -1h: start\nSELECT value FROM m WHERE ts >= :from")
        let bound = try q.bind([:], now: 10_000_000) { _ in nil }
        #expect(bound == ["from": .timestamp(10_000_000 - 3_600_000)])
    }
}
