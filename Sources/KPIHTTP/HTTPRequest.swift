/// One complete HTTP request, as handed to an ``HTTPServer`` handler.
///
/// The body has been received in full before the handler sees the request: a request whose
/// client disconnects mid-upload, or whose body exceeds the configured limit, never gets here.
public struct HTTPRequest: Sendable {
    /// The request method as sent, for example `.get` or `.post`.
    public var method: HTTPMethod
    /// The percent-decoded path, without the query string.
    public var path: String
    /// Every query argument in the order sent, percent-decoded with `+` read as a space.
    ///
    /// Repeated names are kept (Prometheus sends `match[]=` several times); an argument
    /// without `=` has an empty value.
    public var query: [(name: String, value: String)]
    /// Header values keyed by lowercased name; repeated headers are joined with `", "`.
    public var headers: [String: String]
    /// The complete request body.
    public var body: [UInt8]
    /// The client's numeric address (`"127.0.0.1"`, `"::1"`), if the server knows it.
    public var remoteAddress: String?

    /// Creates a request; header names are lowercased and repeated ones merged, so requests built
    /// by hand (in tests of other modules) look like the ones the server makes.
    public init(
        method: HTTPMethod = .get,
        path: String = "/",
        query: [(name: String, value: String)] = [],
        headers: [String: String] = [:],
        body: [UInt8] = [],
        remoteAddress: String? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        var normalized: [String: String] = [:]
        normalized.reserveCapacity(headers.count)
        // Sorted so that merging two spellings of one name gives the same result every run.
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            Self.addHeader(name: name, value: value, to: &normalized)
        }
        self.headers = normalized
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// The value of the header `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers[name.lowercased()]
    }

    /// The first value of the query argument `name`, or `nil` if it is absent.
    public func queryValue(_ name: String) -> String? {
        query.first(where: { $0.name == name })?.value
    }

    /// All values of the query argument `name`, in the order sent.
    public func queryValues(_ name: String) -> [String] {
        query.compactMap { $0.name == name ? $0.value : nil }
    }

    /// Adds a header the way HTTP allows repeated fields to be combined (RFC 9110, 5.3).
    static func addHeader(name: String, value: String, to headers: inout [String: String]) {
        let key = name.lowercased()
        if let existing = headers[key] {
            headers[key] = existing + ", " + value
        } else {
            headers[key] = value
        }
    }
}
