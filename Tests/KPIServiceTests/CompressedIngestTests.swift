import Foundation
import Testing

/// gzip-compressed ingest bodies, compressed by the system's gzip (an independent implementation).
@Suite(.serialized) struct CompressedIngestTests {
    func gzip(_ data: Data) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-c", "-6"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        // Write on another thread so a large body cannot deadlock on a full pipe.
        let writer = input.fileHandleForWriting
        Thread.detachNewThread {
            writer.write(data)
            try? writer.close()
        }
        let compressed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return compressed
    }

    @Test func acceptsGzipAndRefusesBadOrOversizedBodies() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path) { $0.maxBodyBytes = 1 << 20 }
        let lines = (0..<2000).map {
            #"{"metric":"entries_total","labels":{"gate":"G\#($0 % 4)"},"ts":\#(1_762_000_000_000 + $0 * 1000),"value":\#($0)}"#
        }
        let plain = Data(lines.joined(separator: "\n").utf8)
        let body = try gzip(plain)
        #expect(body.count < plain.count / 4)

        let ok = try http(
            "POST", kpid.base + "/api/v1/ingest", body: body,
            headers: ["Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"])
        #expect(ok.status == 200, "\(ok.text)")
        #expect(ok.json["samples"] as? Int == 2000)
        let g1 = try kpid.exportedSamples(#"entries_total{gate="G1"}"#)
        #expect(g1.count == 500)
        #expect(g1.last?.2 == 1997)

        // Truncated stream: 400, nothing more stored.
        let truncated = try http(
            "POST", kpid.base + "/api/v1/ingest", body: body.prefix(body.count / 2),
            headers: ["Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"])
        #expect(truncated.status == 400)
        #expect((truncated.json["details"] as? [[String: Any]])?.first?["field"] as? String == "Content-Encoding")

        // 8 MiB of spaces compress to a few KiB but inflate past the 1 MiB limit: 413.
        let bomb = try gzip(Data(repeating: 0x20, count: 8 << 20))
        #expect(bomb.count < 64 << 10)
        let tooLarge = try http(
            "POST", kpid.base + "/api/v1/ingest", body: bomb,
            headers: ["Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"])
        #expect(tooLarge.status == 413)
        #expect((tooLarge.json["details"] as? [[String: Any]])?.first?["field"] as? String == "body")

        let unknown = try http(
            "POST", kpid.base + "/api/v1/ingest", body: plain,
            headers: ["Content-Type": "application/x-ndjson", "Content-Encoding": "br"])
        #expect(unknown.status == 415)
        #expect(kpid.service.store.stats.sampleCount == 2000)
    }
}
