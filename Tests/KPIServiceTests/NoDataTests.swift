import Foundation
import Testing

/// No data is not zero: a KPI whose inputs have no sample of the site in the range is null,
/// with no status, never a count of 0 that reads green (issue "KPIs you can trust", item 1).
@Suite struct NoDataTests {
    @Test func aRangeWithoutSamplesIsNoDataNotGreen() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path, configure: KPIAPITests.configure)
        defer { kpid.stop() }
        // Probes every minute from 12:00 to 14:00 UTC on 2026-11-20; the camera is down from
        // 12:30 to 12:40 (samples 0 at 12:30 .. 12:39, 1 again at 12:40): one outage of 10 min.
        let day: Int64 = 1_795_651_200_000  // 2026-11-20T00:00:00Z
        var lines: [String] = []
        for m in 0...120 {
            let t = day + 12 * 3_600_000 + Int64(m) * 60_000
            let up = (30..<40).contains(m) ? 0 : 1
            lines.append(
                #"{"metric":"device_up","labels":{"site":"JFK","device":"cam-1","device_type":"camera"},"ts":\#(t),"value":\#(up)}"#)
        }
        #expect(try kpid.ingest(lines.joined(separator: "\n"), contentType: "application/x-ndjson").status == 200)
        func kpis(from: Int64, to: Int64) throws -> [String: [String: Any]] {
            let r = try http(
                "GET", kpid.base + "/api/v1/kpis?site=JFK&template=security-operations&from=\(from / 1000)&to=\(to / 1000)")
            #expect(r.status == 200, "\(r.text)")
            let templates = r.json["templates"] as? [[String: Any]] ?? []
            let list = templates.first?["kpis"] as? [[String: Any]] ?? []
            return Dictionary(uniqueKeysWithValues: list.map { ($0["id"] as! String, $0) })
        }
        // The week before: not one sample. Outages, downtime, MTTR and uptime have no value
        // and no status (they were 0, 0, 0 and green).
        let before = try kpis(from: day - 7 * 86_400_000, to: day)
        for id in ["incidents", "downtime", "mttr", "device_uptime", "camera_uptime"] {
            let kpi = try #require(before[id], "\(id) missing")
            #expect(kpi["value"] is NSNull && kpi["status"] is NSNull, "\(id): \(kpi)")
        }
        // The two hours of probes: one outage of 10 minutes, 110 of 121 probes up, every minute
        // known. (Over the whole day the probes cover 2 h of 24: insufficient data, not green.)
        let during = try kpis(from: day + 12 * 3_600_000, to: day + 14 * 3_600_000)
        #expect(during["incidents"]?["value"] as? Double == 1, "\(during["incidents"] ?? [:])")
        #expect(during["downtime"]?["value"] as? Double == 10, "\(during["downtime"] ?? [:])")
        // Fully covered, so judged: 8 outages a week scale to 0.095 in 2 hours (warning 0.14),
        // and one is red.
        #expect(during["incidents"]?["coverage"] as? Double == 1)
        #expect(during["incidents"]?["status"] as? String == "red")
        let wholeDay = try kpis(from: day, to: day + 86_400_000)
        #expect(wholeDay["incidents"]?["value"] as? Double == 1)
        #expect(wholeDay["incidents"]?["status"] as? String == "insufficient_data")
        // 121 probes, each known for the minute to the next; the last one for its 3-minute limit.
        #expect(abs((wholeDay["incidents"]?["coverage"] as? Double ?? 0) - 123.0 / 1440) < 1e-9)
    }
}
