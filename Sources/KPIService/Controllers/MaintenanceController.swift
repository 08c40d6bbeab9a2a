import Foundation
import KPICore
import KPIHTTP
import KPIPromQL
import KPIRuntime
import KPIWire

/// Maintenance windows over HTTP: `GET /api/v1/maintenance` (read; a site-scoped token sees the
/// windows of its sites), `POST /api/v1/maintenance` (admin: `site` and/or `matchers`, `start`,
/// `end`, `reason`; the author is the caller), `POST /api/v1/maintenance/:id/end` (ends it
/// now) and `DELETE /api/v1/maintenance/:id`. Every change is audited.
struct MaintenanceController: Controller {
    let runtime: Runtime

    /// The longest window accepted.
    static let maximumLengthMs: Int64 = 366 * 86_400_000

    var routes: [Route] {
        [
            Route("/api/v1/maintenance", [.get], .read, .now { _, m throws(APIError) in try self.list(m) }),
            Route("/api/v1/maintenance", [.post], .admin, .now { r, m throws(APIError) in try self.add(r, m) }),
            Route("/api/v1/maintenance/:id/end", [.post], .admin, .now { _, m throws(APIError) in try self.end(m) }),
            Route("/api/v1/maintenance/:id", [.delete], .admin, .now { _, m throws(APIError) in try self.delete(m) }),
        ]
    }

    private func calendar() throws(APIError) -> MaintenanceCalendar {
        guard let calendar = runtime.maintenance else { throw APIError(status: 503, message: "kpid is not ready or shutting down") }
        return calendar
    }

    static func write(_ window: MaintenanceWindow, now: Int64, to w: inout JSONWriter) {
        let r = window.record
        w.raw("{\"id\":\(r.id),\"matchers\":")
        w.string(r.matchers)
        w.raw(",\"start\":")
        w.string(AlertController.time(r.startsMs))
        w.raw(",\"end\":")
        w.string(AlertController.time(r.endsMs))
        w.raw(",\"active\":\(now >= r.startsMs && now < r.endsMs),\"reason\":")
        w.string(r.reason)
        w.raw(",\"author\":")
        w.string(r.author)
        if !window.fromFile {
            w.raw(",\"created\":")
            w.string(AlertController.time(r.createdMs))
        }
        w.raw(",\"source\":")
        w.string(window.fromFile ? "file" : "api")
        w.raw("}")
    }

    func list(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let now = configuration.clock.nowMilliseconds()
        let allowed = match.principal.allowedSites
        var w = JSONWriter(capacity: 1024)
        w.raw("{\"status\":\"success\",\"data\":[")
        var first = true
        for window in try calendar().all {
            if let allowed, !(window.site.map(allowed.contains) ?? false) { continue }
            if !first { w.raw(",") }
            first = false
            Self.write(window, now: now, to: &w)
        }
        w.raw("]}\n")
        return .json(200, w.bytes)
    }

    func add(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw APIError.badParameter(
                "body",
                "expected a JSON object like {\"site\":\"JFK\",\"matchers\":\"{device=\\\"cam-7\\\"}\",\"start\":\"2026-12-08T02:00:00Z\","
                    + "\"end\":\"2026-12-08T04:00:00Z\",\"reason\":\"firmware upgrade\"}")
        }
        for key in object.keys.sorted() where !["site", "matchers", "start", "end", "reason"].contains(key) {
            throw APIError.badParameter(key, "unknown field; a window has site, matchers, start, end, reason")
        }
        var selector: [LabelMatcher] = []
        if let text = object["matchers"] {
            guard let text = text as? String else {
                throw APIError.badParameter("matchers", "must be a selector string like {device=\"cam-7\"}")
            }
            do {
                selector = try PromQL.parseSeriesSelector(text)
            } catch {
                throw APIError.badParameter("matchers", "\(error)")
            }
        }
        if let site = object["site"] {
            guard let site = site as? String, !site.isEmpty else { throw APIError.badParameter("site", "must be a site id") }
            selector.removeAll { $0.name == "site" }
            selector.append(try! LabelMatcher("site", .equal, site))
        }
        guard !selector.isEmpty else {
            throw APIError.badParameter("matchers", "a window needs a site or matchers (a window over everything is refused)")
        }
        func time(_ name: String) throws(APIError) -> Int64 {
            let value = object[name]
            let text = (value as? String) ?? (value as? NSNumber).map { "\($0)" }
            guard let text, let ms = TimestampParser.parseAPITime(text) else {
                throw APIError.badParameter(name, "must be an RFC 3339 time or unix seconds")
            }
            return ms
        }
        let start = try time("start")
        let end = try time("end")
        guard end > start else { throw APIError.badParameter("end", "must be after start") }
        let (length, overflow) = end.subtractingReportingOverflow(start)
        guard !overflow, length <= Self.maximumLengthMs else { throw APIError.badParameter("end", "a window lasts at most 366 days") }
        guard let reason = object["reason"] as? String, !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw APIError.badParameter("reason", "say why (it is shown with the window and in the audit log)")
        }
        guard reason.utf8.count <= 1000 else { throw APIError.badParameter("reason", "at most 1000 bytes") }
        let text = "{" + selector.map(\.description).joined(separator: ",") + "}"
        let now = configuration.clock.nowMilliseconds()
        let window: MaintenanceWindow
        do {
            window = try calendar().add(
                matchers: text, startsMs: start, endsMs: end, reason: reason, author: match.principal.name, nowMs: now)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(status: 503, message: "the window was not stored: \(error)")
        }
        audit(match, rows: 1, detail: "maintenance window \(window.id) \(text) \(start)..\(end): \(reason)")
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":")
        Self.write(window, now: now, to: &w)
        w.raw("}\n")
        return .json(201, w.bytes)
    }

    private func id(_ match: RouteMatch) throws(APIError) -> Int64 {
        guard let id = Int64(match.parameters["id"] ?? "") else { throw APIError.badParameter("id", "must be a window id") }
        if id < 0 { throw APIError(status: 409, message: "window \(id) is defined in maintenance-file; change it there") }
        return id
    }

    func end(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let id = try id(match)
        let found: Bool
        do { found = try calendar().end(id, nowMs: configuration.clock.nowMilliseconds()) } catch let e as APIError { throw e } catch {
            throw APIError(status: 503, message: "\(error)")
        }
        guard found else { throw APIError(status: 404, message: "no maintenance window \(id)") }
        audit(match, rows: 1, detail: "maintenance window \(id) ended")
        return .json(200, Array("{\"status\":\"success\"}\n".utf8))
    }

    func delete(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let id = try id(match)
        let found: Bool
        do { found = try calendar().delete(id) } catch let e as APIError { throw e } catch {
            throw APIError(status: 503, message: "\(error)")
        }
        guard found else { throw APIError(status: 404, message: "no maintenance window \(id)") }
        audit(match, rows: 1, detail: "maintenance window \(id) deleted")
        return .json(200, Array("{\"status\":\"success\"}\n".utf8))
    }
}
