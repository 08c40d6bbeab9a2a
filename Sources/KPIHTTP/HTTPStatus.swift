/// An HTTP status code. Integer literals convert (`.json(200, body)`); the named ones are for
/// reading code (`.serviceUnavailable`).
public struct HTTPStatus: RawRepresentable, Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    public var rawValue: Int

    public init(rawValue: Int) { self.rawValue = rawValue }
    public init(_ code: Int) { rawValue = code }
    public init(integerLiteral value: Int) { rawValue = value }

    public static func < (a: HTTPStatus, b: HTTPStatus) -> Bool { a.rawValue < b.rawValue }

    /// The code as digits (`503`).
    public var description: String { String(rawValue) }

    /// 2xx.
    public var isSuccess: Bool { (200..<300).contains(rawValue) }

    public static let ok: HTTPStatus = 200
    public static let created: HTTPStatus = 201
    public static let noContent: HTTPStatus = 204
    public static let badRequest: HTTPStatus = 400
    public static let unauthorized: HTTPStatus = 401
    public static let forbidden: HTTPStatus = 403
    public static let notFound: HTTPStatus = 404
    public static let methodNotAllowed: HTTPStatus = 405
    public static let conflict: HTTPStatus = 409
    public static let payloadTooLarge: HTTPStatus = 413
    public static let unprocessableContent: HTTPStatus = 422
    public static let tooManyRequests: HTTPStatus = 429
    public static let internalServerError: HTTPStatus = 500
    public static let serviceUnavailable: HTTPStatus = 503
    public static let insufficientStorage: HTTPStatus = 507
}
