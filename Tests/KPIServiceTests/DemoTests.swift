import Foundation
import KPICore
import KPIRuntime
import KPIService
import KPIWire
import Testing

/// `kpid serve --demo`: the demo's data ends at kpid's clock (pinned here to chosen instants),
/// the default review week has a value for every KPI, the feed moves with the clock, a restart
/// fills the gap with exactly what a running demo feeds, and a directory with other series is
/// refused.
@Suite(.serialized) struct DemoTests {
    static let templates = packageRoot.appendingPathComponent("Queries/templates").path
    static let sites = packageRoot.appendingPathComponent("Queries/sites.json").path

    /// A demo sites file holding only `ids` of `Fixtures/sites.json` (one site loads in seconds).
    static func demoSites(_ ids: [String], in dir: TempDir) throws -> String {
        let all =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: packageRoot.appendingPathComponent("Fixtures/sites.json"))) as? [[String: Any]] ?? []
        let chosen = all.filter { ids.contains($0["site"] as? String ?? "") }
        guard chosen.count == ids.count else { throw TestFailure("Fixtures/sites.json lacks one of \(ids)") }
        let path = dir.path + "/demo-sites-\(ids.joined(separator: "-")).json"
        try JSONSerialization.data(withJSONObject: chosen).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func demo(_ data: String, at instant: String, sites demoSites: String, force: Bool = false) throws -> RunningService {
        guard let ms = TimestampParser.parseAPITime(instant) else { throw TestFailure("bad instant \(instant)") }
        return try RunningService(data: data) {
            $0.templatesDirectory = templates
            $0.sitesFile = sites
            $0.clock = .pinned(at: ms)
            $0.demo = true
            $0.demoForce = force
            $0.demoSitesFile = demoSites
        }
    }

    /// Instants and the last complete ISO week in New York at each, worked out by hand: a
    /// Monday morning; Sunday 23:30 (the week not complete yet) and half an hour later; the
    /// week of the change to daylight saving time (Sunday 2027-03-14); New Year's week of 2026,
    /// a 53-week ISO year (2026-W53 is Monday 2026-12-28 to Sunday 2027-01-03).
    static let defaultWeeks: [(instant: String, week: String)] = [
        ("2027-03-01T14:00:00Z", "2027-W08"), ("2027-03-08T04:30:00Z", "2027-W08"), ("2027-03-08T05:30:00Z", "2027-W09"),
        ("2027-03-17T12:00:00Z", "2027-W10"), ("2027-01-04T12:00:00Z", "2026-W53"),
    ]

    @Test(arguments: defaultWeeks.map(\.instant))
    func theDefaultWeekHasAValueForEveryKPI(_ instant: String) throws {
        let expected = Self.defaultWeeks.first { $0.instant == instant }!.week
        let dir = TempDir()
        let kpid = try Self.demo(dir.path + "/data", at: instant, sites: try Self.demoSites(["JFK"], in: dir))
        defer { kpid.stop() }
        let r = try http("GET", kpid.base + "/reports/weekly.json?site=JFK")
        #expect(r.status == 200, "\(r.text.prefix(300))")
        #expect(r.json["week"] as? String == expected)
        let kpis = WeeklyReviewHTTPTests.kpis(r.json)
        #expect(kpis.count == WeeklyReviewHTTPTests.jfkKPIs)
        let missing = kpis.filter { $0.value["value"] == nil || $0.value["value"] is NSNull }.map(\.key).sorted()
        #expect(missing.isEmpty, "\(instant) \(expected): no value for \(missing)")
        // The same week from `kpid report` offline, as of the same instant.
        kpid.stop()
        let report = try runKpidCommand([
            "report", "--site", "JFK", "--format", "json", "--data", dir.path + "/data", "--templates", Self.templates,
            "--sites", Self.sites, "--now", instant,
        ])
        #expect(report.status == 0, "\(report.stderr)")
        let offline = try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(offline["week"] as? String == expected)
    }

    /// The samples of every demo series up to `end`, as "labels ts value" lines, sorted.
    static func dump(_ kpid: RunningService, end: Int64) throws -> [String] {
        let r = try http(
            "GET",
            kpid.base + "/api/v1/export?match=" + percentEncoded(#"{site="JFK",__name__!~"kpid_.*"}"#)
                + "&start=0&end=\(Double(end) / 1000)")
        #expect(r.status == 200)
        return r.text.split(separator: "\n").map(String.init).sorted()
    }

    /// The rolling 1 h KPI values on /metrics after a round, "labels value" by labels.
    static func rollingHour(_ kpid: RunningService) throws -> [String: String] {
        let round = try http("POST", kpid.base + "/api/v1/admin/kpis/evaluate")
        #expect(round.status == 200, "\(round.text)")
        var out: [String: String] = [:]
        for line in try http("GET", kpid.base + "/metrics").text.split(separator: "\n")
        where line.hasPrefix("kpid_kpi_value{") && line.contains(#"window="1h""#) {
            let parts = line.split(separator: " ")
            out[String(parts[0])] = String(parts[1])
        }
        return out
    }

    @Test func theFeedMovesWithTheClockAndARestartFillsTheGapDeterministically() throws {
        let dir = TempDir()
        let sites = try Self.demoSites(["JFK"], in: dir)
        // Ten minutes before a UTC midnight, then 15 minutes later (past it: a daily run).
        let t0 = "2027-03-03T23:50:00Z"
        let t1 = "2027-03-04T00:05:00Z"
        let t0ms = TimestampParser.parseAPITime(t0)!
        let t1ms = TimestampParser.parseAPITime(t1)!
        var a = try Self.demo(dir.path + "/a", at: t0, sites: sites)
        let before = try Self.dump(a, end: t1ms)
        let hourBefore = try Self.rollingHour(a)
        a.stop()
        a = try Self.demo(dir.path + "/a", at: t1, sites: sites)
        let after = try Self.dump(a, end: t1ms)
        let hourAfter = try Self.rollingHour(a)
        a.stop()
        // Nothing after the clock's instant, the gap fed on restart, what was there kept.
        let newest = { (lines: [String]) in lines.compactMap { Self.timestamp($0) }.max() ?? 0 }
        #expect(newest(before) <= t0ms && newest(before) > t0ms - 15 * 60_000)
        #expect(newest(after) <= t1ms && newest(after) > t0ms)
        #expect(Set(before).isSubset(of: Set(after)))
        // The 1 h window has values at both instants (a repair time needs a repair in the
        // hour, so not every KPI), and they moved.
        #expect(hourBefore.count >= WeeklyReviewHTTPTests.jfkKPIs / 2 && hourAfter.count >= WeeklyReviewHTTPTests.jfkKPIs / 2)
        #expect(hourBefore != hourAfter, "\(hourBefore)")

        // The same instants with one more stop in between feed the same samples.
        var b = try Self.demo(dir.path + "/b", at: t0, sites: sites)
        b.stop()
        b = try Self.demo(dir.path + "/b", at: "2027-03-03T23:57:00Z", sites: sites)
        b.stop()
        b = try Self.demo(dir.path + "/b", at: t1, sites: sites)
        #expect(try Self.dump(b, end: t1ms) == after)
        b.stop()

        // Counters continue across the midnight where the daily runs begin: never lower than before.
        var last: [String: Double] = [:]
        for line in after where line.contains(#""metric":"entries_total""#) {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            let key = "\(object["labels"] ?? "")"
            let value = (object["value"] as? NSNumber)?.doubleValue ?? .nan
            if let previous = last[key] { #expect(value >= previous, "\(key) fell from \(previous) to \(value)") }
            last[key] = value
        }
        #expect(!last.isEmpty)
    }

    static func timestamp(_ line: String) -> Int64? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return (object["ts"] as? NSNumber)?.int64Value
    }

    @Test func aDirectoryWithOtherSeriesIsRefusedUnlessForced() throws {
        let dir = TempDir()
        let sites = try Self.demoSites(["JFK"], in: dir)
        let plain = try RunningService(data: dir.path + "/data")
        let r = try plain.ingest(
            #"{"metric":"m","labels":{"site":"MINE"},"ts":1795392000000,"value":1}"#, contentType: "application/x-ndjson")
        #expect(r.status == 200)
        plain.stop()
        #expect(throws: (any Error).self) { _ = try Self.demo(dir.path + "/data", at: "2027-03-01T14:00:00Z", sites: sites) }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/data/demo.json"))
        let forced = try Self.demo(dir.path + "/data", at: "2027-03-01T14:00:00Z", sites: sites, force: true)
        #expect(try forced.exportedSamples("m").count == 1)
        #expect(try forced.exportedSamples(#"device_up{site="JFK"}"#).count > 1000)
        forced.stop()
    }

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: WeeklyReviewBrowserTests.chromium),
            "chromium is not installed: scripts/install-deps.sh installs Debian's chromium"))
    func theDefaultReviewInChromiumHasNoRowWithoutData() throws {
        let dir = TempDir()
        let kpid = try Self.demo(dir.path + "/data", at: "2027-03-01T14:00:00Z", sites: try Self.demoSites(["JFK"], in: dir))
        defer { kpid.stop() }
        let dom = try WeeklyReviewBrowserTests.chromiumRun(["--dump-dom"], url: kpid.base + "/reports/weekly?site=JFK", in: dir.path)
        #expect(dom.status == 0)
        #expect(WeeklyReviewBrowserTests.pageProblems(dom.log).isEmpty, "\(WeeklyReviewBrowserTests.pageProblems(dom.log))")
        #expect(dom.stdout.contains("week <b>2027-W08</b>"))
        #expect(dom.stdout.components(separatedBy: "<tr class=").count - 1 == WeeklyReviewHTTPTests.jfkKPIs)
        #expect(!dom.stdout.contains("<tr class=\"none\""), "a KPI row without data")
        #expect(dom.stdout.contains("<div class=\"count none\" role=\"listitem\"><b>0</b>"))
    }
}
