import Dispatch
import Foundation
import KPICore
import KPIHTTP
import KPIRuntime
import KPIStorage
import KPIWire

/// Answers every HTTP request: finds its route, runs the middleware in order (authentication
/// and role, the cross-origin write guard, the per-client rate limit, readiness), calls the
/// route's handler, writes the request's audit entry and its metrics, and adds the safety
/// headers. The handlers are the controllers'; nothing here knows a feature.
final class Router: Sendable {
    let runtime: Runtime
    /// Every endpoint, in matching order.
    let routes: [Route]
    /// Per-client request rate limit (`rate-limit`); nil when off.
    let rateLimiter: RateLimiter?

    init(runtime: Runtime, routes: [Route], rateLimiter: RateLimiter?) {
        self.runtime = runtime
        self.routes = routes
        self.rateLimiter = rateLimiter
    }

    private var isReady: Bool { runtime.isReady }

    /// Entry point for every HTTP request (called on a server thread). Ingest answers later,
    /// from the writer thread, once its group commit is done; everything else answers at once.
    func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let started = DispatchTime.now()
        let answer: @Sendable (String, HTTPResponse) -> Void = { [metrics = runtime.metrics] route, response in
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
            metrics.request(route: route, code: response.status.rawValue, seconds: seconds)
            responder.respond(Self.withSafetyHeaders(response, route: route))
        }
        if let (route, response) = dispatch(request, started: started, later: answer) { answer(route, response) }
    }

    /// `X-Content-Type-Options: nosniff` on every answer (a browser must not read a JSON or
    /// text answer as HTML), and `Cache-Control: no-store` on the API's (answers carry site
    /// data a shared cache must not keep); a handler's own headers win.
    static func withSafetyHeaders(_ response: HTTPResponse, route: String) -> HTTPResponse {
        var response = response
        func has(_ name: String) -> Bool { response.headers.contains { $0.name.lowercased() == name } }
        if !has("x-content-type-options") { response.headers.append((name: "X-Content-Type-Options", value: "nosniff")) }
        if route.hasPrefix("/api/") && !has("cache-control") { response.headers.append((name: "Cache-Control", value: "no-store")) }
        return response
    }

    /// The route and answer, or nil when `later` will be called with them.
    private func dispatch(
        _ request: HTTPRequest, started: DispatchTime, later: @escaping @Sendable (String, HTTPResponse) -> Void
    ) -> (String, HTTPResponse)? {
        let path = request.path
        var found: (route: Route, match: RouteMatch)? = nil
        // The first route of the path that takes the method (routes may share a path, e.g.
        // GET and DELETE /api/v1/series); else the first of the path, for a 405.
        for route in routes {
            if let match = route.match(path) {
                if found == nil { found = (route, match) }
                if route.methods.contains(request.method) {
                    found = (route, match)
                    break
                }
            }
        }
        guard let found else {
            return ("other", APIError(status: 404, message: "no such endpoint: \(path)").response)
        }
        let route = found.route
        var match = found.match
        guard route.methods.contains(request.method) else {
            var response = APIError(status: 405, message: "method \(request.method) not allowed on \(path)").response
            response.headers.append((name: "Allow", value: route.methods.map(\.rawValue).joined(separator: ", ")))
            return (match.route, response)
        }
        // Authentication and role (401 with a challenge, 403); refusals are audited.
        switch authorize(request, access: route.access) {
        case .allowed(let principal):
            match.principal = principal
            if let reason = Self.crossOriginWriteRefusal(request) {
                recordAudit(request, route: match.route, principal: principal, note: nil, status: 403, started: started)
                return (match.route, APIError(status: 403, message: reason).response)
            }
        case .refused(let error, let principal):
            runtime.metrics.authFailed(status: error.status.rawValue)
            var response = error.response
            if error.status == 401 { response.headers.append((name: "WWW-Authenticate", value: Self.authenticateChallenge)) }
            recordAudit(request, route: match.route, principal: principal, note: nil, status: error.status.rawValue, started: started)
            return (match.route, response)
        }
        if route.access != .open, let limiter = rateLimiter {
            let key = match.principal.tokenID.map { "token:\($0)" } ?? "address:\(request.remoteAddress ?? "unknown")"
            if let wait = limiter.take(key, kind: match.principal.tokenID == nil ? "address" : "token") {
                var response = APIError(
                    status: 429, message: "too many requests",
                    details: [
                        ErrorDetail(
                            field: "rate",
                            reason:
                                "over \(DoubleFormatter.string(limiter.rate)) requests a second (burst \(Int(limiter.burst))) for this client; retry later"
                        )
                    ]
                ).response
                response.headers.append((name: "Retry-After", value: String(max(1, Int(wait.rounded(.up))))))
                return (match.route, response)
            }
        }
        guard route.access == .open || isReady else {
            return (match.route, APIError(status: 503, message: "kpid is starting: the store is being loaded").response)
        }
        let audited = Self.isAudited(route)
        let routeMatch = match
        let audit: @Sendable (HTTPRequest, Int) -> Void = { [self] request, status in
            guard audited else { return }
            recordAudit(
                request, route: routeMatch.route, principal: routeMatch.principal, note: routeMatch.auditNote, status: status,
                started: started)
        }
        var formRequest = request
        do {
            formRequest = route.acceptsForm ? try Self.withFormParameters(request) : request
            let request = formRequest
            switch route.handler {
            case .now(let handler):
                let response = try handler(request, match)
                audit(request, response.status.rawValue)
                return (match.route, response)
            case .later(let handler):
                try handler(request, match) { response in
                    audit(request, response.status.rawValue)
                    later(routeMatch.route, response)
                }
                return nil
            }
        } catch {
            audit(formRequest, error.status.rawValue)
            return (match.route, error.response)
        }
    }

    /// Why a write is refused as cross-origin, or nil. A browser that holds credentials for
    /// kpid (basic auth, a cached token) sends them with any page's form or `fetch`, and a
    /// `text/plain` POST needs no preflight; so a state-changing request (POST, PUT, PATCH,
    /// DELETE) that a browser marks as coming from another origin is refused: an `Origin`
    /// header whose host and port are not this request's `Host` (or `Origin: null`), or
    /// `Sec-Fetch-Site: cross-site`. Clients that are not browsers send neither header.
    static func crossOriginWriteRefusal(_ request: HTTPRequest) -> String? {
        guard request.method.isWrite else { return nil }
        if request.header("sec-fetch-site")?.lowercased() == "cross-site" {
            return "cross-site write refused (Sec-Fetch-Site: cross-site): send it from kpid's own origin or without a browser"
        }
        guard let origin = request.header("origin") else { return nil }
        let host = (request.header("host") ?? "").lowercased()
        let originHost: Substring? = origin.lowercased().split(separator: "://", maxSplits: 1).dropFirst().first
        guard let originHost, !host.isEmpty, originHost == host[...] else {
            return "cross-origin write refused: Origin \"\(origin.prefix(200))\" is not this server (Host \"\(host.prefix(200))\")"
        }
        return nil
    }

    /// Folds an `application/x-www-form-urlencoded` POST body into the query parameters, as
    /// Prometheus does: Grafana sends its API calls as form posts by default.
    static func withFormParameters(_ request: HTTPRequest) throws(APIError) -> HTTPRequest {
        guard request.method == .post,
            let type = request.header("content-type")?.lowercased(),
            type.hasPrefix("application/x-www-form-urlencoded")
        else { return request }
        guard let form = FormDecoder.decode(request.body) else {
            throw APIError(
                status: 400, message: "invalid form body",
                details: [ErrorDetail(field: "body", reason: "malformed percent-encoding")])
        }
        var merged = request
        merged.query += form
        return merged
    }

    // MARK: Authentication

    /// The principal for a request to a route declaring `access`, or the 401/403 answer.
    /// Open routes, and every route while authentication is off, get ``Principal/unrestricted``.
    func authorize(_ request: HTTPRequest, access: RouteAccess) -> Authorization {
        guard access != .open, runtime.configuration.authenticationRequired else { return .allowed(.unrestricted) }
        guard let authenticator = runtime.authenticator else {
            return .refused(APIError(status: 503, message: "kpid is starting"), nil)
        }
        switch authenticator.authenticate(authorization: request.header("authorization")) {
        case .unauthenticated:
            // The same answer for a missing, malformed, unknown or revoked token.
            return .refused(APIError(status: 401, message: "authentication required"), nil)
        case .authenticated(let principal):
            guard principal.may(access) else {
                return .refused(APIError(status: 403, message: "this token's role does not allow this request"), principal)
            }
            return .allowed(principal)
        }
    }

    /// The outcome of ``authorize(_:access:)``.
    enum Authorization {
        case allowed(Principal)
        /// The answer to send, and who was refused when the token was valid (403).
        case refused(APIError, Principal?)
    }

    /// The `WWW-Authenticate` challenge sent with 401. Only Bearer is announced, although basic
    /// auth (token as password) is accepted: the clients that use basic auth with kpid
    /// (Prometheus, Grafana, curl -u) send it without being asked, and a Basic challenge makes
    /// Foundation's URLSession on Linux stall instead of returning the 401 (seen with
    /// swift-corelibs-foundation 6.0), which would hang `kpid ingest` given a bad token.
    static let authenticateChallenge = "Bearer realm=\"kpid\""

    // MARK: Audit

    /// Read routes not audited: scrapes and health checks, polled every few seconds.
    static let unauditedRoutes: Set<String> = ["/metrics", "/api/v1/status/buildinfo"]

    /// Whether the dispatcher writes an entry for a request to `route`.
    static func isAudited(_ route: Route) -> Bool {
        (route.access == .read || route.access == .admin) && !unauditedRoutes.contains(route.pattern)
    }

    /// Writes the entry of one answered request.
    func recordAudit(
        _ request: HTTPRequest, route: String, principal: Principal?, note: AuditNote?, status: Int, started: DispatchTime
    ) {
        guard let auditLog = runtime.auditLog else { return }
        let elapsedMs = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6
        let nowMs = runtime.configuration.clock.nowMilliseconds()
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
}
