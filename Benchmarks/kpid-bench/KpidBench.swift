import ArgumentParser
import Foundation
import KPICore
import KPIService
import KPIStorage
import KPIWire
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@main
struct KpidBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kpid-bench", abstract: "kpid benchmarks: print figures, time nothing in unit tests.",
        subcommands: [IngestBench.self, QueryBench.self, PromQLBench.self])
}

/// Ingest over real HTTP into a durable kpid, then bytes per sample in memory and on disk.
struct IngestBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ingest")

    @Option(help: "Samples to ingest in total.") var samples = 10_000_000
    @Option(help: "Series (10 sites x metrics x zones).") var series = 1_000
    @Option(help: "Samples per HTTP request.") var batch = 10_000
    @Option(help: "Concurrent client connections.") var connections = 4
    @Option(help: "process or power.") var durability = "process"
    @Option(help: "ndjson, csv or protobuf (kpid.v1.Batch).") var format = "ndjson"
    @Option(help: "Keep the data directory here instead of a temporary one.") var data: String?

    func run() throws {
        let perSeries = samples / series
        let total = perSeries * series
        let dir = data ?? (NSTemporaryDirectory() + "kpid-bench-" + UUID().uuidString)
        defer { if data == nil { try? FileManager.default.removeItem(atPath: dir) } }

        // Data shaped like the fixtures: 60 s gauges, integer occupancy, 3-decimal waits, 0/1 states.
        let metrics = ["occupancy_people", "queue_wait_seconds", "device_up", "queue_length_people"]
        var labels: [(metric: String, site: String, zone: String)] = []
        for i in 0..<series {
            // (metric, site) repeats every 20 series (lcm of 4 and 10), so zone = i / 20 makes
            // every label set distinct.
            labels.append((metrics[i % metrics.count], "site\(i % 10)", "zone\(i / 20)"))
        }
        func value(_ s: Int, _ k: Int) -> String {
            let x = (s &* 7919 &+ k &* 104_729) % 1000
            switch labels[s].metric {
            case "occupancy_people": return String(x % 250)
            case "queue_wait_seconds": return String(format: "%.3f", Double(x) * 0.731)
            case "device_up": return x < 995 ? "1" : "0"
            default: return String(x % 40)
            }
        }
        let start: Int64 = 1_760_000_000_000
        print("generating \(total) samples over \(series) series (\(perSeries) per series, 60 s apart)...")
        var bodies: [Data] = []
        var current = ""
        var inBody = 0
        let csv = format == "csv"
        let protobuf = format == "protobuf"
        var pendingBatch = SampleBatch()
        let seriesLabels = labels.map { Labels(metric: $0.metric, ["site": $0.site, "zone": $0.zone]) }
        func flush() {
            if inBody > 0 {
                if protobuf {
                    bodies.append(Data(ProtobufBatchEncoder.encode(pendingBatch)))
                    pendingBatch = SampleBatch()
                } else {
                    bodies.append(Data(((csv ? "metric,ts,value,site,zone\n" : "") + current).utf8))
                    current = ""
                }
                inBody = 0
            }
        }
        current.reserveCapacity(batch * 110)
        for k in 0..<perSeries {
            let ts = start + Int64(k) * 60_000
            for s in 0..<series {
                let l = labels[s]
                if protobuf {
                    pendingBatch.append(seriesLabels[s], timestamp: ts, value: Double(value(s, k))!)
                } else if csv {
                    current += "\(l.metric),\(ts),\(value(s, k)),\(l.site),\(l.zone)\n"
                } else {
                    current +=
                        #"{"metric":"\#(l.metric)","labels":{"site":"\#(l.site)","zone":"\#(l.zone)"},"ts":\#(ts),"value":\#(value(s, k))}"#
                        + "\n"
                }
                inBody += 1
                if inBody == batch { flush() }
            }
        }
        flush()
        let requests = bodies
        let bodyBytes = bodies.reduce(0) { $0 + $1.count }

        var config = ServiceConfiguration()
        config.dataDirectory = dir
        config.port = 0
        config.durability = Durability(rawValue: durability) ?? .process
        var logger = Logger(label: "kpid-bench")
        logger.logLevel = .warning
        let service = KPIService(configuration: config, logger: logger)
        try service.start()
        let url = URL(string: "http://127.0.0.1:\(service.boundPort!)/api/v1/ingest")!

        print("sending \(bodies.count) requests (\(bodyBytes / 1_000_000) MB) over \(connections) connections...")
        let next = NSLock()
        nonisolated(unsafe) var cursor = 0
        nonisolated(unsafe) var failures = 0
        let began = Date()
        DispatchQueue.concurrentPerform(iterations: connections) { _ in
            let session = URLSession(configuration: .ephemeral)
            while true {
                next.lock()
                let i = cursor
                cursor += 1
                next.unlock()
                if i >= requests.count { break }
                var request = URLRequest(url: url)
                request.httpMethod = "POST"
                request.setValue(
                    protobuf ? "application/x-protobuf" : csv ? "text/csv" : "application/x-ndjson", forHTTPHeaderField: "Content-Type")
                request.httpBody = requests[i]
                let done = DispatchSemaphore(value: 0)
                nonisolated(unsafe) var ok = false
                session.dataTask(with: request) { _, response, _ in
                    ok = (response as? HTTPURLResponse)?.statusCode == 200
                    done.signal()
                }.resume()
                done.wait()
                if !ok {
                    next.lock()
                    failures += 1
                    next.unlock()
                }
            }
        }
        let seconds = Date().timeIntervalSince(began)
        let stats = service.store.stats
        service.stop()  // final checkpoint: the file then holds chunks and heads, no write-ahead rows
        var fileBytes: Int64 = 0
        for suffix in ["", "-wal"] {
            let attrs = try? FileManager.default.attributesOfItem(atPath: config.databasePath + suffix)
            fileBytes += (attrs?[.size] as? NSNumber)?.int64Value ?? 0
        }

        func row(_ name: String, _ value: String) { print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + value) }
        print("")
        row("format", format)
        row("durability", config.durability.rawValue)
        row("samples", "\(total)")
        row("series", "\(series)")
        row("requests (samples each)", "\(bodies.count) (\(batch))")
        row("failed requests", "\(failures)")
        row("ingest over HTTP, durable", String(format: "%.0f samples/s (%.1f s)", Double(total) / seconds, seconds))
        row("request body throughput", String(format: "%.1f MB/s", Double(bodyBytes) / seconds / 1e6))
        row("bytes per sample in memory (columns)", String(format: "%.2f", Double(stats.memoryBytes) / Double(max(stats.sampleCount, 1))))
        row("bytes per sample on disk (SQLite file)", String(format: "%.2f", Double(fileBytes) / Double(max(stats.sampleCount, 1))))
        if let db = try? SQLiteConnection(path: config.databasePath, readOnly: true),
            let pages = try? db.pragma("page_count").flatMap(Double.init),
            let free = try? db.pragma("freelist_count").flatMap(Double.init),
            let size = try? db.pragma("page_size").flatMap(Double.init)
        {
            row("bytes per sample on disk (live pages)", String(format: "%.2f", (pages - free) * size / Double(max(stats.sampleCount, 1))))
        }
        row("samples in store", "\(stats.sampleCount)")
        if failures > 0 || stats.sampleCount != total { throw ExitCode(1) }
    }
}
