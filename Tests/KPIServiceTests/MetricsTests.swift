import Foundation
import Testing

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
