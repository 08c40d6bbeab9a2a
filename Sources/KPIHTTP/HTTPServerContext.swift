import Logging
import Synchronization

/// What the C callbacks need to serve requests, reached from them through a `void *`.
///
/// It is `Sendable` without `@unchecked`: its properties are immutable or atomic, because pool
/// threads read it concurrently. ``HTTPServer`` keeps it alive for as long as the daemon runs.
final class HTTPServerContext: Sendable {
    let handler: @Sendable (HTTPRequest, HTTPResponder) -> Void
    let maxBodyBytes: Int
    /// A body still arriving this long after the request's first byte is cut off; 0 = never.
    let requestTimeoutNanoseconds: UInt64
    /// Cuts off requests whose headers are still arriving after the request timeout; nil when
    /// there is no request timeout.
    let headerWatchdog: HTTPHeaderWatchdog?
    let logger: Logger
    /// Requests cut off for taking longer than the request timeout, in their headers or body.
    let slowRequestsAborted = Atomic<Int>(0)
    /// Requests between their first access-handler call and their completion notice; graceful
    /// shutdown waits for this to reach zero so that in-flight responses are actually sent.
    let activeRequests = Atomic<Int>(0)

    /// Responders whose connections are suspended, so that a stop can answer them: libmicrohttpd
    /// refuses to stop while a connection is suspended.
    private let suspended = Mutex<[ObjectIdentifier: HTTPResponder]>([:])

    func registerSuspended(_ responder: HTTPResponder) {
        suspended.withLock { $0[ObjectIdentifier(responder)] = responder }
    }

    func unregisterSuspended(_ responder: HTTPResponder) {
        _ = suspended.withLock { $0.removeValue(forKey: ObjectIdentifier(responder)) }
    }

    /// Responders still waiting for their handler's answer.
    var suspendedResponders: [HTTPResponder] { suspended.withLock { Array($0.values) } }

    init(
        handler: @escaping @Sendable (HTTPRequest, HTTPResponder) -> Void, maxBodyBytes: Int,
        requestTimeoutSeconds: Int = 0, connectionTimeoutSeconds: Int = 0, logger: Logger
    ) {
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
        self.requestTimeoutNanoseconds = nanoseconds(seconds: requestTimeoutSeconds)
        self.headerWatchdog =
            requestTimeoutSeconds > 0
            ? HTTPHeaderWatchdog(timeoutSeconds: requestTimeoutSeconds, idleTimeoutSeconds: connectionTimeoutSeconds) : nil
        self.logger = logger
    }
}
