import Dispatch
import Foundation
import KPICore
import KPIStorage
import KPIWire
import Logging
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Remote write out (`forward-url`): every acknowledged sample, the recorded KPI series
/// included, is sent to a Prometheus remote-write endpoint (Prometheus with
/// `--web.enable-remote-write-receiver`, Mimir, Thanos Receive, VictoriaMetrics, Cortex).
///
/// The queue is the write-ahead table itself: each ingest commit already writes its samples
/// there; with forwarding on, checkpoints keep the rows not yet sent and store how far the
/// forwarder got, so a restart (or a crash) loses nothing queued. The forwarder thread reads
/// those rows through a read-only connection of its own, sends them in requests of at most
/// `forward-batch-samples` samples (each series oldest first), and retries failures
/// (5xx, 429, network) with exponential backoff from 0.5 s to 30 s. A 4xx answer other than
/// 429 means the receiver will never take the request: it is dropped and counted, as
/// Prometheus does. The queue is bounded by `forward-queue-max-samples`: past it, the oldest
/// rows are dropped and counted. Delivery is at least once: after a crash the rows since the
/// last checkpoint are sent again.
public final class Forwarder: Sendable {
    let url: URL
    let bearerToken: String?
    let batchSamples: Int
    let queueMaxSamples: Int
    let progress: ForwardProgress
    let store: ColumnarStore
    let databasePath: String
    let logger: Logger
    let counts = Mutex(Counts())
    private let thread = BackgroundThread()
    /// One session for every request the forwarder sends (its connections are reused).
    private let http = OutboundHTTP()

    struct Counts: Sendable {
        var samplesSent: UInt64 = 0
        var requests: [String: UInt64] = [:]  // by status code, "error" for no answer
        var dropped: [String: UInt64] = [:]  // by reason
        var retries: UInt64 = 0
        var pendingSamples = 0
        var oldestPendingMs: Int64?
        var lastSuccess: Int64?
    }

    init(
        url: URL, bearerToken: String?, batchSamples: Int, queueMaxSamples: Int, progress: ForwardProgress,
        store: ColumnarStore, databasePath: String, logger: Logger
    ) {
        self.url = url
        self.bearerToken = bearerToken
        self.batchSamples = batchSamples
        self.queueMaxSamples = queueMaxSamples
        self.progress = progress
        self.store = store
        self.databasePath = databasePath
        self.logger = logger
    }

    func start() {
        thread.start(name: "kpid-forward") { [self] _ in run() }
    }

    /// Stops after the request in flight (which is then sent again after a restart).
    func stop() {
        thread.stop()
        http.finish()
    }

    var isStopping: Bool { thread.isStopping }

    /// Sleeps up to `seconds`, returning early (true) when asked to stop.
    func pause(_ seconds: Double) -> Bool { thread.pause(seconds) }

    private func run() {
        var reader: WALReader? = nil
        while !isStopping {
            do {
                if reader == nil { reader = try WALReader(path: databasePath) }
                if try !forwardSome(reader!) {
                    if pause(0.2) { return }
                }
            } catch {
                logger.error("forwarding: reading the write-ahead rows failed", metadata: ["error": "\(error)"])
                reader?.close()
                reader = nil
                if pause(5) { return }
            }
        }
    }

    /// Sends the next rows; false when there was nothing to send.
    private func forwardSome(_ reader: WALReader) throws -> Bool {
        var backlog = try reader.backlog(after: progress.sequence)
        if backlog.samples > queueMaxSamples {
            // Drop the oldest rows until the queue fits again.
            let rows = try reader.oldestRows(after: progress.sequence, coveringSamples: backlog.samples - queueMaxSamples)
            let dropped = rows.reduce(0) { $0 + $1.samples }
            let through = rows.last?.sequence ?? progress.sequence
            progress.advance(to: through)
            counts.withLock { $0.dropped["queue_full", default: 0] += UInt64(dropped) }
            logger.warning(
                "forwarding queue full: oldest samples dropped",
                metadata: ["samples": "\(dropped)", "limit": "\(queueMaxSamples)"])
            backlog = try reader.backlog(after: progress.sequence)
        }
        counts.withLock {
            $0.pendingSamples = backlog.samples
            $0.oldestPendingMs = backlog.oldestMs
        }
        guard backlog.rows > 0 else { return false }

        // Whole rows up to about one request's worth of samples (at least one row).
        var rows: [WALReader.Row] = []
        var total = 0
        for row in try reader.rows(after: progress.sequence, limit: 256) {
            if !rows.isEmpty && total + row.record.sampleCount > batchSamples { break }
            rows.append(row)
            total += row.record.sampleCount
        }
        guard let last = rows.last else { return false }
        // Samples per series, sorted by time (receivers refuse out-of-order samples).
        var bySeries: [SeriesID: (ts: [Int64], vs: [Double])] = [:]
        var order: [SeriesID] = []
        for row in rows {
            for (k, id) in row.record.series.enumerated() {
                if bySeries[id] == nil {
                    bySeries[id] = ([], [])
                    order.append(id)
                }
                bySeries[id]!.ts.append(contentsOf: row.record.timestamps[k])
                bySeries[id]!.vs.append(contentsOf: row.record.values[k])
            }
        }
        var series: [(Labels, [Int64], [Double])] = []
        for id in order {
            // A series deleted since (retention, a deletion request) is not sent.
            guard let labels = store.labels(of: id), let entry = bySeries[id] else { continue }
            let sorted = entry.ts.indices.sorted { entry.ts[$0] < entry.ts[$1] }
            series.append((labels, sorted.map { entry.ts[$0] }, sorted.map { entry.vs[$0] }))
        }
        // Requests of at most batchSamples samples; a long series is split across requests.
        var request: [RemoteWriteEncoder.Series] = []
        var inRequest = 0
        for (labels, ts, vs) in series {
            var start = 0
            while start < ts.count {
                let n = min(ts.count - start, batchSamples - inRequest)
                request.append(
                    RemoteWriteEncoder.Series(
                        labels: labels, timestamps: ts[start..<(start + n)], values: vs[start..<(start + n)]))
                inRequest += n
                start += n
                if inRequest >= batchSamples {
                    guard send(request, samples: inRequest, reader: reader) else { return true }
                    request = []
                    inRequest = 0
                }
            }
        }
        if !request.isEmpty {
            guard send(request, samples: inRequest, reader: reader) else { return true }
        }
        progress.advance(to: last.sequence)
        return true
    }

    /// Sends one request until it is taken or refused for good. False when stopping first, or
    /// when the queue grew past its bound while retrying (the caller then drops the oldest rows,
    /// this request's among them).
    private func send(_ series: [RemoteWriteEncoder.Series], samples: Int, reader: WALReader) -> Bool {
        let body = Data(RemoteWriteEncoder.encode(series))
        var backoff = 0.5
        while true {
            let (status, answer) = post(body)
            let code = status.map(String.init) ?? "error"
            counts.withLock { $0.requests[code, default: 0] += 1 }
            if let status, (200..<300).contains(status) {
                counts.withLock {
                    $0.samplesSent += UInt64(samples)
                    $0.lastSuccess = Int64(Date().timeIntervalSince1970 * 1000)
                }
                return true
            }
            if let status, (400..<500).contains(status), status != 429 {
                counts.withLock { $0.dropped["rejected", default: 0] += UInt64(samples) }
                logger.error(
                    "forwarding: the receiver refused a request; dropped",
                    metadata: ["status": "\(status)", "samples": "\(samples)", "answer": "\(answer.prefix(300))"])
                return true
            }
            counts.withLock { $0.retries += 1 }
            logger.warning(
                "forwarding failed; retrying",
                metadata: ["status": "\(code)", "answer": "\(answer.prefix(300))", "retry_in_s": "\(backoff)"])
            if pause(backoff) { return false }
            backoff = min(backoff * 2, 30)
            if let backlog = try? reader.backlog(after: progress.sequence) {
                counts.withLock {
                    $0.pendingSamples = backlog.samples
                    $0.oldestPendingMs = backlog.oldestMs
                }
                if backlog.samples > queueMaxSamples { return false }
            }
        }
    }

    /// POSTs the body; the status (nil when no answer) and the answer's text.
    private func post(_ body: Data) -> (Int?, String) {
        var headers = [
            "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0",
        ]
        if let bearerToken { headers["Authorization"] = "Bearer \(bearerToken)" }
        let answer = http.post(url, body: body, headers: headers, timeout: 30)
        return (answer.status, answer.text)
    }

    /// The `kpid_forward_*` families in the text format.
    public func write(to out: inout ExpositionWriter) {
        let c = counts.withLock { $0 }
        out.single(
            "kpid_forward_samples_sent_total", "counter", "Samples the remote-write receiver took (forward-url).", Double(c.samplesSent))
        out.family("kpid_forward_requests_total", "counter", "Remote-write requests sent, by status code (error: no answer).")
        for (code, n) in c.requests.sorted(by: { $0.key < $1.key }) {
            out.sample("kpid_forward_requests_total", [("code", code)], Double(n))
        }
        out.single(
            "kpid_forward_retries_total", "counter", "Remote-write requests retried after a 5xx, 429 or network error.", Double(c.retries))
        out.family(
            "kpid_forward_samples_dropped_total", "counter",
            "Samples never forwarded: refused by the receiver (4xx) or dropped from a full queue.")
        for reason in ["queue_full", "rejected"] {
            out.sample("kpid_forward_samples_dropped_total", [("reason", reason)], Double(c.dropped[reason] ?? 0))
        }
        out.single(
            "kpid_forward_pending_samples", "gauge", "Samples committed but not forwarded yet (the queue).", Double(c.pendingSamples))
        out.family("kpid_forward_lag_seconds", "gauge", "Age of the oldest sample not forwarded yet; 0 when none.")
        let lag = c.oldestPendingMs.map { max(0, Date().timeIntervalSince1970 - Double($0) / 1000) } ?? 0
        out.sample("kpid_forward_lag_seconds", [], lag)
        if let last = c.lastSuccess {
            out.single(
                "kpid_forward_last_success_timestamp_seconds", "gauge", "Unix time of the last request the receiver took.",
                Double(last) / 1000)
        }
    }
}
