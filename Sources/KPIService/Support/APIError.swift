import KPICore
import KPIHTTP
import KPIRuntime

/// An error answered to an API client: status plus the project's JSON error shape
/// `{"error": message, "details": [{"line": N, "field": f, "reason": r}]}`.
struct APIError: Error {
    var status: Int
    var message: String
    var details: [IngestIssue] = []
    var detailsTruncated = false
    /// Where in a query the problem is (1-based line and column), for query errors.
    var position: (line: Int, column: Int)? = nil
    /// A suggestion for fixing the request, for query errors.
    var hint: String? = nil

    init(status: Int, message: String, details: [IngestIssue] = [], detailsTruncated: Bool = false) {
        self.status = status
        self.message = message
        self.details = details
        self.detailsTruncated = detailsTruncated
    }

    /// The answer for templates or sites that cannot be read: 500 when a definition is wrong
    /// (the operator must fix it), 503 when the sites table cannot be reached now.
    init(_ error: CatalogError) {
        self.init(
            status: error.kind == .invalid ? 500 : 503, message: error.message,
            details: error.field.map { [IngestIssue(line: 0, field: $0, reason: error.reason ?? "")] } ?? [])
    }

    /// A bad request parameter.
    static func badParameter(_ name: String, _ reason: String) -> APIError {
        APIError(status: 400, message: "invalid parameter \(name)", details: [IngestIssue(line: 0, field: name, reason: reason)])
    }

    /// Prometheus' error type for the status.
    var errorType: String {
        switch status {
        case 400, 413, 415, 429: return "bad_data"
        case 401: return "unauthorized"
        case 403: return "forbidden"
        case 404: return "not_found"
        case 405: return "bad_data"
        case 422: return "execution"
        case 503: return "unavailable"
        default: return "internal"
        }
    }

    var response: HTTPResponse {
        // Prometheus' envelope fields (status, errorType) beside kpid's own (error, details), so
        // Prometheus clients and kpid clients both read it.
        var w = JSONWriter()
        w.raw("{\"status\":\"error\",\"errorType\":")
        w.string(errorType)
        w.raw(",\"error\":")
        w.string(message)
        w.raw(",\"details\":[")
        for (i, d) in details.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"line\":")
            w.int(d.line)
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
        if let position {
            w.raw(",\"position\":{\"line\":\(position.line),\"column\":\(position.column)}")
        }
        if let hint {
            w.raw(",\"hint\":")
            w.string(hint)
        }
        w.raw("}\n")
        return HTTPResponse.json(status, w.bytes)
    }
}
