import Foundation
import KPICore
import KPIStorage

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// What a peer's load of the ingest data set took, checked: `stored` is counted back from the
/// peer after the load and must equal the samples sent.
struct PeerIngestResult {
    var name: String
    /// How the peer acknowledged: what survives what.
    var durability: String
    /// How the data went in (transport, batching).
    var method: String
    var seconds: Double
    var sent: Int
    var stored: Int
    var failures: Int = 0
    var note: String? = nil
    /// Server CPU time (user + system) spent on the load, where the peer is a process of its own.
    var cpuSeconds: Double? = nil
    /// Each request's time from send to answer.
    var latencies: [Double] = []
    /// Resident memory of the server after the load.
    var residentBytes: Int? = nil
    /// Bytes its data directory (or file) holds after the load and a clean stop.
    var diskBytes: Int64? = nil

    var samplesPerSecond: Double { Double(sent) / seconds }
    /// Samples per server CPU-second.
    var samplesPerCPUSecond: Double? { cpuSeconds.map { Double(sent) / max($0, 1e-9) } }
    var checked: Bool { stored == sent && failures == 0 }
}

/// SQLite the way a developer would bulk insert without kpid: a `series` table, a plain
/// `samples(series_id, ts, value)` table with an index on `(series_id, ts)`, one prepared
/// INSERT, a transaction per `batch` rows, WAL mode; `synchronous=FULL` (survives power loss)
/// or NORMAL (survives the process). In this process, no HTTP: the bulk-insert rate itself.
enum SQLiteIngestPeer {
    static func run(_ data: IngestData, values: [[Double]], batch: Int, power: Bool, directory: String) throws -> PeerIngestResult {
        let path = directory + "/sqlite-peer.sqlite"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let db = try SQLiteConnection(path: path)
        defer {
            db.close()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        _ = try db.pragma("journal_mode=WAL")
        try db.execute("PRAGMA synchronous=\(power ? "FULL" : "NORMAL")")
        try db.execute(
            """
            CREATE TABLE series (id INTEGER PRIMARY KEY, metric TEXT NOT NULL, site TEXT NOT NULL, zone TEXT NOT NULL);
            CREATE TABLE samples (series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL);
            CREATE INDEX samples_series_ts ON samples (series_id, ts);
            """)
        let began = Date()
        let seriesInsert = try db.prepare("INSERT INTO series (id, metric, site, zone) VALUES (?, ?, ?, ?)")
        try db.execute("BEGIN")
        for (s, l) in data.labels.enumerated() {
            try seriesInsert.bind(Int64(s + 1), at: 1)
            try seriesInsert.bind(l.metric, at: 2)
            try seriesInsert.bind(l.site, at: 3)
            try seriesInsert.bind(l.zone, at: 4)
            _ = try seriesInsert.step()
            seriesInsert.reset()
        }
        try db.execute("COMMIT")
        // The samples in the order they arrive (time order across series), `batch` per transaction.
        let insert = try db.prepare("INSERT INTO samples (series_id, ts, value) VALUES (?, ?, ?)")
        var inTransaction = 0
        try db.execute("BEGIN")
        for k in 0..<data.perSeries {
            let ts = data.timestamps[k]
            for s in 0..<data.series {
                try insert.bind(Int64(s + 1), at: 1)
                try insert.bind(ts, at: 2)
                try insert.bind(values[s][k], at: 3)
                _ = try insert.step()
                insert.reset()
                inTransaction += 1
                if inTransaction == batch {
                    try db.execute("COMMIT")
                    try db.execute("BEGIN")
                    inTransaction = 0
                }
            }
        }
        try db.execute("COMMIT")
        let seconds = Date().timeIntervalSince(began)
        let count = try db.prepare("SELECT count(*) FROM samples")
        _ = try count.step()
        let stored = Int(count.int64(at: 0))
        return PeerIngestResult(
            name: "SQLite \(sqliteVersion(db))",
            durability: power ? "power (WAL, synchronous=FULL)" : "process (WAL, synchronous=NORMAL)",
            method: "in process, prepared INSERT, \(BenchFormat.grouped(batch)) rows a transaction, index on (series_id, ts)",
            seconds: seconds, sent: data.total, stored: stored)
    }

    static func sqliteVersion(_ db: SQLiteConnection) -> String {
        guard let statement = try? db.prepare("SELECT sqlite_version()"), (try? statement.step()) == true else { return "" }
        return statement.string(at: 0) ?? ""
    }
}

/// Debian's Prometheus as a child process: a fresh TSDB in a temporary directory, the
/// remote-write receiver on, no scrape targets (a self-scrape would move its head to now).
final class PrometheusPeer {
    let server: ChildServer
    var base: URL { server.base }

    /// Starts `binary` and waits until `/-/ready` answers 200.
    init(binary: String, directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        let config = directory + "/prometheus.yml"
        try "global:\n  scrape_interval: 1m\nscrape_configs: []\n".write(toFile: config, atomically: true, encoding: .utf8)
        server = try ChildServer(
            name: "Prometheus", binary: binary,
            arguments: { port in
                [
                    "--config.file=\(config)", "--storage.tsdb.path=\(directory)/data",
                    "--web.listen-address=127.0.0.1:\(port)", "--web.enable-remote-write-receiver",
                    // The data ends now but may reach back months at large sizes: keep it all.
                    "--storage.tsdb.retention.time=100y",
                    // The check counts every sample in one query.
                    "--query.max-samples=2000000000", "--log.level=warn",
                ]
            }, directory: directory, readyPath: "-/ready")
    }

    var version: String {
        let r = httpRequest(base.appendingPathComponent("api/v1/status/buildinfo"))
        guard let json = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any],
            let data = json["data"] as? [String: Any], let v = data["version"] as? String
        else { return "" }
        return v
    }

    /// SIGTERM and wait for the exit (Prometheus then writes its head as is; nothing to wait on).
    func stop() { server.stop() }

    /// Sends the remote-write bodies as kpid got them and counts the samples back.
    static func ingest(
        binary: String, data: IngestData, bodies: [[Data]], lag: Int, directory: String
    ) throws -> PeerIngestResult {
        let peer = try PrometheusPeer(binary: binary, directory: directory)
        defer { peer.stop() }
        // Prometheus keeps the last hours in its head (WAL and head chunks) until it cuts a
        // block: its directory after a clean stop is what it holds.
        return try peer.server.measureRemoteWrite(
            name: "Prometheus \(peer.version)", durability: "process (WAL written before the answer, fsync per segment)",
            method: "remote write over HTTP, same requests and connections", data: data, bodies: bodies, lag: lag,
            dataDirectory: directory + "/data")
    }
}

/// Debian's VictoriaMetrics (single node) as a child process: a fresh storage directory, 100
/// years of retention, no search latency offset (so the count sees the newest samples).
final class VictoriaMetricsPeer {
    let server: ChildServer
    var base: URL { server.base }

    /// `extraArguments` after kpid-bench's own (e.g. `-search.disableCache` for timed queries).
    init(binary: String, directory: String, extraArguments: [String] = []) throws {
        server = try ChildServer(
            name: "VictoriaMetrics", binary: binary,
            arguments: { port in
                [
                    "-storageDataPath=\(directory)/data", "-httpListenAddr=127.0.0.1:\(port)", "-retentionPeriod=100y",
                    "-search.latencyOffset=0s", "-search.maxSamplesPerQuery=2000000000", "-loggerLevel=ERROR",
                ] + extraArguments
            }, directory: directory, readyPath: "health")
    }

    /// Its version: Debian's build reports none (`-version` prints nothing, `app_version` is
    /// empty), so the package's, from dpkg.
    var version: String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/dpkg-query")
        process.arguments = ["-W", "-f", "${Version}", "victoria-metrics"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "" }
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Makes what it holds in memory searchable and written (`/internal/force_flush`).
    func flush() throws {
        let r = httpRequest(base.appendingPathComponent("internal/force_flush"), timeout: 600)
        guard r.status == 200 else { throw BenchError("VictoriaMetrics force_flush answered \(r.status)") }
    }

    func stop() { server.stop() }

    /// Sends the remote-write bodies as kpid got them, flushes (timed: VictoriaMetrics answers
    /// before its data is on disk, so its flush counts in its time) and counts the samples back.
    static func ingest(
        binary: String, data: IngestData, bodies: [[Data]], lag: Int, directory: String
    ) throws -> PeerIngestResult {
        let peer = try VictoriaMetricsPeer(binary: binary, directory: directory)
        defer { peer.stop() }
        // Its parts after a clean stop (it merges and writes what it buffered on SIGTERM).
        return try peer.server.measureRemoteWrite(
            name: "VictoriaMetrics \(peer.version)",
            durability: "none at the answer (buffered in memory, written within seconds); flush timed",
            method: "remote write over HTTP, same requests and connections, then /internal/force_flush", data: data,
            bodies: bodies, lag: lag, dataDirectory: directory + "/data", finish: peer.flush)
    }
}

extension ChildServer {
    /// Sends the remote-write bodies to this server as kpid got them (same requests, same
    /// connections), runs `finish` inside the timed span (a flush, for a server that answers
    /// before its data is written), then measures what the load cost it and counts the samples
    /// back; stops it and reads the size of `dataDirectory`.
    func measureRemoteWrite(
        name: String, durability: String, method: String, data: IngestData, bodies: [[Data]], lag: Int, dataDirectory: String,
        finish: () throws -> Void = {}
    ) throws -> PeerIngestResult {
        let cpuBefore = cpuSeconds()
        let began = Date()
        let outcome = HTTPSender(url: base.appendingPathComponent("api/v1/write"), headers: HTTPSender.remoteWriteHeaders)
            .send(.sharded(bodies, lag: lag))
        try finish()
        var result = PeerIngestResult(
            name: name, durability: durability, method: method, seconds: Date().timeIntervalSince(began), sent: data.total,
            stored: 0, failures: outcome.failures)
        result.cpuSeconds = cpuSeconds() - cpuBefore
        result.latencies = outcome.latencies
        result.residentBytes = residentBytes()
        if let error = outcome.firstError { result.note = "first refused request: \(error); log: \(logTail())" }
        do {
            result.stored = try countSamples(data)
        } catch {
            result.stored = -1
            result.note = (result.note.map { $0 + "; " } ?? "") + "count query failed: \(error)"
        }
        stop()
        result.diskBytes = directoryBytes(dataDirectory)
        return result
    }
}

/// DuckDB (Python module) loading the same samples, written to a CSV file beforehand, into a
/// file database two ways (`Benchmarks/peers/duckdb_ingest.py`): `batch` rows a transaction
/// from memory, and one COPY from the file.
enum DuckDBIngestPeer {
    static func run(
        _ data: IngestData, batch: Int, python: String, script: String, directory: String
    ) throws -> [PeerIngestResult] {
        let csv = directory + "/duckdb-samples.csv"
        let db = directory + "/duckdb-peer.duckdb"
        defer { try? FileManager.default.removeItem(atPath: csv) }
        // The CSV: series_id,ts,value in arrival order (time order across series).
        guard FileManager.default.createFile(atPath: csv, contents: nil), let out = FileHandle(forWritingAtPath: csv) else {
            throw BenchError("cannot write \(csv)")
        }
        var chunk = "series_id,ts,value\n"
        for k in 0..<data.perSeries {
            let ts = data.timestamps[k]
            for s in 0..<data.series {
                chunk += "\(s + 1),\(ts),\(data.text(s, k))\n"
            }
            if chunk.utf8.count > 1 << 20 {
                out.write(Data(chunk.utf8))
                chunk = ""
            }
        }
        out.write(Data(chunk.utf8))
        try out.close()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script, "--csv", csv, "--database", db, "--batch", String(batch)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let json = try? JSONSerialization.jsonObject(with: output) as? [String: Any],
            let batches = json["batches"] as? [String: Any], let copy = json["copy"] as? [String: Any],
            let batchSeconds = batches["seconds"] as? Double, let batchRows = batches["rows"] as? Int,
            let copySeconds = copy["seconds"] as? Double, let copyRows = copy["rows"] as? Int
        else {
            throw BenchError(
                "\(python) \(script) failed (status \(process.terminationStatus)): \(String(decoding: output.prefix(500), as: UTF8.self))")
        }
        let version = json["version"] as? String ?? ""
        return [
            PeerIngestResult(
                name: "DuckDB \(version), batches", durability: "DuckDB's commit (WAL), CHECKPOINT at the end",
                method:
                    "Python, \(BenchFormat.grouped(batch)) rows a transaction from NumPy arrays (INSERT ... SELECT) into a file database",
                seconds: batchSeconds, sent: data.total, stored: batchRows),
            PeerIngestResult(
                name: "DuckDB \(version), COPY", durability: "one transaction, CHECKPOINT",
                method: "Python, one COPY from a CSV file into a file database", seconds: copySeconds, sent: data.total,
                stored: copyRows),
        ]
    }

    /// Whether `python` can import the duckdb module.
    static func available(python: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", "import duckdb"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// `Benchmarks/peers/duckdb_ingest.py` beside this source tree.
    static func defaultScript() -> String {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        return here.deletingLastPathComponent().appendingPathComponent("peers/duckdb_ingest.py").path
    }
}
