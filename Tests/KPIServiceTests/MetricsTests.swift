import Foundation
import Testing

@testable import KPIService

@Suite(.serialized) struct MetricsTests {
    /// /metrics passes Prometheus' own checker and reports what happened.
    @Test func metricsPassPromtoolAndCountIngest() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        #expect(
            try kpid.ingest(
                #"{"metric":"m","labels":{"site":"A"},"ts":1000,"value":1}"# + "\n"
                    + #"{"metric":"m","labels":{"site":"B"},"ts":1000,"value":1}"#,
                contentType: "application/x-ndjson"
            ).status == 200)
        #expect(try kpid.ingest("{bad", contentType: "application/x-ndjson").status == 400)
        let r = try http("GET", kpid.base + "/metrics")
        #expect(r.status == 200)
        #expect(r.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = r.text
        #expect(text.contains("kpid_samples_ingested_total{format=\"ndjson\"} 2\n"))
        #expect(text.contains("kpid_ingest_requests_rejected_total{reason=\"invalid_input\"} 1\n"))
        #expect(text.contains("kpid_series 2\n"))
        #expect(text.contains("kpid_http_requests_total{route=\"/api/v1/ingest\",code=\"200\"} 1\n"))
        #expect(text.contains("kpid_sqlite_commit_duration_seconds_count 1\n"))
        #expect(text.contains("kpid_build_info{"))

        // promtool (Debian's prometheus package, installed by `make test`) reads stdin.
        let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let promtool else {
            Issue.record("promtool not installed: run `make deps`")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(r.body)
        try input.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "promtool: \(report)")
        #expect(!report.contains("error"), "promtool: \(report)")
    }
}

@Suite(.serialized) struct OpenMetricsTests {
    @Test func servesOpenMetricsWhenTheScraperPrefersIt() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        #expect(try kpid.ingest(#"{"metric":"m","ts":1000,"value":1}"#, contentType: "application/x-ndjson").status == 200)
        // Prometheus 2.42's scrape Accept header.
        let accept =
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        let r = try http("GET", kpid.base + "/metrics", headers: ["Accept": accept])
        #expect(r.status == 200)
        #expect(r.headers["content-type"]?.hasPrefix("application/openmetrics-text; version=1.0.0") == true)
        #expect(r.text.hasSuffix("# EOF\n"))
        #expect(r.text.contains("# TYPE kpid_samples_ingested counter\n"))
        #expect(r.text.contains("kpid_samples_ingested_total{format=\"ndjson\"} 1\n"))
        #expect(!r.text.contains("# TYPE kpid_samples_ingested_total"))

        let plain = try http("GET", kpid.base + "/metrics", headers: ["Accept": "text/plain;version=0.0.4"])
        #expect(plain.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(!plain.text.contains("# EOF"))
        #expect(plain.text.contains("# TYPE kpid_samples_ingested_total counter\n"))
    }

    @Test(
        arguments: [
            (nil, false), ("*/*", false), ("application/openmetrics-text", true),
            ("text/plain;q=0.9,application/openmetrics-text;version=1.0.0", true),
            ("application/openmetrics-text;version=1.0.0;q=0.4,text/plain;q=0.5", false),
            ("application/openmetrics-text;version=2.0.0", false), ("application/openmetrics-text;q=0", false),
        ] as [(String?, Bool)])
    func acceptNegotiation(accept: String?, expected: Bool) {
        #expect((MetricsController.negotiate(accept) == .openMetrics) == expected)
    }
}
