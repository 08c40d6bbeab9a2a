import Foundation
import KPICore
import KPIHTTP
import KPIStorage
import KPITemplates
import KPIWire
import Logging
import Synchronization

/// Counters of what retention and deletions removed, for /metrics.
final class RetentionMetrics: Sendable {
    struct Counts: Sendable {
        var retentionSamples: UInt64 = 0
        var retentionChunks: UInt64 = 0
        var retentionSeries: UInt64 = 0
        var retentionRuns: [String: UInt64] = [:]  // by result
        var lastRunSeconds: Double? = nil
        var lastRunDurationSeconds = 0.0
        var deletedSamples: UInt64 = 0
        var deletedSeries: UInt64 = 0
        var deleteRequests: UInt64 = 0
        var pagesReclaimed: UInt64 = 0
    }

    let counts = Mutex(Counts())

    func retentionRan(_ result: Result<DeletionSummary, WriteError>, seconds: Double) {
        counts.withLock {
            $0.lastRunSeconds = Date().timeIntervalSince1970
            $0.lastRunDurationSeconds = seconds
            switch result {
            case .success(let s):
                $0.retentionRuns["success", default: 0] += 1
                $0.retentionSamples += UInt64(s.samples)
                $0.retentionChunks += UInt64(s.chunks)
                $0.retentionSeries += UInt64(s.seriesRemoved)
                $0.pagesReclaimed += UInt64(s.pagesReclaimed)
            case .failure:
                $0.retentionRuns["failure", default: 0] += 1
            }
        }
    }

    func deleted(_ summary: DeletionSummary) {
        counts.withLock {
            $0.deleteRequests += 1
            $0.deletedSamples += UInt64(summary.samples)
            $0.deletedSeries += UInt64(summary.seriesRemoved)
            $0.pagesReclaimed += UInt64(summary.pagesReclaimed)
        }
    }

    /// Appends the families in the text format (before OpenMetrics' `# EOF`, if present).
    func append(to body: inout [UInt8], openMetrics: Bool) {
        let c = counts.withLock { $0 }
        ExpositionWriter.append(to: &body, openMetrics: openMetrics) { out in
            out.family("kpid_retention_deleted_samples_total", "counter", "Samples removed by retention.")
            out.sample("kpid_retention_deleted_samples_total", [], Double(c.retentionSamples))
            out.family("kpid_retention_deleted_chunks_total", "counter", "Sealed chunks dropped by retention.")
            out.sample("kpid_retention_deleted_chunks_total", [], Double(c.retentionChunks))
            out.family("kpid_retention_deleted_series_total", "counter", "Series removed by retention (no sample left).")
            out.sample("kpid_retention_deleted_series_total", [], Double(c.retentionSeries))
            out.family("kpid_retention_runs_total", "counter", "Retention runs, by result.")
            for (result, n) in c.retentionRuns.sorted(by: { $0.key < $1.key }) {
                out.sample("kpid_retention_runs_total", [("result", result)], Double(n))
            }
            if let last = c.lastRunSeconds {
                out.family("kpid_retention_last_run_timestamp_seconds", "gauge", "Unix time of the last retention run.")
                out.sample("kpid_retention_last_run_timestamp_seconds", [], last.rounded())
                out.family("kpid_retention_last_run_duration_seconds", "gauge", "Duration of the last retention run.")
                out.sample("kpid_retention_last_run_duration_seconds", [], c.lastRunDurationSeconds)
            }
            out.family("kpid_series_delete_requests_total", "counter", "Series deletions through the admin API.")
            out.sample("kpid_series_delete_requests_total", [], Double(c.deleteRequests))
            out.family("kpid_deleted_samples_total", "counter", "Samples removed through the admin delete API.")
            out.sample("kpid_deleted_samples_total", [], Double(c.deletedSamples))
            out.family("kpid_deleted_series_total", "counter", "Series removed through the admin delete API.")
            out.sample("kpid_deleted_series_total", [], Double(c.deletedSeries))
            out.family("kpid_sqlite_pages_reclaimed_total", "counter", "Free SQLite pages returned to the file system after deletions.")
            out.sample("kpid_sqlite_pages_reclaimed_total", [], Double(c.pagesReclaimed))
        }
    }
}

/// Runs retention every `interval` on its own thread (the work itself runs on the writer
/// thread, between group commits, see `GroupCommitWriter.exclusive`).
final class RetentionScheduler: Sendable {
    private let writer: GroupCommitWriter
    private let policy: RetentionPolicy
    private let interval: TimeInterval
    private let metrics: RetentionMetrics
    private let logger: Logger
    private let clock: WallClock
    private let thread = BackgroundThread()

    init(
        writer: GroupCommitWriter, policy: RetentionPolicy, interval: TimeInterval, metrics: RetentionMetrics,
        logger: Logger, clock: WallClock
    ) {
        self.clock = clock
        self.writer = writer
        self.policy = policy
        self.interval = interval
        self.metrics = metrics
        self.logger = logger
    }

    /// One run now, on the calling thread (waits for the writer).
    @discardableResult
    func runOnce() -> Result<DeletionSummary, WriteError> {
        let started = DispatchTime.now()
        let nowMs = clock.nowMilliseconds()
        let result = writer.enforceRetention(policy, nowMs: nowMs)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        metrics.retentionRan(result, seconds: seconds)
        switch result {
        case .success(let s):
            if s.samples > 0 || s.seriesRemoved > 0 {
                logger.info(
                    "retention",
                    metadata: [
                        "samples": "\(s.samples)", "chunks": "\(s.chunks)", "series_removed": "\(s.seriesRemoved)",
                        "pages_reclaimed": "\(s.pagesReclaimed)", "seconds": "\(String(format: "%.3f", seconds))",
                    ])
            }
        case .failure(.unavailable):
            break
        case .failure(let error):
            logger.error("retention run failed; will retry", metadata: ["error": "\(error)"])
        }
        return result
    }

    func start() {
        thread.every(interval, name: "kpid-retention", immediately: false) { [self] in runOnce() }
    }

    /// Stops the thread and waits for a run in progress.
    func stop() { thread.stop() }
}

extension KPIService {
    /// Series deletion (admin): kpid's shape and Prometheus' admin API shape.
    static let retentionRoutes: [Route] = [
        Route(
            "/api/v1/series", ["DELETE"], .admin,
            .now { s, r, m throws(APIError) in try s.deleteSeries(r, m, prometheusShape: false) }),
        Route(
            "/api/v1/admin/tsdb/delete_series", ["POST", "PUT"], .admin, form: true,
            .now { s, r, m throws(APIError) in try s.deleteSeries(r, m, prometheusShape: true) }),
        Route("/api/v1/admin/retention", ["POST"], .admin, .now { s, _, m throws(APIError) in try s.runRetentionNow(m) }),
    ]

    /// `POST /api/v1/admin/retention`: one retention run now (as the periodic one), answering
    /// what it removed. With no retention set it removes nothing.
    func runRetentionNow(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        guard let writer else { throw APIError(status: 503, message: "kpid is not ready or shutting down") }
        let policy = effectiveRetention()
        let scheduler = RetentionScheduler(
            writer: writer, policy: policy, interval: configuration.retentionIntervalSeconds, metrics: retentionMetrics,
            logger: logger, clock: configuration.clock)
        let summary: DeletionSummary
        switch scheduler.runOnce() {
        case .success(let s): summary = s
        case .failure(let error):
            throw APIError(status: 503, message: "the retention run failed; nothing was deleted: \(error)")
        }
        audit(match, rows: summary.samples, detail: "retention run: \(summary.samples) samples, \(summary.seriesRemoved) series removed")
        var w = JSONWriter()
        w.raw(
            "{\"status\":\"success\",\"data\":{\"enabled\":\(policy.isEnabled),\"samples_deleted\":\(summary.samples),"
                + "\"chunks_deleted\":\(summary.chunks),\"series_removed\":\(summary.seriesRemoved),"
                + "\"pages_reclaimed\":\(summary.pagesReclaimed)}}\n")
        return .json(200, w.bytes)
    }

    /// The configured retention with each `template/<name>` rule expanded to the metrics that
    /// template's queries read (templates read now; an unknown template is logged and ignored).
    func effectiveRetention() -> RetentionPolicy {
        let configured = configuration.retention
        guard !configured.templateRules.isEmpty else { return configured }
        let templates = (try? TemplateLoader.loadDirectory(configuration.templatesDirectory)) ?? []
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

    /// Runs retention once (before the API opens), then every `retention-interval` if any
    /// retention is set. Called by `start()` once the writer runs.
    func startRetention(_ writer: GroupCommitWriter) {
        let policy = effectiveRetention()
        guard policy.isEnabled else { return }
        let scheduler = RetentionScheduler(
            writer: writer, policy: policy, interval: configuration.retentionIntervalSeconds, metrics: retentionMetrics,
            logger: logger, clock: configuration.clock)
        scheduler.runOnce()
        scheduler.start()
        state.withLock { $0.retentionScheduler = scheduler }
    }

    /// Stops the retention thread (waiting for a run in progress). Called by `stop()` before
    /// the writer shuts down.
    func stopRetention() {
        let scheduler = state.withLock { s -> RetentionScheduler? in
            defer { s.retentionScheduler = nil }
            return s.retentionScheduler
        }
        scheduler?.stop()
    }

    /// `DELETE /api/v1/series?match[]=SEL&start=&end=` and
    /// `POST /api/v1/admin/tsdb/delete_series`: deletes the selected series' samples in
    /// `[start, end]` (all when neither is given), durably, and removes series left empty.
    /// A selection of every series in the store (more than one) needs `all=true`.
    func deleteSeries(_ request: HTTPRequest, _ match: RouteMatch, prometheusShape: Bool) throws(APIError) -> HTTPResponse {
        let selectors = request.queryValues("match[]") + request.queryValues("match")
        guard !selectors.isEmpty else {
            throw APIError.badParameter(
                "match[]", "a series selector is required, e.g. match[]=queue_wait_seconds{site=\"JFK\"}")
        }
        let start = try timeParameter(request, "start", default: .min)
        let end = try timeParameter(request, "end", default: .max)
        guard start <= end else { throw APIError.badParameter("end", "end is before start") }
        let all = request.queryValue("all")
        guard all == nil || all == "true" || all == "false" else {
            throw APIError.badParameter("all", "\"\(all!)\" is not true or false")
        }
        let selected = try selectSeries(request, principal: match.principal)
        let total = store.seriesCount
        if total > 1 && selected.count == total && all != "true" {
            throw APIError.badParameter(
                "match[]", "the selectors match every series in the store (\(total)); add all=true to delete them all")
        }
        guard let writer else { throw APIError(status: 503, message: "kpid is not ready or shutting down; nothing was deleted") }
        let range = "[\(start == .min ? "-inf" : String(start)), \(end == .max ? "+inf" : String(end))]"
        let summary: DeletionSummary
        switch writer.deleteSamples(selected.map(\.id), start: start, end: end) {
        case .success(let s): summary = s
        case .failure(.unavailable):
            throw APIError(status: 503, message: "kpid is shutting down; nothing was deleted")
        case .failure(let error):
            logger.error("series deletion failed", metadata: ["error": "\(error)"])
            throw APIError(status: 503, message: "the deletion could not be committed; nothing was deleted: \(error)")
        }
        retentionMetrics.deleted(summary)
        audit(
            match, rows: summary.samples,
            detail:
                "delete series \(selectors.joined(separator: " or ")) in \(range): \(selected.count) series selected, "
                + "\(summary.samples) samples deleted, \(summary.seriesRemoved) series removed")
        logger.notice(
            "series deleted",
            metadata: [
                "match": "\(selectors)", "range": "\(range)", "samples": "\(summary.samples)",
                "series_removed": "\(summary.seriesRemoved)", "principal": "\(match.principal.name)",
            ])
        if prometheusShape { return HTTPResponse(status: 204) }
        var w = JSONWriter()
        w.raw(
            "{\"status\":\"success\",\"data\":{\"series_matched\":\(selected.count),\"samples_deleted\":\(summary.samples),"
                + "\"series_removed\":\(summary.seriesRemoved),\"chunks_rewritten\":\(summary.chunks)}}\n")
        return .json(200, w.bytes)
    }
}
