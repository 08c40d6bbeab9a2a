import Foundation
import KPICore
import KPIPromQL
import KPIQuery
import KPIStorage
import KPITemplates
import KPIWire
import Logging
import Synchronization

/// Everything kpid runs on, below HTTP: the data directory's lock, the database and its
/// connections, the columnar store and its recovery, the group-commit writer, the schedulers
/// (retention, rolling KPIs, forwarding, the demo feed), the KPI catalog (templates and sites),
/// tokens and the audit log.
///
/// `kpid serve` (through `KPIService`), offline `kpid ingest --data`, `kpid report` and the
/// benchmarks all open one with ``open(_:logger:mode:)``; none of them wires storage by hand.
///
/// Ownership: each connection has one owner. The writer owns the database's write connection;
/// the token table, the audit log and the sites table each have a connection of their own,
/// owned by ``Authenticator``, ``AuditLog`` and ``KPICatalog``; the forwarder opens a read-only
/// one. The runtime opens them in ``open(whileRecovering:)`` and closes them in ``close()``.
///
/// Lifecycle (``Phase``): `opening` → `recovering` (the database is open, the store is being
/// loaded) → `ready` → `stopping` → `stopped`. A caller that must answer while the store loads
/// (the HTTP server's `/healthz`) starts in the `whileRecovering` callback.
public final class Runtime: Sendable {
    /// Where the runtime is in its life.
    public enum Phase: String, Sendable {
        /// Created; nothing opened yet.
        case opening
        /// The database is open; the store is being loaded from it.
        case recovering
        /// The store is loaded and the writer runs: reads and writes are served.
        case ready
        /// `close()` has begun: no new work is taken.
        case stopping
        /// Everything is closed.
        case stopped
    }

    /// What a runtime opens beyond the store.
    public enum Mode: Sendable {
        /// The server: the writer, tokens and the audit log, and every scheduler the
        /// configuration asks for (retention, rolling KPIs, forwarding, the demo).
        case serve
        /// Offline `kpid ingest --data`: the writer only (no scheduler, no token table).
        case ingest
        /// Offline reads (`kpid report`): the store is loaded and nothing is written.
        case read
    }

    public let configuration: ServiceConfiguration
    public let mode: Mode
    public let logger: Logger
    /// The in-memory columnar store (loaded from the database by ``open(whileRecovering:)``).
    public let store: ColumnarStore
    /// kpid's own counters (ingest, requests, writer), rendered on /metrics.
    public let metrics = ServiceMetrics()
    /// What retention and series deletions removed.
    public let retentionMetrics = RetentionMetrics()
    /// The latest rolling KPI values.
    public let rollingKPIs = RollingKPIState()
    /// The templates and the sites (sites file merged with the sites table).
    public let catalog: KPICatalog
    private let state = Mutex(State())

    private struct State: Sendable {
        var phase = Phase.opening
        var lock: DataDirectoryLock?
        var databasePath: String?
        var writer: GroupCommitWriter?
        var authenticator: Authenticator?
        var auditLog: AuditLog?
        var recovery: StoreRecovery.Summary?
        var retention: RetentionScheduler?
        var rolling: RollingKPIScheduler?
        var forwarder: Forwarder?
        var demo: DemoFeed?
        var rules: RuleManager?
        var maintenance: MaintenanceCalendar?
    }

    /// A runtime not opened yet (``phase`` is `opening`); ``open(whileRecovering:)`` opens it.
    public init(configuration: ServiceConfiguration, logger: Logger, mode: Mode = .serve) {
        self.configuration = configuration
        self.logger = logger
        self.mode = mode
        self.store = ColumnarStore(
            configuration: StoreConfiguration(
                outOfOrderWindowMs: configuration.outOfOrderWindowMs, chunkSize: configuration.chunkSize,
                rollupSketches: configuration.rollupSketches))
        self.catalog = KPICatalog(configuration: configuration)
    }

    /// Opens a runtime on `configuration`'s data directory and returns it ready.
    public static func open(_ configuration: ServiceConfiguration, logger: Logger, mode: Mode = .serve) throws -> Runtime {
        let runtime = Runtime(configuration: configuration, logger: logger, mode: mode)
        try runtime.open()
        return runtime
    }

    /// Takes the directory lock, opens the database (migrating it), the token table, the audit
    /// log and the sites table; calls `whileRecovering`; loads the store; starts the writer and
    /// the schedulers. On failure whatever was opened is closed again and the error is thrown.
    public func open(whileRecovering: () throws -> Void = {}) throws {
        var database: KPIDatabase? = nil
        do {
            database = try openStorage()
            try whileRecovering()
            try recoverAndStart(database!)
        } catch {
            // The writer owns the database once it runs; before that it is closed here.
            if state.withLock({ $0.writer == nil }) { database?.close() }
            close()
            throw error
        }
    }

    private func openStorage() throws -> KPIDatabase {
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let lock = try DataDirectoryLock(directory: configuration.dataDirectory)
        state.withLock { $0.lock = lock }
        let path = configuration.databasePath
        let database = try KPIDatabase(
            path: path, durability: configuration.durability, logger: logger, softwareVersion: ServiceMetrics.version)
        state.withLock { $0.databasePath = path }
        if mode == .serve { try openSecurity(path: path) }
        if mode != .ingest {
            // The KPIs read the windows (planned downtime): the server and offline reports alike.
            let maintenance = try MaintenanceCalendar(store: MaintenanceStore(path: path), file: configuration.maintenanceFile)
            state.withLock { $0.maintenance = maintenance }
        }
        try catalog.open(databasePath: path)
        state.withLock { $0.phase = .recovering }
        return database
    }

    private func recoverAndStart(_ database: KPIDatabase) throws {
        let recovery = try StoreRecovery.load(database, into: store, logger: logger)
        state.withLock { $0.recovery = recovery }
        guard mode != .read else {
            database.close()
            state.withLock { $0.phase = .ready }
            return
        }
        if configuration.maxDatabaseBytes > 0 {
            let cap = try database.limitSize(bytes: configuration.maxDatabaseBytes)
            logger.info("database size limited", metadata: ["bytes": "\(cap)"])
        }
        let forwarding = mode == .serve ? try forwardProgress(database) : nil
        let writer = try GroupCommitWriter(
            store: store, database: database,
            limits: WriteLimits(
                maxNewSeriesPerRequest: configuration.maxNewSeriesPerRequest, maxSeries: configuration.maxSeries),
            logger: logger, checkpointInterval: configuration.checkpointIntervalSeconds, observer: metrics,
            forwardProgress: forwarding)
        writer.start()
        state.withLock { $0.writer = writer }
        if mode == .serve {
            startRetention(writer)
            if configuration.demo {
                let demo = try DemoFeed.start(
                    configuration: configuration, store: store, writer: writer, metrics: metrics, logger: logger)
                state.withLock { $0.demo = demo }
            }
        }
        state.withLock { $0.phase = .ready }
        if mode == .serve {
            startRollingKPIs()
            startForwarding(forwarding)
            try startRules()
        }
        logger.info("ready", metadata: ["series": "\(store.seriesCount)", "data": "\(configuration.databasePath)"])
    }

    /// Stops taking new work (``phase`` becomes `stopping`, so ``writer`` is nil from now on)
    /// without closing anything yet; the HTTP layer calls it before draining its requests.
    public func beginStopping() {
        state.withLock { if $0.phase != .stopped { $0.phase = .stopping } }
    }

    /// Stops the schedulers, lets queued commits finish, writes a final checkpoint, and closes
    /// every connection and the lock. Idempotent.
    public func close() {
        let s = state.withLock { s -> State? in
            if s.phase == .stopped { return nil }
            let taken = s
            s = State()
            s.phase = .stopped
            return taken
        }
        guard let s else { return }
        s.rules?.stop()
        s.retention?.stop()
        s.demo?.stop()
        s.rolling?.stop()
        // The forwarder stops before the writer's last checkpoint stores its position.
        s.forwarder?.stop()
        s.writer?.shutdown()
        s.auditLog?.close()
        s.maintenance?.close()
        s.authenticator?.store.close()
        catalog.close()
        s.lock?.release()
        if s.databasePath != nil { logger.info("stopped") }
    }

    /// Where the runtime is in its life.
    public var phase: Phase { state.withLock { $0.phase } }

    /// Whether reads and writes are served (the store is loaded and the writer runs).
    public var isReady: Bool { phase == .ready }

    /// The writer, while ready; nil before and once stopping.
    public var writer: GroupCommitWriter? { state.withLock { $0.phase == .ready ? $0.writer : nil } }

    /// The token cache, once the database is open (serve mode).
    public var authenticator: Authenticator? { state.withLock { $0.authenticator } }

    /// The audit log, once the database is open (serve mode).
    public var auditLog: AuditLog? { state.withLock { $0.auditLog } }

    /// What loading the store found (time, corrupt rows left out).
    public var recovery: StoreRecovery.Summary? { state.withLock { $0.recovery } }

    /// The maintenance windows (serve and read modes).
    public var maintenance: MaintenanceCalendar? { state.withLock { $0.maintenance } }

    /// The alerting and recording rules (serve mode, once ready).
    public var rules: RuleManager? { state.withLock { $0.rules } }

    /// The PromQL engine over the store, with the configured lookback and sample limit (the
    /// query API and the rules use it).
    public var promQLEngine: PromQLEngine {
        PromQLEngine(
            store: store,
            options: PromQLOptions(
                lookbackDeltaMs: configuration.queryLookbackDeltaMs, maxSamples: configuration.queryMaxSamples))
    }

    /// The forwarder, when `forward-url` is set.
    public var forwarder: Forwarder? { state.withLock { $0.forwarder } }

    /// The live demo feed, when `demo` is on.
    public var demo: DemoFeed? { state.withLock { $0.demo } }

    /// Ingests a decoded batch through the writer and waits for its commit.
    public func write(_ batch: SampleBatch) -> Result<WriteResult, WriteError> {
        guard let writer else { return .failure(.unavailable) }
        return writer.submit(batch)
    }

    /// Records an audit entry (for actions outside an HTTP request). Returns at once.
    public func audit(_ entry: AuditEntry) {
        auditLog?.record(entry)
    }

    /// Bytes of the database file and its write-ahead log, once open.
    public var databaseFileBytes: Int64? {
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

    /// The SQL engine's limits and time zone from the configuration, reading within `scope`.
    public func queryOptions(parameters: [String: Value] = [:], scope: [LabelMatcher], timeZone: TimeZone? = nil)
        -> QueryOptions
    {
        var options = QueryOptions(
            now: configuration.clock.nowMilliseconds(),
            timeZone: timeZone ?? TimeZone(identifier: configuration.queryTimeZone) ?? TimeZone(identifier: "UTC")!,
            parameters: parameters,
            limits: QueryLimits(
                maxSeries: configuration.queryMaxSeries, maxSamples: configuration.queryMaxSamples,
                maxRows: configuration.queryMaxRows, timeoutMilliseconds: configuration.queryTimeoutMs,
                maxGroupBytes: configuration.queryMaxMemoryBytes))
        options.seriesScope = scope
        options.staleness = configuration.staleness
        options.maintenance =
            maintenance?.all.map { MaintenanceSpan(matchers: $0.matchers, startMs: $0.record.startsMs, endMs: $0.record.endsMs) } ?? []
        return options
    }

    // MARK: Security

    /// Opens the token table and the audit log on connections of their own (the database at
    /// `path` is migrated already) and says whether requests need a token.
    private func openSecurity(path: String) throws {
        let tokens = try TokenStore(path: path)
        let authenticator = Authenticator(store: tokens)
        let audit = try AuditLog(path: path, retentionMs: configuration.auditRetentionMs, logger: logger)
        state.withLock {
            $0.authenticator = authenticator
            $0.auditLog = audit
        }
        if configuration.authenticationRequired {
            let active = authenticator.activeTokenCount
            if active == 0 {
                let text =
                    "authentication is on but no API token exists: every API request will be refused; create one with "
                    + "`kpid token create --role admin --data \(configuration.dataDirectory)`"
                logger.warning("\(text)")
            } else {
                logger.info("authentication on", metadata: ["tokens": "\(active)"])
            }
        } else {
            let text =
                "authentication is OFF (auth = \(configuration.auth.rawValue), bind \(configuration.bind)): anyone who can reach "
                + "this address can read, write and administer kpid; use --auth on or bind a non-loopback address"
            logger.warning("\(text)")
        }
    }

    // MARK: Schedulers

    /// The configured retention with each `template/<name>` rule expanded to the metrics that
    /// template's queries read (templates read now; an unknown template is logged and ignored).
    public func effectiveRetention() -> RetentionPolicy {
        let configured = configuration.retention
        guard !configured.templateRules.isEmpty else { return configured }
        let templates = (try? catalog.templates()) ?? []
        let (policy, unknown) = configured.expandingTemplates { name in
            templates.first { $0.name == name }?.metricNames
        }
        for name in unknown {
            logger.warning(
                "retention rule names an unknown template; ignored",
                metadata: ["template": "\(name)", "templates_dir": "\(configuration.templatesDirectory)"])
        }
        return policy
    }

    /// One retention run now, as the periodic one does (nothing when no retention is set).
    public func runRetentionOnce() -> Result<DeletionSummary, WriteError> {
        guard let writer else { return .failure(.unavailable) }
        return RetentionScheduler(
            writer: writer, policy: effectiveRetention(), interval: configuration.retentionIntervalSeconds,
            metrics: retentionMetrics, logger: logger, clock: configuration.clock
        ).runOnce()
    }

    /// Runs retention once (before the API opens), then every `retention-interval` if any
    /// retention is set.
    private func startRetention(_ writer: GroupCommitWriter) {
        let policy = effectiveRetention()
        guard policy.isEnabled else { return }
        let scheduler = RetentionScheduler(
            writer: writer, policy: policy, interval: configuration.retentionIntervalSeconds, metrics: retentionMetrics,
            logger: logger, clock: configuration.clock)
        scheduler.runOnce()
        scheduler.start()
        state.withLock { $0.retention = scheduler }
    }

    /// Starts the scheduled KPI rounds (after the writer, so rounds can record their values).
    private func startRollingKPIs() {
        guard configuration.kpiIntervalSeconds > 0 else { return }
        let scheduler = RollingKPIScheduler(runtime: self)
        state.withLock { $0.rolling = scheduler }
        scheduler.start()
    }

    /// One round of rolling KPIs now (every window with `force`); the number of failed
    /// evaluations.
    @discardableResult
    public func runRollingRound(force: Bool = false) -> Int {
        RollingKPIScheduler(runtime: self).runRound(force: force)
    }

    /// The value of every KPI of `template` at `site` over each window ending at `now`, read
    /// within `scope`, with the value over the window before.
    public func evaluateWindows(
        _ template: KPITemplate, site: SiteDefinition, windows: [RollingWindow], now: Int64, scope: [LabelMatcher]
    ) throws(TemplateEvaluationError) -> [RollingValue] {
        try RollingKPIScheduler(runtime: self).evaluateWindows(template, site: site, windows: windows, now: now, scope: scope)
    }

    /// Loads the rule files and starts evaluating them (after the writer, so results are recorded).
    private func startRules() throws {
        let manager = try RuleManager(runtime: self)
        state.withLock { $0.rules = manager }
        manager.start()
    }

    /// The forwarding position to hand the writer, read from the database (or, the first time,
    /// the newest write-ahead row: forwarding starts with what is written from now on).
    private func forwardProgress(_ database: KPIDatabase) throws -> ForwardProgress? {
        guard configuration.forwardURL != nil else { return nil }
        let start = try database.forwardSequence ?? database.highestAssignedSequence()
        return ForwardProgress(sequence: start)
    }

    /// Starts the forwarder thread (after the writer).
    private func startForwarding(_ progress: ForwardProgress?) {
        guard let progress, let text = configuration.forwardURL, let url = URL(string: text) else { return }
        let forwarder = Forwarder(
            url: url, bearerToken: configuration.forwardBearerToken, batchSamples: configuration.forwardBatchSamples,
            queueMaxSamples: configuration.forwardQueueMaxSamples, progress: progress, store: store,
            databasePath: configuration.databasePath, logger: logger)
        state.withLock { $0.forwarder = forwarder }
        forwarder.start()
        logger.info("forwarding samples", metadata: ["url": "\(text)", "from_sequence": "\(progress.sequence)"])
    }
}
