/// A response body produced piece by piece, for responses too large to build in memory.
///
/// The server calls ``next()`` from the connection's thread, one call at a time, until it
/// returns `nil`; an empty array is allowed and simply skipped. The stream is released once the
/// response has been sent or the client has gone away, whichever comes first.
public protocol HTTPBodyStream: AnyObject {
    /// The next piece of the body, or `nil` at the end.
    func next() -> [UInt8]?
}

/// The body of an ``HTTPResponse``.
public enum HTTPResponseBody: Sendable {
    /// A body held in memory; sent with a `Content-Length`.
    case bytes([UInt8])
    /// A streamed body, sent with chunked transfer encoding (no `Content-Length`).
    ///
    /// The closure is called at most once per response, lazily, on the connection's thread, so
    /// a response that is never sent (a `HEAD` request, a vanished client) costs nothing.
    case stream(@Sendable () -> any HTTPBodyStream)
}

/// What a handler answers.
public struct HTTPResponse: Sendable {
    /// The status code; a value outside `100...599` is sent as 500.
    public var status: HTTPStatus
    /// Response headers in the order they are sent.
    public var headers: [(name: String, value: String)]
    /// The body.
    public var body: HTTPResponseBody

    /// Creates a response.
    public init(status: HTTPStatus, headers: [(name: String, value: String)] = [], body: HTTPResponseBody = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response carrying JSON bytes, with `Content-Type: application/json`.
    public static func json(_ status: HTTPStatus, _ bytes: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: .bytes(bytes))
    }

    /// A response carrying text encoded as UTF-8.
    public static func text(
        _ status: HTTPStatus, _ string: String, contentType: String = "text/plain; charset=utf-8"
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: .bytes(Array(string.utf8)))
    }

    /// 400 for a request with both `Content-Length` and `Transfer-Encoding` (RFC 9112, 6.1).
    static let ambiguousBodyLength = HTTPResponse.error(
        400, "both Content-Length and Transfer-Encoding",
        details: [
            ErrorDetail(field: "Content-Length", reason: "send one of Content-Length and Transfer-Encoding, not both")
        ])

    /// The answer to an upload larger than `limit` bytes.
    static func bodyTooLarge(limit: Int) -> HTTPResponse {
        .error(413, "request body too large", details: [ErrorDetail(field: "body", reason: "exceeds the limit of \(limit) bytes")])
    }
}
