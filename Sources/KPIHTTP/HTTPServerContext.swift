import Logging
import Synchronization

/// What the C callbacks need to serve requests, reached from them through a `void *`.
///
/// It is `Sendable` without `@unchecked`: its properties are immutable or atomic, because pool
/// threads read it concurrently. ``HTTPServer`` keeps it alive for as long as the daemon runs.
final class HTTPServerContext: Sendable {
    let handler: @Sendable (HTTPRequest) -> HTTPResponse
    let maxBodyBytes: Int
    let logger: Logger
    /// Requests between their first access-handler call and their completion notice; graceful
    /// shutdown waits for this to reach zero so that in-flight responses are actually sent.
    let activeRequests = Atomic<Int>(0)

    init(handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse, maxBodyBytes: Int, logger: Logger) {
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
        self.logger = logger
    }
}
