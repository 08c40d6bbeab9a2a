import Foundation
import KPICore
import KPIHTTP
import KPIStorage
import KPIWire
import Logging
import Synchronization

/// The running kpid service: database, store, writer and HTTP server, wired together.
///
/// Lifecycle: `start()` opens the database, starts serving /healthz at once, recovers the
/// store (API answers 503 meanwhile), then opens ingest and queries. `stop()` stops accepting,
/// lets in-flight requests finish (their commits included), checkpoints and closes SQLite.
public final class KPIService: Sendable {
    public let configuration: ServiceConfiguration
    public let store: ColumnarStore
    public let metrics = ServiceMetrics()
    /// What retention and series deletions removed (KPIService+Retention.swift).
    let retentionMetrics = RetentionMetrics()
    /// The latest rolling KPI values (KPIService+Rolling.swift).
    let rollingKPIs = RollingKPIState()
    /// Per-client request rate limit (`rate-limit`); nil when off.
    let rateLimiter: RateLimiter?
    let logger: Logger
    /// Internal so the feature files (security, audit) can keep their parts here too.
    let state = Mutex(State())

    struct State: Sendable {
        var server: HTTPServer?
        var writer: GroupCommitWriter?
        var ready = false
        var stopped = false
        var databasePath: String?
        var authenticator: Authenticator?
        var auditLog: AuditLog?
        /// Holds the data directory's lock file (see `DataDirectoryLock`).
        var directoryLock: DataDirectoryLock?
        /// Runs retention periodically (KPIService+Retention.swift); nil when none is set.
        var retentionScheduler: RetentionScheduler?
        /// Sites registered over the API (KPIService+Sites.swift).
        var siteStore: SiteStore?
        /// Evaluates the rolling KPIs every `kpi-interval`; nil when disabled.
        var rollingScheduler: BackgroundThread?
        /// Sends samples to `forward-url` (KPIService+Forward.swift); nil when not set.
        var forwarder: Forwarder?
        /// What loading the store found (time, corrupt rows left out).
        var recovery: StoreRecovery.Summary?
        /// The live demo (`demo`); nil when off.
        var demo: DemoFeed?
    }

    public init(configuration: ServiceConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.rateLimiter =
            configuration.rateLimit > 0
            ? RateLimiter(rate: configuration.rateLimit, burst: Double(configuration.rateLimitBurst)) : nil
        self.store = ColumnarStore(
            configuration: StoreConfiguration(
                outOfOrderWindowMs: configuration.outOfOrderWindowMs, chunkSize: configuration.chunkSize,
                rollupSketches: configuration.rollupSketches))
    }

    /// The port actually bound (differs from the configured one when that was 0).
    public var boundPort: UInt16? { state.withLock { $0.server?.boundPort } }

    public var isReady: Bool { state.withLock { $0.ready } }

    /// Opens the data directory, starts HTTP, recovers the store, opens the API. Returns once
    /// ready; throws if the database cannot be opened or the port cannot be bound.
    public func start() throws {
        do {
            try startUp()
        } catch {
            // Whatever was opened before the failure (listener, writer, lock) is closed again.
            stop()
            throw error
        }
    }

    private func startUp() throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let path = configuration.databasePath
        // Settings first, so a bad certificate path fails before anything is opened.
        let tls = try loadTLS()
        let lock = try DataDirectoryLock(directory: configuration.dataDirectory)
        state.withLock { $0.directoryLock = lock }
        let database = try KPIDatabase(
            path: path, durability: configuration.durability, logger: logger, softwareVersion: ServiceMetrics.version)
        state.withLock { $0.databasePath = path }
        try openSecurity(path: path)
        try openSites(path: path)

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
        state.withLock { $0.server = server }
        logger.info("listening", metadata: ["address": "\(configuration.bind):\(server.boundPort)"])

        let recovery = try StoreRecovery.load(database, into: store, logger: logger)
        state.withLock { $0.recovery = recovery }
        if configuration.maxDatabaseBytes > 0 {
            let cap = try database.limitSize(bytes: configuration.maxDatabaseBytes)
            logger.info("database size limited", metadata: ["bytes": "\(cap)"])
        }
        let forwarding = try forwardProgress(database)
        let writer = try GroupCommitWriter(
            store: store, database: database,
            limits: WriteLimits(
                maxNewSeriesPerRequest: configuration.maxNewSeriesPerRequest, maxSeries: configuration.maxSeries),
            logger: logger, checkpointInterval: configuration.checkpointIntervalSeconds, observer: metrics,
            forwardProgress: forwarding)
        writer.start()
        state.withLock { $0.writer = writer }
        startRetention(writer)
        if configuration.demo {
            let demo = try DemoFeed.start(
                configuration: configuration, store: store, writer: writer, metrics: metrics, logger: logger)
            state.withLock { $0.demo = demo }
        }
        state.withLock { $0.ready = true }
        startRollingKPIs()
        startForwarding(forwarding, databasePath: path)
        logger.info("ready", metadata: ["series": "\(store.seriesCount)", "data": "\(path)"])
    }

    /// Graceful stop: no new connections, in-flight requests finish, queued commits complete,
    /// a final checkpoint is written and SQLite is closed. Idempotent.
    public func stop() {
        let (server, writer) = state.withLock { s -> (HTTPServer?, GroupCommitWriter?) in
            if s.stopped { return (nil, nil) }
            s.stopped = true
            s.ready = false
            return (s.server, s.writer)
        }
        server?.stopAccepting()
        server?.stop()
        stopRetention()
        state.withLock { s -> DemoFeed? in
            defer { s.demo = nil }
            return s.demo
        }?.stop()
        stopRollingKPIs()
        stopForwarding()
        writer?.shutdown()
        closeSecurity()
        closeSites()
        logger.info("stopped")
    }

    /// Ingests a decoded batch through the writer and waits for the commit (for `kpid ingest`
    /// offline and other in-process callers).
    public func write(_ batch: SampleBatch) -> Result<WriteResult, WriteError> {
        guard let writer else { return .failure(.unavailable) }
        return writer.submit(batch)
    }

    /// The writer, once the store is loaded; nil before and after.
    var writer: GroupCommitWriter? { state.withLock { $0.ready ? $0.writer : nil } }

    var databaseFileBytes: Int64? {
        guard let path = state.withLock({ $0.databasePath }) else { return nil }
        var total: Int64 = 0
        for suffix in ["", "-wal"] {
            if let attrs = try? FileManager.default.attributesOfItem(atPath: path + suffix),
                let size = attrs[.size] as? NSNumber
            {
                total += size.int64Value
            }
        }
        return total
    }
}
