import CMicroHTTPD
import Synchronization

/// Answers one request, now or later, from any thread.
///
/// A handler that must wait (for a database commit, say) keeps the responder and returns; the
/// server then suspends the connection, so no pool thread is held while waiting, and resumes it
/// when ``respond(_:)`` is called. Call ``respond(_:)`` exactly once; later calls are ignored.
public final class HTTPResponder: Sendable {
    private enum Phase {
        /// The handler is running on the connection's thread.
        case handling
        /// The handler returned without an answer; the connection is suspended.
        case suspended
        /// The answer was handed to libmicrohttpd.
        case done
    }

    private struct State {
        var phase = Phase.handling
        var response: HTTPResponse?
        var answered = false
    }

    /// `struct MHD_Connection *`, valid until the request completes, which cannot happen
    /// before the responder has answered (a suspended connection is not processed).
    private struct Connection: @unchecked Sendable {
        // @unchecked: an opaque handle used only for suspend and resume, which libmicrohttpd
        // allows from any thread when the daemon has MHD_USE_ITC.
        let pointer: OpaquePointer
    }

    private let connection: Connection
    private let state = Mutex(State())
    private weak let context: HTTPServerContext?

    init(connection: OpaquePointer, context: HTTPServerContext) {
        self.connection = Connection(pointer: connection)
        self.context = context
    }

    /// Sends `response`. Safe from any thread; only the first call counts.
    public func respond(_ response: HTTPResponse) {
        let resume = state.withLock { state -> Bool in
            guard !state.answered else { return false }
            state.answered = true
            state.response = response
            return state.phase == .suspended
        }
        if resume {
            context?.unregisterSuspended(self)
            MHD_resume_connection(connection.pointer)
        }
    }

    /// Called on the connection's thread after the handler returned: the answer if it came
    /// already, else nil after suspending the connection. Suspending under the lock orders it
    /// before the resume of a concurrent ``respond(_:)``.
    func responseOrSuspend() -> HTTPResponse? {
        state.withLock { state in
            if let response = state.response {
                state.response = nil
                state.phase = .done
                return response
            }
            state.phase = .suspended
            context?.registerSuspended(self)
            MHD_suspend_connection(connection.pointer)
            return nil
        }
    }

    /// Called on the connection's thread when libmicrohttpd resumes it: the answer to queue.
    func takeResponse() -> HTTPResponse? {
        state.withLock { state in
            guard let response = state.response else { return nil }
            state.response = nil
            state.phase = .done
            return response
        }
    }
}
