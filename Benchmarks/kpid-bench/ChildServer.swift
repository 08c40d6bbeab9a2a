import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A server the benchmarks run as a child process (kpid itself, Prometheus, VictoriaMetrics):
/// started on a free loopback port with its log in its directory, waited for until its
/// readiness path answers 200, measured from `/proc` (CPU seconds, resident memory), stopped
/// with SIGTERM. Every system is measured the same way, with the client in another process.
final class ChildServer {
    let name: String
    let directory: String
    let port: UInt16
    let base: URL
    let process = Process()
    private let logPath: String

    /// Starts `binary` with `arguments(port)` and waits up to `timeout` for `readyPath`.
    init(
        name: String, binary: String, arguments: (UInt16) -> [String], directory: String, readyPath: String,
        timeout: TimeInterval = 60
    ) throws {
        self.name = name
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        port = try freeLocalPort()
        base = URL(string: "http://127.0.0.1:\(port)")!
        logPath = directory + "/\(name.lowercased()).log"
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments(port)
        guard FileManager.default.createFile(atPath: logPath, contents: nil), let log = FileHandle(forWritingAtPath: logPath) else {
            throw BenchError("cannot write \(logPath)")
        }
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while httpRequest(base.appendingPathComponent(readyPath), timeout: 2).status != 200 {
            guard process.isRunning, Date() < deadline else {
                stop()
                throw BenchError("\(name) did not become ready: \(logTail())")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// User plus system CPU time the server has used so far (`/proc/<pid>/stat`).
    func cpuSeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after "(comm)": state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident memory now (`VmRSS` of `/proc/<pid>/status`), in bytes.
    func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return kb * 1024
        }
        return 0
    }

    /// An instant PromQL query's first result value (all three systems answer Prometheus' API).
    func instantValue(_ query: String, at time: Double) throws -> Double? {
        var components = URLComponents(url: base.appendingPathComponent("api/v1/query"), resolvingAgainstBaseURL: false)!
        components.queryItems = [
            URLQueryItem(name: "query", value: query), URLQueryItem(name: "time", value: String(format: "%.3f", time)),
        ]
        let r = httpRequest(components.url!, timeout: 600)
        guard r.status == 200, let json = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any],
            let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
        else {
            throw BenchError("\(name) query \(query) failed: HTTP \(r.status) \(String(decoding: r.body.prefix(300), as: UTF8.self))")
        }
        guard let first = result.first, let value = first["value"] as? [Any], let text = value.last as? String else { return nil }
        return Double(text)
    }

    /// Every sample of the ingest data set counted back through the query API, per metric (the
    /// count drops the metric name) at the last timestamp over a range reaching past the first.
    func countSamples(_ data: IngestData) throws -> Int {
        let minutes = data.perSeries + 1
        var stored = 0.0
        for metric in IngestData.metrics {
            stored += try instantValue("sum(count_over_time(\(metric)[\(minutes)m]))", at: Double(data.timestamps.last!) / 1000) ?? 0
        }
        return Int(stored)
    }

    func logTail() -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return String(text.suffix(1500))
    }

    /// SIGTERM and wait for the exit (each server finishes its own shutdown work first).
    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

/// Bytes of the regular files under `path` (a data directory), recursively.
func directoryBytes(_ path: String) -> Int64 {
    guard let walker = FileManager.default.enumerator(atPath: path) else { return 0 }
    var total: Int64 = 0
    while let name = walker.nextObject() as? String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name)
        if attributes?[.type] as? FileAttributeType == .typeRegular {
            total += (attributes?[.size] as? NSNumber)?.int64Value ?? 0
        }
    }
    return total
}

/// What a kpid child process says of its store in `/metrics`: samples in memory and the bytes
/// of its columns and rollups.
struct KpidMetrics {
    var samples: Double
    var columnBytes: Double
    var rollupBytes: Double

    init(_ server: ChildServer) throws {
        let r = httpRequest(server.base.appendingPathComponent("metrics"))
        guard r.status == 200 else { throw BenchError("kpid /metrics answered \(r.status)") }
        var found: [String: Double] = [:]
        for line in String(decoding: r.body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            found[String(line[..<space])] = value
        }
        samples = found["kpid_samples_in_memory"] ?? 0
        columnBytes = found["kpid_memory_bytes{kind=\"columns\"}"] ?? 0
        rollupBytes = found["kpid_memory_bytes{kind=\"rollups\"}"] ?? 0
    }
}
