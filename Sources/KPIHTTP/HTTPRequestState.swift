import Dispatch

/// Per-request state kept in libmicrohttpd's `*con_cls` from the first access-handler call until
/// the request-completed notice.
///
/// Not `Sendable`, and needs no lock: libmicrohttpd serves a connection from one pool thread,
/// so the calls that touch one request never overlap.
final class HTTPRequestState {
    /// The body received so far; emptied when the upload exceeds the limit.
    var body: [UInt8] = []
    /// When the request's first byte arrived, as far as the server knows (uptime nanoseconds;
    /// when the headers were in if it does not), for the request timeout.
    let started: UInt64
    /// Whether the upload went past the limit; the rest of it is read and dropped.
    var overflowed = false
    /// Whether a response has been queued; later calls for this request do nothing.
    var answered = false
    /// The responder handed to the handler; set when the handler was called.
    var responder: HTTPResponder?

    init(started: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        self.started = started
    }
}
