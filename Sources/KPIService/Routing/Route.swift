import KPIHTTP
import KPIRuntime

/// One HTTP endpoint: a path pattern, its methods, who may call it, and its handler.
///
/// Patterns are literal paths whose segments may be `:name` placeholders
/// (`/api/v1/label/:name/values`); the matched segments reach the handler as
/// ``RouteMatch/parameters``.
struct Route: Sendable {
    /// Answers at once, or later (after a commit) through the callback.
    enum Handler: Sendable {
        case now(@Sendable (HTTPRequest, RouteMatch) throws(APIError) -> HTTPResponse)
        case later(@Sendable (HTTPRequest, RouteMatch, @escaping @Sendable (HTTPResponse) -> Void) throws(APIError) -> Void)
    }

    let pattern: String
    let methods: [HTTPMethod]
    let access: RouteAccess
    let handler: Handler
    /// Whether a URL-encoded form body is folded into the query parameters (Prometheus API).
    let acceptsForm: Bool
    private let segments: [Substring]

    init(_ pattern: String, _ methods: [HTTPMethod], _ access: RouteAccess, form: Bool = false, _ handler: Handler) {
        self.pattern = pattern
        self.methods = methods
        self.access = access
        self.handler = handler
        self.acceptsForm = form
        self.segments = pattern.split(separator: "/", omittingEmptySubsequences: false)
    }

    /// The placeholders' values if `path` matches this pattern, else nil.
    func match(_ path: String) -> RouteMatch? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            if segment.first == ":" {
                guard !part.isEmpty else { return nil }
                parameters[String(segment.dropFirst())] = String(part)
            } else if segment != part {
                return nil
            }
        }
        return RouteMatch(route: pattern, parameters: parameters)
    }
}

/// The result of matching a request path against a route.
struct RouteMatch: Sendable {
    /// The route's pattern, used as the `route` label of request metrics (bounded cardinality).
    let route: String
    /// Values of the pattern's `:name` segments.
    let parameters: [String: String]
    /// Who is calling (set by the dispatcher after authentication; ``Principal/unrestricted``
    /// when authentication is off). Handlers reading or writing series apply its site scope:
    /// see ``Principal``.
    var principal: Principal = .unrestricted
    /// What the handler adds to this request's audit entry (see ``Controller/audit(_:rows:detail:)``).
    let auditNote = AuditNote()
}
