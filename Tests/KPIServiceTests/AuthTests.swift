import Foundation
import KPICore
import KPIRuntime
import KPIService
import KPIStorage
import Testing

/// HTTP through the curl binary: a real client, and unlike URLSession on Linux it hands a 401
/// with a `WWW-Authenticate` challenge straight back instead of stalling on it.
func curl(
    _ method: String, _ url: String, body: Data? = nil, headers: [String: String] = [:], extra: [String] = []
) throws -> ClientResponse {
    let dir = NSTemporaryDirectory() + "kpid-curl-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var arguments = ["-s", "-S", "-X", method, "-D", dir + "/headers", "-o", dir + "/body", "-w", "%{http_code}", "--max-time", "120"]
    for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
    if let body {
        try body.write(to: URL(fileURLWithPath: dir + "/request"))
        arguments += ["--data-binary", "@" + dir + "/request"]
    }
    let result = try runTool("/usr/bin/curl", arguments + extra + [url])
    guard result.status == 0, let status = Int(result.output.suffix(3)) else {
        throw TestFailure("curl \(method) \(url) failed (\(result.status)): \(result.output)")
    }
    var parsed: [String: String] = [:]
    let headerText = (try? String(contentsOfFile: dir + "/headers", encoding: .utf8)) ?? ""
    for line in headerText.split(separator: "\r\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        parsed[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    let data = (try? Data(contentsOf: URL(fileURLWithPath: dir + "/body"))) ?? Data()
    return ClientResponse(status: status, headers: parsed, body: data)
}

/// A service with authentication on, and helpers to make tokens in its database.
final class SecuredService {
    let kpid: RunningService
    let dir = TempDir()
    var data: String { dir.path + "/data" }

    init(configure: (inout ServiceConfiguration) -> Void = { _ in }) throws {
        kpid = try RunningService(data: dir.path + "/data") {
            $0.auth = .on
            configure(&$0)
        }
    }

    /// Makes a token straight in the database, as `kpid token create` does.
    func token(_ role: Principal.Role, sites: [String] = [], name: String? = nil) throws -> String {
        let store = try TokenStore(path: kpid.service.configuration.databasePath)
        defer { store.close() }
        return try APIToken.create(in: store, role: role, sites: sites, name: name ?? "\(role.rawValue)-\(sites.joined(separator: "+"))")
            .token
    }

    func get(_ path: String, token: String?) throws -> ClientResponse {
        try curl("GET", kpid.base + path, headers: token.map { ["Authorization": "Bearer \($0)"] } ?? [:])
    }

    func ingest(_ body: String, token: String?) throws -> ClientResponse {
        var headers = ["Content-Type": "application/x-ndjson"]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        return try curl("POST", kpid.base + "/api/v1/ingest", body: Data(body.utf8), headers: headers)
    }

    /// `site` label values of the series a token sees.
    func sitesSeen(_ token: String, selector: String = #"{__name__=~".+"}"#) throws -> [String] {
        let r = try get("/api/v1/series?match=" + percentEncoded(selector), token: token)
        precondition(r.status == 200, "series failed: \(r.status) \(r.text)")
        return ((r.json["data"] as? [[String: String]]) ?? []).compactMap { $0["site"] }.sorted()
    }
}

let threeSites = """
    {"metric":"occupancy_people","labels":{"site":"JFK","zone":"B22"},"ts":1762070400000,"value":41}
    {"metric":"occupancy_people","labels":{"site":"LAX","zone":"T1"},"ts":1762070400000,"value":12}
    {"metric":"occupancy_people","labels":{"site":"ORD","zone":"C3"},"ts":1762070400000,"value":7}
    {"metric":"device_up","labels":{"device":"cam-1"},"ts":1762070400000,"value":1}

    """

@Suite(.serialized) struct AuthTests {
    @Test func missingUnknownAndRevokedTokensGetTheSame401() throws {
        let s = try SecuredService()
        let admin = try s.token(.admin)
        let revoked = try s.token(.read)
        let list = try curl("GET", s.kpid.base + "/api/v1/tokens", headers: ["Authorization": "Bearer \(admin)"])
        let revokedID = ((list.json["data"] as? [[String: Any]]) ?? []).first { ($0["role"] as? String) == "read" }?["id"] as? Int
        #expect(
            try curl("DELETE", s.kpid.base + "/api/v1/tokens/\(revokedID ?? -1)", headers: ["Authorization": "Bearer \(admin)"]).status
                == 200)

        var bodies = Set<String>()
        for header in [nil, "Bearer kpid_unknown", "Bearer \(revoked)", "Basic Zm9vOmJhcg==", "Token \(admin)", "Bearer"] {
            let r = try curl("GET", s.kpid.base + "/api/v1/series?match=up", headers: header.map { ["Authorization": $0] } ?? [:])
            #expect(r.status == 401, "\(header ?? "no header")")
            #expect(r.headers["www-authenticate"]?.contains("Bearer realm=\"kpid\"") == true)
            #expect(r.json["error"] as? String == "authentication required")
            bodies.insert(r.text)
        }
        // Nothing tells an unknown token from a revoked or a missing one.
        #expect(bodies.count == 1)
        // Open endpoints stay open.
        #expect(try curl("GET", s.kpid.base + "/healthz").status == 200)
        #expect(try curl("GET", s.kpid.base + "/readyz").status == 200)
        #expect(try s.get("/api/v1/series?match=up", token: admin).status == 200)
    }

    @Test func rolesDecideWhoMayCallWhat() throws {
        let s = try SecuredService()
        let admin = try s.token(.admin)
        let reader = try s.token(.read)
        let writer = try s.token(.ingest)

        #expect(try s.ingest(threeSites, token: reader).status == 403)
        #expect(try s.ingest(threeSites, token: writer).status == 200)
        #expect(try s.ingest(threeSites, token: admin).status == 200)

        for path in [
            "/api/v1/series?match=occupancy_people", "/api/v1/labels", "/api/v1/label/site/values", "/metrics",
            "/api/v1/export?match=occupancy_people", "/api/v1/status/buildinfo",
        ] {
            #expect(try s.get(path, token: reader).status == 200, "\(path)")
            #expect(try s.get(path, token: admin).status == 200, "\(path)")
            let refused = try s.get(path, token: writer)
            #expect(refused.status == 403, "\(path)")
            #expect(refused.headers["www-authenticate"] == nil)
        }
        for path in ["/api/v1/tokens", "/api/v1/audit"] {
            #expect(try s.get(path, token: reader).status == 403, "\(path)")
            #expect(try s.get(path, token: writer).status == 403, "\(path)")
            #expect(try s.get(path, token: admin).status == 200, "\(path)")
        }
        let write = RemoteWriteBody.make([(labels: [("__name__", "up"), ("site", "JFK")], samples: [(1_762_070_400_000, 1)])])
        var headers = RemoteWriteTests.headers
        headers["Authorization"] = "Bearer \(reader)"
        #expect(try curl("POST", s.kpid.base + "/api/v1/write", body: Data(write), headers: headers).status == 403)
        headers["Authorization"] = "Bearer \(writer)"
        #expect(try curl("POST", s.kpid.base + "/api/v1/write", body: Data(write), headers: headers).status == 204)
    }

    @Test func foundationClientsGetThe401AtOnce() throws {
        // URLSession (the kpid CLI's client) must see the 401, not stall on the challenge.
        let s = try SecuredService()
        let r = try http("GET", s.kpid.base + "/api/v1/labels", timeout: 10)
        #expect(r.status == 401)
        #expect(r.headers["www-authenticate"] == "Bearer realm=\"kpid\"")
        let ok = try http("GET", s.kpid.base + "/api/v1/labels", headers: ["Authorization": "Bearer \(try s.token(.read))"])
        #expect(ok.status == 200)
    }

    @Test func basicAuthWithTheTokenAsPasswordWorksFromCurl() throws {
        let s = try SecuredService()
        let reader = try s.token(.read)
        let url = s.kpid.base + "/api/v1/labels"
        // As Grafana's and Prometheus' basic auth send it: any user name, the token as password.
        let ok = try runTool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "grafana:\(reader)", url])
        #expect(ok.output == "200")
        let bearer = try runTool(
            "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(reader)", url])
        #expect(bearer.output == "200")
        let wrong = try runTool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", "grafana:kpid_wrong", url])
        #expect(wrong.output == "401")
    }

    @Test func siteScopedTokensSeeAndWriteOnlyTheirSites() throws {
        let s = try SecuredService()
        let admin = try s.token(.admin)
        #expect(try s.ingest(threeSites, token: admin).status == 200)
        let jfk = try s.token(.read, sites: ["JFK"])
        let two = try s.token(.read, sites: ["JFK", "ORD"])
        #expect(try s.sitesSeen(admin) == ["JFK", "LAX", "ORD"])
        #expect(try s.sitesSeen(jfk) == ["JFK"])
        #expect(try s.sitesSeen(two) == ["JFK", "ORD"])
        // An explicit selector for another site finds nothing rather than leaking it.
        #expect(try s.sitesSeen(jfk, selector: #"occupancy_people{site="LAX"}"#) == [])
        // Series without a site label are outside every site scope.
        let up = try s.get("/api/v1/series?match=device_up", token: jfk)
        #expect((up.json["data"] as? [Any])?.count == 0)

        let values = try s.get("/api/v1/label/site/values", token: jfk)
        #expect(values.json["data"] as? [String] == ["JFK"])
        let names = try s.get("/api/v1/labels", token: jfk)
        #expect(names.json["data"] as? [String] == ["__name__", "site", "zone"])
        let export = try s.get("/api/v1/export?match=" + percentEncoded(#"{__name__=~".+"}"#), token: jfk)
        #expect(export.status == 200)
        let lines = export.text.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("\"JFK\"") == true)

        // Writes: a JFK ingest token may write JFK only; one foreign line refuses the request.
        let writer = try s.token(.ingest, sites: ["JFK"])
        let mixed = """
            {"metric":"queue_wait_seconds","labels":{"site":"JFK"},"ts":1762070400000,"value":1}
            {"metric":"queue_wait_seconds","labels":{"site":"LAX"},"ts":1762070400000,"value":2}
            """
        let refused = try s.ingest(mixed, token: writer)
        #expect(refused.status == 403)
        #expect((refused.json["details"] as? [[String: Any]])?.first?["field"] as? String == "site")
        let noSite = #"{"metric":"queue_wait_seconds","labels":{"zone":"x"},"ts":1762070400000,"value":2}"#
        #expect(try s.ingest(noSite, token: writer).status == 403)
        #expect(try s.sitesSeen(admin, selector: "queue_wait_seconds") == [])
        let accepted = try s.ingest(#"{"metric":"queue_wait_seconds","labels":{"site":"JFK"},"ts":1762070400000,"value":1}"#, token: writer)
        #expect(accepted.status == 200)

        // Remote write: the same rule, 403 and nothing stored.
        var headers = RemoteWriteTests.headers
        headers["Authorization"] = "Bearer \(writer)"
        let foreign = RemoteWriteBody.make([
            (labels: [("__name__", "dwell_seconds"), ("site", "JFK")], samples: [(1_762_070_400_000, 1)]),
            (labels: [("__name__", "dwell_seconds"), ("site", "ORD")], samples: [(1_762_070_400_000, 1)]),
        ])
        #expect(try curl("POST", s.kpid.base + "/api/v1/write", body: Data(foreign), headers: headers).status == 403)
        #expect(try s.sitesSeen(admin, selector: "dwell_seconds") == [])
        let own = RemoteWriteBody.make([(labels: [("__name__", "dwell_seconds"), ("site", "JFK")], samples: [(1_762_070_400_000, 1)])])
        #expect(try curl("POST", s.kpid.base + "/api/v1/write", body: Data(own), headers: headers).status == 204)
        #expect(try s.sitesSeen(admin, selector: "dwell_seconds") == ["JFK"])
    }

    @Test func scopeMatchersEscapeSiteNames() throws {
        let p = Principal(tokenID: 1, name: "x", role: .read, sites: ["A.B", "C|D"])
        let matcher = try #require(p.scopeMatchers.first)
        #expect(matcher.matches("A.B") && matcher.matches("C|D"))
        #expect(!matcher.matches("AxB") && !matcher.matches("C") && !matcher.matches("A.BC|D"))
        #expect(Principal.unrestricted.scopeMatchers.isEmpty)
        #expect(p.mayAccess(Labels(metric: "m", ["site": "C|D"])) && !p.mayAccess(Labels(metric: "m", ["site": "C"])))
    }

    @Test func tokensAreRandomShownOnceAndStoredAsTheirSHA256() throws {
        let s = try SecuredService()
        let admin = try s.token(.admin)
        let created = try curl(
            "POST", s.kpid.base + "/api/v1/tokens", body: Data(#"{"role":"read","sites":["JFK"],"name":"grafana"}"#.utf8),
            headers: ["Authorization": "Bearer \(admin)", "Content-Type": "application/json"])
        #expect(created.status == 201)
        let data = try #require(created.json["data"] as? [String: Any])
        let token = try #require(data["token"] as? String)
        #expect(data["role"] as? String == "read" && data["sites"] as? [String] == ["JFK"] && data["name"] as? String == "grafana")
        // 256 random bits: "kpid_" and 43 base64url characters.
        #expect(token.hasPrefix("kpid_") && token.count == 5 + 43)
        var base64 = String(token.dropFirst(5)).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += "="
        #expect(Data(base64Encoded: base64)?.count == 32)
        #expect(Set((0..<200).map { _ in APIToken.generate() }).count == 200)

        // The database holds sha256(token) (computed by coreutils here), never the token.
        let expected = try runTool("/usr/bin/sha256sum", [], input: Data(token.utf8)).output.prefix(64)
        let raw = try SQLiteConnection(path: s.kpid.service.configuration.databasePath, readOnly: true)
        let row = try raw.prepare("SELECT hex(digest) FROM tokens WHERE name = 'grafana'")
        #expect(try row.step())
        #expect(row.string(at: 0)?.lowercased() == String(expected))
        let dump = try raw.prepare("SELECT count(*) FROM tokens WHERE instr(CAST(digest AS TEXT), ?1) > 0 OR instr(name, ?1) > 0")
        try dump.bind(token, at: 1)
        _ = try dump.step()
        #expect(dump.int64(at: 0) == 0)
        raw.close()

        // The listing never shows a token or digest; the token works; revoking takes effect at once.
        let list = try s.get("/api/v1/tokens", token: admin)
        #expect(!list.text.contains(token) && !list.text.contains("digest"))
        #expect(try s.get("/api/v1/labels", token: token).status == 200)
        let id = try #require(data["id"] as? Int)
        #expect(try curl("DELETE", s.kpid.base + "/api/v1/tokens/\(id)", headers: ["Authorization": "Bearer \(admin)"]).status == 200)
        #expect(try s.get("/api/v1/labels", token: token).status == 401)
        #expect(try curl("DELETE", s.kpid.base + "/api/v1/tokens/\(id)", headers: ["Authorization": "Bearer \(admin)"]).status == 404)

        // Bad requests name the field.
        for (body, field) in [
            (#"{"role":"root"}"#, "role"), (#"{"sites":["JFK"]}"#, "role"), (#"{"role":"admin","sites":["JFK"]}"#, "sites"),
            ("not json", "body"),
        ] {
            let r = try curl("POST", s.kpid.base + "/api/v1/tokens", body: Data(body.utf8), headers: ["Authorization": "Bearer \(admin)"])
            #expect(r.status == 400, "\(body)")
            #expect((r.json["details"] as? [[String: Any]])?.first?["field"] as? String == field, "\(body)")
        }
    }

    @Test func cliTokensReachARunningServer() throws {
        let s = try SecuredService()
        let created = try runKpidCommand(["token", "create", "--role", "read", "--site", "JFK", "--name", "cli", "--data", s.data])
        #expect(created.status == 0, "\(created.stderr)")
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("kpid_"))
        // Works at once: an unknown token makes the server re-read the table.
        #expect(try s.get("/api/v1/labels", token: token).status == 200)

        let list = try runKpidCommand(["token", "list", "--data", s.data])
        #expect(list.status == 0)
        #expect(list.stdout.contains("\tread\tJFK\tcli\t"))
        #expect(!list.stdout.contains(token))
        let id = try #require(list.stdout.split(separator: "\n").dropFirst().first?.split(separator: "\t").first)

        let revoked = try runKpidCommand(["token", "revoke", String(id), "--data", s.data])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        // The server re-reads the table every 2 s: poll for the refusal, with a generous bound.
        let deadline = Date().addingTimeInterval(20)
        var status = 200
        while Date() < deadline {
            status = try s.get("/api/v1/labels", token: token).status
            if status == 401 { break }
            usleep(100_000)
        }
        #expect(status == 401)
        #expect(try runKpidCommand(["token", "revoke", String(id), "--data", s.data]).status == 1)
        #expect(try runKpidCommand(["token", "create", "--role", "root", "--data", s.data]).status != 0)
    }

    @Test func cliIngestAndExportSendTheToken() throws {
        let s = try SecuredService()
        let writer = try s.token(.ingest)
        let reader = try s.token(.read, sites: ["JFK"])
        let file = s.dir.path + "/samples.ndjson"
        try threeSites.write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try runKpidCommand(["ingest", "--url", s.kpid.base, file])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("HTTP 401"))
        let ingested = try runKpidCommand(["ingest", "--url", s.kpid.base, "--token", writer, file])
        #expect(ingested.status == 0, "\(ingested.stderr)")
        #expect(ingested.stdout.contains("4 samples"))
        let exported = try runKpidCommand(["export", "--url", s.kpid.base, "--token", reader, "--match", "occupancy_people"])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stdout.split(separator: "\n").count == 1)
        #expect(exported.stdout.contains("\"JFK\""))
    }

    @Test func authAutoFollowsTheBindAddress() throws {
        var config = ServiceConfiguration()
        for (bind, required) in [
            ("127.0.0.1", false), ("::1", false), ("127.3.4.5", false), ("0.0.0.0", true), ("::", true), ("10.1.2.3", true),
        ] {
            config.bind = bind
            config.auth = .auto
            #expect(config.authenticationRequired == required, "\(bind)")
            config.auth = .off
            #expect(!config.authenticationRequired)
            config.auth = .on
            #expect(config.authenticationRequired)
        }
        let resolved = try ServiceConfiguration.resolve(flags: ["auth": "on"], environment: ["KPID_AUTH": "off"], configFile: [:])
        #expect(resolved.auth == .on)
        #expect(throws: ServiceConfiguration.Invalid.self) {
            try ServiceConfiguration.resolve(flags: ["auth": "maybe"], environment: [:], configFile: [:])
        }

        // Bound to every address with auth auto: tokens are required.
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data") { $0.bind = "0.0.0.0" }
        #expect(try curl("GET", kpid.base + "/api/v1/labels").status == 401)
        #expect(try curl("GET", kpid.base + "/healthz").status == 200)
        // On loopback with auth auto (every other test of the suite): open.
        let open = try RunningService(data: dir.path + "/open")
        #expect(try curl("GET", open.base + "/api/v1/labels").status == 200)
    }

    @Test func aSecondKpidCannotOpenADirectoryInUse() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data")
        #expect(throws: (any Error).self) { _ = try RunningService(data: dir.path + "/data") }
        kpid.stop()
        let again = try RunningService(data: dir.path + "/data")
        again.stop()
    }
}
