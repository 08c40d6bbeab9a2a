import Foundation
import KPIRuntime
import KPICore
import KPIHTTP
import KPIStorage
import KPITemplates
import KPIWire
import Logging
import Synchronization

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
}
