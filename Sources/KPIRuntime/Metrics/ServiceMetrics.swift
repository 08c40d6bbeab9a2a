import Foundation
import KPICore
import KPIStorage
import KPIWire
import Synchronization

/// A cumulative histogram with fixed upper bounds, Prometheus-style.
public struct Histogram: Sendable {
    let bounds: [Double]
    var counts: [UInt64]
    var sum = 0.0
    var count: UInt64 = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count)
    }

    public mutating func observe(_ value: Double) {
        for i in bounds.indices where value <= bounds[i] { counts[i] += 1 }
        sum += value
        count += 1
    }

    /// Bucket bounds as Prometheus clients print them: `1`, `2.5`, `0.0005`.
    static func format(_ bound: Double) -> String {
        bound == bound.rounded() ? String(Int(bound)) : String(bound)
    }

    static let latencyBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
}

/// kpid's own health metrics, rendered on /metrics in the Prometheus text format 0.0.4.
public final class ServiceMetrics: WriterObserver, Sendable {
    struct State: Sendable {
        var samplesIngested: [String: UInt64] = [:]  // by format
        var samplesRejected: [String: UInt64] = [:]  // by reason
        var requestsRejected: [String: UInt64] = [:]  // by reason
        var httpRequests: [String: UInt64] = [:]  // "route\u{0}code"
        var httpDuration: [String: Histogram] = [:]  // by route
        var commitDuration = Histogram(bounds: Histogram.latencyBounds)
        var commitSamples: UInt64 = 0
        var commitRequests: UInt64 = 0
        var checkpointDuration = Histogram(bounds: Histogram.latencyBounds)
        var writerFailures: [String: UInt64] = [:]
        var authFailures: [Int: UInt64] = [:]  // by status
    }

    private let state = Mutex(State())
    public let startTime = Date()
    public static let version = "0.1.0"

    public init() {}

    public func ingested(samples: Int, format: String) {
        state.withLock { $0.samplesIngested[format, default: 0] += UInt64(samples) }
    }

    public func rejected(samples: Int, reason: String) {
        state.withLock {
            $0.requestsRejected[reason, default: 0] += 1
            $0.samplesRejected[reason, default: 0] += UInt64(samples)
        }
    }

    public func request(route: String, code: Int, seconds: Double) {
        state.withLock {
            $0.httpRequests["\(route)\u{0}\(code)", default: 0] += 1
            $0.httpDuration[route, default: Histogram(bounds: Histogram.latencyBounds)].observe(seconds)
        }
    }

    public func writerCommitted(samples: Int, requests: Int, seconds: Double) {
        state.withLock {
            $0.commitDuration.observe(seconds)
            $0.commitSamples += UInt64(samples)
            $0.commitRequests += UInt64(requests)
        }
    }

    public func writerCheckpointed(chunks: Int, heads: Int, seconds: Double) {
        state.withLock { $0.checkpointDuration.observe(seconds) }
    }

    /// A request refused by authentication (401) or authorisation (403).
    public func authFailed(status: Int) {
        state.withLock { $0.authFailures[status, default: 0] += 1 }
    }

    public var authFailures: [Int: UInt64] { state.withLock { $0.authFailures } }

    public func writerFailed(_ message: String) {
        state.withLock { $0.writerFailures[message, default: 0] += 1 }
    }

    /// Writes every metric. `store` and `databaseBytes` give the gauges.
    public func write(to out: inout ExpositionWriter, store: StoreStats, databaseBytes: Int64?, ready: Bool) {
        let s = state.withLock { $0 }

        out.family("kpid_build_info", "gauge", "Build information; the value is always 1.")
        out.sample("kpid_build_info", [("version", ServiceMetrics.version)], 1)
        out.single("kpid_start_time_seconds", "gauge", "Unix time at which the process started.", startTime.timeIntervalSince1970.rounded())
        out.single("kpid_ready", "gauge", "1 once the store is loaded and ingest is open.", ready ? 1 : 0)

        out.family("kpid_samples_ingested_total", "counter", "Samples acknowledged (committed to SQLite), by ingest format.")
        for (format, n) in s.samplesIngested.sorted(by: { $0.key < $1.key }) {
            out.sample("kpid_samples_ingested_total", [("format", format)], Double(n))
        }
        out.family("kpid_samples_rejected_total", "counter", "Samples in refused ingest requests, by reason.")
        for (reason, n) in s.samplesRejected.sorted(by: { $0.key < $1.key }) {
            out.sample("kpid_samples_rejected_total", [("reason", reason)], Double(n))
        }
        out.family("kpid_ingest_requests_rejected_total", "counter", "Ingest requests refused, by reason.")
        for (reason, n) in s.requestsRejected.sorted(by: { $0.key < $1.key }) {
            out.sample("kpid_ingest_requests_rejected_total", [("reason", reason)], Double(n))
        }

        out.single("kpid_series", "gauge", "Series in the store.", Double(store.seriesCount))
        out.single("kpid_samples_in_memory", "gauge", "Samples held in the in-memory store.", Double(store.sampleCount))
        out.single("kpid_chunks", "gauge", "Sealed chunks in the in-memory store.", Double(store.chunkCount))
        out.family("kpid_memory_bytes", "gauge", "Bytes held by the store: sample columns, and the sealed chunks' rollups.")
        out.sample("kpid_memory_bytes", [("kind", "columns")], Double(store.memoryBytes))
        out.sample("kpid_memory_bytes", [("kind", "rollups")], Double(store.rollupBytes))
        if let databaseBytes {
            out.single("kpid_sqlite_file_bytes", "gauge", "Size of the SQLite database and its WAL file.", Double(databaseBytes))
        }

        out.family("kpid_sqlite_commit_duration_seconds", "histogram", "Duration of group commits (one SQLite transaction each).")
        out.histogram("kpid_sqlite_commit_duration_seconds", [], s.commitDuration)
        out.single(
            "kpid_sqlite_committed_requests_total", "counter", "Ingest requests acknowledged through group commits.",
            Double(s.commitRequests))
        out.family(
            "kpid_sqlite_checkpoint_duration_seconds", "histogram",
            "Duration of checkpoints (chunks and heads written, WAL rows dropped).")
        out.histogram("kpid_sqlite_checkpoint_duration_seconds", [], s.checkpointDuration)
        out.family("kpid_writer_failures_total", "counter", "Failed SQLite commits and checkpoints.")
        for (what, n) in s.writerFailures.sorted(by: { $0.key < $1.key }) {
            out.sample("kpid_writer_failures_total", [("operation", what)], Double(n))
        }

        out.family("kpid_http_requests_total", "counter", "HTTP requests answered, by route and status code.")
        for (key, n) in s.httpRequests.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            out.sample("kpid_http_requests_total", [("route", parts[0]), ("code", parts[1])], Double(n))
        }
        out.family("kpid_http_request_duration_seconds", "histogram", "HTTP request latency, by route.")
        for (route, h) in s.httpDuration.sorted(by: { $0.key < $1.key }) {
            out.histogram("kpid_http_request_duration_seconds", [("route", route)], h)
        }
        if let rss = ServiceMetrics.residentMemoryBytes() {
            out.single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", Double(rss))
        }
    }

    /// Resident set size from /proc/self/statm (Linux); nil elsewhere.
    static func residentMemoryBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
