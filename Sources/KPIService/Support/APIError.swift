import KPICore
import KPIHTTP
import KPIRuntime

/// An error answered to an API client: a status and the one error envelope
/// (`HTTPResponse.error`: `{"status":"error","errorType",...,"error": message, "details": [...]}`).
struct APIError: Error {
    var status: HTTPStatus
    var message: String
    var details: [ErrorDetail] = []
    var detailsTruncated = false
    /// Where in a query the problem is (1-based line and column), for query errors.
    var position: (line: Int, column: Int)? = nil
    /// A suggestion for fixing the request, for query errors.
    var hint: String? = nil

    init(status: HTTPStatus, message: String, details: [ErrorDetail] = [], detailsTruncated: Bool = false) {
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
            details: error.field.map { [ErrorDetail(field: $0, reason: error.reason ?? "")] } ?? [])
    }

    /// A bad request parameter.
    static func badParameter(_ name: String, _ reason: String) -> APIError {
        APIError(status: 400, message: "invalid parameter \(name)", details: [ErrorDetail(field: name, reason: reason)])
    }

    /// Prometheus' error type for the status.
    var errorType: String { HTTPResponse.errorType(status) }

    var response: HTTPResponse {
        HTTPResponse.error(
            status, message, details: details, detailsTruncated: detailsTruncated, position: position, hint: hint)
    }
}
