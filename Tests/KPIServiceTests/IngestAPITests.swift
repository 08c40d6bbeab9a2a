import Foundation
import KPICore
import KPIRuntime
import KPIService
import Testing

@Suite(.serialized) struct IngestAPITests {
    @Test func ingestsEachFormatAndExportsItBack() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)

        let ndjson = """
            {"metric":"queue_wait_seconds","labels":{"site":"JFK","zone":"T4-security"},"ts":1762070400000,"value":312.5}
            {"metric":"queue_wait_seconds","labels":{"site":"JFK","zone":"T4-security"},"ts":"2025-11-02T08:01:00Z","value":280}
            {"metric":"queue_wait_seconds","labels":{"site":"JFK","zone":"T1"},"ts":1762070400000,"value":10}

            """
        let r1 = try kpid.ingest(ndjson, contentType: "application/x-ndjson")
        #expect(r1.status == 200)
        #expect(r1.json["samples"] as? Int == 3)
        #expect(r1.json["series_created"] as? Int == 2)

        let csv = "metric,ts,value,site,gate\noccupancy_people,1762070400000,41,JFK,B22\noccupancy_people,1762070460000,43,JFK,\n"
        let r2 = try kpid.ingest(csv, contentType: "text/csv")
        #expect(r2.status == 200)
        #expect(r2.json["samples"] as? Int == 2)
        #expect(r2.json["series_created"] as? Int == 2)  // the empty gate cell is a label-less series

        let prom = """
            # HELP device_up Whether the device answers.
            # TYPE device_up gauge
            device_up{site="JFK",device="cam-17"} 1 1762070400000
            device_up{site="JFK",device="cam-18"} 0 1762070400000

            """
        let r3 = try kpid.ingest(prom, contentType: "text/plain; version=0.0.4")
        #expect(r3.status == 200)
        #expect(r3.json["samples"] as? Int == 2)

        // Series listing with a selector.
        let series = try http("GET", kpid.base + "/api/v1/series?match=" + percentEncoded(#"queue_wait_seconds{zone=~"T4.*"}"#))
        #expect(series.status == 200)
        let data = series.json["data"] as? [[String: String]]
        #expect(data == [["__name__": "queue_wait_seconds", "site": "JFK", "zone": "T4-security"]])

        // Export: exact samples back, ordered by series then time.
        let samples = try kpid.exportedSamples(#"queue_wait_seconds{site="JFK"}"#)
        #expect(
            samples.map(\.0) == [
                "queue_wait_seconds{site=JFK,zone=T4-security}", "queue_wait_seconds{site=JFK,zone=T4-security}",
                "queue_wait_seconds{site=JFK,zone=T1}",
            ])
        #expect(samples.map(\.1) == [1_762_070_400_000, 1_762_070_460_000, 1_762_070_400_000])
        #expect(samples.map(\.2) == [312.5, 280, 10])

        // Time range, inclusive.
        let ranged = try kpid.export(#"queue_wait_seconds{zone="T4-security"}"#, extra: "&start=2025-11-02T08:01:00Z&end=1762070460")
        #expect(ranged.text.split(separator: "\n").count == 1)

        // CSV export by Accept header.
        let csvOut = try kpid.export(#"occupancy_people"#, accept: "text/csv")
        #expect(csvOut.status == 200)
        #expect(csvOut.headers["content-type"]?.hasPrefix("text/csv") == true)
        let lines = csvOut.text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.first == "metric,ts,value,gate,site")
        #expect(lines.contains("occupancy_people,1762070400000,41,B22,JFK"))
        #expect(lines.contains("occupancy_people,1762070460000,43,,JFK"))
    }

    /// Every refused request answers with the status, a JSON body naming the problem, and
    /// stores nothing.
    @Test func everyRejectionPathStoresNothing() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path) { config in
            config.maxLabelsPerSeries = 3
            config.maxLabelValueLength = 16
            config.maxNewSeriesPerRequest = 2
            config.maxBodyBytes = 4096
        }
        let good = #"{"metric":"m","labels":{"site":"A"},"ts":1000000,"value":1}"#

        struct Case {
            var body: String
            var contentType: String
            var status: Int
            var line: Int?
            var field: String?
            var reason: String
        }
        let cases: [Case] = [
            Case(body: good + "\n{not json}\n", contentType: "application/x-ndjson", status: 400, line: 2, field: nil, reason: ""),
            Case(
                body: good + "\n" + #"{"metric":"m","labels":{"site":"A"},"ts":1000,"value":"x"}"#, contentType: "application/x-ndjson",
                status: 400, line: 2, field: "value", reason: ""),
            Case(
                body: #"{"metric":"bad-name","ts":1000,"value":1}"#, contentType: "application/x-ndjson", status: 400, line: 1,
                field: "metric", reason: ""),
            Case(
                body: #"{"metric":"m","labels":{"a":"1","b":"2","c":"3","d":"4"},"ts":1,"value":1}"#, contentType: "application/x-ndjson",
                status: 400, line: 1, field: "labels", reason: "limit"),
            Case(
                body: #"{"metric":"m","labels":{"a":"12345678901234567"},"ts":1,"value":1}"#, contentType: "application/x-ndjson",
                status: 400, line: 1, field: "labels.a", reason: "limit"),
            Case(
                body: "metric,ts,value,site\nm,1000,1,A\nm,1000,2\n", contentType: "text/csv", status: 400, line: 3, field: nil, reason: ""),
            Case(body: "m{site=\"A\"} 1 1000\nm{site=\"A} 2\n", contentType: "text/plain", status: 400, line: 2, field: nil, reason: ""),
            Case(body: good, contentType: "application/xml", status: 415, line: 0, field: "Content-Type", reason: ""),
            Case(
                body: (0..<3).map { #"{"metric":"m","labels":{"site":"S\#($0)"},"ts":1,"value":1}"# }.joined(separator: "\n"),
                contentType: "application/x-ndjson", status: 429, line: 0, field: "series", reason: "too many new series"),
        ]
        for c in cases {
            let r = try kpid.ingest(c.body, contentType: c.contentType)
            #expect(r.status == c.status, "\(c.body)")
            let json = r.json
            #expect(json["error"] is String, "\(r.text)")
            let details = json["details"] as? [[String: Any]] ?? []
            #expect(!details.isEmpty, "\(r.text)")
            if let first = details.first {
                if let line = c.line { #expect(first["line"] as? Int == line, "\(r.text)") }
                if let field = c.field { #expect(first["field"] as? String == field, "\(r.text)") }
                if !c.reason.isEmpty { #expect((first["reason"] as? String)?.contains(c.reason) == true, "\(r.text)") }
            }
            #expect(kpid.service.store.seriesCount == 0, "stored something for \(c.body)")
        }

        // Body over the limit.
        let big = String(repeating: good + "\n", count: 100)
        let r413 = try kpid.ingest(big, contentType: "application/x-ndjson")
        #expect(r413.status == 413)
        #expect((r413.json["details"] as? [[String: Any]])?.first?["field"] as? String == "body")
        #expect(kpid.service.store.seriesCount == 0)

        // Out of the out-of-order window: the whole request is refused, the earlier data stays.
        #expect(
            try kpid.ingest(#"{"metric":"m","labels":{"site":"A"},"ts":100000000,"value":1}"#, contentType: "application/x-ndjson").status
                == 200)
        let stale =
            #"{"metric":"m","labels":{"site":"A"},"ts":100000001,"value":7}"# + "\n"
            + #"{"metric":"m","labels":{"site":"A"},"ts":1000,"value":2}"#
        let r400 = try kpid.ingest(stale, contentType: "application/x-ndjson")
        #expect(r400.status == 400)
        #expect(((r400.json["details"] as? [[String: Any]])?.first?["field"] as? String) == "ts")
        let kept = try kpid.exportedSamples("m")
        #expect(kept.map(\.1) == [100_000_000])
        // Inside the window (1 h) an older sample is merged.
        #expect(
            try kpid.ingest(#"{"metric":"m","labels":{"site":"A"},"ts":99000000,"value":3}"#, contentType: "application/x-ndjson").status
                == 200)
        #expect(try kpid.exportedSamples("m").map(\.1) == [99_000_000, 100_000_000])

        // 100 details at most, and a flag that more were found.
        let many = (1...150).map { _ in "{bad" }.joined(separator: "\n")
        let r = try kpid.ingest(many, contentType: "application/x-ndjson")
        #expect(r.status == 400)
        #expect((r.json["details"] as? [Any])?.count == 100)
        #expect(r.json["details_truncated"] as? Bool == true)
    }

    @Test func readAPIsValidateParameters() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        let cases: [(String, Int, String)] = [
            ("/api/v1/series", 400, "match"),
            ("/api/v1/series?match=" + percentEncoded("up{"), 400, "match"),
            ("/api/v1/series?match=" + percentEncoded(#"{a=""}"#), 400, "match"),
            ("/api/v1/export?match=up&start=yesterday", 400, "start"),
            ("/api/v1/export?match=up&format=xml", 400, "format"),
        ]
        for (path, status, field) in cases {
            let r = try http("GET", kpid.base + path)
            #expect(r.status == status, "\(path)")
            #expect((r.json["details"] as? [[String: Any]])?.first?["field"] as? String == field, "\(path): \(r.text)")
        }
        #expect(try http("GET", kpid.base + "/nope").status == 404)
        let wrongMethod = try http("GET", kpid.base + "/api/v1/ingest")
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.headers["allow"] == "POST")
        #expect(try http("GET", kpid.base + "/healthz").status == 200)
        #expect(try http("GET", kpid.base + "/readyz").status == 200)
    }
}
