import Foundation
import KPIRuntime
import Testing

@testable import KPIService

/// The scheduled rolling KPIs: values per window against sums and means worked out by hand
/// from the samples the test writes, on /metrics, on /api/v1/kpis?window= and as recorded series.
@Suite(.serialized) struct RollingKPITests {
    static let template = """
        template: demo
        title: Demo
        description: Two KPIs over hand-placed samples.
        # Hand-placed events, not probes: how much of a window they cover is not judged.
        min_coverage: 0
        kpis:
          - id: avg_wait
            title: Average wait
            description: Mean of every wait sample in the range.
            unit: s
            direction: lower_is_better
            target: 60
            warning: 120
            query: |
              SELECT avg(value) AS value FROM wait_seconds WHERE site = :site AND ts >= :from AND ts < :to
          - id: entries
            title: Entries
            description: People counted in, a total whose target is written per hour.
            unit: count
            direction: higher_is_better
            target: 100
            warning: 50
            target_window: 1h
            query: |
              SELECT sum(value) AS value FROM entries WHERE site = :site AND ts >= :from AND ts < :to

        """
    static let sites = """
        [{"site": "S1", "display_name": "Site one", "time_zone": "UTC", "templates": ["demo"]},
         {"site": "S2", "time_zone": "UTC", "templates": ["demo"]}]
        """

    /// (age, wait, entries): samples placed well inside each window, so the few seconds between
    /// writing them and the evaluation do not move any across a boundary.
    static let samples: [(age: Int64, wait: Double?, entries: Double)] = [
        (30 * 60_000, 30, 40), (90 * 60_000, 90, 70), (10 * 3_600_000, 200, 500), (30 * 3_600_000, 50, 1000),
        (3 * 86_400_000, 100, 2000), (10 * 86_400_000, 20, 3000), (20 * 86_400_000, 70, 4000),
        (40 * 86_400_000, nil, 10000),
    ]

    /// Hand-computed from `samples`: window -> (avg wait, previous avg wait, entries, previous entries).
    static let expected: [String: (wait: Double, previousWait: Double?, entries: Double, previousEntries: Double)] = [
        "1h": (30, 90, 40, 70),
        "24h": ((30 + 90 + 200) / 3.0, 50, 40 + 70 + 500, 1000),
        "7d": ((30 + 90 + 200 + 50 + 100) / 5.0, 20, 40 + 70 + 500 + 1000 + 2000, 3000),
        "28d": ((30 + 90 + 200 + 50 + 100 + 20 + 70) / 7.0, nil, 40 + 70 + 500 + 1000 + 2000 + 3000 + 4000, 10000),
    ]
    static let hours: [String: Double] = ["1h": 1, "24h": 24, "7d": 168, "28d": 672]

    func start(_ dir: TempDir, interval: Double = 0) throws -> RunningService {
        let templates = dir.path + "/templates"
        try FileManager.default.createDirectory(atPath: templates, withIntermediateDirectories: true)
        try Self.template.write(toFile: templates + "/demo.yaml", atomically: true, encoding: .utf8)
        try Self.sites.write(toFile: dir.path + "/sites.json", atomically: true, encoding: .utf8)
        let kpid = try RunningService(data: dir.path + "/data") { c in
            c.templatesDirectory = templates
            c.sitesFile = dir.path + "/sites.json"
            c.kpiIntervalSeconds = interval
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var lines: [String] = []
        for s in Self.samples.sorted(by: { $0.age > $1.age }) {
            if let w = s.wait {
                lines.append(#"{"metric":"wait_seconds","labels":{"site":"S1"},"ts":\#(now - s.age),"value":\#(w)}"#)
            }
            lines.append(#"{"metric":"entries","labels":{"site":"S1"},"ts":\#(now - s.age),"value":\#(s.entries)}"#)
        }
        let r = try kpid.ingest(lines.joined(separator: "\n"), contentType: "application/x-ndjson")
        #expect(r.status == 200, "\(r.text)")
        return kpid
    }

    /// Samples of one family on /metrics: labels and value.
    func samples(_ text: String, _ name: String) -> [([String: String], Double)] {
        var out: [([String: String], Double)] = []
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") {
            guard let close = line.lastIndex(of: "}") else { continue }
            let inside = line[line.index(line.startIndex, offsetBy: name.count + 1)..<close]
            var labels: [String: String] = [:]
            // Values here have no escaped quotes or commas inside quotes except titles; split carefully.
            var rest = Substring(inside)
            while let eq = rest.firstIndex(of: "=") {
                let key = String(rest[..<eq])
                let afterQuote = rest.index(eq, offsetBy: 2)
                let end = rest[afterQuote...].firstIndex(of: "\"")!
                labels[key] = String(rest[afterQuote..<end])
                rest = rest[rest.index(after: end)...]
                if rest.first == "," { rest = rest.dropFirst() }
            }
            out.append((labels, Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces))!))
        }
        return out
    }

    func value(_ list: [([String: String], Double)], kpi: String, window: String, site: String = "S1") -> Double? {
        list.first { $0.0["kpi"] == kpi && $0.0["window"] == window && $0.0["site"] == site }?.1
    }

    @Test func everyWindowMatchesTheHandComputedValues() throws {
        let dir = TempDir()
        let kpid = try start(dir)
        // Through curl (run without libfaketime), not `http`: under `make test-shifted` `http`
        // sends a stalled KPI round a second time, and this test counts the rounds.
        let round = try curl("POST", kpid.base + "/api/v1/admin/kpis/evaluate")
        #expect(round.status == 200, "\(round.text)")
        let data = round.json["data"] as? [String: Any]
        #expect(data?["values"] as? Int == 8)  // 2 KPIs x 4 windows, S1 only: S2 sends nothing
        #expect(data?["failures"] as? Int == 0)

        let text = try http("GET", kpid.base + "/metrics").text
        #expect(text.contains("# HELP kpid_kpi_value KPI value over a rolling window"))
        #expect(text.contains("# TYPE kpid_kpi_status gauge"))
        let values = samples(text, "kpid_kpi_value")
        let previous = samples(text, "kpid_kpi_previous_value")
        let targets = samples(text, "kpid_kpi_target")
        let warnings = samples(text, "kpid_kpi_warning")
        let statuses = samples(text, "kpid_kpi_status")
        #expect(!values.contains { $0.0["site"] == "S2" })
        for (window, e) in Self.expected {
            let wait = try #require(value(values, kpi: "avg_wait", window: window), "\(window)")
            #expect(abs(wait - e.wait) < 1e-9, "\(window)")
            #expect(value(values, kpi: "entries", window: window) == e.entries, "\(window)")
            #expect(value(previous, kpi: "avg_wait", window: window) == e.previousWait, "\(window)")
            #expect(value(previous, kpi: "entries", window: window) == e.previousEntries, "\(window)")
            // The entries target is written per hour: 100 an hour, warning 50 an hour.
            let hours = Self.hours[window]!
            #expect(value(targets, kpi: "entries", window: window) == 100 * hours, "\(window)")
            #expect(value(warnings, kpi: "entries", window: window) == 50 * hours, "\(window)")
            #expect(value(targets, kpi: "avg_wait", window: window) == 60, "\(window)")
            // Lower is better for the wait: green to 60 s, amber to 120 s, red beyond.
            let waitStatus: Double = e.wait <= 60 ? 0 : e.wait <= 120 ? 1 : 2
            #expect(value(statuses, kpi: "avg_wait", window: window) == waitStatus, "\(window)")
            let entryStatus: Double = e.entries >= 100 * hours ? 0 : e.entries >= 50 * hours ? 1 : 2
            #expect(value(statuses, kpi: "entries", window: window) == entryStatus, "\(window)")
        }
        // Spot checks of the status arithmetic: 1 h wait 30 s is green, 24 h 106.7 s amber.
        #expect(value(statuses, kpi: "avg_wait", window: "1h") == 0)
        #expect(value(statuses, kpi: "avg_wait", window: "24h") == 1)
        let info = samples(text, "kpid_kpi_info").first { $0.0["kpi"] == "entries" }
        #expect(info?.0["title"] == "Entries")
        #expect(info?.0["direction"] == "higher_is_better")
        #expect(text.contains("kpid_kpi_evaluations_total{result=\"ok\"} 1"))

        // The same values as a rolling window of /api/v1/kpis, with the change.
        let r = try http("GET", kpid.base + "/api/v1/kpis?site=S1&window=24h")
        #expect(r.status == 200, "\(r.text)")
        #expect(r.json["window"] as? String == "24h")
        let kpis = ((r.json["templates"] as? [[String: Any]])?.first?["kpis"] as? [[String: Any]]) ?? []
        let entries = kpis.first { $0["id"] as? String == "entries" }
        #expect((entries?["value"] as? NSNumber)?.doubleValue == 610)
        #expect((entries?["previous"] as? NSNumber)?.doubleValue == 1000)
        #expect((entries?["change"] as? NSNumber)?.doubleValue == -390)
        #expect((entries?["target"] as? NSNumber)?.doubleValue == 2400)
        #expect(entries?["status"] as? String == "red")

        // Recorded into the store: PromQL over kpid's own Prometheus API sees them.
        let q = try http(
            "GET",
            kpid.base + "/api/v1/query?query="
                + percentEncoded(#"kpid_kpi_value{site="S1",kpi="entries",window="28d"}"#))
        let result = ((q.json["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
        #expect(result.count == 1, "\(q.text)")
        #expect((result.first?["value"] as? [Any])?.last as? String == "10610")
    }

    @Test func promtoolAcceptsTheExposition() throws {
        let dir = TempDir()
        let kpid = try start(dir)
        _ = try http("POST", kpid.base + "/api/v1/admin/kpis/evaluate")
        let text = try http("GET", kpid.base + "/metrics").text
        let file = dir.path + "/metrics.txt"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let check = try runTool("/bin/sh", ["-c", "promtool check metrics < \(file)"])
        #expect(check.status == 0, "\(check.output)")
    }

    @Test func windowParameterErrorsNameTheField() throws {
        let dir = TempDir()
        let kpid = try start(dir)
        let bad = try http("GET", kpid.base + "/api/v1/kpis?site=S1&window=5d")
        #expect(bad.status == 400)
        #expect(bad.text.contains("\"field\":\"window\""), "\(bad.text)")
        let both = try http("GET", kpid.base + "/api/v1/kpis?site=S1&window=7d&from=2026-11-01T00:00:00Z")
        #expect(both.status == 400)
        #expect(both.text.contains("\"field\":\"from\""), "\(both.text)")
        // With no round yet, window= evaluates on demand.
        let now = try http("GET", kpid.base + "/api/v1/kpis?site=S1&window=1h")
        let kpis = ((now.json["templates"] as? [[String: Any]])?.first?["kpis"] as? [[String: Any]]) ?? []
        #expect((kpis.first { $0["id"] as? String == "entries" }?["value"] as? NSNumber)?.doubleValue == 40)
    }

    @Test func roundsReevaluateOnlyTheWindowsThatAreDue() throws {
        #expect(RollingWindow(name: "1h", milliseconds: 3_600_000).refreshMilliseconds(interval: 0) == 12_500)
        #expect(RollingWindow(name: "1h", milliseconds: 3_600_000).refreshMilliseconds(interval: 60) == 60_000)
        #expect(RollingWindow(name: "28d", milliseconds: 28 * 86_400_000).refreshMilliseconds(interval: 60) == 8_400_000)
        let dir = TempDir()
        let kpid = try start(dir)
        kpid.service.runtime.runRollingRound(force: true)
        let first = kpid.service.runtime.rollingKPIs.values(site: "S1")
        let recorded = kpid.service.runtime.rollingKPIs.counts.withLock { $0.recordedSamples }
        kpid.service.runtime.runRollingRound()
        let second = kpid.service.runtime.rollingKPIs.values(site: "S1")
        // Nothing was due (the shortest refresh is 12.5 s): same evaluation times...
        #expect(first.map(\.evaluatedAt) == second.map(\.evaluatedAt))
        // ...but every latest value was recorded again (value, target, warning, status and
        // coverage: 8 x 5), and the site's newest sample time (one).
        let again = kpid.service.runtime.rollingKPIs.counts.withLock { $0.recordedSamples }
        #expect(again - recorded == 41)
    }

    @Test func theScheduleRunsOnItsOwn() throws {
        let dir = TempDir()
        let kpid = try start(dir, interval: 1)
        var found: Double? = nil
        for _ in 0..<60 where found == nil {
            let text = try http("GET", kpid.base + "/metrics").text
            found = value(samples(text, "kpid_kpi_value"), kpi: "entries", window: "1h")
            if found == nil { Thread.sleep(forTimeInterval: 0.5) }
        }
        #expect(found == 40)
    }

    @Test func settingsParse() throws {
        let c = try ServiceConfiguration.resolve(
            flags: ["kpi-interval": "0", "kpi-windows": "15m,1d,4w"], environment: [:], configFile: [:])
        #expect(c.kpiIntervalSeconds == 0)
        #expect(c.kpiWindows.map(\.milliseconds) == [900_000, 86_400_000, 28 * 86_400_000])
        #expect(throws: ServiceConfiguration.Invalid.self) {
            try ServiceConfiguration.resolve(flags: ["kpi-windows": "1h,1h"], environment: [:], configFile: [:])
        }
        #expect(throws: ServiceConfiguration.Invalid.self) {
            try ServiceConfiguration.resolve(flags: ["kpi-interval": "10ms"], environment: [:], configFile: [:])
        }
    }
}
