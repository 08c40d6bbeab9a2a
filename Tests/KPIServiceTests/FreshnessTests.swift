import Foundation
import KPIRuntime
import Testing

@testable import KPIService

/// A site whose cameras stop reporting mid-week: the review, `/api/v1/kpis` and `/metrics`
/// name the silent devices, and its outage KPIs count only what the probes showed.
@Suite(.serialized) struct FreshnessTests {
    /// Monday 2026-11-23 00:00 EST (05:00Z): the start of 2026-W48 at JFK.
    static let monday: Int64 = 1_795_410_000_000
    static let minute: Int64 = 60_000

    @Test func silentCamerasAreNamedEverywhere() throws {
        let dir = TempDir()
        // The clock: Saturday noon of that week (the week is in progress).
        let now = Self.monday + (5 * 24 * 60 + 12 * 60) * Self.minute
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.templatesDirectory = packageRoot.appendingPathComponent("Queries/templates").path
            $0.sitesFile = packageRoot.appendingPathComponent("Queries/sites.json").path
            $0.clock = .pinned(at: now)
        }
        // Probes every minute from Monday 00:00 local: cam-1 all week up to now; cam-2 up until
        // Thursday 00:00 local, then silent; cam-3 down from Tuesday 00:00 to 02:00, then up
        // until Wednesday 00:00, then silent.
        var lines: [String] = []
        func probe(_ device: String, _ t: Int64, _ up: Int) {
            lines.append(
                #"{"metric":"device_up","labels":{"site":"JFK","device":"\#(device)","device_type":"camera"},"ts":\#(t),"value":\#(up)}"#)
        }
        var t = Self.monday
        while t <= now {
            let m = (t - Self.monday) / Self.minute
            probe("cam-1", t, 1)
            if m < 3 * 1440 { probe("cam-2", t, 1) }
            if m < 2 * 1440 { probe("cam-3", t, m >= 1440 && m < 1440 + 120 ? 0 : 1) }
            t += Self.minute
        }
        for chunk in stride(from: 0, to: lines.count, by: 20_000) {
            let body = lines[chunk..<min(chunk + 20_000, lines.count)].joined(separator: "\n")
            #expect(try kpid.ingest(body, contentType: "application/x-ndjson").status == 200)
        }
        // Unknown since: last probe plus 3 × the 1-minute step.
        let cam2Since = Self.monday + (3 * 1440 - 1 + 3) * Self.minute
        let cam3Since = Self.monday + (2 * 1440 - 1 + 3) * Self.minute

        let review = try http("GET", kpid.base + "/reports/weekly.json?site=JFK&week=2026-W48&template=security-operations")
        #expect(review.status == 200, "\(review.text.prefix(300))")
        let freshness = review.json["freshness"] as? [String: Any] ?? [:]
        let silent = freshness["not_reporting"] as? [[String: Any]] ?? []
        #expect(silent.map { $0["name"] as? String } == ["cam-3", "cam-2"])
        #expect(silent.first?["unknown_since"] as? String == TimestampFormat.rfc3339(cam3Since))
        #expect(silent.last?["unknown_since"] as? String == TimestampFormat.rfc3339(cam2Since))
        #expect(freshness["signals"] as? Int == 3)
        #expect(freshness["last_sample"] as? String == TimestampFormat.rfc3339(now))
        // One outage (cam-3, Tuesday 00:00-02:00 local), 120 minutes of downtime, repaired in
        // 120: both cameras fell silent while up, and a silence is neither up nor down.
        let kpis = Dictionary(
            uniqueKeysWithValues: ((review.json["templates"] as? [[String: Any]])?.first?["kpis"] as? [[String: Any]] ?? []).map {
                ($0["id"] as? String ?? "", $0)
            })
        #expect(kpis["incidents"]?["value"] as? Double == 1)
        #expect(kpis["downtime"]?["value"] as? Double == 120)
        #expect(kpis["mttr"]?["value"] as? Double == 120)
        // Coverage: from Monday 00:00 to now (7,920 minutes) cam-1 was known throughout, cam-2
        // for 4,322 minutes (its last probe at minute 4,319 plus 3) and cam-3 for 2,882: 63.7 %,
        // under the 80 % minimum, so the device KPIs are grey, never green.
        let coverage = 15_124.0 / 23_760.0
        for id in ["device_uptime", "incidents", "downtime", "mttr"] {
            #expect(kpis[id]?["status"] as? String == "insufficient_data", "\(id): \(kpis[id] ?? [:])")
            #expect(
                abs((kpis[id]?["coverage"] as? Double ?? 0) - coverage) < 1e-9,
                "\(id): \(kpis[id] ?? [:]) \(review.json["from"] ?? "") \(review.json["to"] ?? "")")
        }

        let html = try http("GET", kpid.base + "/reports/weekly?site=JFK&week=2026-W48&template=security-operations").text
        #expect(
            html.contains("Not reporting (2 of 3 signals)") && html.contains("<b>cam-2</b> since") && html.contains("<b>cam-3</b> since"))

        let api = try http(
            "GET",
            kpid.base + "/api/v1/kpis?site=JFK&template=security-operations&from=\(Self.monday / 1000)&to=\(now / 1000)")
        let apiSilent = (api.json["freshness"] as? [String: Any])?["not_reporting"] as? [[String: Any]] ?? []
        #expect(apiSilent.map { $0["name"] as? String } == ["cam-3", "cam-2"], "\(api.text.prefix(400))")

        #expect(try http("POST", kpid.base + "/api/v1/admin/kpis/evaluate").status == 200)
        let metrics = try http("GET", kpid.base + "/metrics").text
        #expect(metrics.contains("kpid_series_unknown{site=\"JFK\"} 2\n"), "\(metrics.suffix(800))")
        #expect(metrics.contains("kpid_site_last_sample_timestamp_seconds{site=\"JFK\"} \(now / 1000)\n"))
    }
}

/// RFC 3339 in UTC, whole seconds, as kpid writes instants.
enum TimestampFormat {
    static func rfc3339(_ ms: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
