import Foundation
import KPIRuntime
import KPIService
import KPIStorage
import Testing

/// Retention by policy against real SQLite files: what expires goes from memory and from disk
/// (rows and pages), the rest is exported unchanged, and it runs on start.
@Suite(.serialized) struct RetentionTests {
    static let day: Int64 = 86_400_000

    static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Samples of `before` at or after `cutoff`; samples between the cutoffs computed just
    /// before and just after the run may go either way, so `kept` must hold every sample at
    /// or after `late` and none before `early`.
    static func check(
        _ kept: Set<ExportedSample>, from before: Set<ExportedSample>, series: String, early: Int64, late: Int64
    ) {
        let all = before.filter { $0.series == series }
        let got = kept.filter { $0.series == series }
        #expect(got.isSubset(of: all), "\(series): exported samples that were never stored")
        #expect(all.filter { $0.ts >= late }.isSubset(of: got), "\(series): a sample inside retention is missing")
        #expect(got.allSatisfy { $0.ts >= early }, "\(series): a sample older than the retention was returned")
    }

    @Test func retentionDropsOldDataFromMemoryAndDiskAndRunsOnStart() throws {
        let dir = TempDir()
        let db = dir.path + "/kpid.sqlite"
        let now = RetentionTests.nowMs()
        // Every 10 minutes for 100 days, ending an hour ago; random-ish values so that chunks
        // are not trivially small. ret_dead only holds samples 90 to 100 days old.
        let step: Int64 = 600_000
        let first = now - 100 * RetentionTests.day
        var times: [Int64] = []
        var t = first
        while t < now - 3_600_000 {
            times.append(t)
            t += step
        }
        let deadTimes = times.filter { $0 < now - 90 * RetentionTests.day }
        func value(_ t: Int64) -> Double { Double((t / step) &* 2_654_435_761 % 1_000_003) / 7.0 }

        var service = try RunningService(data: dir.path) { $0.chunkSize = 128 }
        for metric in ["ret_raw", "ret_keep", "ret_short"] {
            let r = try service.ingest(ndjson(metric, site: "JFK", times, value: value), contentType: "application/x-ndjson")
            #expect(r.status == 200, "\(r.text)")
        }
        let dead = try service.ingest(ndjson("ret_dead", site: "LHR", deadTimes, value: value), contentType: "application/x-ndjson")
        #expect(dead.status == 200)
        let selector = "{__name__=~\"ret_.*\"}"
        let before = try exportSet(service.base, selector)
        #expect(before.count == 3 * times.count + deadTimes.count)
        service.stop()
        let chunksBefore = try sqliteInt(db, "SELECT count(*) FROM chunks")
        let pagesBefore = try sqliteInt(db, "PRAGMA page_count")
        #expect(try sqliteInt(db, "PRAGMA auto_vacuum") == 2)

        // Restart with 60 days by default, ret_keep for ever, ret_short 30 days.
        let configure: (Int64) -> (inout ServiceConfiguration) -> Void = { days in
            {
                $0.chunkSize = 128
                $0.retention = RetentionPolicy(
                    defaultMs: days * RetentionTests.day, rules: ["ret_keep": 0, "ret_short": 30 * RetentionTests.day])
            }
        }
        var early = RetentionTests.nowMs()
        service = try RunningService(data: dir.path, configure: configure(60))
        var late = RetentionTests.nowMs()
        var kept = try exportSet(service.base, selector)
        RetentionTests.check(
            kept, from: before, series: "ret_raw{site=JFK}", early: early - 60 * RetentionTests.day, late: late - 60 * RetentionTests.day)
        RetentionTests.check(
            kept, from: before, series: "ret_short{site=JFK}", early: early - 30 * RetentionTests.day,
            late: late - 30 * RetentionTests.day)
        #expect(kept.filter { $0.series == "ret_keep{site=JFK}" } == before.filter { $0.series == "ret_keep{site=JFK}" })
        #expect(kept.filter { $0.series == "ret_dead{site=LHR}" }.isEmpty)
        // The emptied series left the index.
        let listed = try http("GET", service.base + "/api/v1/series?match%5B%5D=ret_dead")
        #expect((listed.json["data"] as? [Any])?.isEmpty == true)
        let sites = try http("GET", service.base + "/api/v1/label/site/values")
        #expect((sites.json["data"] as? [String]) == ["JFK"])
        // Metrics of the run.
        let metrics = try http("GET", service.base + "/metrics").text
        let deletedLine = metrics.split(separator: "\n").first { $0.hasPrefix("kpid_retention_deleted_samples_total ") }
        let deleted = deletedLine.flatMap { Double($0.split(separator: " ")[1]) } ?? 0
        let removedFromExport = Double(before.count - kept.count)
        // Whole chunks and head samples are deleted; older samples of a straddling chunk are
        // hidden until it expires whole (at most one chunk per series).
        #expect(deleted > 0 && deleted <= removedFromExport && deleted > removedFromExport - 3 * 128)
        #expect(metrics.contains("kpid_retention_deleted_series_total 1"))
        #expect(metrics.contains("kpid_retention_last_run_timestamp_seconds "))
        service.stop()

        // On disk: no chunk ends before its series' cutoff, the dead series' rows are gone,
        // and the file shrank (incremental vacuum).
        let rawCutoff = early - 60 * RetentionTests.day
        #expect(
            try sqliteInt(
                db, "SELECT count(*) FROM chunks JOIN series ON series.id = series_id WHERE metric = 'ret_raw' AND max_ts < \(rawCutoff)")
                == 0)
        #expect(try sqliteInt(db, "SELECT count(*) FROM series WHERE metric = 'ret_dead'") == 0)
        #expect(try sqliteInt(db, "SELECT count(*) FROM heads JOIN series ON series.id = series_id WHERE metric = 'ret_dead'") == 0)
        let chunksAfter = try sqliteInt(db, "SELECT count(*) FROM chunks")
        let pagesAfter = try sqliteInt(db, "PRAGMA page_count")
        #expect(chunksAfter < chunksBefore)
        #expect(pagesAfter < pagesBefore, "pages \(pagesBefore) -> \(pagesAfter)")
        #expect(try sqliteInt(db, "PRAGMA freelist_count") < 16)
        #expect(try sqliteInt(db, "SELECT count(*) FROM chunks JOIN series ON series.id = series_id WHERE metric = 'ret_keep'") > 0)

        // Restart with a shorter default retention: the start run drops more.
        early = RetentionTests.nowMs()
        service = try RunningService(data: dir.path, configure: configure(20))
        late = RetentionTests.nowMs()
        kept = try exportSet(service.base, selector)
        RetentionTests.check(
            kept, from: before, series: "ret_raw{site=JFK}", early: early - 20 * RetentionTests.day, late: late - 20 * RetentionTests.day)
        RetentionTests.check(
            kept, from: before, series: "ret_short{site=JFK}", early: early - 30 * RetentionTests.day,
            late: late - 30 * RetentionTests.day)
        #expect(kept.filter { $0.series == "ret_keep{site=JFK}" } == before.filter { $0.series == "ret_keep{site=JFK}" })
        service.stop()
        #expect(try sqliteInt(db, "SELECT count(*) FROM chunks") < chunksAfter)
    }

    /// While serving: samples ingested after start that are already past the retention go at
    /// the next run (here asked for through the admin endpoint, the same run as the periodic one).
    @Test func runWhileServingTrimsHeadsAndRemovesEmptiedSeries() throws {
        let dir = TempDir()
        let now = RetentionTests.nowMs()
        let service = try RunningService(data: dir.path) { $0.retention = RetentionPolicy(defaultMs: 60 * RetentionTests.day) }
        let old = (0..<30).map { now - 90 * RetentionTests.day + Int64($0) * 60_000 }
        let recent = (0..<20).map { now - 2 * RetentionTests.day + Int64($0) * 60_000 }
        // One series with old and recent samples (all in its head), one with only old ones.
        #expect(
            try service.ingest(ndjson("live_m", site: "JFK", old + recent) { Double($0 % 97) }, contentType: "application/x-ndjson").status
                == 200)
        #expect(try service.ingest(ndjson("live_m", site: "LHR", old) { _ in 1 }, contentType: "application/x-ndjson").status == 200)
        let r = try http("POST", service.base + "/api/v1/admin/retention")
        #expect(r.status == 200, "\(r.text)")
        let data = r.json["data"] as? [String: Any] ?? [:]
        #expect((data["samples_deleted"] as? NSNumber)?.intValue == 60)
        #expect((data["series_removed"] as? NSNumber)?.intValue == 1)
        let expected = Set(recent.map { ExportedSample(series: "live_m{site=JFK}", ts: $0, value: Double($0 % 97)) })
        #expect(try exportSet(service.base, "live_m") == expected)
        #expect((try http("GET", service.base + "/api/v1/label/site/values").json["data"] as? [String]) == ["JFK"])
        // A second run finds nothing more.
        let again = try http("POST", service.base + "/api/v1/admin/retention")
        #expect(((again.json["data"] as? [String: Any])?["samples_deleted"] as? NSNumber)?.intValue == 0)
        service.stop()
        // On disk as in memory: a restart (whose start run finds nothing either) exports the same.
        let db = dir.path + "/kpid.sqlite"
        #expect(try sqliteInt(db, "SELECT count(*) FROM series") == 1)
        let restarted = try RunningService(data: dir.path) { $0.retention = RetentionPolicy(defaultMs: 60 * RetentionTests.day) }
        #expect(try exportSet(restarted.base, "live_m") == expected)
        restarted.stop()
    }

    /// SIGKILL at several points of a start (recovery, then the retention run that deletes in
    /// one transaction): after each, a clean start exports every sample inside the retention
    /// and none outside it.
    @Test func sigkillDuringStartRetentionKeepsEverySampleInsideIt() throws {
        let dir = TempDir()
        let data = dir.path + "/data"
        let now = RetentionTests.nowMs()
        let step: Int64 = 3_600_000
        let times = (0..<2400).map { now - 100 * RetentionTests.day + Int64($0) * step }
        var kpid = try KpidProcess(data: data, extraArguments: ["--chunk-size", "64"])
        for s in 0..<40 {
            let r = try http(
                "POST", kpid.base + "/api/v1/ingest", body: Data(ndjson("kill_m", site: "s\(s)", times) { Double($0 / step % 1000) }.utf8),
                headers: ["Content-Type": "application/x-ndjson"])
            #expect(r.status == 200)
        }
        let before = try exportSet(kpid.base, "kill_m")
        #expect(before.count == 40 * 2400)
        kpid.terminate()
        let config = dir.path + "/kpid.conf"
        try "retention = 60d\nchunk-size = 64\n".write(toFile: config, atomically: true, encoding: .utf8)
        for delay in [0.02, 0.05, 0.1, 0.2, 0.3, 0.5] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: kpidBinary)
            process.arguments = ["serve", "--data", data, "--port", "0", "--log-level", "error", "--config", config]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let early = RetentionTests.nowMs()
        kpid = try KpidProcess(data: data, extraArguments: ["--config", config])
        let late = RetentionTests.nowMs()
        let kept = try exportSet(kpid.base, "kill_m")
        for s in 0..<40 {
            RetentionTests.check(
                kept, from: before, series: "kill_m{site=s\(s)}", early: early - 60 * RetentionTests.day,
                late: late - 60 * RetentionTests.day)
        }
        kpid.terminate()
        let connection = try SQLiteConnection(path: data + "/kpid.sqlite", readOnly: true)
        #expect(try connection.integrityCheck() == ["ok"])
        connection.close()
    }

    @Test func settingsParseAndRefuseBadValues() throws {
        let config = try ServiceConfiguration.resolve(
            flags: ["retention": "35d"], environment: ["KPID_RETENTION_RULES": "queue_wait_seconds=35d, device_up=400d;raw=0"],
            configFile: ["retention-interval": "90s"])
        #expect(config.retention.defaultMs == 35 * RetentionTests.day)
        #expect(config.retention.rules == ["queue_wait_seconds": 35 * RetentionTests.day, "device_up": 400 * RetentionTests.day, "raw": 0])
        #expect(config.retentionIntervalSeconds == 90)
        #expect(ServiceConfiguration().retention.isEnabled == false)
        let rulesFile = TempDir()
        let path = rulesFile.path + "/rules"
        try "# per metric\nqueue_wait_seconds = 35d\ndevice_up = 400d  # a year and more\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        let fromFile = try ServiceConfiguration.resolve(flags: ["retention-rules": "@" + path], environment: [:], configFile: [:])
        #expect(fromFile.retention.rules == ["queue_wait_seconds": 35 * RetentionTests.day, "device_up": 400 * RetentionTests.day])
        for (name, value, fragment) in [
            ("retention", "10m", "at least 1h"), ("retention", "forever", "not 0"),
            ("retention-rules", "device_up", "metric=duration"), ("retention-rules", "device_up=5m", "at least 1h"),
            ("retention-rules", "1bad=3d", "not a metric name"), ("retention-rules", "a=1d,a=2d", "twice"),
            ("retention-interval", "0s", "1s to 1d"),
        ] {
            do {
                _ = try ServiceConfiguration.resolve(flags: [name: value], environment: [:], configFile: [:])
                Issue.record("\(name)=\(value) was accepted")
            } catch {
                #expect(error.setting == name)
                #expect(error.description.contains(fragment), "\(error.description)")
            }
        }
    }
}
