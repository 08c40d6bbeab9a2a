import ArgumentParser
import Dispatch
import Foundation
import KPICore
import KPIPromQL
import KPIService
import KPIRuntime
import KPIWire
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// PromQL latency on generated counters and gauges (one sample per 15 s, as Prometheus scrapes):
/// kpid's engine in process, kpid's `/api/v1/query_range` and `/api/v1/query` over HTTP (the
/// samples ingested over HTTP), and Debian's Prometheus over HTTP on the same samples
/// (backfilled with promtool). The answers are checked equal before anything is timed.
struct PromQLBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promql", abstract: "Latency of PromQL range and instant queries, kpid vs Prometheus over HTTP, on generated data.")

    @Option(help: "Series (half counters, half gauges).") var series = 1_000
    @Option(help: "Hours of data per series at a 15 s interval.") var hours = 24
    @Option(help: "Timed runs per query and system (median and p99 are printed).") var runs = 5
    @Option(help: "Untimed runs per query and system before the timed ones (warm caches).") var warmup = 1
    @Option(help: "Comma-separated peers: prometheus, victoriametrics, or none.") var peers = "prometheus,victoriametrics"
    @Option(help: "The Prometheus binary.") var prometheus = "/usr/bin/prometheus"
    @Option(help: "The VictoriaMetrics binary.") var victoriaMetrics = "/usr/bin/victoria-metrics"
    @Option(help: "The promtool binary (backfills the Prometheus blocks).") var promtool = "/usr/bin/promtool"

    func validate() throws {
        guard series >= 2, hours >= 1, runs >= 1, warmup >= 0 else {
            throw ValidationError("--series at least 2, --hours and --runs at least 1, --warmup not negative")
        }
        for peer in peerList where !["prometheus", "victoriametrics"].contains(peer) {
            throw ValidationError("unknown peer \"\(peer)\" in --peers (prometheus, victoriametrics, none)")
        }
    }

    var peerList: [String] {
        peers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != "none" }
    }

    /// One query, answered by every system at the same instant or over the same range.
    struct Case {
        var name: String
        var query: String
        /// Range query step in ms; nil for an instant query at `end`.
        var step: Int64?
        /// topk: which of several series with the same value are kept is unspecified (kpid and
        /// Prometheus break ties differently), so only the values are compared.
        var valuesOnly = false
        /// Why VictoriaMetrics' answer differs by design, when it does (its row is timed, not
        /// checked equal).
        var victoriaMetricsDiffers: String? = nil
    }

    func run() throws {
        let perSeries = hours * 240
        let store = ColumnarStore()
        let end: Int64 = 1_794_787_200_000
        let start = end - Int64(perSeries) * 15_000
        var state: UInt64 = 7
        var allLabels: [Labels] = []
        var allTimestamps: [[Int64]] = []
        var allValues: [[Double]] = []
        for k in 0..<series {
            let counter = k % 2 == 0
            let labels = Labels(
                metric: counter ? "http_requests_total" : "queue_length", ["site": "S\(k % 10)", "instance": "i\(k)"])
            var total = 0.0
            var ts = [Int64](repeating: 0, count: perSeries)
            var vs = [Double](repeating: 0, count: perSeries)
            for i in 0..<perSeries {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let r = Double(state >> 40) / Double(1 << 24)
                ts[i] = start + Int64(i) * 15_000
                total += counter ? (r * 10).rounded() : 0
                vs[i] = counter ? total : (r * 50).rounded()
            }
            let id = SeriesID(UInt32(k))
            store.apply(newSeries: [(id, labels)], series: [id], timestamps: [ts], values: [vs])
            allLabels.append(labels)
            allTimestamps.append(ts)
            allValues.append(vs)
        }
        let total = store.stats.sampleCount
        print("\(series) series x \(perSeries) samples (\(total) in all), \(hours) h at 15 s")
        var options = PromQLOptions()
        options.maxSamples = Int.max / 2
        let engine = PromQLEngine(store: store, options: options)
        let rangeStart = max(start, end - 86_400_000)
        let rangeHours = min(hours, 24)
        let cases = [
            Case(
                name: "rate 5m, range \(rangeHours)h step 60s", query: "sum by (site) (rate(http_requests_total[5m]))", step: 60_000,
                victoriaMetricsDiffers:
                    "VictoriaMetrics' rate does not extrapolate to the window's edges and uses the sample before the window"),
            Case(
                name: "avg_over_time 1h, range \(rangeHours)h step 5m", query: "avg by (site) (avg_over_time(queue_length[1h]))",
                step: 300_000,
                victoriaMetricsDiffers:
                    "VictoriaMetrics 1.79's values differ from the first whole window on (by about one sample's weight); the cause is not established"),
            Case(
                name: "instant topk of rate 5m", query: "topk(10, rate(http_requests_total[5m]))", step: nil, valuesOnly: true,
                victoriaMetricsDiffers:
                    "VictoriaMetrics' rate does not extrapolate to the window's edges and uses the sample before the window"),
            Case(name: "max_over_time 1h, range \(rangeHours)h step 1h", query: "max by (site) (max_over_time(queue_length[1h]))", step: 3_600_000),
            Case(
                name: "instant quantile_over_time 24h", query: "quantile_over_time(0.95, queue_length[24h])", step: nil,
                victoriaMetricsDiffers: "VictoriaMetrics 1.79 interpolates between ranks differently from Prometheus' φ·(n−1)"),
        ]

        // 1. kpid's engine in this process (no HTTP).
        var inProcess: [[Double]] = []
        for c in cases {
            var times: [Double] = []
            for run in 0..<(warmup + runs) {
                let t = DispatchTime.now().uptimeNanoseconds
                if let step = c.step {
                    _ = try engine.rangeQuery(c.query, start: rangeStart, end: end, step: step)
                } else {
                    _ = try engine.instantQuery(c.query, at: end)
                }
                if run >= warmup { times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6) }
            }
            inProcess.append(times)
        }

        // 2. kpid over HTTP: a KPIService in this process, the samples ingested through its HTTP API.
        let kpidDir = NSTemporaryDirectory() + "kpid-promql-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: kpidDir) }
        var config = ServiceConfiguration()
        config.dataDirectory = kpidDir
        config.port = 0
        config.queryMaxSamples = Int.max / 2
        config.queryTimeoutMs = 600_000
        let (service, kpidBase) = try startBenchService(config)
        defer { service.stop() }
        let ingestStarted = Date()
        var k = 0
        while k < series {
            var batch = SampleBatch()
            for s in k..<min(series, k + 10) { batch.append(allLabels[s], timestamps: allTimestamps[s], values: allValues[s]) }
            let r = httpRequest(
                kpidBase.appendingPathComponent("api/v1/ingest"), method: "POST", headers: ["Content-Type": "application/x-protobuf"],
                body: Data(ProtobufBatchEncoder.encode(batch)), timeout: 600)
            guard r.status == 200 else {
                throw BenchError("kpid ingest failed: HTTP \(r.status) \(String(decoding: r.body.prefix(300), as: UTF8.self))")
            }
            k += 10
        }
        guard service.store.stats.sampleCount == total else {
            throw BenchError("kpid over HTTP holds \(service.store.stats.sampleCount) samples, not \(total)")
        }
        print(
            String(
                format: "kpid (HTTP, protobuf batches, durable): %d samples ingested in %.1f s", total,
                Date().timeIntervalSince(ingestStarted)))
        let kpid = PromQLEndpoint(name: "kpid", base: kpidBase)

        // 3. Prometheus on the same samples, backfilled from OpenMetrics text.
        var prom: PrometheusQueryPeer? = nil
        let promDir = NSTemporaryDirectory() + "kpid-promql-bench-prometheus-\(UUID().uuidString)"
        defer {
            prom?.stop()
            try? FileManager.default.removeItem(atPath: promDir)
        }
        if peerList.contains("prometheus") {
            try FileManager.default.createDirectory(atPath: promDir, withIntermediateDirectories: true)
            let file = try CSVFile(path: promDir + "/samples.om", header: "# TYPE http_requests counter")
            // OpenMetrics wants each family's samples together: counters first, then gauges.
            for pass in 0..<2 {
                if pass == 1 { file.text("# TYPE queue_length gauge\n") }
                for s in stride(from: pass, to: series, by: 2) {
                    let prefix = PrometheusQueryPeer.seriesPrefix(allLabels[s])
                    for i in 0..<perSeries { try file.openMetricsSample(prefix, allValues[s][i], allTimestamps[s][i]) }
                }
            }
            file.text("# EOF\n")
            try file.close()
            print("Backfilling Prometheus with promtool ...")
            prom = try PrometheusQueryPeer.start(
                openMetrics: promDir + "/samples.om", directory: promDir, promtool: promtool, prometheus: prometheus)
            let stored = try prom!.endpoint.instant(
                "sum(count_over_time({__name__=~\"http_requests_total|queue_length\"}[\(hours * 60 + 1)m]))", at: end)
            let count = stored.first?.points.first?.value ?? 0
            guard Int(count) == total else { throw BenchError("Prometheus holds \(count) samples, not \(total)") }
            print(
                String(
                    format: "Prometheus %@: backfill %.1f s (promtool, %d block(s)), ready %.1f s after start", prom!.version,
                    prom!.backfillSeconds, prom!.blocks, prom!.startSeconds))
        }

        // 4. VictoriaMetrics on the same samples, sent by remote write and flushed; its query
        // cache off, so every timed run computes its answer.
        var vm: VictoriaMetricsPeer? = nil
        let vmDir = NSTemporaryDirectory() + "kpid-promql-bench-vm-\(UUID().uuidString)"
        defer {
            vm?.stop()
            try? FileManager.default.removeItem(atPath: vmDir)
        }
        if peerList.contains("victoriametrics") {
            let peer = try VictoriaMetricsPeer(binary: victoriaMetrics, directory: vmDir, extraArguments: ["-search.disableCache"])
            vm = peer
            var s = 0
            while s < series {
                let body = RemoteWriteEncoder.encode(
                    (s..<min(series, s + 10)).map {
                        RemoteWriteEncoder.Series(labels: allLabels[$0], timestamps: allTimestamps[$0][...], values: allValues[$0][...])
                    })
                let r = httpRequest(
                    peer.base.appendingPathComponent("api/v1/write"), method: "POST", headers: HTTPSender.remoteWriteHeaders,
                    body: Data(body), timeout: 600)
                guard r.status == 204 || r.status == 200 else { throw BenchError("VictoriaMetrics refused a write: HTTP \(r.status)") }
                s += 10
            }
            try peer.flush()
            let stored = try peer.server.instantValue(
                "sum(count_over_time({__name__=~\"http_requests_total|queue_length\"}[\(hours * 60 + 1)m]))", at: Double(end) / 1000)
            guard Int(stored ?? 0) == total else { throw BenchError("VictoriaMetrics holds \(stored ?? 0) samples, not \(total)") }
            print("VictoriaMetrics \(peer.version): \(total) samples by remote write, flushed")
        }
        let vmEndpoint = vm.map { PromQLEndpoint(name: "VictoriaMetrics", base: $0.base) }
        var vmNotes: [String?] = Array(repeating: nil, count: cases.count)

        // Check every answer against kpid's (HTTP) before timing.
        var failures: [String] = []
        for c in cases {
            let mine = try kpid.answer(c, start: rangeStart, end: end)
            print("check \(c.name): kpid \(mine.count) series, \(mine.reduce(0) { $0 + $1.points.count }) points", terminator: "")
            if let prom {
                let theirs = try prom.endpoint.answer(c, start: rangeStart, end: end)
                if let problem = PromSeries.difference(mine, theirs, relative: 1e-9, valuesOnly: c.valuesOnly) {
                    print(" -- FAILED against Prometheus: \(problem)")
                    failures.append(c.name)
                } else {
                    print(
                        c.valuesOnly
                            ? "; Prometheus the same values within 1e-9 relative (ties may keep other series): ok"
                            : "; Prometheus the same (same series and timestamps, values within 1e-9 relative): ok")
                }
            } else {
                print("")
            }
            if let vmEndpoint, let i = cases.firstIndex(where: { $0.name == c.name }) {
                // VictoriaMetrics 1.79 keeps the metric name on `*_over_time` results, where
                // Prometheus and kpid drop it: compared without it.
                let keepsNames = mine.contains { $0.labels[Labels.metricNameLabel] != nil }
                let theirs = try vmEndpoint.answer(c, start: rangeStart, end: end).map { series in
                    var copy = series
                    if !keepsNames { copy.labels[Labels.metricNameLabel] = nil }
                    return copy
                }
                if let problem = PromSeries.difference(mine, theirs, relative: 1e-9, valuesOnly: c.valuesOnly) {
                    if let reason = c.victoriaMetricsDiffers {
                        vmNotes[i] = "differs (\(reason)): \(problem)"
                        print("  VictoriaMetrics differs as expected: \(reason) (\(problem))")
                    } else {
                        print("  VictoriaMetrics FAILED: \(problem)")
                        failures.append(c.name + " (VictoriaMetrics)")
                    }
                } else {
                    print("  VictoriaMetrics the same: ok")
                }
            }
        }
        if !failures.isEmpty {
            FileHandle.standardError.write(
                Data("CHECK FAILED: kpid and Prometheus disagree on: \(failures.joined(separator: "; "))\n".utf8))
            throw ExitCode(1)
        }

        // Timing: one system at a time, warm-up runs discarded.
        func time(_ endpoint: PromQLEndpoint, _ c: Case) throws -> [Double] {
            var times: [Double] = []
            for run in 0..<(warmup + runs) {
                let ms = try endpoint.timed(c, start: rangeStart, end: end)
                if run >= warmup { times.append(ms) }
            }
            return times
        }
        let kpidTimes = try cases.map { try time(kpid, $0) }
        let promTimes = try prom.map { p in try cases.map { try time(p.endpoint, $0) } }
        let vmTimes = try vmEndpoint.map { v in try cases.map { try time(v, $0) } }

        print("")
        print("Machine: \(QueryBench.machine())")
        print(
            "Systems: kpid (engine in process; and KPIService over HTTP, same process as the client)"
                + (prom.map { ", Prometheus \($0.version) (Debian, child process, over HTTP)" } ?? "")
                + (vm.map { ", VictoriaMetrics \($0.version) (Debian, child process, over HTTP, -search.disableCache)" } ?? ""))
        print(
            "Runs per query and system: \(runs) timed after \(warmup) warm-up; HTTP times are request to last body byte (JSON encoding included, decoding not)."
        )
        print("")
        print(
            "| query | kpid in process median | kpid HTTP median | kpid HTTP p99 | Prometheus median | Prometheus p99 | Prometheus / kpid HTTP | VictoriaMetrics median | VictoriaMetrics / kpid HTTP |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for (i, c) in cases.enumerated() {
            let km = QueryBench.percentile(kpidTimes[i], 0.5)
            var row = "| \(c.name) | \(QueryBench.ms(QueryBench.percentile(inProcess[i], 0.5))) | \(QueryBench.ms(km)) | "
            row += QueryBench.ms(QueryBench.percentile(kpidTimes[i], 0.99))
            if let promTimes {
                let pm = QueryBench.percentile(promTimes[i], 0.5)
                row +=
                    " | \(QueryBench.ms(pm)) | \(QueryBench.ms(QueryBench.percentile(promTimes[i], 0.99))) | "
                    + String(format: "%.1fx |", pm / km)
            } else {
                row += " | - | - | - |"
            }
            if let vmTimes {
                let vmMedian = QueryBench.percentile(vmTimes[i], 0.5)
                row += " \(QueryBench.ms(vmMedian)) | " + String(format: "%.2fx", vmMedian / km) + (vmNotes[i] == nil ? " |" : " (answer differs) |")
            } else {
                row += " - | - |"
            }
            print(row)
        }
        print("")
        print("Ratios: the peer's median over kpid's (both over HTTP): above 1x, kpid is faster.")
        for (i, note) in vmNotes.enumerated() { if let note { print("VictoriaMetrics, \(cases[i].name): \(note)") } }
    }
}

/// One series of a PromQL answer: its labels and (timestamp ms, value) points.
struct PromSeries {
    var labels: [String: String]
    var points: [(t: Int64, value: Double)]

    /// Parses Prometheus' JSON envelope (vector, matrix or scalar) as kpid and Prometheus send it.
    static func parse(_ body: Data) throws -> [PromSeries] {
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any], json["status"] as? String == "success",
            let data = json["data"] as? [String: Any], let type = data["resultType"] as? String
        else { throw BenchError("not a PromQL success answer: \(String(decoding: body.prefix(300), as: UTF8.self))") }
        func point(_ any: Any?) throws -> (t: Int64, value: Double) {
            guard let pair = any as? [Any], pair.count == 2, let text = pair[1] as? String else {
                throw BenchError("bad point \(String(describing: any))")
            }
            let seconds = (pair[0] as? NSNumber)?.doubleValue ?? 0
            // "NaN", "+Inf", "-Inf" as Prometheus spells them.
            let value = Double(text) ?? Double(text.lowercased().replacingOccurrences(of: "+", with: "")) ?? .nan
            return (Int64((seconds * 1000).rounded()), value)
        }
        switch type {
        case "scalar": return [PromSeries(labels: [:], points: [try point(data["result"])])]
        case "vector", "matrix":
            guard let result = data["result"] as? [[String: Any]] else { throw BenchError("no result array") }
            return try result.map { item in
                let labels = (item["metric"] as? [String: String]) ?? [:]
                if let values = item["values"] as? [Any] { return PromSeries(labels: labels, points: try values.map(point)) }
                return PromSeries(labels: labels, points: [try point(item["value"])])
            }
        default: throw BenchError("unexpected resultType \(type)")
        }
    }

    /// Nil when both answers hold the same series (label sets) with the same timestamps and
    /// values within `relative` (NaN equals NaN); else the first difference.
    static func difference(_ a: [PromSeries], _ b: [PromSeries], relative: Double, valuesOnly: Bool = false) -> String? {
        if valuesOnly {
            let x = a.flatMap { $0.points.map(\.value) }.sorted()
            let y = b.flatMap { $0.points.map(\.value) }.sorted()
            guard x.count == y.count else { return "\(x.count) values vs \(y.count)" }
            for (p, q) in zip(x, y) where p != q && !(p.isNaN && q.isNaN) {
                guard abs(p - q) <= relative * max(abs(p), abs(q)) else { return "value \(p) vs \(q)" }
            }
            return nil
        }
        func key(_ s: PromSeries) -> String { s.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }
        let bByKey = Dictionary(b.map { (key($0), $0) }, uniquingKeysWith: { x, _ in x })
        guard a.count == b.count, bByKey.count == b.count else { return "\(a.count) series vs \(b.count)" }
        for s in a {
            guard let t = bByKey[key(s)] else { return "series {\(key(s))} missing" }
            guard s.points.count == t.points.count else { return "{\(key(s))}: \(s.points.count) points vs \(t.points.count)" }
            for (p, q) in zip(s.points, t.points) {
                guard p.t == q.t else { return "{\(key(s))}: timestamp \(p.t) vs \(q.t)" }
                if p.value.isNaN && q.value.isNaN { continue }
                if p.value == q.value { continue }
                guard abs(p.value - q.value) <= relative * max(abs(p.value), abs(q.value)) else {
                    return "{\(key(s))} at \(p.t): \(p.value) vs \(q.value)"
                }
            }
        }
        return nil
    }
}

/// A Prometheus-compatible query API (kpid's or Prometheus'), on one keep-alive HTTP session.
struct PromQLEndpoint {
    var name: String
    var base: URL
    let session = URLSession(configuration: .ephemeral)

    func url(_ query: String, start: Int64, end: Int64, step: Int64?) -> URL {
        let seconds = { (ms: Int64) in String(format: "%.3f", Double(ms) / 1000) }
        var components = URLComponents(
            url: base.appendingPathComponent(step == nil ? "api/v1/query" : "api/v1/query_range"), resolvingAgainstBaseURL: false)!
        if let step {
            components.queryItems = [
                URLQueryItem(name: "query", value: query), URLQueryItem(name: "start", value: seconds(start)),
                URLQueryItem(name: "end", value: seconds(end)), URLQueryItem(name: "step", value: seconds(step)),
            ]
        } else {
            components.queryItems = [URLQueryItem(name: "query", value: query), URLQueryItem(name: "time", value: seconds(end))]
        }
        // URLComponents leaves '+' alone, which a server reads as a space.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.url!
    }

    /// The body of a successful GET and the time from sending it to its last byte, in ms.
    func get(_ url: URL) throws -> (ms: Double, body: Data) {
        let t = DispatchTime.now().uptimeNanoseconds
        let r = httpRequest(url, timeout: 600, session: session)
        let ms = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        guard r.status == 200 else {
            throw BenchError("\(name): HTTP \(r.status) for \(url): \(String(decoding: r.body.prefix(300), as: UTF8.self))")
        }
        return (ms, r.body)
    }

    func answer(_ c: PromQLBench.Case, start: Int64, end: Int64) throws -> [PromSeries] {
        try PromSeries.parse(get(url(c.query, start: start, end: end, step: c.step)).body)
    }

    func timed(_ c: PromQLBench.Case, start: Int64, end: Int64) throws -> Double {
        try get(url(c.query, start: start, end: end, step: c.step)).ms
    }

    func instant(_ query: String, at time: Int64) throws -> [PromSeries] {
        try PromSeries.parse(get(url(query, start: time, end: time, step: nil)).body)
    }

    func range(_ query: String, start: Int64, end: Int64, step: Int64) throws -> [PromSeries] {
        try PromSeries.parse(get(url(query, start: start, end: end, step: step)).body)
    }
}

/// Debian's Prometheus serving blocks backfilled by `promtool tsdb create-blocks-from
/// openmetrics` (no scrape targets), for the query benchmarks. Started by ``PrometheusPeer``.
struct PrometheusQueryPeer {
    let peer: PrometheusPeer
    let endpoint: PromQLEndpoint
    let version: String
    /// promtool's wall time, and the time from starting Prometheus to `/-/ready`.
    let backfillSeconds: Double
    let startSeconds: Double
    let blocks: Int

    /// The text before a sample's value on an OpenMetrics line: `name{a="x",b="y"} `.
    static func seriesPrefix(_ labels: Labels) -> String {
        var pairs: [String] = []
        var name = ""
        for label in labels {
            if label.name == Labels.metricNameLabel {
                name = label.value
            } else {
                let escaped = label.value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                    .replacingOccurrences(of: "\n", with: "\\n")
                pairs.append("\(label.name)=\"\(escaped)\"")
            }
        }
        return name + (pairs.isEmpty ? "" : "{" + pairs.joined(separator: ",") + "}") + " "
    }

    /// Backfills `openMetrics` into `directory/data` and starts Prometheus on it. Blocks are
    /// made as large as Prometheus itself would compact them (486 h with 100 years of
    /// retention), so it has nothing to compact while it is timed.
    static func start(openMetrics: String, directory: String, promtool: String, prometheus: String) throws -> PrometheusQueryPeer {
        let data = directory + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["tsdb", "create-blocks-from", "openmetrics", "--quiet", "--max-block-duration=486h", openMetrics, data]
        let log = directory + "/promtool.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)
        process.standardOutput = handle
        process.standardError = handle
        let began = Date()
        try process.run()
        process.waitUntilExit()
        let backfill = Date().timeIntervalSince(began)
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw BenchError("promtool failed (status \(process.terminationStatus)): \(text.suffix(1500))")
        }
        try? FileManager.default.removeItem(atPath: openMetrics)
        let blocks = ((try? FileManager.default.contentsOfDirectory(atPath: data)) ?? []).filter { $0.count == 26 }.count
        let started = Date()
        let peer = try PrometheusPeer(binary: prometheus, directory: directory)
        let ready = Date().timeIntervalSince(started)
        return PrometheusQueryPeer(
            peer: peer, endpoint: PromQLEndpoint(name: "Prometheus", base: peer.base), version: peer.version,
            backfillSeconds: backfill, startSeconds: ready, blocks: blocks)
    }

    func stop() { peer.stop() }
}
