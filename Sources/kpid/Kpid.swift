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
struct Kpid: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kpid",
        abstract: "Time-series KPI analytics for physical-security signals.",
        version: ServiceMetrics.version,
        subcommands: [
            Serve.self, Ingest.self, Export.self, Query.self, Token.self, Backup.self,
            Restore.self, Check.self, Fixtures.self, Report.self,
        ],
        defaultSubcommand: Serve.self)
}

/// Flags of `kpid serve`. Each is optional so that environment variables and the config file
/// can supply what the command line does not (see ServiceConfiguration).
struct ServeOptions: ParsableArguments {
    @Option(help: "Config file of `name = value` lines.") var config: String?
    @Option(help: "Address to listen on (default 127.0.0.1).") var bind: String?
    @Option(help: "Port to listen on (default 9464; 0 picks a free one).") var port: String?
    @Option(help: "Data directory holding kpid.sqlite (default ./data).") var data: String?
    @Option(help: "process (survives kill -9; default) or power (also survives power loss).") var durability: String?
    @Option(name: .customLong("http-threads"), help: "HTTP worker threads (default 8).") var httpThreads: String?
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body (default 67108864).") var maxBodyBytes: String?
    @Option(name: .customLong("max-connections"), help: "Concurrent connections (default 1024).") var maxConnections: String?
    @Option(name: .customLong("connection-timeout"), help: "Idle connection timeout in seconds (default 60).") var connectionTimeout:
        String?
    @Option(name: .customLong("max-labels-per-series"), help: "Labels per series (default 30).") var maxLabelsPerSeries: String?
    @Option(name: .customLong("max-label-name-length"), help: "Bytes per label name (default 128).") var maxLabelNameLength: String?
    @Option(name: .customLong("max-label-value-length"), help: "Bytes per label value (default 1024).") var maxLabelValueLength: String?
    @Option(name: .customLong("max-metric-name-length"), help: "Bytes per metric name (default 256).")
    var maxMetricNameLength: String?
    @Option(name: .customLong("max-new-series-per-request"), help: "New series one request may create (default 100000).")
    var maxNewSeriesPerRequest: String?
    @Option(name: .customLong("max-series"), help: "Series in total (default 5000000).") var maxSeries: String?
    @Option(name: .customLong("out-of-order-window"), help: "How far behind a series' newest sample a sample may arrive (default 1h).")
    var outOfOrderWindow: String?
    @Option(name: .customLong("chunk-size"), help: "Samples per sealed chunk (default 512).") var chunkSize: String?
    @Option(
        name: .customLong("rollup-sketches"),
        help: "true or false: quantile sketches in the chunks' rollups, for approx_quantile from buckets (default true).")
    var rollupSketches: String?
    @Option(
        name: .customLong("checkpoint-interval"),
        help: "How often sealed chunks are written and the write-ahead table trimmed (default 30s).") var checkpointInterval: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical (default info).") var logLevel:
        String?
    @Option(name: .customLong("query-lookback-delta"), help: "PromQL: how far back an instant selector looks (default 5m).")
    var queryLookbackDelta: String?
    @Option(name: .customLong("query-timeout"), help: "PromQL and SQL: longest query run (default 2m).") var queryTimeout: String?
    @Option(name: .customLong("query-max-samples"), help: "PromQL and SQL: samples one query may load (default 50000000).")
    var queryMaxSamples: String?
    @Option(name: .customLong("query-max-series"), help: "SQL: series one query may read (default 100000).")
    var queryMaxSeries: String?
    @Option(name: .customLong("query-max-rows"), help: "SQL: rows in a result (default 1000000).") var queryMaxRows: String?
    @Option(name: .customLong("query-max-memory"), help: "SQL: bytes of GROUP BY state per query (default 1073741824).")
    var queryMaxMemory: String?
    @Option(name: .customLong("query-time-zone"), help: "SQL: zone of date_trunc/date_part when a query names none (default UTC).")
    var queryTimeZone: String?
    @Option(name: .customLong("queries-dir"), help: "Saved queries directory (default Queries).") var queriesDir: String?
    @Option(name: .customLong("templates-dir"), help: "KPI templates directory (default Queries/templates).") var templatesDir: String?
    @Option(name: .customLong("sites-file"), help: "Sites and their templates (default Queries/sites.json).") var sitesFile: String?
    @Option(help: "API tokens required: on, off, or auto (default: on unless bound to a loopback address).") var auth: String?
    @Option(name: .customLong("tls-cert"), help: "PEM certificate (chain): serve HTTPS only (with --tls-key).") var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert.") var tlsKey: String?
    @Option(name: .customLong("tls-min-version"), help: "Oldest TLS version served: 1.0, 1.1, 1.2 or 1.3 (default 1.2).")
    var tlsMinVersion: String?
    @Option(name: .customLong("audit-retention"), help: "How long audit entries are kept (default 90d, at least 1d).")
    var auditRetention: String?
    @Option(help: "How long samples are kept: 0 for ever (default), or at least 1h, like 35d.") var retention: String?
    @Option(
        name: .customLong("retention-rules"),
        help: "Per-metric retention: metric=duration,... (0 = for ever), or @FILE holding them.") var retentionRules: String?
    @Option(name: .customLong("retention-interval"), help: "How often retention runs while serving (default 5m).")
    var retentionInterval: String?
    @Option(name: .customLong("kpi-interval"), help: "How often the rolling KPIs are evaluated; 0 = off (default 60s).")
    var kpiInterval: String?
    @Option(name: .customLong("kpi-windows"), help: "Rolling KPI windows (default 1h,24h,7d,28d).") var kpiWindows: String?
    @Option(name: .customLong("forward-url"), help: "Remote-write endpoint every acknowledged sample is forwarded to.")
    var forwardURL: String?
    @Option(name: .customLong("forward-bearer-token"), help: "Bearer token for --forward-url (or KPID_FORWARD_BEARER_TOKEN).")
    var forwardBearerToken: String?
    @Option(name: .customLong("forward-batch-samples"), help: "Most samples per forwarded request (default 5000).")
    var forwardBatchSamples: String?
    @Option(
        name: .customLong("forward-queue-max-samples"),
        help: "Most samples waiting to be forwarded; the oldest are dropped past it (default 50000000).")
    var forwardQueueMaxSamples: String?
    @Option(name: .customLong("rate-limit"), help: "Requests a second per API token (per address with auth off); 0 = none (default).")
    var rateLimit: String?
    @Option(name: .customLong("rate-limit-burst"), help: "Requests a client may make at once before the rate applies (default 100).")
    var rateLimitBurst: String?
    @Option(
        name: .customLong("max-database-size"),
        help: "Size the database may grow to with samples, like 20G; past it ingest answers 507 (default 0: no limit).")
    var maxDatabaseSize: String?
    @Option(name: .customLong("max-header-bytes"), help: "Bytes for a request's line and headers; more gets 431 (default 65536).")
    var maxHeaderBytes: String?
    @Option(
        name: .customLong("request-timeout"),
        help: "Longest a client may take to send a request body, like 5m; slower ones are cut off (default 5m; 0 = none).")
    var requestTimeout: String?
    @Option(
        help:
            "Pin kpid's clock to this instant (RFC 3339 or Unix seconds) for the life of the process: a testing and backfill aid, to evaluate KPIs and reviews as of a past instant (default: the system clock)."
    )
    var now: String?
    @Option(
        help:
            "true: the live demo (8 generated weeks of the Fixtures/sites.json sites ending now on the first start, then fed as time passes); default false."
    )
    var demo: String?
    @Option(
        name: .customLong("demo-force"),
        help: "true: let --demo write into a data directory that holds series it did not write (default false).")
    var demoForce: String?
    @Option(name: .customLong("demo-sites"), help: "The demo's sites, shaped like Fixtures/sites.json (default Fixtures/sites.json).")
    var demoSites: String?

    func resolve() throws -> ServiceConfiguration {
        let flags: [String: String?] = [
            "bind": bind, "port": port, "data": data, "durability": durability, "http-threads": httpThreads,
            "max-body-bytes": maxBodyBytes, "max-connections": maxConnections, "connection-timeout": connectionTimeout,
            "max-labels-per-series": maxLabelsPerSeries, "max-label-name-length": maxLabelNameLength,
            "max-label-value-length": maxLabelValueLength, "max-metric-name-length": maxMetricNameLength, "max-new-series-per-request": maxNewSeriesPerRequest,
            "max-series": maxSeries, "out-of-order-window": outOfOrderWindow, "chunk-size": chunkSize, "rollup-sketches": rollupSketches,
            "checkpoint-interval": checkpointInterval, "log-level": logLevel, "auth": auth, "tls-cert": tlsCert,
            "tls-key": tlsKey, "tls-min-version": tlsMinVersion, "audit-retention": auditRetention, "query-lookback-delta": queryLookbackDelta,
            "query-timeout": queryTimeout, "query-max-samples": queryMaxSamples, "query-max-series": queryMaxSeries,
            "query-max-rows": queryMaxRows, "query-max-memory": queryMaxMemory, "query-time-zone": queryTimeZone,
            "queries-dir": queriesDir, "templates-dir": templatesDir, "sites-file": sitesFile,
            "retention": retention, "retention-rules": retentionRules, "retention-interval": retentionInterval,
            "kpi-interval": kpiInterval, "kpi-windows": kpiWindows, "forward-url": forwardURL,
            "forward-bearer-token": forwardBearerToken, "forward-batch-samples": forwardBatchSamples,
            "forward-queue-max-samples": forwardQueueMaxSamples, "rate-limit": rateLimit, "rate-limit-burst": rateLimitBurst,
            "max-database-size": maxDatabaseSize, "max-header-bytes": maxHeaderBytes, "request-timeout": requestTimeout,
            "now": now, "demo": demo, "demo-force": demoForce, "demo-sites": demoSites,
        ]
        let environment = ProcessInfo.processInfo.environment
        let configPath = config ?? environment["KPID_CONFIG"]
        let file = try configPath.map { try ServiceConfiguration.readConfigFile($0) } ?? [:]
        do {
            return try ServiceConfiguration.resolve(
                flags: flags.compactMapValues { $0 }, environment: environment, configFile: file)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

func makeLogger(level: String) -> Logger {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = Logger.Level(rawValue: level) ?? .info
        return handler
    }
    return Logger(label: "kpid")
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the kpid server.")
    @OptionGroup var options: ServeOptions

    func run() throws {
        let config = try options.resolve()
        let logger = makeLogger(level: config.logLevel)
        // Block the shutdown signals before any thread starts, so every thread inherits the
        // mask and the main thread alone receives them through sigwait.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        if !ServiceConfiguration.isLoopback(config.bind) && config.tlsCertificatePath == nil {
            logger.warning(
                "listening beyond loopback without TLS: tokens and data cross the network in clear text; use --tls-cert and --tls-key",
                metadata: ["bind": "\(config.bind)"])
        }
        let service = KPIService(configuration: config, logger: logger)
        do {
            try service.start()
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            service.stop()
            throw ExitCode(1)
        }
        let host = config.bind.contains(":") ? "[\(config.bind)]" : config.bind
        FileHandle.standardOutput.write(
            Data(
                "kpid \(ServiceMetrics.version) ready at \(service.urlScheme)://\(host):\(service.boundPort ?? config.port)/ (data: \(config.databasePath), durability: \(config.durability.rawValue))\n"
                    .utf8))
        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("shutting down", metadata: ["signal": "\(received)"])
        service.stop()
    }
}

/// Chooses a format from a file name.
func formatFor(path: String) -> (IngestFormat, String)? {
    var lower = path.lowercased()
    if lower.hasSuffix(".gz") { lower.removeLast(3) }  // data.ndjson.gz: the format of data.ndjson, gzip-compressed
    if lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") || lower.hasSuffix(".json") { return (.ndjson, "application/x-ndjson") }
    if lower.hasSuffix(".csv") { return (.csv, "text/csv") }
    if lower.hasSuffix(".prom") || lower.hasSuffix(".txt") { return (.prometheusText, "text/plain; version=0.0.4") }
    return nil
}

/// The bytes of an ingest file, inflated when its name ends `.gz`; the compressed bytes too.
func readIngestFile(_ path: String) throws -> (bytes: [UInt8], compressed: [UInt8]?) {
    let raw = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    guard path.lowercased().hasSuffix(".gz") else { return (raw, nil) }
    do {
        // A local file: no zip-bomb limit beyond what the machine holds.
        return (try GzipDecoder.inflate(raw, limit: Int.max / 2), raw)
    } catch {
        throw ValidationError("\(path): not a valid gzip file: \(error)")
    }
}

/// A piece gzip-compressed at level 1 in process, or nil when zlib fails (the piece then
/// travels uncompressed).
func gzipPiece(_ piece: [UInt8]) -> [UInt8]? {
    GzipEncoder.deflate(piece, level: 1)
}

/// Splits a file's bytes into pieces of about `size` bytes at line boundaries; for CSV each
/// piece after the first starts with the header line again.
func pieces(of bytes: [UInt8], size: Int, csv: Bool) -> [[UInt8]] {
    guard bytes.count > size else { return [bytes] }
    var out: [[UInt8]] = []
    var header: [UInt8] = []
    var start = 0
    if csv, let nl = bytes.firstIndex(of: 10) {
        header = Array(bytes[...nl])
    }
    while start < bytes.count {
        var end = min(start + size, bytes.count)
        while end < bytes.count && bytes[end - 1] != 10 { end += 1 }
        var piece = (csv && start > 0) ? header : []
        piece.append(contentsOf: bytes[start..<end])
        out.append(piece)
        start = end
    }
    return out
}

/// A synchronous HTTP call for the CLI.
func httpCall(_ request: URLRequest) throws -> (Int, Data) {
    final class Box: @unchecked Sendable {
        // @unchecked: written once by the completion handler before `done.signal()`, read after `wait()`.
        var result: Result<(Int, Data), Error> = .failure(URLError(.unknown))
        let done = DispatchSemaphore(value: 0)
    }
    let box = Box()
    URLSession.shared.dataTask(with: request) { data, response, error in
        if let error {
            box.result = .failure(error)
        } else {
            box.result = .success(((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data()))
        }
        box.done.signal()
    }.resume()
    box.done.wait()
    return try box.result.get()
}

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Send files of samples (.ndjson/.jsonl, .csv, .prom/.txt, each optionally .gz) to a running kpid, or write them into a data directory offline."
    )

    @Argument(help: "Files to ingest.") var files: [String]
    @Option(help: "Server URL.") var url = "http://127.0.0.1:9464"
    @Option(help: "API token (default: $KPID_TOKEN).") var token: String?
    @Option(help: "Write straight into this data directory instead (kpid serve must not be running on it).") var data: String?
    @Option(name: .customLong("batch-bytes"), help: "Bytes per request.") var batchBytes = 8 << 20
    @Flag(help: "No progress lines.") var quiet = false

    func run() throws {
        // Offline: a runtime on the data directory (its lock, database and writer), no socket.
        var offline: Runtime? = nil
        if let data {
            var config = ServiceConfiguration()
            config.dataDirectory = data
            offline = try Runtime.open(config, logger: makeLogger(level: "warning"), mode: .ingest)
        }
        defer { offline?.close() }
        var failed = false
        for path in files {
            guard let (format, contentType) = formatFor(path: path) else {
                throw ValidationError("\(path): unknown file type; use .ndjson, .jsonl, .csv, .prom or .txt (optionally .gz)")
            }
            let (bytes, compressed) = try readIngestFile(path)
            let parts = pieces(of: bytes, size: batchBytes, csv: format == .csv)
            var samples = 0
            var created = 0
            let started = Date()
            for (n, part) in parts.enumerated() {
                if let offline {
                    let batch: SampleBatch
                    do {
                        batch = try IngestDecoder.decode(
                            part, format: format, options: offline.configuration.decodeOptions())
                    } catch {
                        FileHandle.standardError.write(Data("\(path) (piece \(n + 1)): \(error)\n".utf8))
                        failed = true
                        break
                    }
                    switch offline.write(batch) {
                    case .success(let r):
                        samples += r.samples
                        created += r.seriesCreated
                    case .failure(let e):
                        FileHandle.standardError.write(Data("\(path) (piece \(n + 1)): \(e)\n".utf8))
                        failed = true
                    }
                } else {
                    var request = URLRequest(url: URL(string: url + "/api/v1/ingest")!)
                    request.httpMethod = "POST"
                    request.setValue(contentType, forHTTPHeaderField: "Content-Type")
                    if let token = token ?? ProcessInfo.processInfo.environment["KPID_TOKEN"] {
                        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                    }
                    if let compressed, let body = parts.count == 1 ? compressed : gzipPiece(part) {
                        // A .gz file travels compressed: as is when it is one piece, else piece by piece.
                        request.setValue("gzip", forHTTPHeaderField: "Content-Encoding")
                        request.httpBody = Data(body)
                    } else {
                        request.httpBody = Data(part)
                    }
                    let (status, body) = try httpCall(request)
                    guard status == 200 else {
                        FileHandle.standardError.write(
                            Data("\(path) (piece \(n + 1)): HTTP \(status): \(String(decoding: body, as: UTF8.self))\n".utf8))
                        failed = true
                        break
                    }
                    if let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
                        samples += (json["samples"] as? Int) ?? 0
                        created += (json["series_created"] as? Int) ?? 0
                    }
                }
                if !quiet && parts.count > 1 {
                    let rate = Double(samples) / max(Date().timeIntervalSince(started), 0.001)
                    FileHandle.standardError.write(
                        Data("\r\(path): \(n + 1)/\(parts.count) pieces, \(samples) samples (\(Int(rate)) samples/s)".utf8))
                }
            }
            if !quiet && parts.count > 1 { FileHandle.standardError.write(Data("\n".utf8)) }
            print("\(path): \(samples) samples, \(created) new series")
        }
        if failed { throw ExitCode(1) }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export raw samples from a running kpid to standard output.")
    @Option(help: "Series selector, e.g. 'queue_wait_seconds{site=\"JFK\"}'.") var match: String
    @Option(help: "Start (RFC 3339 or unix seconds).") var start: String?
    @Option(help: "End (RFC 3339 or unix seconds).") var end: String?
    @Option(help: "ndjson or csv.") var format = "ndjson"
    @Option(help: "Server URL.") var url = "http://127.0.0.1:9464"
    @Option(help: "API token (default: $KPID_TOKEN).") var token: String?

    func run() throws {
        var items = [URLQueryItem(name: "match", value: match), URLQueryItem(name: "format", value: format)]
        if let start { items.append(URLQueryItem(name: "start", value: start)) }
        if let end { items.append(URLQueryItem(name: "end", value: end)) }
        let (status, body) = try httpCall(try getRequest(url, "/api/v1/export", items, token: token))
        if status != 200 {
            FileHandle.standardError.write(Data("HTTP \(status): \(String(decoding: body, as: UTF8.self))\n".utf8))
            throw ExitCode(1)
        }
        FileHandle.standardOutput.write(body)
    }
}

/// A GET of `base + path` with `items` as the query ('+' encoded, since servers read it as a
/// space) and the API token of `--token` or `KPID_TOKEN`, if any.
func getRequest(_ base: String, _ path: String, _ items: [URLQueryItem], token: String?) throws -> URLRequest {
    guard var components = URLComponents(string: base + path) else {
        throw ValidationError("--url \(base) is not a URL")
    }
    components.queryItems = items
    components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
    guard let url = components.url else { throw ValidationError("--url \(base) is not a URL") }
    var request = URLRequest(url: url)
    if let token = token ?? ProcessInfo.processInfo.environment["KPID_TOKEN"] {
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
    }
    return request
}
