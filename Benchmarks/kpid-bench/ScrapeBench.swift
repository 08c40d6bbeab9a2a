import ArgumentParser
import Foundation
import KPIService
import KPIRuntime
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `/metrics` scrape time with about `--target-series` rolling KPI series: the committed
/// fixtures (Fixtures/*/*.ndjson.gz, one site each) loaded as is plus copies under new site
/// ids (registered with POST /api/v1/sites, the original's templates, time zone and
/// overrides), shifted to end today; a forced KPI round; then timed scrapes in text,
/// OpenMetrics and protobuf.
struct ScrapeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrape", abstract: "/metrics scrape time with ~10,000 kpid_kpi_* series (fixture sites and copies).")

    @Option(help: "kpid_kpi_* series to reach (about): decides how many copies of each fixture site to add.")
    var targetSeries = 10_000
    @Option(help: "Copies of every fixture site instead of the number --target-series asks for.") var copies: Int?
    @Option(help: "Timed scrapes per format.") var scrapes = 50
    @Option(help: "The repository root (Fixtures/, Queries/); default: the source tree of this benchmark.") var root: String?

    /// Prometheus 2.42's Accept header when it may negotiate protobuf.
    static let protobufAccept =
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,"
        + "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
        + "text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
    /// Prometheus 2.42's default Accept header (OpenMetrics first).
    static let openMetricsAccept =
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
        + "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

    func run() throws {
        let repo =
            root
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .path
        let fixtures = try Self.fixtureFiles(repo: repo)
        let dir = NSTemporaryDirectory() + "kpid-bench-scrape-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = ServiceConfiguration()
        config.dataDirectory = dir
        config.port = 0
        config.kpiIntervalSeconds = 0  // rounds forced below, none in the middle of the timed scrapes
        config.templatesDirectory = repo + "/Queries/templates"
        config.sitesFile = repo + "/Queries/sites.json"
        config.queriesDirectory = repo + "/Queries"
        let (service, base) = try startBenchService(config)
        defer { service.stop() }
        let session = URLSession(configuration: .ephemeral)

        // The sites of the sites file, as kpid lists them (templates, time zone, overrides).
        let listed = httpRequest(base.appendingPathComponent("api/v1/sites"), session: session)
        guard listed.status == 200, let json = try? JSONSerialization.jsonObject(with: listed.body) as? [String: Any],
            let sites = json["sites"] as? [[String: Any]]
        else { throw BenchError("GET /api/v1/sites: HTTP \(listed.status)") }

        // The fixtures end at a UTC midnight; shift whole days so they end at today's.
        let dayMs: Int64 = 86_400_000
        let today = Int64(Date().timeIntervalSince1970 * 1000) / dayMs * dayMs
        var originals: [(site: String, lines: [UInt8], definition: [String: Any])] = []
        var offset: Int64 = 0
        for (site, file) in fixtures {
            guard let definition = sites.first(where: { $0["site"] as? String == site }) else {
                print("skipping \(file): site \(site) is not in Queries/sites.json")
                continue
            }
            let bytes = try Self.gunzip(file)
            originals.append((site, bytes, definition))
            offset = max(offset, today - (Self.maxTimestamp(bytes) / dayMs + 1) * dayMs)
        }
        guard !originals.isEmpty else { throw BenchError("no fixture sites found under \(repo)/Fixtures") }
        print("fixtures: \(originals.map(\.site).joined(separator: ", ")), shifted by \(offset / dayMs) days to end today")

        var loaded = 0
        func load(copy: Int) throws {
            for o in originals {
                let id = copy == 0 ? o.site : "\(o.site)-\(copy)"
                if copy > 0 {
                    var definition = o.definition
                    definition["site"] = id
                    definition["display_name"] = "\(definition["display_name"] as? String ?? o.site) (copy \(copy))"
                    for key in ["source", "replaces_file_site"] { definition.removeValue(forKey: key) }
                    let body = try JSONSerialization.data(withJSONObject: definition)
                    let r = httpRequest(
                        base.appendingPathComponent("api/v1/sites"), method: "POST", headers: ["Content-Type": "application/json"],
                        body: body, session: session)
                    guard r.status == 201 || r.status == 200 else {
                        throw BenchError(
                            "POST /api/v1/sites \(id): HTTP \(r.status) \(String(decoding: r.body.prefix(300), as: UTF8.self))")
                    }
                }
                let body = Self.rewrite(o.lines, site: o.site, as: id, shiftMs: offset)
                let r = httpRequest(
                    base.appendingPathComponent("api/v1/ingest"), method: "POST", headers: ["Content-Type": "application/x-ndjson"],
                    body: Data(body), timeout: 600, session: session)
                guard r.status == 200 else {
                    throw BenchError("ingest of \(id): HTTP \(r.status) \(String(decoding: r.body.prefix(300), as: UTF8.self))")
                }
                loaded += 1
            }
        }
        func evaluate() throws -> (kpi: Int, all: Int, bytes: Int) {
            let began = Date()
            let r = httpRequest(base.appendingPathComponent("api/v1/admin/kpis/evaluate"), method: "POST", timeout: 600, session: session)
            guard r.status == 200 else {
                throw BenchError("KPI round: HTTP \(r.status) \(String(decoding: r.body.prefix(300), as: UTF8.self))")
            }
            print(
                String(
                    format: "  KPI round in %.1f s: %@", Date().timeIntervalSince(began),
                    String(decoding: r.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
            let scrape = httpRequest(base.appendingPathComponent("metrics"), session: session)
            let counts = Self.countKPISeries(scrape.body)
            return (counts.kpi, counts.all, scrape.body.count)
        }

        print("loading the \(originals.count) fixture sites...")
        try load(copy: 0)
        let first = try evaluate()
        print("  \(first.kpi) kpid_kpi_* series from \(originals.count) sites")
        let extra = copies ?? max(0, Int((Double(targetSeries) / Double(max(first.kpi, 1))).rounded()) - 1)
        if extra > 0 {
            print(
                "adding \(extra) copies of every fixture site (\(extra * originals.count) sites) to reach about \(targetSeries) series...")
            for c in 1...extra { try load(copy: c) }
        }
        let final = extra > 0 ? try evaluate() : first
        let stats = service.store.stats
        print(
            "\(loaded) sites, \(stats.sampleCount) samples, \(stats.seriesCount) series in the store; /metrics: \(final.kpi) "
                + "kpid_kpi_* KPI series (\(final.all) kpid_kpi_* lines), \(final.bytes / 1000) kB of text")

        // Timed scrapes over one keep-alive connection, after one untimed warm-up each.
        var rows: [(String, Double, Double, Int)] = []
        for (name, accept, expected) in [
            ("text (no Accept)", nil, "text/plain"), ("OpenMetrics", Self.openMetricsAccept, "application/openmetrics-text"),
            ("protobuf (Prometheus' Accept)", Self.protobufAccept, "application/vnd.google.protobuf"),
        ] as [(String, String?, String)] {
            let url = base.appendingPathComponent("metrics")
            let headers = accept.map { ["Accept": $0] } ?? [:]
            let warm = httpRequest(url, headers: headers, session: session)
            let type = warm.headers["content-type"] ?? ""
            guard warm.status == 200, type.hasPrefix(expected) else {
                throw BenchError("/metrics as \(name): HTTP \(warm.status), Content-Type \(type), expected \(expected)")
            }
            var times: [Double] = []
            for _ in 0..<scrapes {
                let began = DispatchTime.now().uptimeNanoseconds
                let r = httpRequest(url, headers: headers, session: session)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9)
                guard r.status == 200 else { throw BenchError("/metrics: HTTP \(r.status)") }
            }
            let (median, p99) = BenchFormat.medianP99(times)
            rows.append((name, median, p99, warm.body.count))
        }
        print("")
        print("| /metrics format | kpid_kpi_* series | body | scrape median | scrape p99 | scrapes |")
        print("|---|---:|---:|---:|---:|---:|")
        for (name, median, p99, bytes) in rows {
            print(
                "| \(name) | \(BenchFormat.grouped(final.kpi)) | \(BenchFormat.grouped(bytes / 1000)) kB | \(BenchFormat.ms(median)) | "
                    + "\(BenchFormat.ms(p99)) | \(scrapes) |")
        }
        print(
            "\nSeries: \(originals.count) fixture sites (Fixtures/*, shifted to end today) and \(extra) copies of each under new site "
                + "ids, \(loaded) sites; one forced round (POST /api/v1/admin/kpis/evaluate) of the windows \(config.kpiWindows.map(\.name).joined(separator: ","))."
        )
    }

    /// (site, fixture file) from Fixtures/sites.json.
    static func fixtureFiles(repo: String) throws -> [(String, String)] {
        let data = try Data(contentsOf: URL(fileURLWithPath: repo + "/Fixtures/sites.json"))
        guard let list = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw BenchError("\(repo)/Fixtures/sites.json is not a list")
        }
        return list.compactMap { entry in
            guard let site = entry["site"] as? String, let file = entry["file"] as? String,
                FileManager.default.fileExists(atPath: repo + "/" + file)
            else { return nil }
            return (site, repo + "/" + file)
        }
    }

    /// `gzip -dc file`.
    static func gunzip(_ file: String) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-dc", file]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("gzip -dc \(file) failed") }
        return [UInt8](data)
    }

    static let tsKey = Array(#""ts":"#.utf8)

    /// The largest `"ts":N` of the ndjson lines.
    static func maxTimestamp(_ bytes: [UInt8]) -> Int64 {
        var best: Int64 = 0
        var i = 0
        while let at = find(tsKey, in: bytes, from: i) {
            var j = at + tsKey.count
            var n: Int64 = 0
            while j < bytes.count, bytes[j] >= 48, bytes[j] <= 57 {
                n = n * 10 + Int64(bytes[j] - 48)
                j += 1
            }
            best = max(best, n)
            i = j
        }
        return best
    }

    /// The lines with `"site":"<from>"` renamed to `<to>` and every `"ts":N` moved by `shiftMs`.
    static func rewrite(_ bytes: [UInt8], site from: String, as to: String, shiftMs: Int64) -> [UInt8] {
        let siteKey = Array("\"site\":\"\(from)\"".utf8)
        let siteNew = Array("\"site\":\"\(to)\"".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + bytes.count / 20)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\""), matches(siteKey, in: bytes, at: i) {
                out.append(contentsOf: siteNew)
                i += siteKey.count
            } else if bytes[i] == UInt8(ascii: "\""), matches(tsKey, in: bytes, at: i) {
                out.append(contentsOf: tsKey)
                var j = i + tsKey.count
                var n: Int64 = 0
                while j < bytes.count, bytes[j] >= 48, bytes[j] <= 57 {
                    n = n * 10 + Int64(bytes[j] - 48)
                    j += 1
                }
                out.append(contentsOf: Array(String(n + shiftMs).utf8))
                i = j
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    static func matches(_ needle: [UInt8], in bytes: [UInt8], at i: Int) -> Bool {
        guard i + needle.count <= bytes.count else { return false }
        for k in 0..<needle.count where bytes[i + k] != needle[k] { return false }
        return true
    }

    static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        var i = start
        while i + needle.count <= bytes.count {
            if bytes[i] == needle[0] && matches(needle, in: bytes, at: i) { return i }
            i += 1
        }
        return nil
    }

    /// Series of the per-KPI families (value, previous_value, target, warning, status, info) and
    /// every `kpid_kpi_` sample line, in a text scrape.
    static func countKPISeries(_ body: Data) -> (kpi: Int, all: Int) {
        let families = ["value", "previous_value", "target", "warning", "status", "info"].map { "kpid_kpi_\($0){" }
        var kpi = 0
        var all = 0
        for line in String(decoding: body, as: UTF8.self).split(separator: "\n") where line.hasPrefix("kpid_kpi_") {
            all += 1
            if families.contains(where: { line.hasPrefix($0) }) { kpi += 1 }
        }
        return (kpi, all)
    }
}
