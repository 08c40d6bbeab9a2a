import KPICore

/// One problem with a refused request: where it is (the body's line, when the body has lines;
/// the field or parameter) and why.
public struct ErrorDetail: Sendable, Equatable {
    public var line: Int?
    public var field: String?
    public var reason: String

    public init(line: Int? = nil, field: String?, reason: String) {
        self.line = line
        self.field = field
        self.reason = reason
    }

    /// A decoding problem of an ingest body, with its line (1-based; 0, a problem of the whole
    /// body, has none).
    public init(_ issue: IngestIssue) {
        self.init(line: issue.line > 0 ? issue.line : nil, field: issue.field, reason: issue.reason)
    }
}

extension HTTPResponse {
    /// kpid's one error envelope, used by every refusal, from the HTTP server's own (413, 400)
    /// to the API's: Prometheus' fields (`status: "error"`, `errorType`) beside kpid's (`error`,
    /// `details` naming line, field and reason; `details_truncated`; for query errors the
    /// `position` and a `hint`), so Prometheus clients and kpid clients both read it.
    public static func error(
        _ status: HTTPStatus, _ message: String, details: [ErrorDetail] = [], detailsTruncated: Bool = false,
        position: (line: Int, column: Int)? = nil, hint: String? = nil
    ) -> HTTPResponse {
        var w = JSONWriter(capacity: 128 + details.count * 64)
        w.raw("{\"status\":\"error\",\"errorType\":")
        w.string(errorType(status))
        w.raw(",\"error\":")
        w.string(message)
        w.raw(",\"details\":[")
        for (i, d) in details.enumerated() {
            w.raw(i > 0 ? ",{" : "{")
            // `line` is always there (0: not about one line of the body), as the README documents.
            w.raw("\"line\":\(d.line ?? 0)")
            if let field = d.field {
                w.raw(",\"field\":")
                w.string(field)
            }
            w.raw(",\"reason\":")
            w.string(d.reason)
            w.raw("}")
        }
        w.raw("]")
        if detailsTruncated { w.raw(",\"details_truncated\":true") }
        if let position { w.raw(",\"position\":{\"line\":\(position.line),\"column\":\(position.column)}") }
        if let hint {
            w.raw(",\"hint\":")
            w.string(hint)
        }
        w.raw("}\n")
        return .json(status, w.bytes)
    }

    /// Prometheus' `errorType` for a status.
    public static func errorType(_ status: HTTPStatus) -> String {
        switch status.rawValue {
        case 400, 405, 413, 415, 429, 431: return "bad_data"
        case 401: return "unauthorized"
        case 403: return "forbidden"
        case 404: return "not_found"
        case 422: return "execution"
        case 503: return "unavailable"
        default: return "internal"
        }
    }
}
