import Foundation
import KPICore
import KPIService
import KPIRuntime
import KPIWire
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The generated ingest data set, the same for kpid and every peer: `series` series of 60 s
/// gauges shaped like the fixtures (integer occupancy, 3-decimal waits, 0/1 states), ending
/// at the last whole minute before the run, so Prometheus' head accepts it too.
struct IngestData {
    static let metrics = ["occupancy_people", "queue_wait_seconds", "device_up", "queue_length_people"]

    let series: Int
    let perSeries: Int
    /// (metric, site, zone) of each series.
    let labels: [(metric: String, site: String, zone: String)]
    let seriesLabels: [Labels]
    /// The timestamp of sample `k` of every series is `timestamps[k]` (ms, 60 s apart).
    let timestamps: [Int64]

    var total: Int { series * perSeries }

    init(samples: Int, series: Int, endingAt end: Date = Date()) {
        self.series = series
        perSeries = samples / series
        var labels: [(metric: String, site: String, zone: String)] = []
        for i in 0..<series {
            // (metric, site) repeats every 20 series (lcm of 4 and 10), so zone = i / 20 makes
            // every label set distinct.
            labels.append((Self.metrics[i % Self.metrics.count], "site\(i % 10)", "zone\(i / 20)"))
        }
        self.labels = labels
        seriesLabels = labels.map { Labels(metric: $0.metric, ["site": $0.site, "zone": $0.zone]) }
        let last = (Int64(end.timeIntervalSince1970 * 1000) / 60_000 - 1) * 60_000
        let first = last - Int64(max(perSeries - 1, 0)) * 60_000
        timestamps = (0..<perSeries).map { first + Int64($0) * 60_000 }
    }

    /// Sample `k` of series `s` as the text every text format sends.
    func text(_ s: Int, _ k: Int) -> String {
        let x = (s &* 7919 &+ k &* 104_729) % 1000
        switch labels[s].metric {
        case "occupancy_people": return String(x % 250)
        case "queue_wait_seconds": return String(format: "%.3f", Double(x) * 0.731)
        case "device_up": return x < 995 ? "1" : "0"
        default: return String(x % 40)
        }
    }

    /// The value of sample `k` of series `s`: exactly what `text(s, k)` parses to (the nearest
    /// double to the same decimal), computed without formatting for the large loads.
    func value(_ s: Int, _ k: Int) -> Double {
        let x = (s &* 7919 &+ k &* 104_729) % 1000
        switch labels[s].metric {
        case "occupancy_people": return Double(x % 250)
        case "queue_wait_seconds": return Double(x * 731) / 1000
        case "device_up": return x < 995 ? 1 : 0
        default: return Double(x % 40)
        }
    }

    /// Checks that `value` agrees with what `text` parses to on the first `limit` samples of
    /// every series (the text and binary formats must carry the same data).
    func checkValues(limit: Int = 100) throws {
        for s in 0..<series {
            for k in 0..<min(limit, perSeries) where Double(text(s, k)) != value(s, k) {
                throw BenchError("generator mismatch at series \(s) sample \(k): text \(text(s, k)), value \(value(s, k))")
            }
        }
    }

    /// Every series' values as columns (`[series][k]`), for the binary formats and the peers.
    func valueColumns() -> [[Double]] {
        (0..<series).map { s in (0..<perSeries).map { k in value(s, k) } }
    }

    /// The series of shard `shard` of `shards` (series `s` goes to shard `s % shards`), as
    /// Prometheus' sender hashes each series to one shard so a series' samples stay in order.
    func seriesOfShard(_ shard: Int, of shards: Int) -> [Int] {
        Array(stride(from: shard, to: series, by: shards))
    }

    /// Remote write 1.0 bodies, one list per connection: each connection (shard) sends its own
    /// series, `batch` samples a request, in time order. With `seriesPerSample` each sample is
    /// its own `TimeSeries` entry with the full label set, as Prometheus 2.x's sender builds its
    /// requests; otherwise a request holds one entry per series with that series' samples.
    func remoteWriteBodies(values: [[Double]], batch: Int, shards: Int, seriesPerSample: Bool) -> [[Data]] {
        (0..<shards).map { shard in
            let members = seriesOfShard(shard, of: shards)
            var bodies: [Data] = []
            var pending: [RemoteWriteEncoder.Series] = []
            if seriesPerSample {
                pending.reserveCapacity(batch)
                for k in 0..<perSeries {
                    for s in members {
                        pending.append(
                            RemoteWriteEncoder.Series(labels: seriesLabels[s], timestamps: timestamps[k...k], values: values[s][k...k]))
                        if pending.count == batch {
                            bodies.append(Data(RemoteWriteEncoder.encode(pending)))
                            pending.removeAll(keepingCapacity: true)
                        }
                    }
                }
            } else {
                // Requests cut at whole time steps (batch rounded down to a multiple of the
                // shard's series, at least one step), so each series is one entry per request.
                let steps = max(1, batch / max(members.count, 1))
                for k in stride(from: 0, to: perSeries, by: steps) {
                    let end = min(perSeries, k + steps)
                    for s in members {
                        pending.append(
                            RemoteWriteEncoder.Series(labels: seriesLabels[s], timestamps: timestamps[k..<end], values: values[s][k..<end]))
                    }
                    bodies.append(Data(RemoteWriteEncoder.encode(pending)))
                    pending.removeAll(keepingCapacity: true)
                }
            }
            if !pending.isEmpty { bodies.append(Data(RemoteWriteEncoder.encode(pending))) }
            return bodies
        }
    }

    /// The time span (ms) of data one remote-write request of `batch` samples covers on a
    /// shard of `shards`.
    func requestSpanMs(batch: Int, shards: Int) -> Int64 {
        let perShard = max(1, series / max(shards, 1))
        return Int64(max(1, (batch + perShard - 1) / perShard)) * 60_000
    }
}

/// Sends prepared request bodies over `connections` HTTP/1.1 connections and waits for every
/// answer. Two plans: one shared queue (any connection takes the next body), or one list per
/// connection (shards), where connection `c` sends `shards[c]` in order and starts its request
/// `k` only once every shard has completed request `k - lag - 1`, so the shards stay within a
/// bounded time span of each other (Prometheus refuses samples over 1 h older than its newest).
struct HTTPSender {
    enum Plan {
        case shared([Data], connections: Int)
        case sharded([[Data]], lag: Int)
    }

    var url: URL
    var headers: [String: String]
    /// Status codes that acknowledge a request.
    var success: Set<Int> = [200, 204]

    struct Outcome {
        var seconds: Double
        var failures: Int
        var firstError: String?
        /// Each request's time from send to answer, in seconds.
        var latencies: [Double]
    }

    /// The headers of a Prometheus remote write 1.0 request.
    static let remoteWriteHeaders = [
        "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0",
    ]

    func send(_ plan: Plan) -> Outcome {
        let connections: Int
        switch plan {
        case .shared(_, let n): connections = n
        case .sharded(let shards, _): connections = shards.count
        }
        let condition = NSCondition()
        nonisolated(unsafe) var cursor = 0
        nonisolated(unsafe) var completed = [Int](repeating: 0, count: connections)
        nonisolated(unsafe) var failures = 0
        nonisolated(unsafe) var firstError: String? = nil
        nonisolated(unsafe) var latencies: [Double] = []
        let began = Date()
        // One thread per connection (concurrentPerform would run only as many at once as there
        // are cores, and the shards wait on each other).
        let finished = DispatchGroup()
        for c in 0..<connections {
            finished.enter()
            Thread {
                defer { finished.leave() }
                connection(c)
            }.start()
        }
        finished.wait()
        return Outcome(seconds: Date().timeIntervalSince(began), failures: failures, firstError: firstError, latencies: latencies)

        @Sendable func connection(_ c: Int) {
            let session = URLSession(configuration: .ephemeral)
            var mine = 0
            while true {
                let body: Data
                condition.lock()
                switch plan {
                case .shared(let bodies, _):
                    if cursor >= bodies.count {
                        condition.unlock()
                        return
                    }
                    body = bodies[cursor]
                    cursor += 1
                case .sharded(let shards, let lag):
                    if mine >= shards[c].count {
                        // Done: count the rest as completed so the other shards never wait on this one.
                        completed[c] = Int.max
                        condition.broadcast()
                        condition.unlock()
                        return
                    }
                    while completed.min()! < mine - lag { condition.wait() }
                    body = shards[c][mine]
                }
                condition.unlock()
                var request = URLRequest(url: url)
                request.httpMethod = "POST"
                for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
                request.httpBody = body
                let done = DispatchSemaphore(value: 0)
                nonisolated(unsafe) var status = 0
                nonisolated(unsafe) var answer = ""
                let sent = DispatchTime.now().uptimeNanoseconds
                session.dataTask(with: request) { data, response, error in
                    status = (response as? HTTPURLResponse)?.statusCode ?? 0
                    if !success.contains(status) {
                        answer = data.flatMap { String(decoding: $0.prefix(300), as: UTF8.self) } ?? "\(error.map { "\($0)" } ?? "")"
                    }
                    done.signal()
                }.resume()
                done.wait()
                let latency = Double(DispatchTime.now().uptimeNanoseconds - sent) / 1e9
                condition.lock()
                latencies.append(latency)
                if !success.contains(status) {
                    failures += 1
                    if firstError == nil { firstError = "HTTP \(status): \(answer)" }
                }
                mine += 1
                if case .sharded = plan {
                    completed[c] = mine
                    condition.broadcast()
                }
                condition.unlock()
            }
        }
    }
}

/// Formatting shared by the benchmarks' Markdown rows.
enum BenchFormat {
    /// `12345678` as `12,345,678`.
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A rate rounded to thousands: `1,128,000`.
    static func rate(_ perSecond: Double) -> String {
        grouped(Int((perSecond / 1000).rounded()) * 1000)
    }

    /// `kpid / peer` as `12.3x` (3 significant digits).
    static func ratio(_ a: Double, _ b: Double) -> String {
        guard b > 0 else { return "n/a" }
        let r = a / b
        return r >= 100 ? String(format: "%.0fx", r) : r >= 10 ? String(format: "%.1fx", r) : String(format: "%.2fx", r)
    }

    /// Milliseconds with sensible precision.
    static func ms(_ seconds: Double) -> String {
        let ms = seconds * 1000
        return ms >= 100 ? String(format: "%.0f ms", ms) : ms >= 10 ? String(format: "%.1f ms", ms) : String(format: "%.2f ms", ms)
    }

    /// Median and the nearest-rank p99 of `xs`.
    static func medianP99(_ xs: [Double]) -> (median: Double, p99: Double) {
        let sorted = xs.sorted()
        guard !sorted.isEmpty else { return (0, 0) }
        let median =
            sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        let rank = Int((0.99 * Double(sorted.count)).rounded(.up))
        return (median, sorted[max(0, min(sorted.count - 1, rank - 1))])
    }
}

/// A free TCP port on 127.0.0.1 (bound to port 0 and released), for child processes and for
/// services whose port must be known before they start.
func freeLocalPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw BenchError("could not bind a free port") }
    return UInt16(bigEndian: address.sin_port)
}

/// A blocking HTTP request for the benchmarks' checks (not timed loads): status and body, or
/// status 0 when nothing answered.
func httpRequest(
    _ url: URL, method: String = "GET", headers: [String: String] = [:], body: Data? = nil, timeout: TimeInterval = 60,
    session: URLSession? = nil
) -> (status: Int, body: Data, headers: [String: String]) {
    var request = URLRequest(url: url, timeoutInterval: timeout)
    request.httpMethod = method
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    request.httpBody = body
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var out: (status: Int, body: Data, headers: [String: String]) = (0, Data(), [:])
    (session ?? URLSession.shared).dataTask(with: request) { data, response, _ in
        if let http = response as? HTTPURLResponse {
            var h: [String: String] = [:]
            for (k, v) in http.allHeaderFields { h["\(k)".lowercased()] = "\(v)" }
            out = (http.statusCode, data ?? Data(), h)
        }
        done.signal()
    }.resume()
    done.wait()
    return out
}

/// A benchmark failure with a message (the command exits 1).
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Starts an in-process kpid on `config` (port 0 picks a free one); returns it and its base URL.
func startBenchService(_ config: ServiceConfiguration, logLevel: Logger.Level = .warning) throws -> (KPIService, URL) {
    var logger = Logger(label: "kpid-bench")
    logger.logLevel = logLevel
    let service = KPIService(configuration: config, logger: logger)
    try service.start()
    return (service, URL(string: "http://127.0.0.1:\(service.boundPort!)")!)
}
