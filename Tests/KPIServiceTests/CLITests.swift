import Foundation
import Testing

/// The `kpid ingest` command, run as a real process.
@Suite(.serialized) struct CLITests {
    /// The kpid binary's status and its stdout and stderr together.
    func runKpid(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let run = try runKpidCommand(arguments)
        return (run.status, run.stdout + run.stderr)
    }

    /// Writes a CSV file of `rows` samples over 3 series; the expected samples are known by construction.
    func writeCSV(_ path: String, rows: Int) throws {
        var text = "metric,ts,value,site,door\n"
        for i in 0..<rows { text += "dwell_seconds,\(1_762_000_000_000 + Int64(i) * 1000),\(i % 97).5,DC1,D\(i % 3)\n" }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func ingestsFilesOverHTTPInPieces() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data")
        let file = dir.path + "/dwell.csv"
        try writeCSV(file, rows: 3000)
        // 16 KiB pieces force many requests, each repeating the CSV header.
        let (status, output) = try runKpid(["ingest", "--url", kpid.base, "--batch-bytes", "16384", file])
        #expect(status == 0, "\(output)")
        #expect(output.contains("3000 samples, 3 new series"), "\(output)")
        let samples = try kpid.exportedSamples(#"dwell_seconds{door="D1"}"#)
        #expect(samples.count == 1000)
        #expect(samples.first?.1 == 1_762_000_001_000)
        #expect(samples.first?.2 == 1.5)
    }

    @Test func offlineIngestIntoADataDirectory() throws {
        let dir = TempDir()
        let file = dir.path + "/dwell.csv"
        try writeCSV(file, rows: 300)
        let (status, output) = try runKpid(["ingest", "--data", dir.path + "/data", file])
        #expect(status == 0, "\(output)")
        #expect(output.contains("300 samples, 3 new series"), "\(output)")
        let kpid = try RunningService(data: dir.path + "/data")
        #expect(kpid.service.store.stats.sampleCount == 300)
    }

    /// The `socket`, `bind` and `listen` calls of a `kpid` run, traced with strace.
    func socketCalls(_ arguments: [String], trace: String) throws -> [Substring] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/strace")
        process.arguments = ["-f", "-e", "trace=socket,bind,listen", "-o", trace, kpidBinary] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
            .filter { !$0.contains("+++") && !$0.contains("---") }
    }

    /// Offline ingest writes through the runtime alone: the process makes no `socket`, `bind`
    /// or `listen` call. The control: the same trace of an ingest over HTTP shows its socket.
    @Test func offlineIngestOpensNoSocket() throws {
        let dir = TempDir()
        let file = dir.path + "/dwell.csv"
        try writeCSV(file, rows: 30)
        let offline = try socketCalls(["ingest", "--data", dir.path + "/data", file], trace: dir.path + "/offline.trace")
        #expect(offline.isEmpty, "\(offline)")
        let kpid = try RunningService(data: dir.path + "/served")
        let online = try socketCalls(["ingest", "--url", kpid.base, file], trace: dir.path + "/online.trace")
        #expect(online.contains { $0.contains("socket(") }, "\(online)")
        kpid.stop()
        let reopened = try RunningService(data: dir.path + "/data")
        #expect(reopened.service.store.stats.sampleCount == 30)
    }

    @Test func badFileFailsWithTheServersReason() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data")
        let file = dir.path + "/bad.ndjson"
        try #"{"metric":"m","ts":1,"value":"high"}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try runKpid(["ingest", "--url", kpid.base, file])
        #expect(status != 0)
        #expect(output.contains("HTTP 400"), "\(output)")
        #expect(output.contains("\"field\":\"value\""), "\(output)")
        #expect(kpid.service.store.seriesCount == 0)
    }
}
