/// An HTTP request method. A struct rather than an enum because any token may arrive (and must
/// be named in a 405 answer); the ones kpid routes are constants.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The method as sent, e.g. `GET`.
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public static let get: HTTPMethod = "GET"
    public static let head: HTTPMethod = "HEAD"
    public static let post: HTTPMethod = "POST"
    public static let put: HTTPMethod = "PUT"
    public static let patch: HTTPMethod = "PATCH"
    public static let delete: HTTPMethod = "DELETE"

    public var description: String { rawValue }

    /// Whether requests with this method change state (the cross-origin guard refuses them from
    /// other origins).
    public var isWrite: Bool { [.post, .put, .patch, .delete].contains(self) }
}
