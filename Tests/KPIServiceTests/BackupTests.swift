import Foundation
import KPIRuntime
import KPIService
import KPIStorage
import Synchronization
import Testing

/// `kpid backup`, `kpid restore` and `kpid check`, run as real processes against a server
/// that keeps ingesting.
@Suite(.serialized) struct BackupTests {
    static let samplesPerRequest = 20
    static let base: Int64 = 1_762_000_000_000

    /// Request k: samples k*20 ..< k*20+20 of one JFK series, one second apart, value k.
    static func request(_ k: Int) -> String {
        (0..<samplesPerRequest).map { j in
            let ts = base + Int64(k * samplesPerRequest + j) * 1000
            return #"{"metric":"load_test","labels":{"site":"JFK"},"ts":\#(ts),"value":\#(k)}"#
        }.joined(separator: "\n")
    }

    @Test(.timeLimit(.minutes(3))) func backupUnderLoadRestoresWhatWasAcknowledged() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.checkpointIntervalSeconds = 0.2
            $0.outOfOrderWindowMs = 1000
            $0.chunkSize = 16
        }
        // One writer, requests in order; `acked` is the count acknowledged so far.
        let acked = Atomic<Int>(0)
        let stop = Atomic<Bool>(false)
        let failures = Mutex<[String]>([])
        let url = kpid.base + "/api/v1/ingest"
        let writer = Thread {
            var k = 0
            while !stop.load(ordering: .acquiring) {
                do {
                    let r = try http(
                        "POST", url, body: Data(BackupTests.request(k).utf8), headers: ["Content-Type": "application/x-ndjson"])
                    guard r.status == 200 else {
                        failures.withLock { $0.append("request \(k): \(r.status) \(r.text)") }
                        return
                    }
                } catch {
                    failures.withLock { $0.append("request \(k): \(error)") }
                    return
                }
                k += 1
                acked.store(k, ordering: .releasing)
            }
        }
        writer.start()
        defer { stop.store(true, ordering: .releasing) }
        while acked.load(ordering: .acquiring) < 50 && failures.withLock({ $0.isEmpty }) { usleep(10_000) }
        // Until a checkpoint has sealed chunks, so the backup holds chunks, heads and WAL rows.
        let live = try SQLiteConnection(path: kpid.service.configuration.databasePath, readOnly: true)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let count = try live.prepare("SELECT count(*) FROM chunks")
            _ = try count.step()
            if count.int64(at: 0) > 0 { break }
            usleep(20_000)
        }
        live.close()

        let ackedBefore = acked.load(ordering: .acquiring)
        let backup = try runKpidCommand(["backup", "--to", dir.path + "/backup.sqlite", "--data", dir.path + "/data"])
        #expect(backup.status == 0, "\(backup.stderr)")
        // Ingest goes on while and after the backup is taken.
        let ackedAfterBackup = acked.load(ordering: .acquiring)
        while acked.load(ordering: .acquiring) < ackedAfterBackup + 20 && failures.withLock({ $0.isEmpty }) { usleep(10_000) }
        stop.store(true, ordering: .releasing)
        while !writer.isFinished { usleep(10_000) }
        #expect(failures.withLock { $0 } == [])
        let sent = acked.load(ordering: .acquiring)

        // Refused into the directory the server uses; a second backup to the same file too.
        let busy = try runKpidCommand(["restore", "--from", dir.path + "/backup.sqlite", "--data", dir.path + "/data", "--force"])
        #expect(busy.status == 1)
        #expect(busy.stderr.contains("in use"))
        #expect(try runKpidCommand(["backup", "--to", dir.path + "/backup.sqlite", "--data", dir.path + "/data"]).status == 1)

        let restore = try runKpidCommand(["restore", "--from", dir.path + "/backup.sqlite", "--data", dir.path + "/restored"])
        #expect(restore.status == 0, "\(restore.stderr)")
        let check = try runKpidCommand(["check", "--data", dir.path + "/restored"])
        #expect(check.status == 0, "\(check.stdout)")
        #expect(check.stdout.hasPrefix("ok: "))

        let restored = try RunningService(data: dir.path + "/restored")
        let samples = try restored.exportedSamples("load_test")
        var perRequest: [Int: [Int64]] = [:]
        for (_, ts, value) in samples { perRequest[Int(value), default: []].append(ts) }
        // Every request acknowledged before the backup began is there, each request whole
        // (atomic), nothing that was never acknowledged or sent.
        #expect(perRequest.count >= ackedBefore)
        #expect(perRequest.count <= sent)
        #expect((0..<ackedBefore).allSatisfy { perRequest[$0] != nil })
        #expect(perRequest.keys.sorted() == Array(0..<perRequest.count))
        for (k, timestamps) in perRequest {
            let expected = (0..<Self.samplesPerRequest).map { Self.base + Int64(k * Self.samplesPerRequest + $0) * 1000 }
            #expect(timestamps.sorted() == expected, "request \(k)")
        }
        restored.stop()

        // Damage a chunk in a copy: check names it and fails.
        let damagedPath = dir.path + "/damaged.sqlite"
        try FileManager.default.copyItem(atPath: dir.path + "/backup.sqlite", toPath: damagedPath)
        let raw = try SQLiteConnection(path: damagedPath)
        let chunk = try raw.prepare("SELECT series_id, min_ts FROM chunks ORDER BY min_ts LIMIT 1")
        #expect(try chunk.step(), "the backup holds no sealed chunk")
        let key = "series=\(chunk.int64(at: 0)) min_ts=\(chunk.int64(at: 1))"
        chunk.reset()
        try raw.execute("UPDATE chunks SET data = zeroblob(length(data)) WHERE min_ts = (SELECT min(min_ts) FROM chunks)")
        raw.close()
        let bad = try runKpidCommand(["check", "--file", damagedPath])
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("BAD chunks \(key):"), "\(bad.stdout)")
        #expect(bad.stdout.contains("1 problem(s)"))
    }

    @Test func adminEndpointWritesABackupIntoTheDataDirectory() throws {
        let s = try SecuredService()
        let admin = try s.token(.admin)
        let reader = try s.token(.read)
        #expect(try s.ingest(Self.request(0), token: admin).status == 200)
        #expect(try curl("POST", s.kpid.base + "/api/v1/admin/backup", headers: ["Authorization": "Bearer \(reader)"]).status == 403)
        let r = try curl("POST", s.kpid.base + "/api/v1/admin/backup", headers: ["Authorization": "Bearer \(admin)"])
        #expect(r.status == 200)
        let data = try #require(r.json["data"] as? [String: Any])
        let path = try #require(data["path"] as? String)
        #expect(path.hasPrefix(s.data + "/backups/kpid-") && path.hasSuffix(".sqlite"))
        #expect((data["bytes"] as? Int ?? 0) > 0)
        let check = try runKpidCommand(["check", "--file", path])
        #expect(check.status == 0, "\(check.stdout)")
        #expect(check.stdout.contains("1 series"))
    }

    @Test func restoreRefusesToOverwriteWithoutForceAndChecksTheBackup() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data")
        #expect(try kpid.ingest(Self.request(0), contentType: "application/x-ndjson").status == 200)
        #expect(try runKpidCommand(["backup", "--to", dir.path + "/b.sqlite", "--data", dir.path + "/data"]).status == 0)
        #expect(try kpid.ingest(Self.request(1), contentType: "application/x-ndjson").status == 200)
        kpid.stop()

        // The stopped directory: refused without --force, replaced with it (losing request 1).
        let refused = try runKpidCommand(["restore", "--from", dir.path + "/b.sqlite", "--data", dir.path + "/data"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("--force"))
        #expect(try runKpidCommand(["restore", "--from", dir.path + "/b.sqlite", "--data", dir.path + "/data", "--force"]).status == 0)
        let back = try RunningService(data: dir.path + "/data")
        #expect(Set(try back.exportedSamples("load_test").map { $0.2 }) == [0])
        back.stop()

        // Not a database: refused, nothing written.
        try "garbage".write(toFile: dir.path + "/junk.sqlite", atomically: true, encoding: .utf8)
        let junk = try runKpidCommand(["restore", "--from", dir.path + "/junk.sqlite", "--data", dir.path + "/other"])
        #expect(junk.status == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/other/kpid.sqlite"))
        #expect(try runKpidCommand(["check", "--file", dir.path + "/junk.sqlite"]).status == 2)
    }
}
