import Foundation
import KPICore
import KPIQuery
import KPITemplates
import Testing

@testable import KPIReport

/// A small hand-made data set whose weekly values are known by construction: a template in a
/// temporary directory with a sum KPI (with a breakdown and a site override) and an average
/// KPI, over series with fixed values per ISO week of a New York site.
final class DemoData: @unchecked Sendable {
    static let shared = DemoData()

    /// Mondays (local) of 2026-W38 ... 2026-W45, computed by hand from a calendar.
    static let mondays = [
        "2026-09-14", "2026-09-21", "2026-09-28", "2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26", "2026-11-02",
    ]
    /// `visits` per gate for W39 ... W45 (W38 has none), one sample each Wednesday at noon local.
    static let gateA: [Double] = [10, 20, 30, 40, 50, 60, 70]
    static let gateB: [Double] = [5, 5, 5, 5, 5, 5, 5]
    /// `wait_minutes` on Tuesday and Thursday at noon local, W38 ... W45.
    static let waits: [(Double, Double)] = [(2, 2), (4, 6), (4, 8), (6, 6), (10, 12), (3, 3), (8, 9), (11, 13)]

    static let template = """
        template: demo
        title: Demo <script>alert("x")</script> & co
        description: A template for the review tests.
        kpis:
          - id: visitors
            title: Visitors, "all" gates
            description: Sum of the visits.
            unit: count
            direction: higher_is_better
            target: 100
            warning: 50
            breakdown: gate
            query: SELECT sum(value) AS value FROM visits WHERE site = :site AND ts >= :from AND ts < :to
            breakdown_query: SELECT gate AS item, sum(value) AS value FROM visits WHERE site = :site AND ts >= :from AND ts < :to GROUP BY gate
          - id: wait
            title: Average wait
            description: Mean of the wait samples.
            unit: min
            direction: lower_is_better
            target: 5
            warning: 10
            query: SELECT avg(value) AS value FROM wait_minutes WHERE site = :site AND ts >= :from AND ts < :to
        """

    let store = ColumnarStore()
    let templates: [KPITemplate]
    let site: SiteDefinition
    static let zone = TimeZone(identifier: "America/New_York")!

    /// Unix ms of a local date and time in New York, through Foundation's calendar (not the
    /// code under test).
    static func local(_ date: String, hour: Int, minute: Int = 0) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let p = date.split(separator: "-").map { Int($0)! }
        let d = calendar.date(from: DateComponents(year: p[0], month: p[1], day: p[2], hour: hour, minute: minute))!
        return Int64(d.timeIntervalSince1970 * 1000)
    }

    static func utc(_ text: String) -> Int64 { Int64(ISO8601DateFormatter().date(from: text)!.timeIntervalSince1970 * 1000) }

    static func addDays(_ date: String, _ n: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let p = date.split(separator: "-").map { Int($0)! }
        let d = calendar.date(byAdding: .day, value: n, to: calendar.date(from: DateComponents(year: p[0], month: p[1], day: p[2]))!)!
        let c = calendar.dateComponents([.year, .month, .day], from: d)
        return String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
    }

    private init() {
        var a: [(Int64, Double)] = []
        var b: [(Int64, Double)] = []
        var w: [(Int64, Double)] = []
        for (k, monday) in Self.mondays.enumerated() {
            if k > 0 {
                a.append((Self.local(Self.addDays(monday, 2), hour: 12), Self.gateA[k - 1]))
                b.append((Self.local(Self.addDays(monday, 2), hour: 12), Self.gateB[k - 1]))
            }
            w.append((Self.local(Self.addDays(monday, 1), hour: 12), Self.waits[k].0))
            w.append((Self.local(Self.addDays(monday, 3), hour: 12), Self.waits[k].1))
        }
        // Boundaries in local time: Sunday 2026-11-01 23:30 EST is Monday 04:30 UTC but still W44;
        // Sunday 2026-11-08 23:59 EST is in W45; Monday 2026-11-09 00:00 EST is W46.
        a.append((Self.utc("2026-11-02T04:30:00Z"), 7))
        a.append((Self.utc("2026-11-09T04:59:00Z"), 3))
        a.append((Self.utc("2026-11-09T05:00:00Z"), 1000))
        a.sort { $0.0 < $1.0 }
        w.sort { $0.0 < $1.0 }
        // A series of another site must not count.
        let other: [(Int64, Double)] = [(Self.local("2026-11-04", hour: 12), 500)]
        let series: [(Labels, [(Int64, Double)])] = [
            (Labels(metric: "visits", ["site": "DEMO", "gate": "A"]), a),
            (Labels(metric: "visits", ["site": "DEMO", "gate": "B"]), b),
            (Labels(metric: "visits", ["site": "ELSEWHERE", "gate": "A"]), other),
            (Labels(metric: "wait_minutes", ["site": "DEMO"]), w),
        ]
        for (i, (labels, samples)) in series.enumerated() {
            let id = SeriesID(UInt32(i))
            store.apply(
                newSeries: [(id, labels)], series: [id], timestamps: [samples.map(\.0)], values: [samples.map(\.1)])
        }
        let dir = NSTemporaryDirectory() + "kpid-review-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try! Self.template.write(toFile: dir + "/demo.yaml", atomically: true, encoding: .utf8)
        templates = try! TemplateLoader.loadDirectory(dir)
        try? FileManager.default.removeItem(atPath: dir)
        let sites = """
            [{"site": "DEMO", "display_name": "Demo <b>site</b>", "time_zone": "America/New_York", "templates": ["demo"],
              "overrides": {"demo": {"visitors": {"target": 120, "warning": 60}}},
              "owners": {"demo": {"visitors": "Gate team <gates@example.com>"}}}]
            """
        site = try! SiteCatalog.parse(Data(sites.utf8), file: "sites.json", templates: templates)[0]
    }

    func review(_ week: String = "2026-W45") throws -> WeeklyReview {
        var options = QueryOptions(now: Self.utc("2026-11-23T12:00:00Z"))
        options.limits.timeoutMilliseconds = 60_000
        // Visits arrive once a week and waits twice: their state is known for 8 days after each
        // sample (without the rule, a week with two samples would be 1 % covered).
        options.staleness = StalenessPolicy(rules: ["visits": 8 * 86_400_000, "wait_minutes": 8 * 86_400_000])
        return try WeeklyReview.build(
            engine: QueryEngine(store: store), templates: templates, site: site, week: try ISOWeek.parse(week),
            options: options, generatedAt: Self.utc("2026-11-23T12:00:00Z"))
    }
}

struct WeeklyReviewTests {
    static func close(_ a: Double?, _ b: Double?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return abs(a - b) <= 1e-9 * max(1, abs(b))
    }

    @Test func valuesChangesAverageAndTrendAreTheHandComputedOnes() throws {
        let review = try DemoData.shared.review()
        #expect(review.header.site == "DEMO" && review.header.week.description == "2026-W45")
        #expect(review.header.from == DemoData.utc("2026-11-02T05:00:00Z"))
        #expect(review.header.to == DemoData.utc("2026-11-09T05:00:00Z"))
        #expect(!review.header.inProgress)
        #expect(review.trendWeeks.map(\.description) == (38...45).map { "2026-W\($0)" })
        #expect(review.sections.count == 1)
        let rows = Dictionary(uniqueKeysWithValues: review.sections[0].rows.map { ($0.kpi.id, $0) })

        // visitors = gate A + gate B per local week; W44 gains the Sunday-night 7, W45 the 3.
        let visitors = rows["visitors"]!
        let weekly: [Double?] = [nil, 15, 25, 35, 45, 55, 65 + 7, 75 + 3]
        #expect(visitors.trend.count == 8)
        for (got, want) in zip(visitors.trend, weekly) { #expect(Self.close(got, want), "\(visitors.trend)") }
        #expect(visitors.value == 78)
        #expect(visitors.target == 120 && visitors.warning == 60)  // the site's override
        #expect(visitors.status == .amber)
        #expect(visitors.lastWeek == 72)
        #expect(visitors.change == 6)
        #expect(Self.close(visitors.changeRatio, 6.0 / 72))
        #expect(Self.close(visitors.fourWeekAverage, (35 + 45 + 55 + 72) / 4.0))
        #expect(visitors.averageWeeks == 4)
        #expect(Self.close(visitors.changeVsAverage, 78 - 51.75))
        #expect(Self.close(visitors.changeVsAverageRatio, 26.25 / 51.75))
        // Worst first for higher_is_better: the lower gate.
        #expect(visitors.worst.map(\.item) == ["B", "A"])
        #expect(visitors.worst.map(\.value) == [5, 73])

        // wait = mean of Tuesday and Thursday; lower is better; 12 is beyond the warning 10.
        let wait = rows["wait"]!
        let means = DemoData.waits.map { ($0.0 + $0.1) / 2 }
        #expect(means == [2, 5, 6, 6, 11, 3, 8.5, 12])
        for (got, want) in zip(wait.trend, means) { #expect(Self.close(got, want), "\(wait.trend)") }
        #expect(wait.status == .red)
        #expect(Self.close(wait.change, 3.5) && Self.close(wait.changeRatio, 3.5 / 8.5))
        #expect(Self.close(wait.fourWeekAverage, (6 + 11 + 3 + 8.5) / 4))
        #expect(wait.isImprovement(wait.change!) == false)
        #expect(visitors.isImprovement(visitors.change!) == true)
        #expect(wait.worst.isEmpty && wait.error == nil)

        #expect(review.summary.red == 1 && review.summary.amber == 1 && review.summary.green == 0)
        #expect(review.summary.noData == 0)
        #expect(review.summary.attention.map(\.kpi.id) == ["wait", "visitors"])  // red first
    }

    @Test func anEarlierWeekUsesFewerWeeksForTheAverage() throws {
        // W40: the trend reaches back to W33; visits exist from W39 only.
        let review = try DemoData.shared.review("2026-W40")
        let visitors = review.sections[0].rows.first { $0.kpi.id == "visitors" }!
        #expect(visitors.trend.compactMap { $0 } == [15, 25])
        #expect(visitors.trend.prefix(6).allSatisfy { $0 == nil })
        #expect(visitors.lastWeek == 15 && visitors.fourWeekAverage == 15 && visitors.averageWeeks == 1)
        #expect(visitors.status == .red)  // 25 < warning 60
        // A week without any data: no value, no status, counted as no data.
        let empty = try DemoData.shared.review("2026-W20")
        #expect(empty.summary.noData == 2 && empty.summary.attention.isEmpty)
        #expect(empty.sections[0].rows.allSatisfy { $0.value == nil && $0.status == nil && $0.change == nil })
    }

    @Test func jsonParsesAndCarriesTheNumbers() throws {
        let text = try DemoData.shared.review().render(.json)
        let json = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        #expect(json["site"] as? String == "DEMO" && json["week"] as? String == "2026-W45")
        #expect(json["first_day"] as? String == "2026-11-02" && json["last_day"] as? String == "2026-11-08")
        #expect(json["from"] as? String == "2026-11-02T05:00:00Z" && json["to"] as? String == "2026-11-09T05:00:00Z")
        #expect(json["time_zone"] as? String == "America/New_York")
        let summary = json["summary"] as! [String: Any]
        #expect(summary["red"] as? Int == 1 && summary["amber"] as? Int == 1 && summary["green"] as? Int == 0)
        let templates = json["templates"] as! [[String: Any]]
        #expect(templates[0]["title"] as? String == #"Demo <script>alert("x")</script> & co"#)
        let kpis = templates[0]["kpis"] as! [[String: Any]]
        let visitors = kpis.first { $0["id"] as? String == "visitors" }!
        #expect(visitors["value"] as? Double == 78 && visitors["last_week"] as? Double == 72)
        #expect(visitors["change"] as? Double == 6)
        #expect(Self.close(visitors["change_pct"] as? Double, 600.0 / 72))
        #expect(visitors["average_4w"] as? Double == 51.75 && visitors["status"] as? String == "amber")
        let trend = visitors["trend"] as! [Any]
        #expect(trend.count == 8 && trend[0] is NSNull && trend[7] as? Double == 78)
        let worst = visitors["worst"] as! [[String: Any]]
        #expect(worst.first?["item"] as? String == "B" && worst.first?["value"] as? Double == 5)
        #expect(visitors["title"] as? String == #"Visitors, "all" gates"#)
    }

    /// A strict RFC 4180 reader: quoted fields with doubled quotes, CRLF record ends.
    static func parseCSV(_ text: String) -> [[String]]? {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" {
                        field.unicodeScalars.append("\"")
                        chars = chars.dropFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" && field.isEmpty {
                quoted = true
            } else if c == "," {
                record.append(field)
                field = ""
            } else if c == "\r" {
                guard chars.popFirst() == "\n" else { return nil }
                record.append(field)
                records.append(record)
                record = []
                field = ""
            } else if c == "\n" || c == "\"" {
                return nil
            } else {
                field.unicodeScalars.append(c)
            }
        }
        return quoted || !field.isEmpty || !record.isEmpty ? nil : records
    }

    @Test func csvIsRFC4180WithOneRecordPerKPI() throws {
        let text = try DemoData.shared.review().render(.csv)
        let records = try #require(Self.parseCSV(text), "not RFC 4180:\n\(text)")
        #expect(records.count == 3)
        let header = records[0]
        #expect(header.count == 32)
        for r in records { #expect(r.count == header.count) }
        let row = Dictionary(uniqueKeysWithValues: zip(header, records[1]))
        #expect(row["kpi"] == "visitors" && row["title"] == #"Visitors, "all" gates"#)
        #expect(row["value"] == "78" && row["target"] == "120" && row["status"] == "amber")
        #expect(row["last_week"] == "72" && row["change"] == "6" && row["average_4w"] == "51.75")
        #expect(row["2026-W38"] == "" && row["2026-W44"] == "72" && row["2026-W45"] == "78")
        #expect(row["worst"] == "B=5; A=73")
        #expect(Self.close(Double(row["change_pct"] ?? ""), 600.0 / 72))
        let wait = Dictionary(uniqueKeysWithValues: zip(header, records[2]))
        #expect(wait["value"] == "12" && wait["status"] == "red" && wait["2026-W44"] == "8.5")
        // With their 8-day staleness rules every series is known at the week's end: none is
        // silent, and the visits were known all week (carried from last Wednesday's sample).
        #expect(row["not_reporting"] == "" && wait["not_reporting"] == "")
        #expect(row["coverage"] == "1")
        #expect(row["owner"] == "Gate team <gates@example.com>" && wait["owner"] == "" && row["note"] == "")
    }

    /// The site's KPI owner is shown beside the KPI in every format; a KPI without one has none.
    @Test func ownersAreShownInEveryFormat() throws {
        let review = try DemoData.shared.review()
        let json = try JSONSerialization.jsonObject(with: Data(review.render(.json).utf8)) as? [String: Any]
        let kpis = ((json?["templates"] as? [[String: Any]])?.first?["kpis"] as? [[String: Any]]) ?? []
        #expect(kpis.first { $0["id"] as? String == "visitors" }?["owner"] as? String == "Gate team <gates@example.com>")
        #expect(kpis.first { $0["id"] as? String == "wait" }?["owner"] is NSNull)
        let html = review.render(.html)
        #expect(html.contains("<div class=\"kpi-owner\">Owner: Gate team &lt;gates@example.com&gt;</div>"))
        #expect(html.components(separatedBy: "class=\"kpi-owner\"").count == 2)
        #expect(review.render(.markdown).contains("(owner: Gate team"))
    }

    @Test func markdownHasATableRowPerKPIAndBlockSparklines() throws {
        let text = try DemoData.shared.review().render(.markdown)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let table = lines.filter { $0.hasPrefix("|") }
        #expect(table.count == 2 + 2)  // header, rule, two KPIs
        // Cells split on unescaped pipes: each row has the header's cell count.
        func cells(_ line: Substring) -> Int {
            var n = 0
            var escaped = false
            for c in line {
                if escaped {
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "|" {
                    n += 1
                }
            }
            return n - 1
        }
        #expect(table.allSatisfy { cells($0) == 8 }, "\(table)")
        // visitors: [nil, 15, 25, 35, 45, 55, 72, 78] scaled 15...78 onto 8 blocks.
        #expect(text.contains("| ·▁▂▃▄▅▇█ |"), "\(text)")
        // wait: [2, 5, 6, 6, 11, 3, 8.5, 12] scaled 2...12.
        #expect(text.contains("| ▁▃▄▄▇▂▆█ |"), "\(text)")
        #expect(text.contains("## Demo &lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; co"))
        #expect(text.contains("✗ Red") && text.contains("! Amber"))
        // Red before amber in the attention list.
        let red = text.range(of: "- ✗ Red: Average wait")
        let amber = text.range(of: "- ! Amber: Visitors")
        #expect(red != nil && amber != nil && red!.lowerBound < amber!.lowerBound)
    }

    @Test func htmlIsSelfContainedEscapedAndHasASparklinePerKPI() throws {
        let text = try DemoData.shared.review().render(.html)
        #expect(text.hasPrefix("<!DOCTYPE html>"))
        #expect(!text.lowercased().contains("<script"), "template text must be escaped")
        #expect(text.contains("Demo &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"))
        #expect(text.contains("Demo &lt;b&gt;site&lt;/b&gt;"))
        #expect(text.components(separatedBy: "<svg class=\"spark\"").count - 1 == 2)
        #expect(text.components(separatedBy: "<line class=\"target\"").count - 1 == 2)
        // Nothing loaded from elsewhere: no src= or href= to another host, no @import, no url().
        #expect(!text.contains("src="))
        #expect(!text.contains("@import") && !text.contains("url("))
        #expect(!text.contains("href=\"http"))
        #expect(text.contains("@media print") && text.contains("@media (max-width:760px)"))
        // Status in words, not colour alone.
        #expect(text.contains("✗ Red</span>") && text.contains("! Amber</span>"))
        // The visitors trend: one gap (W38) then a polyline of 7 points.
        let svg = text.components(separatedBy: "<svg class=\"spark\"")[1]
        let points = svg.components(separatedBy: "points=\"")[1].prefix { $0 != "\"" }
        #expect(points.split(separator: " ").count == 7)
    }
}
