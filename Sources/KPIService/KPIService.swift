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
    /// Per-client request rate limit (`rate-limit`); nil when off.
    let rateLimiter: RateLimiter?
    private let server = Mutex<HTTPServer?>(nil)
    private let stopped = Mutex(false)

    public init(configuration: ServiceConfiguration, logger: Logger) {
        self.runtime = Runtime(configuration: configuration, logger: logger, mode: .serve)
        self.rateLimiter =
            configuration.rateLimit > 0
            ? RateLimiter(rate: configuration.rateLimit, burst: Double(configuration.rateLimitBurst)) : nil
    }

    public var configuration: ServiceConfiguration { runtime.configuration }
    public var store: ColumnarStore { runtime.store }
    public var metrics: ServiceMetrics { runtime.metrics }
    var logger: Logger { runtime.logger }

    /// The port actually bound (differs from the configured one when that was 0).
    public var boundPort: UInt16? { server.withLock { $0?.boundPort } }

    /// The HTTP server, while it runs.
    var httpServer: HTTPServer? { server.withLock { $0 } }

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
        let server = HTTPServer(configuration: http, logger: logger) { [self] request, responder in
            self.handle(request, responder)
        }
        try server.start()
        self.server.withLock { $0 = server }
        logger.info("listening", metadata: ["address": "\(configuration.bind):\(server.boundPort)"])
    }

    /// Graceful stop: no new connections, in-flight requests finish, queued commits complete,
    /// a final checkpoint is written and SQLite is closed. Idempotent.
    public func stop() {
        guard !stopped.withLock({ s in defer { s = true }; return s }) else { return }
        runtime.beginStopping()
        if let server = server.withLock({ $0 }) {
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
}
