import Foundation
import KPIRuntime
import KPIService
import KPIStorage
import KPIWire
import Testing

/// The weekly KPI review over real HTTP (`/reports/weekly`), the `kpid report` command, and the
/// HTML page in a real headless browser (Debian's chromium), on the JFK airport fixture.
@Suite(.serialized) struct WeeklyReviewHTTPTests {
    /// KPIs of JFK's templates (airport and security-operations), counted from the files.
    static let jfkKPIs = templateKPICount(["airport", "security-operations"])

    static let templates = packageRoot.appendingPathComponent("Queries/templates").path
    static let sites = packageRoot.appendingPathComponent("Queries/sites.json").path
    /// 2026-W47 in New York: Monday 2026-11-16 00:00 EST to Monday 2026-11-23 00:00 EST.
    static let week = "2026-W47"
    static let from = "2026-11-16T05:00:00Z"
    static let to = "2026-11-23T05:00:00Z"
    /// The week before, for "last week".
    static let previousFrom = "2026-11-09T05:00:00Z"

    static func configure(_ c: inout ServiceConfiguration) {
        c.templatesDirectory = templates
        c.sitesFile = sites
    }

    /// The JFK fixture: the 8-week `.ndjson.gz` when present, else the one-week `.ndjson`.
    static func fixture() throws -> (body: Data, gzip: Bool, path: String) {
        let gz = packageRoot.appendingPathComponent("Fixtures/airport/jfk.ndjson.gz")
        if FileManager.default.fileExists(atPath: gz.path) { return (try Data(contentsOf: gz), true, gz.path) }
        let plain = packageRoot.appendingPathComponent("Fixtures/airport/jfk.ndjson")
        return (try Data(contentsOf: plain), false, plain.path)
    }

    static func ingestFixture(_ base: String, token: String? = nil) throws {
        let (body, gzip, path) = try fixture()
        var headers = ["Content-Type": "application/x-ndjson"]
        if gzip { headers["Content-Encoding"] = "gzip" }
        if let token { headers["Authorization"] = "Bearer \(token)" }
        let r = try http("POST", base + "/api/v1/ingest", body: body, headers: headers, timeout: 180)
        #expect(r.status == 200, "\(path): \(r.text)")
    }

    func service(_ dir: TempDir) throws -> RunningService {
        let kpid = try RunningService(data: dir.path) {
            Self.configure(&$0)
            $0.kpiIntervalSeconds = 0
        }
        try Self.ingestFixture(kpid.base)
        return kpid
    }

    /// The KPIs of a JSON review (or of an /api/v1/kpis answer) by "template/id".
    static func kpis(_ json: [String: Any]) -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for t in json["templates"] as? [[String: Any]] ?? [] {
            for k in t["kpis"] as? [[String: Any]] ?? [] { out["\(t["template"]!)/\(k["id"]!)"] = k }
        }
        return out
    }

    static func close(_ a: Any?, _ b: Any?) -> Bool {
        switch (a as? Double, b as? Double) {
        case (nil, nil): return (a == nil || a is NSNull) && (b == nil || b is NSNull)
        case let (x?, y?): return abs(x - y) <= 1e-9 * max(1, abs(y))
        default: return false
        }
    }

    @Test func reviewAgreesWithTheKPIEndpointAndTheRawSamples() throws {
        let dir = TempDir()
        let kpid = try service(dir)
        let r = try http("GET", kpid.base + "/reports/weekly.json?site=JFK&week=\(Self.week)")
        #expect(r.status == 200, "\(r.text)")
        #expect(r.headers["content-type"] == "application/json")
        #expect(r.json["from"] as? String == Self.from && r.json["to"] as? String == Self.to)
        #expect(r.json["first_day"] as? String == "2026-11-16" && r.json["last_day"] as? String == "2026-11-22")
        let review = Self.kpis(r.json)
        #expect(review.count == Self.jfkKPIs)  // airport + security-operations
        // The same ranges through /api/v1/kpis (the week boundaries computed here by hand).
        let now = try http("GET", kpid.base + "/api/v1/kpis?site=JFK&from=\(Self.from)&to=\(Self.to)")
        let before = try http("GET", kpid.base + "/api/v1/kpis?site=JFK&from=\(Self.previousFrom)&to=\(Self.from)")
        #expect(now.status == 200 && before.status == 200)
        let thisWeek = Self.kpis(now.json)
        let lastWeek = Self.kpis(before.json)
        var withValue = 0
        for (key, kpi) in review {
            #expect(Self.close(kpi["value"], thisWeek[key]?["value"]), "\(key): \(kpi["value"]!) vs \(thisWeek[key]?["value"] ?? "-")")
            #expect(Self.close(kpi["target"], thisWeek[key]?["target"]), "\(key)")
            #expect((kpi["status"] as? String) == (thisWeek[key]?["status"] as? String), "\(key)")
            #expect(Self.close(kpi["last_week"], lastWeek[key]?["value"]), "\(key)")
            let trend = kpi["trend"] as? [Any] ?? []
            #expect(trend.count == 8 && Self.close(trend.last, kpi["value"]) && Self.close(trend[6], kpi["last_week"]), "\(key)")
            if let v = kpi["value"] as? Double, let p = kpi["last_week"] as? Double {
                #expect(Self.close(kpi["change"], v - p), "\(key)")
            }
            let worst = (kpi["worst"] as? [[String: Any]] ?? []).map { $0["item"] as? String ?? "" }
            let expected = (thisWeek[key]?["worst"] as? [[String: Any]] ?? []).map { $0["item"] as? String ?? "" }
            #expect(worst == expected, "\(key)")
            if kpi["value"] is Double { withValue += 1 }
        }
        #expect(withValue >= 12)
        // Independent of the evaluator: the mean of the raw waits inside the local week, in minutes.
        let fromMs = Int64(ISO8601DateFormatter().date(from: Self.from)!.timeIntervalSince1970 * 1000)
        let toMs = Int64(ISO8601DateFormatter().date(from: Self.to)!.timeIntervalSince1970 * 1000)
        let waits = try kpid.exportedSamples(#"queue_wait_seconds{site="JFK"}"#).filter { $0.1 >= fromMs && $0.1 < toMs }
        let mean = waits.map(\.2).reduce(0, +) / Double(waits.count) / 60
        #expect(Self.close(review["airport/avg_queue_wait"]?["value"], mean))
        let summary = r.json["summary"] as? [String: Any] ?? [:]
        let counts = ["red", "amber", "green"].map { status in review.values.filter { $0["status"] as? String == status }.count }
        #expect(summary["red"] as? Int == counts[0] && summary["amber"] as? Int == counts[1] && summary["green"] as? Int == counts[2])
        let attention = (summary["attention"] as? [[String: Any]] ?? []).map { $0["status"] as? String ?? "" }
        #expect(attention == Array(repeating: "red", count: counts[0]) + Array(repeating: "amber", count: counts[1]))
        if let ms = r.json["elapsed_ms"] as? Double { print("weekly review of JFK (2 templates x 8 weeks): \(ms) ms") }
    }

    @Test func everyFormatAndItsContentType() throws {
        let dir = TempDir()
        let kpid = try service(dir)
        let q = "site=JFK&week=\(Self.week)"
        let html = try http("GET", kpid.base + "/reports/weekly?" + q)
        #expect(html.status == 200 && html.headers["content-type"] == "text/html; charset=utf-8")
        #expect(html.headers["content-security-policy"]?.contains("default-src 'none'") == true)
        #expect(html.text.hasPrefix("<!DOCTYPE html>") && html.text.contains("JFK International Airport"))
        #expect(html.text.components(separatedBy: "<svg class=\"spark\"").count - 1 == Self.jfkKPIs)
        #expect(html.text.contains("href=\"weekly.json?site=JFK&amp;week=2026-W47\""))
        #expect(try http("GET", kpid.base + "/reports/weekly.html?" + q).text.count > 10_000)

        let csv = try http("GET", kpid.base + "/reports/weekly.csv?" + q)
        #expect(csv.status == 200 && csv.headers["content-type"]?.hasPrefix("text/csv") == true)
        #expect(csv.headers["content-disposition"] == "inline; filename=\"kpid-review-JFK-2026-W47.csv\"")
        let records = csv.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(records.count == Self.jfkKPIs + 1)
        #expect(records.first?.hasPrefix("site,week,template,kpi,title,unit,direction,value,target") == true)
        let viaFormat = try http("GET", kpid.base + "/reports/weekly?format=csv&" + q)
        #expect(viaFormat.text.components(separatedBy: "\r\n").count == csv.text.components(separatedBy: "\r\n").count)

        let md = try http("GET", kpid.base + "/reports/weekly.md?" + q)
        #expect(md.status == 200 && md.headers["content-type"] == "text/markdown; charset=utf-8")
        #expect(md.text.split(separator: "\n").filter { $0.hasPrefix("|") }.count == 2 * 2 + Self.jfkKPIs)
        #expect(md.text.contains("## Airport") && md.text.contains("## Security operations"))

        // One template only.
        let one = try http("GET", kpid.base + "/reports/weekly.json?template=airport&" + q)
        #expect((one.json["templates"] as? [[String: Any]])?.count == 1)

        // The index lists every site with links to its last complete week.
        let index = try http("GET", kpid.base + "/reports")
        #expect(index.status == 200 && index.text.contains("href=\"reports/weekly?site=PLANT-1&amp;week="))
    }

    @Test func badRequestsNameTheField() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path) {
            Self.configure(&$0)
            $0.kpiIntervalSeconds = 0
        }
        func field(_ path: String) throws -> (Int, String?) {
            let r = try http("GET", kpid.base + path)
            return (r.status, (r.json["details"] as? [[String: Any]])?.first?["field"] as? String)
        }
        #expect(try field("/reports/weekly") == (400, "site"))
        #expect(try field("/reports/weekly?site=NOPE&week=2026-W45") == (404, "site"))
        for week in ["2026-45", "2026-W54", "2025-W53", "W45", "2026-W4"] {
            #expect(try field("/reports/weekly?site=JFK&week=" + week) == (400, "week"), "\(week)")
        }
        #expect(try field("/reports/weekly?site=JFK&week=2099-W01") == (400, "week"))  // not started
        #expect(try field("/reports/weekly?site=JFK&week=2026-W45&format=pdf") == (400, "format"))
        #expect(try field("/reports/weekly.csv?site=JFK&week=2026-W45&format=json") == (400, "format"))
        #expect(try field("/reports/weekly?site=JFK&week=2026-W45&template=retail") == (400, "template"))
        #expect(try http("POST", kpid.base + "/reports/weekly?site=JFK", body: Data()).status == 405)
        // No week: the last complete ISO week in the site's zone (computed with Foundation here).
        let r = try http("GET", kpid.base + "/reports/weekly.json?site=JFK")
        #expect(r.status == 200, "\(r.text)")
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "America/New_York")!
        let lastWeek = calendar.date(byAdding: .day, value: -7, to: Date())!
        let c = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: lastWeek)
        #expect(r.json["week"] as? String == String(format: "%04d-W%02d", c.yearForWeekOfYear!, c.weekOfYear!))
        #expect(r.json["in_progress"] as? Bool == false)
        // No data in this store: every KPI without a value is counted as such.
        #expect((r.json["summary"] as? [String: Any])?["no_data"] as? Int == Self.jfkKPIs)
    }

    @Test func siteScopedTokensReadOnlyTheirSites() throws {
        let s = try SecuredService {
            Self.configure(&$0)
            $0.kpiIntervalSeconds = 0
        }
        let admin = try s.token(.admin)
        try Self.ingestFixture(s.kpid.base, token: admin)
        let jfk = try s.token(.read, sites: ["JFK"])
        let ingest = try s.token(.ingest)
        #expect(try s.get("/reports/weekly.json?site=JFK&week=2026-W47", token: jfk).status == 200)
        let other = try s.get("/reports/weekly.json?site=NYC-5TH&week=2026-W47", token: jfk)
        #expect(other.status == 403)
        #expect((other.json["details"] as? [[String: Any]])?.first?["field"] as? String == "site")
        #expect(try s.get("/reports/weekly?site=JFK", token: nil).status == 401)
        #expect(try s.get("/reports/weekly?site=JFK", token: ingest).status == 403)
        let index = try s.get("/reports", token: jfk)
        #expect(index.status == 200 && index.text.contains("site=JFK") && !index.text.contains("site=NYC-5TH"))
        // The scoped token's review equals the admin's for its site.
        let mine = try s.get("/reports/weekly.json?site=JFK&week=2026-W47", token: jfk)
        let theirs = try s.get("/reports/weekly.json?site=JFK&week=2026-W47", token: admin)
        let a = Self.kpis(mine.json)
        let b = Self.kpis(theirs.json)
        #expect(a.keys.sorted() == b.keys.sorted())
        for (key, kpi) in a { #expect(Self.close(kpi["value"], b[key]?["value"]), "\(key)") }
    }

    @Test func reportCommandOfflineAndFromAServer() throws {
        let dir = TempDir()
        let data = dir.path + "/data"
        let (_, _, fixture) = try Self.fixture()
        let ingest = try runKpidCommand(["ingest", "--quiet", "--data", data, fixture])
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let base = ["report", "--site", "JFK", "--week", Self.week, "--templates", Self.templates, "--sites", Self.sites]
        let offline = try runKpidCommand(base + ["--format", "json", "--data", data])
        #expect(offline.status == 0, "\(offline.stderr)")
        let offlineJSON = (try? JSONSerialization.jsonObject(with: Data(offline.stdout.utf8))) as? [String: Any] ?? [:]
        #expect(offlineJSON["week"] as? String == Self.week)
        let mdFile = dir.path + "/jfk.md"
        let md = try runKpidCommand(base + ["--format", "md", "--data", data, "--out", mdFile])
        #expect(md.status == 0, "\(md.stderr)")
        let mdText = (try? String(contentsOfFile: mdFile, encoding: .utf8)) ?? ""
        #expect(mdText.hasPrefix("# Weekly KPI review: JFK International Airport (JFK)"))
        #expect(mdText.split(separator: "\n").filter { $0.hasPrefix("|") }.count == 2 * 2 + Self.jfkKPIs)

        // A server on the same directory: offline is refused (it holds the lock), --url works and
        // gives the same numbers.
        let kpid = try RunningService(data: data) {
            Self.configure(&$0)
            $0.kpiIntervalSeconds = 0
        }
        let refused = try runKpidCommand(base + ["--data", data])
        #expect(refused.status != 0 && refused.stderr.contains("--url"), "\(refused.stderr)")
        let online = try runKpidCommand(["report", "--site", "JFK", "--week", Self.week, "--format", "json", "--url", kpid.base])
        #expect(online.status == 0, "\(online.stderr)")
        let onlineJSON = (try? JSONSerialization.jsonObject(with: Data(online.stdout.utf8))) as? [String: Any] ?? [:]
        let a = Self.kpis(offlineJSON)
        let b = Self.kpis(onlineJSON)
        #expect(a.count == Self.jfkKPIs && a.keys.sorted() == b.keys.sorted())
        for (key, kpi) in a {
            #expect(Self.close(kpi["value"], b[key]?["value"]), "\(key)")
            #expect((kpi["trend"] as? [Any])?.count == 8, "\(key)")
        }
        let unknown = try runKpidCommand(["report", "--site", "NOPE", "--url", kpid.base])
        #expect(unknown.status != 0 && unknown.stderr.contains("HTTP 404"), "\(unknown.stderr)")
        let badWeek = try runKpidCommand(["report", "--site", "JFK", "--week", "2026-45", "--url", kpid.base])
        #expect(badWeek.status != 0 && badWeek.stderr.contains("ISO week"), "\(badWeek.stderr)")
    }
}

// MARK: - A real browser

/// Debian's chromium, headless, on the served review.
@Suite(.serialized) struct WeeklyReviewBrowserTests {
    static let chromium = "/usr/bin/chromium"

    /// Runs chromium headless with `arguments` and the URL; stdout and stderr (its log, which
    /// carries the page's console messages as `CONSOLE` lines) separately.
    static func chromiumRun(_ arguments: [String], url: String, in dir: String) throws -> (status: Int32, stdout: String, log: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.environment = peerEnvironment()
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        let profile = dir + "/profile-" + UUID().uuidString
        process.arguments =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                "--user-data-dir=\(profile)", "--enable-logging=stderr", "--v=0",
            ] + arguments + [url]
        let outPath = dir + "/chromium-out-" + UUID().uuidString
        let logPath = dir + "/chromium-log-" + UUID().uuidString
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = out
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw TestFailure("chromium did not finish within 120 s")
        }
        try out.close()
        try log.close()
        return (
            process.terminationStatus, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        )
    }

    /// The page's console messages and load failures in chromium's log.
    static func pageProblems(_ log: String) -> [String] {
        log.split(separator: "\n").map(String.init).filter {
            $0.contains(":CONSOLE") || $0.contains("Uncaught") || $0.contains("Refused to") || $0.contains("Page load failed")
        }
    }

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: chromium),
            "chromium is not installed: scripts/install-deps.sh installs Debian's chromium"))
    func theHTMLReviewRendersInChromium() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data") {
            WeeklyReviewHTTPTests.configure(&$0)
            $0.kpiIntervalSeconds = 0
        }
        try WeeklyReviewHTTPTests.ingestFixture(kpid.base)
        let url = kpid.base + "/reports/weekly?site=JFK&week=\(WeeklyReviewHTTPTests.week)"
        let kpiCount = WeeklyReviewHTTPTests.kpis(try http("GET", kpid.base + "/reports/weekly.json?site=JFK&week=2026-W47").json).count
        #expect(kpiCount == WeeklyReviewHTTPTests.jfkKPIs)

        // The detector works: a page whose script throws is reported in the same log.
        try #"<!DOCTYPE html><html><body><script>throw new Error("control")</script></body></html>"#
            .write(toFile: dir.path + "/control.html", atomically: true, encoding: .utf8)
        let control = try Self.chromiumRun(["--dump-dom"], url: "file://" + dir.path + "/control.html", in: dir.path)
        #expect(Self.pageProblems(control.log).contains { $0.contains("Uncaught Error: control") }, "\(control.log)")

        // The review: loads with no console message, the DOM holds the tables and a sparkline per KPI.
        let dom = try Self.chromiumRun(["--dump-dom"], url: url, in: dir.path)
        #expect(dom.status == 0)
        #expect(Self.pageProblems(dom.log).isEmpty, "\(Self.pageProblems(dom.log))")
        #expect(dom.stdout.contains("<h1>Weekly KPI review: JFK International Airport</h1>"))
        #expect(dom.stdout.components(separatedBy: "<table class=\"kpis\">").count - 1 == 2)
        #expect(dom.stdout.components(separatedBy: "<tr class=").count - 1 == kpiCount)
        #expect(dom.stdout.components(separatedBy: "<svg class=\"spark\"").count - 1 == kpiCount)
        #expect(dom.stdout.components(separatedBy: "<line class=\"target\"").count - 1 == kpiCount)

        // Screenshots on a desktop and a phone width: real renderings with the sparklines' blue,
        // the status colours and text (dark pixels) on the page background.
        for (width, height) in [(1280, 2400), (390, 2400)] {
            let png = dir.path + "/review-\(width).png"
            let shot = try Self.chromiumRun(["--screenshot=\(png)", "--window-size=\(width),\(height)"], url: url, in: dir.path)
            #expect(shot.status == 0, "\(shot.log.suffix(2000))")
            #expect(Self.pageProblems(shot.log).isEmpty, "\(Self.pageProblems(shot.log))")
            let image = try PNGImage(Data(contentsOf: URL(fileURLWithPath: png)))
            #expect(image.width == width && image.height == height)
            let counts = image.count([
                "accent": (9, 105, 218), "red": (194, 26, 35), "green": (26, 127, 55), "text": (31, 35, 40),
            ])
            #expect(counts["accent", default: 0] > 150, "sparkline pixels: \(counts)")
            #expect(counts["red", default: 0] > 50 && counts["green", default: 0] > 50, "status pixels: \(counts)")
            #expect(counts["text", default: 0] > 2000, "text pixels: \(counts)")
            #expect(image.distinctColours > 100)
            if let keep = ProcessInfo.processInfo.environment["KPID_REVIEW_SCREENSHOTS"] {
                try? FileManager.default.copyItem(atPath: png, toPath: keep + "/review-\(width).png")
            }
        }
    }
}

/// A minimal PNG reader (8-bit RGB or RGBA, not interlaced): chunks, IDAT inflated with zlib,
/// scanline filters undone. Enough to look at chromium's screenshots.
struct PNGImage {
    let width: Int
    let height: Int
    let channels: Int
    let pixels: [UInt8]

    init(_ data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.count > 8, bytes[0..<8] == [137, 80, 78, 71, 13, 10, 26, 10] else { throw TestFailure("not a PNG") }
        func u32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        var offset = 8
        var idat: [UInt8] = []
        var w = 0
        var h = 0
        var colourType = 0
        var depth = 0
        var interlace = 0
        while offset + 8 <= bytes.count {
            let length = u32(offset)
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let body = offset + 8
            if type == "IHDR" {
                w = u32(body)
                h = u32(body + 4)
                depth = Int(bytes[body + 8])
                colourType = Int(bytes[body + 9])
                interlace = Int(bytes[body + 12])
            } else if type == "IDAT" {
                idat.append(contentsOf: bytes[body..<(body + length)])
            } else if type == "IEND" {
                break
            }
            offset = body + length + 4
        }
        guard depth == 8, colourType == 2 || colourType == 6, interlace == 0 else {
            throw TestFailure("unsupported PNG: depth \(depth), colour type \(colourType), interlace \(interlace)")
        }
        let channels = colourType == 6 ? 4 : 3
        let raw = try GzipDecoder.inflate(idat, limit: (w * channels + 1) * h + 16)
        let stride = w * channels
        guard raw.count >= (stride + 1) * h else { throw TestFailure("short image data") }
        var out = [UInt8](repeating: 0, count: stride * h)
        for y in 0..<h {
            let filter = raw[y * (stride + 1)]
            let line = y * (stride + 1) + 1
            for x in 0..<stride {
                let a = x >= channels ? Int(out[y * stride + x - channels]) : 0
                let b = y > 0 ? Int(out[(y - 1) * stride + x]) : 0
                let c = x >= channels && y > 0 ? Int(out[(y - 1) * stride + x - channels]) : 0
                let v = Int(raw[line + x])
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = b
                case 3: predicted = (a + b) / 2
                case 4:
                    let p = a + b - c
                    let (pa, pb, pc) = (abs(p - a), abs(p - b), abs(p - c))
                    predicted = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: throw TestFailure("bad PNG filter \(filter)")
                }
                out[y * stride + x] = UInt8((v + predicted) & 0xFF)
            }
        }
        width = w
        height = h
        self.channels = channels
        pixels = out
    }

    /// Pixels within a small distance of each named colour.
    func count(_ colours: [String: (Int, Int, Int)], tolerance: Int = 24) -> [String: Int] {
        var counts: [String: Int] = [:]
        for i in stride(from: 0, to: pixels.count, by: channels) {
            let (r, g, b) = (Int(pixels[i]), Int(pixels[i + 1]), Int(pixels[i + 2]))
            for (name, c) in colours where abs(r - c.0) + abs(g - c.1) + abs(b - c.2) <= tolerance {
                counts[name, default: 0] += 1
            }
        }
        return counts
    }

    var distinctColours: Int {
        var seen = Set<Int>()
        for i in stride(from: 0, to: pixels.count, by: channels) {
            seen.insert(Int(pixels[i]) << 16 | Int(pixels[i + 1]) << 8 | Int(pixels[i + 2]))
        }
        return seen.count
    }
}
