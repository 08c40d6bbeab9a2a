import Foundation
import KPIRuntime
import KPICore
import KPIHTTP
import KPIStorage
import Synchronization

/// What a handler adds to its request's audit entry: the rows it returned and a better
/// description than the query string (a SQL or PromQL statement, say).
final class AuditNote: Sendable {
    private let state = Mutex<(rows: Int?, detail: String?)>((nil, nil))

    func set(rows: Int?, detail: String?) {
        state.withLock { state in
            if let rows { state.rows = rows }
            if let detail { state.detail = detail }
        }
    }

    var value: (rows: Int?, detail: String?) { state.withLock { $0 } }
}

/// The audit log: every admin action and every query, with who, when, what, rows, time and
/// status, in the append-only `audit` table.
///
/// The dispatcher writes one entry per request to a `read` or `admin` route (except the
/// scrape and health endpoints in ``unauditedRoutes``), and one per refused request (401/403)
/// to any non-open route. Handlers enrich their request's entry with
/// ``KPIService/audit(_:rows:detail:)``:
///
/// ```swift
/// Route("/api/v1/sql", ["POST"], .read, .now { service, request, match throws(APIError) in
///     let result = try service.runSQL(...)
///     service.audit(match, rows: result.rowCount, detail: sqlText)
///     return result.response
/// })
/// ```
///
/// Entries are queued in memory and written by a background thread in batches (one
/// transaction per second at most), never on the request path.
extension KPIService {
    /// Read routes not audited: scrapes and health checks, polled every few seconds.
    static let unauditedRoutes: Set<String> = ["/metrics", "/api/v1/status/buildinfo"]

    /// Admin routes for the audit log.
    static let auditRoutes: [Route] = [
        Route("/api/v1/audit", ["GET"], .admin, .now { s, r, m throws(APIError) in try s.auditQuery(r, m) })
    ]

    /// Adds the row count and a description (the statement run) to the audit entry of the
    /// request `match` belongs to; the dispatcher writes the entry when the answer goes out,
    /// with status and elapsed time. Call it from any handler of a `read` or `admin` route.
    func audit(_ match: RouteMatch, rows: Int?, detail: String? = nil) {
        match.auditNote.set(rows: rows, detail: detail)
    }

    /// Records an entry directly (for actions outside an HTTP request). Returns at once.
    public func audit(_ entry: AuditEntry) {
        auditLog?.record(entry)
    }

    /// Whether the dispatcher writes an entry for a request to `route`.
    static func isAudited(_ route: Route) -> Bool {
        (route.access == .read || route.access == .admin) && !unauditedRoutes.contains(route.pattern)
    }

    /// Writes the entry of one answered request.
    func recordAudit(
        _ request: HTTPRequest, route: String, principal: Principal?, note: AuditNote?, status: Int, started: DispatchTime
    ) {
        guard let auditLog else { return }
        let elapsedMs = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
        let nowMs = configuration.clock.nowMilliseconds()
        let noted: (rows: Int?, detail: String?) = note?.value ?? (nil, nil)
        let detail =
            noted.detail
            ?? request.query.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        let path = request.path == route ? route : "\(route) \(request.path)"
        auditLog.record(
            AuditEntry(
                timestampMs: nowMs - Int64(elapsedMs.rounded()), principal: principal?.name ?? "-", tokenID: principal?.tokenID,
                action: "\(request.method) \(path)", detail: detail, status: status, rows: noted.rows, elapsedMs: elapsedMs,
                remote: request.remoteAddress))
    }

    /// `GET /api/v1/audit?from=&to=&principal=&limit=`: entries oldest first. `from`/`to` are
    /// RFC 3339 or unix seconds (default: the last 24 hours); `limit` defaults to 1000, at most
    /// 100000.
    func auditQuery(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        guard let auditLog else { throw APIError(status: 503, message: "the audit log is not open") }
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
