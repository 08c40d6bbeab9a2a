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
        let c = evaluator.coverage(["device_up"], site: "S", from: base, to: base + 7 * 1440 * minute, options: options)
        #expect(abs((c ?? 0) - 15_124.0 / 23_760.0) < 1e-12, "\(String(describing: c))")
        // A range before any sample, with nothing in the 35 days before: no input at all.
        #expect(evaluator.coverage(["device_up"], site: "S", from: base - 1440 * minute, to: base, options: options) == nil)
    }
}
