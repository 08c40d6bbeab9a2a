import Foundation
import KPICore
import KPIHTTP
import KPIRuntime
import KPIStorage
import KPIWire
import Logging
import Synchronization

/// kpid's HTTP layer over a ``Runtime``: the libmicrohttpd server, the routes and their
/// handlers, authentication, rate limits and the audit of requests.
///
/// Lifecycle: `start()` opens the runtime (data directory, database), starts serving /healthz
/// while the runtime recovers the store (the API answers 503 meanwhile), and is ready when the
/// runtime is. `stop()` stops accepting, lets in-flight requests finish (their commits
/// included), then closes the runtime (final checkpoint, SQLite closed).
public final class KPIService: Sendable {
    /// What the HTTP layer runs on: store, writer, schedulers, catalog, tokens, audit.
    public let runtime: Runtime
    /// Finds each request's route and runs the middleware and the handler.
    let router: Router
    private let server = ServerSlot()
    private let stopped = Mutex(false)

    public init(configuration: ServiceConfiguration, logger: Logger) {
        let runtime = Runtime(configuration: configuration, logger: logger, mode: .serve)
        self.runtime = runtime
        let rateLimiter =
            configuration.rateLimit > 0
            ? RateLimiter(rate: configuration.rateLimit, burst: Double(configuration.rateLimitBurst)) : nil
        let server = self.server
        let sql = SQLController(runtime: runtime)
        // Every endpoint, feature by feature; each controller declares its routes.
        let controllers: [any Controller] = [
            CoreController(runtime: runtime),
            MetricsController(runtime: runtime, rateLimiter: rateLimiter, server: { server.current }),
            IngestController(runtime: runtime),
            SeriesController(runtime: runtime),
            TokenController(runtime: runtime),
            AuditController(runtime: runtime),
            AdminController(runtime: runtime),
            PromQLController(runtime: runtime),
            sql,
            SavedQueryController(runtime: runtime, sql: sql),
            KPIController(runtime: runtime),
            SiteController(runtime: runtime),
            ReportController(runtime: runtime),
            AlertController(runtime: runtime),
            MaintenanceController(runtime: runtime),
            NoteController(runtime: runtime),
        ]
        self.router = Router(runtime: runtime, routes: controllers.flatMap(\.routes), rateLimiter: rateLimiter)
    }

    /// Every endpoint, in matching order.
    var routes: [Route] { router.routes }

    /// Per-client request rate limit (`rate-limit`); nil when off.
    var rateLimiter: RateLimiter? { router.rateLimiter }

    public var configuration: ServiceConfiguration { runtime.configuration }
    public var store: ColumnarStore { runtime.store }
    public var metrics: ServiceMetrics { runtime.metrics }
    var logger: Logger { runtime.logger }

    /// The port actually bound (differs from the configured one when that was 0).
    public var boundPort: UInt16? { server.current?.boundPort }

    /// The HTTP server, while it runs.
    var httpServer: HTTPServer? { server.current }

    public var isReady: Bool { runtime.isReady }

    /// Opens the runtime, starts HTTP while the store is recovered, and returns once ready;
    /// throws if the database cannot be opened or the port cannot be bound.
    public func start() throws {
        do {
            // Settings first, so a bad certificate path fails before anything is opened.
            let tls = try loadTLS()
            try runtime.open { [self] in try startHTTP(tls: tls) }
        } catch {
            // Whatever was opened before the failure (listener, writer, lock) is closed again.
            stop()
            throw error
        }
    }

    private func startHTTP(tls: HTTPServerConfiguration.TLSMaterial?) throws {
        var http = HTTPServerConfiguration()
        http.bindAddress = configuration.bind
        http.port = configuration.port
        http.threadCount = configuration.httpThreads
        http.maxBodyBytes = configuration.maxBodyBytes
        http.connectionLimit = configuration.maxConnections
        http.connectionTimeoutSeconds = configuration.connectionTimeoutSeconds
        http.maxHeaderBytes = configuration.maxHeaderBytes
        http.requestTimeoutSeconds = configuration.requestTimeoutSeconds
        http.tls = tls
        http.tlsMinimumMinorVersion = Int(configuration.tlsMinimumVersion.dropFirst(2)) ?? 2
        let server = HTTPServer(configuration: http, logger: logger) { [router] request, responder in
            router.handle(request, responder)
        }
        try server.start()
        self.server.set(server)
        logger.info("listening", metadata: ["address": "\(configuration.bind):\(server.boundPort)"])
    }

    /// Graceful stop: no new connections, in-flight requests finish, queued commits complete,
    /// a final checkpoint is written and SQLite is closed. Idempotent.
    public func stop() {
        guard
            !stopped.withLock({ s in
                defer { s = true }; return s
            })
        else { return }
        runtime.beginStopping()
        if let server = server.current {
            server.stopAccepting()
            server.stop()
        }
        runtime.close()
    }

    /// Ingests a decoded batch through the writer and waits for the commit (for in-process
    /// callers).
    public func write(_ batch: SampleBatch) -> Result<WriteResult, WriteError> {
        runtime.write(batch)
    }

    /// The writer, once the store is loaded; nil before and after.
    var writer: GroupCommitWriter? { runtime.writer }

    /// The token cache, once the database is open.
    var authenticator: Authenticator? { runtime.authenticator }

    /// The audit log, once the database is open.
    var auditLog: AuditLog? { runtime.auditLog }

    /// Reads `tls-cert` and `tls-key` (nil when not set); throws a clear error when a file
    /// cannot be read or does not hold PEM.
    func loadTLS() throws -> HTTPServerConfiguration.TLSMaterial? {
        guard let certPath = configuration.tlsCertificatePath, let keyPath = configuration.tlsKeyPath else { return nil }
        func read(_ path: String, _ setting: String, marker: String) throws -> String {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ServiceConfiguration.Invalid(setting: setting, source: path, reason: "cannot read the file")
            }
            guard text.contains("-----BEGIN ") && text.contains(marker) else {
                throw ServiceConfiguration.Invalid(setting: setting, source: path, reason: "not a PEM file holding \(marker)")
            }
            return text
        }
        return HTTPServerConfiguration.TLSMaterial(
            certificatePEM: try read(certPath, "tls-cert", marker: "CERTIFICATE-----"),
            keyPEM: try read(keyPath, "tls-key", marker: "PRIVATE KEY-----"))
    }

    /// `http` or `https`, as the server speaks.
    public var urlScheme: String { configuration.tlsCertificatePath == nil ? "http" : "https" }
}

/// The HTTP server once started, shared with the `/metrics` controller.
final class ServerSlot: Sendable {
    private let server = Mutex<HTTPServer?>(nil)

    var current: HTTPServer? { server.withLock { $0 } }

    func set(_ value: HTTPServer) { server.withLock { $0 = value } }
}
