import ArgumentParser
import Foundation
import KPICore
import KPIService
import KPIRuntime
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
        subcommands: [IngestBench.self, QueryBench.self, PromQLBench.self, RestartBench.self, ScrapeBench.self])
}

/// Ingest over real HTTP into a durable kpid, then bytes per sample in memory and on disk;
/// with `--peers`, the same samples into SQLite, Prometheus and DuckDB in the same run.
struct IngestBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Ingest samples/s over HTTP into a durable kpid (and the same data into peers), bytes per sample.")

    @Option(help: "Samples to ingest in total.") var samples = 10_000_000
    @Option(help: "Series (10 sites x metrics x zones).") var series = 1_000
    @Option(help: "Samples per HTTP request (and per SQLite transaction).") var batch = 10_000
    @Option(help: "Concurrent client connections.") var connections = 4
    @Option(help: "process or power.") var durability = "process"
    @Option(help: "ndjson, csv, protobuf (kpid.v1.Batch) or remote_write (Prometheus remote write 1.0).")
    var format = "ndjson"
    @Option(
        help: ArgumentHelp(
            "remote_write request layout: sample (one TimeSeries per sample, as Prometheus 2.x sends) or series (one per series).")
    )
    var remoteWriteLayout = "sample"
    @Option(
        help: "Comma-separated peers loaded with the same samples: sqlite, prometheus and victoriametrics (remote_write only), duckdb."
    )
    var peers = ""
    @Option(help: "The Prometheus binary for the prometheus peer.") var prometheus = "/usr/bin/prometheus"
    @Option(help: "The VictoriaMetrics binary for the victoriametrics peer.") var victoriaMetrics = "/usr/bin/victoria-metrics"
    @Option(help: "The kpid binary the benchmark starts (default: beside kpid-bench).") var kpid: String?
    @Option(help: "Python 3 interpreter with the duckdb module.") var python = "python3"
    @Option(help: "Path of duckdb_ingest.py (default: Benchmarks/peers/ beside this source tree).") var duckdbScript: String?
    @Option(help: "Keep the data directory here instead of a temporary one.") var data: String?
    @Option(help: "Quantile sketches in the rollups (kpid's rollup-sketches setting).") var rollupSketches = true

    func validate() throws {
        guard ["ndjson", "csv", "protobuf", "remote_write"].contains(format) else {
            throw ValidationError("--format must be ndjson, csv, protobuf or remote_write")
        }
        guard Durability(rawValue: durability) != nil else { throw ValidationError("--durability must be process or power") }
        guard ["sample", "series"].contains(remoteWriteLayout) else {
            throw ValidationError("--remote-write-layout must be sample or series")
        }
        guard samples >= series, series > 0, batch > 0, connections > 0 else {
            throw ValidationError("--samples must be at least --series; --series, --batch and --connections positive")
        }
        for peer in peerList where !["sqlite", "prometheus", "victoriametrics", "duckdb"].contains(peer) {
            throw ValidationError("unknown peer \"\(peer)\" in --peers (sqlite, prometheus, victoriametrics, duckdb)")
        }
        for peer in ["prometheus", "victoriametrics"] where peerList.contains(peer) && format != "remote_write" {
            throw ValidationError("the \(peer) peer takes remote write only: use --format remote_write")
        }
    }

    /// `kpid` beside this executable unless `--kpid` names one (`make bench` builds both).
    var kpidBinary: String {
        kpid ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("kpid").path
    }

    var peerList: [String] { peers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() } }

    func run() throws {
        let set = IngestData(samples: samples, series: series)
        try set.checkValues()
        let total = set.total
        let perSeries = set.perSeries
        let dir = data ?? (NSTemporaryDirectory() + "kpid-bench-" + UUID().uuidString)
        let scratch = NSTemporaryDirectory() + "kpid-bench-peers-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer {
            if data == nil { try? FileManager.default.removeItem(atPath: dir) }
            try? FileManager.default.removeItem(atPath: scratch)
        }

        print(
            "generating \(total) samples over \(series) series (\(perSeries) per series, 60 s apart, ending "
                + "\(Date(timeIntervalSince1970: Double(set.timestamps.last!) / 1000)))...")
        let csv = format == "csv"
        let protobuf = format == "protobuf"
        let remoteWrite = format == "remote_write"
        let needValues = protobuf || remoteWrite || peerList.contains("sqlite")
        let values = needValues ? set.valueColumns() : []
        let plan: HTTPSender.Plan
        var lag = 0
        if remoteWrite {
            // As Prometheus' sender: each connection (shard) owns a set of series and sends
            // them in time order. The shards move together within ~50 minutes of data, inside
            // the hour Prometheus' head accepts behind its newest sample.
            let span = set.requestSpanMs(batch: batch, shards: connections)
            lag = max(0, Int(50 * 60_000 / span) - 1)
            if span > 50 * 60_000 && peerList.contains("prometheus") {
                print("warning: one request covers \(span / 60_000) min of a shard's series; Prometheus may refuse samples out of bounds")
            }
            plan = .sharded(
                set.remoteWriteBodies(values: values, batch: batch, shards: connections, seriesPerSample: remoteWriteLayout == "sample"),
                lag: lag)
        } else {
            var bodies: [Data] = []
            var current = ""
            var inBody = 0
            var pendingBatch = SampleBatch()
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
                let ts = set.timestamps[k]
                for s in 0..<series {
                    let l = set.labels[s]
                    if protobuf {
                        pendingBatch.append(set.seriesLabels[s], timestamp: ts, value: values[s][k])
                    } else if csv {
                        current += "\(l.metric),\(ts),\(set.text(s, k)),\(l.site),\(l.zone)\n"
                    } else {
                        current +=
                            #"{"metric":"\#(l.metric)","labels":{"site":"\#(l.site)","zone":"\#(l.zone)"},"ts":\#(ts),"value":\#(set.text(s, k))}"#
                            + "\n"
                    }
                    inBody += 1
                    if inBody == batch { flush() }
                }
            }
            flush()
            plan = .shared(bodies, connections: connections)
        }
        let requestCount: Int
        let bodyBytes: Int
        switch plan {
        case .shared(let bodies, _):
            requestCount = bodies.count
            bodyBytes = bodies.reduce(0) { $0 + $1.count }
        case .sharded(let shards, _):
            requestCount = shards.reduce(0) { $0 + $1.count }
            bodyBytes = shards.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
        }

        // kpid as its own process, as every peer: the client (this process) does not share its
        // cores' scheduling, its allocator or its address space, and its CPU time is its own.
        let databasePath = dir + "/kpid.sqlite"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let server = try ChildServer(
            name: "kpid", binary: kpidBinary,
            arguments: { port in
                [
                    "serve", "--data", dir, "--bind", "127.0.0.1", "--port", String(port), "--durability", durability,
                    "--rollup-sketches", String(rollupSketches),
                    // Ingest only: no rolling KPI rounds, rules or sites file competing for the cores.
                    "--kpi-interval", "0", "--sites-file", "", "--rule-files", "", "--log-level", "warning",
                ]
            }, directory: scratch + "/kpid", readyPath: "readyz")
        defer { server.stop() }
        let url = server.base.appendingPathComponent(remoteWrite ? "api/v1/write" : "api/v1/ingest")
        let headers =
            remoteWrite
            ? HTTPSender.remoteWriteHeaders
            : ["Content-Type": protobuf ? "application/x-protobuf" : csv ? "text/csv" : "application/x-ndjson"]

        print(
            "kpid: sending \(requestCount) requests (\(bodyBytes / 1_000_000) MB) over \(connections) connections"
                + (remoteWrite ? " (one shard of series each, lag \(lag))" : "") + "...")
        let cpuBefore = server.cpuSeconds()
        let outcome = HTTPSender(url: url, headers: headers).send(plan)
        let seconds = outcome.seconds
        let failures = outcome.failures
        let cpuSeconds = server.cpuSeconds() - cpuBefore
        let resident = server.residentBytes()
        if let error = outcome.firstError { print("kpid refused a request: \(error)") }
        let memory = try KpidMetrics(server)
        let stored = try server.countSamples(set)
        server.stop()  // final checkpoint: the file then holds chunks and heads, no write-ahead rows
        var fileBytes: Int64 = 0
        for suffix in ["", "-wal"] {
            let attrs = try? FileManager.default.attributesOfItem(atPath: databasePath + suffix)
            fileBytes += (attrs?[.size] as? NSNumber)?.int64Value ?? 0
        }
        let (p50, p99) = BenchFormat.medianP99(outcome.latencies)

        func row(_ name: String, _ value: String) { print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + value) }
        print("")
        row("format", format + (remoteWrite ? " (\(remoteWriteLayout) layout)" : ""))
        row("durability", durability)
        row("samples", "\(total)")
        row("series", "\(series)")
        row("requests (samples each)", "\(requestCount) (\(batch))")
        row("failed requests", "\(failures)")
        row("ingest over HTTP, durable", String(format: "%.0f samples/s (%.1f s)", Double(total) / seconds, seconds))
        row("samples per server CPU-second", String(format: "%.0f (%.1f s CPU)", Double(total) / max(cpuSeconds, 1e-9), cpuSeconds))
        row("request latency p50 / p99", BenchFormat.ms(p50) + " / " + BenchFormat.ms(p99))
        row("request body throughput", String(format: "%.1f MB/s", Double(bodyBytes) / seconds / 1e6))
        row("resident memory after the load", String(format: "%.1f MB (%.2f bytes/sample)", Double(resident) / 1e6, Double(resident) / Double(total)))
        row("bytes per sample in memory (columns)", String(format: "%.2f", memory.columnBytes / Double(max(memory.samples, 1))))
        row("bytes per sample in memory (rollups)", String(format: "%.2f", memory.rollupBytes / Double(max(memory.samples, 1))))
        row("bytes per sample on disk (SQLite file)", String(format: "%.2f", Double(fileBytes) / Double(total)))
        if let db = try? SQLiteConnection(path: databasePath, readOnly: true),
            let pages = try? db.pragma("page_count").flatMap(Double.init),
            let free = try? db.pragma("freelist_count").flatMap(Double.init),
            let size = try? db.pragma("page_size").flatMap(Double.init)
        {
            row("bytes per sample on disk (live pages)", String(format: "%.2f", (pages - free) * size / Double(total)))
        }
        row("samples counted back (PromQL)", "\(stored)")
        let kpidChecked = failures == 0 && stored == total
        if !kpidChecked {
            print("FAILED: kpid holds \(stored) of \(total) samples, \(failures) requests refused")
            throw ExitCode(1)
        }
        if peerList.isEmpty { return }

        // The peers, one at a time, with the same samples.
        var results: [PeerIngestResult] = []
        var problems: [String] = []
        for peer in peerList {
            print("\n\(peer): loading the same \(total) samples...")
            let before = results.count
            do {
                switch peer {
                case "sqlite":
                    results.append(
                        try SQLiteIngestPeer.run(set, values: values, batch: batch, power: durability == "power", directory: scratch))
                case "prometheus":
                    guard case .sharded(let shards, let lag) = plan else { continue }
                    results.append(
                        try PrometheusPeer.ingest(
                            binary: prometheus, data: set, bodies: shards, lag: lag, directory: scratch + "/prometheus"))
                case "victoriametrics":
                    guard case .sharded(let shards, let lag) = plan else { continue }
                    results.append(
                        try VictoriaMetricsPeer.ingest(
                            binary: victoriaMetrics, data: set, bodies: shards, lag: lag, directory: scratch + "/victoriametrics"))
                default:
                    // Like `kpid-bench query`: without the duckdb module the column is skipped, not failed.
                    guard DuckDBIngestPeer.available(python: python) else {
                        print("DuckDB skipped: \(python) cannot import duckdb (scripts/install-bench-deps.sh installs it)")
                        continue
                    }
                    results += try DuckDBIngestPeer.run(
                        set, batch: batch, python: python, script: duckdbScript ?? DuckDBIngestPeer.defaultScript(),
                        directory: scratch)
                }
                for r in results[before...] {
                    print(
                        "\(r.name): \(BenchFormat.rate(r.samplesPerSecond)) samples/s"
                            + String(format: " (%.1f s), %d stored of %d, %d refused requests", r.seconds, r.stored, r.sent, r.failures))
                    if let note = r.note { print(note) }
                    if !r.checked { problems.append("\(r.name) holds \(r.stored) of \(r.sent) samples (\(r.failures) refused requests)") }
                }
            } catch {
                problems.append("\(peer): \(error)")
                print("\(peer) FAILED: \(error)")
            }
        }

        let kpidRate = Double(total) / seconds
        let formatName = remoteWrite ? "remote_write" : protobuf ? "protobuf (`kpid.v1.Batch`)" : format == "csv" ? "CSV" : "ndjson"
        print("\nEvery count checked: kpid \(stored) of \(total)" + results.map { ", \($0.name) \($0.stored)" }.joined())
        print("")
        print("| format | durability | samples | kpid samples/s | peer | peer durability | peer samples/s | kpid / peer |")
        print("|---|---|---:|---:|---|---|---:|---:|")
        for r in results where r.checked {
            let kpidCell = BenchFormat.rate(kpidRate) + String(format: " (%.1f s)", seconds)
            let peerCell = BenchFormat.rate(r.samplesPerSecond) + String(format: " (%.1f s)", r.seconds)
            let ratio = BenchFormat.ratio(kpidRate, r.samplesPerSecond)
            let head = "| \(formatName) | \(durability) | \(BenchFormat.grouped(total)) | "
            print(head + "\(kpidCell) | \(r.name) | \(r.durability) | \(peerCell) | \(ratio) |")
        }
        // Server processes only: CPU, latency, memory and disk of each, beside kpid's.
        let measured = results.filter { $0.checked && $0.cpuSeconds != nil }
        if !measured.isEmpty {
            let kpidCPU = Double(total) / max(cpuSeconds, 1e-9)
            let kpidDisk = Double(fileBytes) / Double(total)
            let kpidRSS = Double(resident) / Double(total)
            print("")
            let names: [String] = measured.map(\.name)
            let ratioNames: [String] = names.map { "kpid / " + $0 }
            print("| figure | kpid | " + names.joined(separator: " | ") + " | " + ratioNames.joined(separator: " | ") + " |")
            print("|---|---:|" + String(repeating: "---:|", count: measured.count * 2))
            func line(_ figure: String, _ kpidValue: Double, _ format: (Double) -> String, _ peer: (PeerIngestResult) -> Double?) {
                let cells = measured.map { peer($0).map(format) ?? "n/a" }
                let ratios = measured.map { peer($0).map { BenchFormat.ratio(kpidValue, $0) } ?? "n/a" }
                print("| \(figure) | \(format(kpidValue)) | " + cells.joined(separator: " | ") + " | " + ratios.joined(separator: " | ") + " |")
            }
            line("samples/s", kpidRate, BenchFormat.rate) { $0.samplesPerSecond }
            line("samples per server CPU-second", kpidCPU, BenchFormat.rate) { $0.samplesPerCPUSecond }
            line("request latency p50", p50, BenchFormat.ms) { $0.latencies.isEmpty ? nil : BenchFormat.medianP99($0.latencies).median }
            line("request latency p99", p99, BenchFormat.ms) { $0.latencies.isEmpty ? nil : BenchFormat.medianP99($0.latencies).p99 }
            line("disk after a clean stop, bytes/sample", kpidDisk, { String(format: "%.2f", $0) }) {
                $0.diskBytes.map { bytes in Double(bytes) / Double(total) }
            }
            line("resident memory after the load, bytes/sample", kpidRSS, { String(format: "%.1f", $0) }) {
                $0.residentBytes.map { bytes in Double(bytes) / Double(total) }
            }
        }
        print("")
        print(
            "kpid: its own process (`kpid serve`), over HTTP, \(connections) connections, \(BenchFormat.grouped(batch)) samples a request, client in this process; acknowledged after the commit.")
        for r in results { print("\(r.name): \(r.method).") }
        if !problems.isEmpty {
            for p in problems { print("FAILED: \(p)") }
            throw ExitCode(1)
        }
    }
}
