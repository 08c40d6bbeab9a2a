import Foundation
import KPICore
import KPIHTTP
import KPIRuntime
import KPIStorage
import KPITemplates
import KPIWire
import Logging
import Synchronization

/// Admin operations over HTTP besides tokens, sites and the audit log: backups, retention
/// runs, series deletion and rolling KPI rounds on demand.
struct AdminController: Controller {
    let runtime: Runtime

    var routes: [Route] {
        [
            Route("/api/v1/admin/backup", [.post], .admin, .now { _, m throws(APIError) in try self.backupNow(m) }),
            Route(
                "/api/v1/series", [.delete], .admin,
                .now { r, m throws(APIError) in try self.deleteSeries(r, m, prometheusShape: false) }),
            Route(
                "/api/v1/admin/tsdb/delete_series", [.post, .put], .admin, form: true,
                .now { r, m throws(APIError) in try self.deleteSeries(r, m, prometheusShape: true) }),
            Route("/api/v1/admin/retention", [.post], .admin, .now { _, m throws(APIError) in try self.runRetentionNow(m) }),
            Route(
                "/api/v1/admin/kpis/evaluate", [.post], .admin,
                .now { _, m throws(APIError) in try self.evaluateRollingNow(m) }),
        ]
    }

    /// Where `POST /api/v1/admin/backup` writes: `backups/` in the data directory. The client
    /// chooses no path, so an admin token cannot make kpid write files elsewhere.
    var backupDirectory: String { (configuration.dataDirectory as NSString).appendingPathComponent("backups") }

    /// `POST /api/v1/admin/backup`: an online backup (as `kpid backup`) to
    /// `<data>/backups/kpid-<UTC time>.sqlite`; answers its path and size. Runs on the request's
    /// thread; ingest and reads go on meanwhile.
    func backupNow(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        let path = (backupDirectory as NSString).appendingPathComponent("kpid-\(formatter.string(from: Date())).sqlite")
        do {
            try FileManager.default.createDirectory(atPath: backupDirectory, withIntermediateDirectories: true)
            try KPIDatabase.backup(from: configuration.databasePath, to: path)
        } catch {
            logger.error("backup failed", metadata: ["path": "\(path)", "error": "\(error)"])
            throw APIError(status: 503, message: "the backup failed: \(error)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        audit(match, rows: 1, detail: "backup to \(path)")
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":{\"path\":")
        w.string(path)
        w.raw(",\"bytes\":\(size)}}\n")
        return .json(200, w.bytes)
    }

    /// `POST /api/v1/admin/retention`: one retention run now (as the periodic one), answering
    /// what it removed. With no retention set it removes nothing.
    func runRetentionNow(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        guard writer != nil else { throw APIError(status: 503, message: "kpid is not ready or shutting down") }
        let policy = runtime.effectiveRetention()
        let summary: DeletionSummary
        switch runtime.runRetentionOnce() {
        case .success(let s): summary = s
        case .failure(.unavailable): throw APIError(status: 503, message: "kpid is not ready or shutting down")
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
        runtime.retentionMetrics.deleted(summary)
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

    /// `POST /api/v1/admin/kpis/evaluate`: one round of every window now (waits for it); answers how many
    /// evaluations failed.
    func evaluateRollingNow(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let failures = runtime.runRollingRound(force: true)
        let c = runtime.rollingKPIs.counts.withLock { $0 }
        let count = c.values.values.reduce(0) { $0 + $1.count }
        audit(match, rows: count, detail: "KPI round: \(failures) failed")
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":{\"values\":\(count),\"failures\":\(failures)}}\n")
        return .json(200, w.bytes)
    }
}
