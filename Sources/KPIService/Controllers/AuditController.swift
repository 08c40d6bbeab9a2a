import Foundation
import KPICore
import KPIHTTP
import KPIRuntime
import KPIStorage
import Synchronization

/// The audit log over HTTP (`GET /api/v1/audit`): every admin action and every query, with
/// who, when, what, rows, time and status, from the append-only `audit` table.
///
/// The ``Router`` writes one entry per request to a `read` or `admin` route (except the
/// scrape and health endpoints in ``Router/unauditedRoutes``), and one per refused request
/// (401/403) to any non-open route. Handlers enrich their request's entry with
/// ``Controller/audit(_:rows:detail:)``:
///
/// ```swift
/// Route("/api/v1/sql", [.post], .read, .now { request, match throws(APIError) in
///     let result = try self.runSQL(...)
///     self.audit(match, rows: result.rowCount, detail: sqlText)
///     return result.response
/// })
/// ```
///
/// Entries are queued in memory and written by a background thread in batches (one
/// transaction per second at most), never on the request path.
struct AuditController: Controller {
    let runtime: Runtime

    var routes: [Route] {
        [
            Route("/api/v1/audit", [.get], .admin, .now { r, m throws(APIError) in try self.auditQuery(r, m) })
        ]
    }

    /// `GET /api/v1/audit?from=&to=&principal=&limit=`: entries oldest first. `from`/`to` are
    /// RFC 3339 or unix seconds (default: the last 24 hours); `limit` defaults to 1000, at most
    /// 100000.
    func auditQuery(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        guard let auditLog = runtime.auditLog else { throw APIError(status: 503, message: "the audit log is not open") }
        let nowMs = configuration.clock.nowMilliseconds()
        let from = try timeParameter(request, "from", default: nowMs - 86_400_000)
        let to = try timeParameter(request, "to", default: .max)
        guard from <= to else { throw APIError.badParameter("to", "to is before from") }
        var limit = 1000
        if let text = request.queryValue("limit") {
            guard let value = Int(text), (1...100_000).contains(value) else {
                throw APIError.badParameter("limit", "\"\(text)\" is not a whole number in 1...100000")
            }
            limit = value
        }
        let principal = request.queryValue("principal").flatMap { $0.isEmpty ? nil : $0 }
        let entries: [AuditEntry]
        do {
            entries = try auditLog.entries(fromMs: from, toMs: to, principal: principal, limit: limit)
        } catch {
            throw APIError(status: 503, message: "the audit log cannot be read: \(error)")
        }
        audit(match, rows: entries.count)
        var w = JSONWriter(capacity: 128 + entries.count * 200)
        w.raw("{\"status\":\"success\",\"data\":[")
        for (i, e) in entries.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"seq\":\(e.seq),\"ts\":\(e.timestampMs),\"time\":")
            w.string(Self.rfc3339(e.timestampMs))
            w.raw(",\"principal\":")
            w.string(e.principal)
            w.raw(",\"token_id\":\(e.tokenID.map(String.init) ?? "null"),\"action\":")
            w.string(e.action)
            w.raw(",\"detail\":")
            w.string(e.detail)
            w.raw(",\"status\":\(e.status),\"rows\":\(e.rows.map(String.init) ?? "null"),\"elapsed_ms\":")
            w.raw(String(format: "%.3f", e.elapsedMs))
            w.raw(",\"remote\":")
            if let remote = e.remote { w.string(remote) } else { w.raw("null") }
            w.raw("}")
        }
        w.raw("]}\n")
        return .json(200, w.bytes)
    }

    static func rfc3339(_ ms: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
