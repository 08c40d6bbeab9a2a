import Foundation
import KPIWire
import Testing

@testable import KPIFixtures

/// `kpid fixtures generate` and `kpid ingest` of `.gz` files, through the real binary.
@Suite(.serialized) struct CommandTests {
    static let binary =
        ProcessInfo.processInfo.environment["KPID_BINARY"] ?? FixtureData.root.appendingPathComponent(".build/debug/kpid").path

    struct Run {
        var status: Int32
        var stdout: [UInt8]
        var stderr: String
    }

    /// Runs kpid with `arguments` in the package root; stdout and stderr read on their own threads.
    static func kpid(_ arguments: [String]) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = FixtureData.root
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        final class Box: @unchecked Sendable {
            // @unchecked: written by the reader thread before `done.signal()`, read after `wait()`.
            var data = Data()
            let done = DispatchSemaphore(value: 0)
        }
        let errBox = Box()
        let errHandle = err.fileHandleForReading
        Thread.detachNewThread {
            errBox.data = errHandle.readDataToEndOfFile()
            errBox.done.signal()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        errBox.done.wait()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: [UInt8](stdout), stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    static func tempDir() -> String {
        let path = NSTemporaryDirectory() + "kpid-fixtures-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func generateWritesTheGeneratorsBytesToStdoutOrAGzipFile() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let expected = try FixtureGenerator.generate(
            FixtureOptions(
                site: FixtureSite.defaults(template: "retail", site: "DEMO")!, days: 3, seed: 3, end: epochDay(2026, 11, 1) * 86_400_000))
        let arguments = [
            "fixtures", "generate", "--template", "retail", "--site", "DEMO", "--days", "3", "--seed", "3", "--end", "2026-11-01",
        ]
        let plain = try Self.kpid(arguments)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stdout == expected)
        let file = dir + "/demo.ndjson.gz"
        let gz = try Self.kpid(arguments + ["--out", file])
        #expect(gz.status == 0, "\(gz.stderr)")
        let compressed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        #expect(compressed.starts(with: [0x1F, 0x8B]))
        #expect(try GzipDecoder.inflate(compressed, limit: 1 << 30) == expected)
        // gzip -n: no name or time in the header, so a second run writes the same bytes.
        #expect(try Self.kpid(arguments + ["--out", file]).status == 0)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: file))) == compressed)
    }

    @Test func generateRefusesBadOptionsNamingThem() throws {
        let base = ["fixtures", "generate", "--site", "X"]
        let cases: [([String], String)] = [
            (["--template", "casino"], "--template"), (["--template", "retail", "--end", "soon"], "--end"),
            (["--template", "retail", "--step-minutes", "7"], "step-minutes"), (["--template", "retail", "--days", "0"], "days"),
            // JFK is an airport in Fixtures/sites.json.
            (["fixtures", "generate", "--site", "JFK", "--template", "retail"], "template airport"),
        ]
        for (arguments, mention) in cases {
            let run = try Self.kpid(arguments.first == "fixtures" ? arguments : base + arguments)
            #expect(run.status != 0, "\(arguments)")
            #expect(run.stderr.contains(mention), "\(arguments): \(run.stderr)")
        }
    }

    @Test func ingestReadsGzipFilesOfflineAndOverHTTP() throws {
        let dir = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = try FixtureGenerator.generate(
            FixtureOptions(site: FixtureSite.defaults(template: "airport", site: "GZ")!, days: 2, seed: 5))
        let lines = bytes.split(separator: 10).count
        let ndjson = dir + "/airport.ndjson"
        try Data(bytes).write(to: URL(fileURLWithPath: ndjson))
        #expect(
            try Self.kpid([
                "fixtures", "generate", "--template", "airport", "--site", "GZ", "--days", "2", "--seed", "5", "--out", ndjson + ".gz",
            ]).status == 0)
        // The occupancy samples as CSV under another metric name, gzip-compressed by the system's gzip.
        var csv = "metric,ts,value,site,zone\n"
        for s in FixtureData.parse(bytes) where s.metric == "occupancy_people" {
            for (t, v) in zip(s.ts, s.values) { csv += "csv_occupancy_people,\(t),\(v),GZ,\(s.labels["zone"]!)\n" }
        }
        let csvRows = csv.split(separator: "\n").count - 1
        try csv.write(toFile: dir + "/occupancy.csv", atomically: true, encoding: .utf8)
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["gzip", "-k", dir + "/occupancy.csv"]
        try gzip.run()
        gzip.waitUntilExit()

        // Offline, into a data directory.
        let offline = try Self.kpid(["ingest", "--quiet", "--data", dir + "/offline", ndjson + ".gz", dir + "/occupancy.csv.gz"])
        #expect(offline.status == 0, "\(offline.stderr)")
        let text = String(decoding: offline.stdout, as: UTF8.self)
        #expect(text.contains("airport.ndjson.gz: \(lines) samples"), "\(text)")
        #expect(text.contains("occupancy.csv.gz: \(csvRows) samples"), "\(text)")

        // Over HTTP, in pieces of 200 kB (each sent gzip-compressed) and as one piece.
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.binary)
        server.arguments = ["serve", "--data", dir + "/served", "--port", "0", "--log-level", "error"]
        let out = Pipe()
        server.standardOutput = out
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            server.terminate()
            server.waitUntilExit()
        }
        var ready = ""
        while !ready.contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty {
                guard server.isRunning else { break }
                Thread.sleep(forTimeInterval: 0.01)
            }
            ready += String(decoding: chunk, as: UTF8.self)
        }
        let url = try #require(ready.range(of: #"http://[^/ ]+"#, options: .regularExpression).map { String(ready[$0]) })
        let pieces = try Self.kpid(["ingest", "--quiet", "--url", url, "--batch-bytes", "200000", ndjson + ".gz"])
        #expect(pieces.status == 0, "\(pieces.stderr)")
        #expect(String(decoding: pieces.stdout, as: UTF8.self).contains("airport.ndjson.gz: \(lines) samples, "))
        let whole = try Self.kpid(["ingest", "--quiet", "--url", url, dir + "/occupancy.csv.gz"])
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(String(decoding: whole.stdout, as: UTF8.self).contains("occupancy.csv.gz: \(csvRows) samples"))

        // A file that claims .gz but is not: refused, naming the file.
        try Data("not gzip".utf8).write(to: URL(fileURLWithPath: dir + "/bad.ndjson.gz"))
        let bad = try Self.kpid(["ingest", "--quiet", "--data", dir + "/offline2", dir + "/bad.ndjson.gz"])
        #expect(bad.status != 0 && bad.stderr.contains("bad.ndjson.gz: not a valid gzip file"), "\(bad.stderr)")
    }
}
