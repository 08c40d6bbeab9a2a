import Foundation
import KPICore
import KPIQuery
import Testing

@testable import KPITemplates

/// The coverage of a KPI's inputs, against hand-computed minutes.
@Suite struct CoverageTests {
    @Test func probesThatFallSilentCoverTheirKnownMinutes() throws {
        let base: Int64 = 1_795_330_800_000
        let minute: Int64 = 60_000
        let store = ColumnarStore()
        // Every minute: cam-1 for 7,920 minutes (0 ... 7,920), cam-2 for 4,320 (0 ... 4,319),
        // cam-3 for 2,880 (0 ... 2,879).
        for (k, (device, count)) in [("cam-1", 7921), ("cam-2", 4320), ("cam-3", 2880)].enumerated() {
            let id = SeriesID(UInt32(k))
            store.apply(
                newSeries: [(id, Labels(metric: "device_up", ["site": "S", "device": device]))], series: [id],
                timestamps: [(0..<Int64(count)).map { base + $0 * minute }], values: [Array(repeating: 1, count: count)])
        }
        var options = QueryOptions(now: base + 7920 * minute)
        options.staleness = StalenessPolicy()
        let evaluator = TemplateEvaluator(engine: QueryEngine(store: store))
        // [base, now): cam-1 known 7,920 minutes, cam-2 4,319 + 3, cam-3 2,879 + 3.
        let c = try evaluator.coverage(["device_up"], site: "S", from: base, to: base + 7 * 1440 * minute, options: options)
        #expect(abs((c ?? 0) - 15_124.0 / 23_760.0) < 1e-12, "\(String(describing: c))")
        // A range before any sample, with nothing in the 35 days before: no input at all.
        #expect(try evaluator.coverage(["device_up"], site: "S", from: base - 1440 * minute, to: base, options: options) == nil)
    }
}

/// A slowly changing gauge read as of the range's end: a room's capacity sent once, three days
/// before the week, still divides the week's occupancy (it used to make the KPI null).
@Suite struct AsOfCapacityTests {
    @Test func aCapacitySentBeforeTheWeekStillCounts() throws {
        let templates = try TemplateLoader.loadDirectory(
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Queries/templates").path)
        let campus = try #require(templates.first { $0.name == "campus" })
        let store = ColumnarStore()
        let monday: Int64 = 1_795_410_000_000  // 2026-11-23T05:00:00Z; the query's zone is UTC
        let hour: Int64 = 3_600_000
        // Capacity 50, once, three days before; occupancy 10 people every 10 minutes all week.
        store.apply(
            newSeries: [(SeriesID(0), Labels(metric: "room_capacity_people", ["site": "C", "building": "B", "room": "R1"]))],
            series: [SeriesID(0)], timestamps: [[monday - 72 * hour]], values: [[50]])
        let occupancy = (0..<(7 * 24 * 6)).map { monday + Int64($0) * 600_000 }
        store.apply(
            newSeries: [(SeriesID(1), Labels(metric: "occupancy_people", ["site": "C", "building": "B", "room": "R1"]))],
            series: [SeriesID(1)], timestamps: [occupancy], values: [Array(repeating: 10, count: occupancy.count)])
        var options = QueryOptions(now: monday + 8 * 24 * hour, timeZone: TimeZone(identifier: "UTC")!)
        options.staleness = StalenessPolicy()
        let results = try TemplateEvaluator(engine: QueryEngine(store: store)).evaluate(
            campus, site: "C", from: monday, to: monday + 7 * 24 * hour, options: options, worst: 0)
        let utilization = try #require(results.first { $0.kpi.id == "room_utilization" })
        // 10 people in 50 seats: 20 % in every weekday block (red against 40 / 25). Coverage is
        // judged on the occupancy only: a sample every 10 minutes, the last one 10 minutes before
        // the end and held for its 30-minute limit, so the whole week is known.
        #expect(utilization.value == 20, "\(utilization)")
        #expect(utilization.coverage == 1)
        #expect(utilization.status == .red)
    }
}

/// A template's `staleness` limits: a change-only device's state holds as long as the template
/// says, unless the operator's staleness-rules say otherwise.
@Suite struct TemplateStalenessTests {
    static let yaml = """
        template: doors
        title: Doors
        description: Door states reported on change only.
        staleness:
          device_up: 6h
        kpis:
          - id: uptime
            title: Uptime
            description: Up over up and down.
            unit: "%"
            direction: higher_is_better
            target: 99
            warning: 90
            min_coverage: 0
            query: |
              SELECT 100.0 * time_in_state(value = 1) / (time_in_state(value = 1) + time_in_state(value = 0)) AS value
              FROM device_up WHERE site = :site AND ts >= :from AND ts < :to
        """

    @Test func theTemplatesLimitHoldsAChangeOnlyState() throws {
        let template = try TemplateLoader.parse(Self.yaml, file: "doors.yaml")
        #expect(template.staleness == ["device_up": 6 * 3_600_000])
        let base: Int64 = 1_795_330_800_000
        let hour: Int64 = 3_600_000
        let store = ColumnarStore()
        // Down at 00:00, up at 01:00, nothing after: over [00:00, 04:00) with a 6 h limit, down
        // 1 h and up 3 h: 75 %. With the derived limit (one step of 1 h, times 3, at most the
        // 1 h maximum) each state holds an hour: down 1 h, up 1 h, 50 %.
        let id = SeriesID(0)
        store.apply(
            newSeries: [(id, Labels(metric: "device_up", ["site": "S", "device": "d1"]))], series: [id],
            timestamps: [[base, base + hour]], values: [[0, 1]])
        var options = QueryOptions(now: base + 5 * hour)
        options.staleness = StalenessPolicy()
        let evaluator = TemplateEvaluator(engine: QueryEngine(store: store))
        func uptime(_ t: KPITemplate, _ o: QueryOptions) throws -> Double? {
            try evaluator.evaluate(t, site: "S", from: base, to: base + 4 * hour, options: o, worst: 0).first?.value
        }
        #expect(try uptime(template, options) == 75)
        var plain = template
        plain.staleness = [:]
        #expect(try uptime(plain, options) == 50)
        // The operator's rule wins over the template's: 2 h holds up for 2 of the 3 hours.
        options.staleness.rules = ["device_up": 2 * hour]
        #expect(try uptime(template, options) == 100.0 * 2 / 3)
    }

    @Test func aLimitForAMetricTheTemplateDoesNotReadIsRefused() {
        let text = Self.yaml.replacingOccurrences(of: "device_up: 6h", with: "door_open: 6h")
        #expect(throws: TemplateError.self) { try TemplateLoader.parse(text, file: "doors.yaml") }
        let bad = Self.yaml.replacingOccurrences(of: "device_up: 6h", with: "device_up: soon")
        do {
            _ = try TemplateLoader.parse(bad, file: "doors.yaml")
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains("staleness.device_up"), "\(error)")
        }
    }
}
