/// Why an ``HTTPServer`` could not start.
public struct HTTPServerError: Error, CustomStringConvertible {
    /// A sentence for the operator, for example `"cannot bind 127.0.0.1:9464: address in use"`.
    public var message: String

    /// Creates an error with the given message.
    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}
