import ArgumentParser
import Foundation
import KPICore
import KPIRuntime
import KPIService
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
            Restore.self, Check.self, Fixtures.self, Report.self, Settings.self,
        ],
        defaultSubcommand: Serve.self)
}

/// Flags of `kpid serve`: `--config FILE` and one `--NAME VALUE` (or `--NAME=VALUE`) per
/// setting of ``ServiceConfiguration/settings``, the one table that declares them; environment
/// variables and the config file supply what the command line does not.
struct ServeOptions: ParsableArguments {
    @Argument(
        parsing: .captureForPassthrough,
        help: ArgumentHelp("--config FILE and --NAME VALUE for each setting listed below.", valueName: "settings"))
    var arguments: [String] = []

    /// The settings and their flags, for `kpid serve --help`.
    static var settingsHelp: String {
        var lines = [
            "Settings (flag, environment variable, default):", "  --config <file>  config file of `name = value` lines (or KPID_CONFIG)",
        ]
        for setting in ServiceConfiguration.settings {
            let plainDefault = setting.defaultText.replacingOccurrences(of: "`", with: "")
            lines.append("  --\(setting.name) <value>  \(setting.environmentName); default \(plainDefault)")
            lines.append("      \(setting.help.replacingOccurrences(of: "`", with: ""))")
        }
        return lines.joined(separator: "\n")
    }

    /// The flags given, by setting name, and the config file's path (`--config`).
    func flags() throws -> (flags: [String: String], config: String?) {
        let known = Set(ServiceConfiguration.settingNames)
        var flags: [String: String] = [:]
        var config: String? = nil
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--help" || argument == "-h" { throw CleanExit.helpRequest(Serve.self) }
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw ValidationError("unexpected argument \"\(argument)\"; settings are given as --NAME VALUE (see kpid serve --help)")
            }
            var name = String(argument.dropFirst(2))
            var value: String
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            } else {
                guard i + 1 < arguments.count else { throw ValidationError("--\(name) needs a value") }
                i += 1
                value = arguments[i]
            }
            if name == "config" {
                config = value
            } else {
                guard known.contains(name) else { throw ValidationError("unknown setting --\(name) (see kpid serve --help)") }
                guard flags[name] == nil else { throw ValidationError("--\(name) is given twice") }
                flags[name] = value
            }
            i += 1
        }
        return (flags, config)
    }

    func resolve() throws -> ServiceConfiguration {
        let (flags, config) = try self.flags()
        let environment = ProcessInfo.processInfo.environment
        let configPath = config ?? environment["KPID_CONFIG"]
        let file = try configPath.map { try ServiceConfiguration.readConfigFile($0) } ?? [:]
        do {
            return try ServiceConfiguration.resolve(flags: flags, environment: environment, configFile: file)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// `kpid settings`: every setting with its default and meaning, as the README's table.
struct Settings: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every setting of kpid serve (flag, environment variable, config-file key) as a Markdown table.")

    func run() throws {
        FileHandle.standardOutput.write(Data(ServiceConfiguration.markdownTable.utf8))
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
    static let configuration = CommandConfiguration(abstract: "Run the kpid server.", discussion: ServeOptions.settingsHelp)
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
        sigaddset(&signals, SIGHUP)
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
        while true {
            sigwait(&signals, &received)
            guard received == SIGHUP else { break }
            // SIGHUP reloads the rule files, as it does Prometheus' (an error is logged and the
            // old rules keep running).
            _ = try? service.runtime.rules?.reload()
            do { try service.runtime.maintenance?.reloadFile() } catch {
                logger.error("maintenance file not reloaded", metadata: ["error": "\(error)"])
            }
        }
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
