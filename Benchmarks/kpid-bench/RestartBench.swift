import ArgumentParser
import Foundation
import KPICore
import KPIService
import KPIRuntime
import KPIStorage
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Restart time: a data directory holding N samples, written through the service's write path
/// (the group-commit writer, in process) and closed gracefully, then opened again `--runs`
/// times, each timed from constructing `KPIService` to the first `GET /readyz` answering 200.
struct RestartBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart", abstract: "Open-to-ready time of kpid on a data directory of N samples.")

    @Option(help: "Samples in the data directory.") var samples = 100_000_000
    @Option(help: "Series (10 sites x metrics x zones).") var series = 1_000
    @Option(help: "Samples per write (one commit each) while building the directory.") var batch = 100_000
    @Option(help: "Restarts to time.") var runs = 3
    @Option(
        help: "Use this data directory: built when it holds no store yet, reused as is (after checking its sample count) otherwise."
    )
    var data: String?

    func validate() throws {
        guard samples >= series, series > 0, batch > 0, runs > 0 else {
            throw ValidationError("--samples must be at least --series; --series, --batch and --runs positive")
        }
    }

    func serviceConfiguration(_ dir: String, port: UInt16) -> ServiceConfiguration {
        var config = ServiceConfiguration()
        config.dataDirectory = dir
        config.port = port
        config.durability = .process
        // Open to ready only: no KPI rounds or sites file.
        config.kpiIntervalSeconds = 0
        config.sitesFile = ""
        return config
    }

    func run() throws {
        let set = IngestData(samples: samples, series: series)
        let total = set.total
        let dir = data ?? (NSTemporaryDirectory() + "kpid-bench-restart-" + UUID().uuidString)
        defer { if data == nil { try? FileManager.default.removeItem(atPath: dir) } }
        var logger = Logger(label: "kpid-bench")
        logger.logLevel = .warning

        let exists = FileManager.default.fileExists(atPath: serviceConfiguration(dir, port: 0).databasePath)
        if !exists {
            print("building \(dir): \(total) samples over \(series) series, \(batch) a commit...")
            let service = KPIService(configuration: serviceConfiguration(dir, port: 0), logger: logger)
            try service.start()
            let began = Date()
            var pending = SampleBatch()
            var lastReport = began
            for k in 0..<set.perSeries {
                let ts = set.timestamps[k]
                for s in 0..<series {
                    pending.append(set.seriesLabels[s], timestamp: ts, value: set.value(s, k))
                    if pending.sampleCount == batch {
                        try write(pending, to: service)
                        pending = SampleBatch()
                        if Date().timeIntervalSince(lastReport) > 10 {
                            lastReport = Date()
                            print(
                                String(
                                    format: "  %d samples stored (%.0f s)", service.store.stats.sampleCount,
                                    lastReport.timeIntervalSince(began)))
                        }
                    }
                }
            }
            if !pending.isEmpty { try write(pending, to: service) }
            let stored = service.store.stats.sampleCount
            service.stop()
            print(String(format: "built in %.1f s (%d samples, graceful stop included)", Date().timeIntervalSince(began), stored))
            if stored != total { throw BenchError("the store holds \(stored) samples after building, expected \(total)") }
        } else {
            print("reusing \(dir)")
        }
        var fileBytes: Int64 = 0
        for suffix in ["", "-wal"] {
            let attrs = try? FileManager.default.attributesOfItem(atPath: serviceConfiguration(dir, port: 0).databasePath + suffix)
            fileBytes += (attrs?[.size] as? NSNumber)?.int64Value ?? 0
        }

        var times: [Double] = []
        var loads: [Double] = []
        var counts: [Int] = []
        let poll = URLSession(configuration: .ephemeral)
        for run in 1...runs {
            let port = try freeLocalPort()
            let ready = URL(string: "http://127.0.0.1:\(port)/readyz")!
            let began = Date()
            let service = KPIService(configuration: serviceConfiguration(dir, port: port), logger: logger)
            nonisolated(unsafe) var startError: Error? = nil
            let started = DispatchSemaphore(value: 0)
            Thread {
                do { try service.start() } catch { startError = error }
                started.signal()
            }.start()
            // From outside, as an orchestrator would: /readyz answers 503 while the store loads.
            var seconds = 0.0
            while true {
                if httpRequest(ready, timeout: 1, session: poll).status == 200 {
                    seconds = Date().timeIntervalSince(began)
                    break
                }
                if startError != nil { break }
                Thread.sleep(forTimeInterval: 0.002)
            }
            started.wait()
            if let startError { throw BenchError("restart \(run) failed: \(startError)") }
            let metrics = httpRequest(URL(string: "http://127.0.0.1:\(port)/metrics")!, session: poll)
            let load = Self.gauge("kpid_store_load_seconds", in: String(decoding: metrics.body, as: UTF8.self)) ?? .nan
            let count = service.store.stats.sampleCount
            service.stop()
            times.append(seconds)
            loads.append(load)
            counts.append(count)
            print(
                String(
                    format: "restart %d: ready in %.2f s (kpid_store_load_seconds %.2f), %d samples in the store", run, seconds, load, count
                ))
        }
        let sorted = times.sorted()
        let median = BenchFormat.medianP99(times).median
        print("")
        print("| samples | series | SQLite file | open to ready, median | max | kpid_store_load_seconds, median | runs |")
        print("|---:|---:|---:|---:|---:|---:|---:|")
        print(
            "| \(BenchFormat.grouped(total)) | \(BenchFormat.grouped(series)) | \(fileBytes / 1_000_000) MB | "
                + String(format: "%.2f s | %.2f s | %.2f s | %d |", median, sorted.last!, BenchFormat.medianP99(loads).median, runs))
        if let wrong = counts.first(where: { $0 != total }) {
            print("FAILED: a restart found \(wrong) samples, expected \(total)")
            throw ExitCode(1)
        }
        print("every restart found all \(total) samples")
    }

    /// Writes one batch through the service's writer and waits for its commit.
    func write(_ batch: SampleBatch, to service: KPIService) throws {
        switch service.write(batch) {
        case .success: return
        case .failure(let error): throw BenchError("write failed: \(error)")
        }
    }

    /// The value of an unlabelled gauge in Prometheus text.
    static func gauge(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1).split(separator: " ").first ?? "")
        }
        return nil
    }
}
