import CMicroHTTPD
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An HTTP/1.1 server on libmicrohttpd.
///
/// libmicrohttpd reads requests on its own pool of ``HTTPServerConfiguration/threadCount``
/// threads and calls the handler synchronously on one of them, once per request, with the
/// complete body. The handler may block (for a database commit, say): the pool size bounds how
/// many requests are handled at once.
///
/// ```swift
/// let server = HTTPServer(configuration: configuration, logger: logger) { request in
///     .text(200, "hello \(request.path)")
/// }
/// try server.start()
/// // ...
/// server.stopAccepting()  // new connections are refused from here on
/// server.stop()           // in-flight requests are answered, then the threads end
/// ```
public final class HTTPServer: Sendable {
    private let configuration: HTTPServerConfiguration
    private let context: HTTPServerContext
    /// Everything `start`, `stopAccepting` and `stop` change, behind one lock. The lock is never
    /// taken by the C callbacks, so holding it while libmicrohttpd starts cannot deadlock.
    private let state = Mutex<State>(State())

    private struct State {
        enum Phase {
            case idle
            case running
            case stopped
        }

        var phase = Phase.idle
        /// `struct MHD_Daemon *`.
        var daemon: OpaquePointer?
        var boundPort: UInt16 = 0
        /// The listening socket handed back by `MHD_quiesce_daemon`; ours to close after the
        /// daemon has stopped.
        var quiescedSocket: Int32 = -1
        /// Where libmicrohttpd sends its log lines; must outlive the daemon.
        var logSink: UnsafeMutablePointer<kpid_mhd_log_sink>?
        /// C copies of the TLS certificate and key handed to libmicrohttpd; must outlive the daemon.
        var tlsStrings: [UnsafeMutablePointer<CChar>] = []
    }

    /// Creates a server; nothing listens until ``start()``.
    ///
    /// - Parameters:
    ///   - configuration: where to listen and the limits to apply.
    ///   - logger: receives libmicrohttpd's own error messages and the server's warnings; the
    ///     default lets tests build a server without importing swift-log.
    ///   - handler: answers one request; called on a pool thread, possibly on many at once.
    public convenience init(
        configuration: HTTPServerConfiguration, logger: Logger = Logger(label: "kpid.http"),
        handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse
    ) {
        self.init(
            configuration: configuration, logger: logger,
            respondingHandler: { request, responder in
                responder.respond(handler(request))
            })
    }

    /// Creates a server whose handler answers through an ``HTTPResponder``, possibly later and
    /// from another thread; while it has not answered, the connection is suspended and holds no
    /// pool thread.
    public init(
        configuration: HTTPServerConfiguration, logger: Logger = Logger(label: "kpid.http"),
        respondingHandler: @escaping @Sendable (HTTPRequest, HTTPResponder) -> Void
    ) {
        self.configuration = configuration
        self.context = HTTPServerContext(
            handler: respondingHandler, maxBodyBytes: configuration.maxBodyBytes,
            requestTimeoutSeconds: configuration.requestTimeoutSeconds,
            connectionTimeoutSeconds: configuration.connectionTimeoutSeconds, logger: logger)
    }

    /// Requests cut off so far for running past ``HTTPServerConfiguration/requestTimeoutSeconds``:
    /// connections still sending the headers, or the body, that long after the request's first byte.
    public var slowRequestsAborted: Int { context.slowRequestsAborted.load(ordering: .relaxed) }

    deinit {
        stop()
    }

    /// The port the server listens on; with ``HTTPServerConfiguration/port`` 0 this is the one the
    /// kernel picked. 0 before ``start()``.
    public var boundPort: UInt16 {
        state.withLock { $0.boundPort }
    }

    /// Binds the address and starts the threads.
    ///
    /// - Throws: ``HTTPServerError`` for an invalid configuration, an address that cannot be
    ///   bound, or a second call.
    public func start() throws(HTTPServerError) {
        try state.withLock { (state: inout State) throws(HTTPServerError) in
            guard state.phase == .idle else {
                throw HTTPServerError(message: "a server can be started only once")
            }
            try validate(configuration)
            let sink = UnsafeMutablePointer<kpid_mhd_log_sink>.allocate(capacity: 1)
            sink.initialize(to: kpid_mhd_log_sink(function: kpidLogMessage, context: contextPointer))
            var tlsStrings: [UnsafeMutablePointer<CChar>] = []
            if let tls = configuration.tls {
                guard kpid_mhd_tls_supported() == 1 else {
                    sink.deinitialize(count: 1)
                    sink.deallocate()
                    throw HTTPServerError(
                        message: "this libmicrohttpd was built without TLS support (MHD_FEATURE_TLS); install a build with GnuTLS "
                            + "(Debian's libmicrohttpd12 has it) or serve plain HTTP behind a TLS proxy")
                }
                tlsStrings = [strdup(tls.certificatePEM), strdup(tls.keyPEM)]
            }
            let daemon: OpaquePointer
            do throws(HTTPServerError) {
                daemon = try startDaemon(logSink: sink, tls: tlsStrings.count == 2 ? (tlsStrings[0], tlsStrings[1]) : nil)
            } catch {
                sink.deinitialize(count: 1)
                sink.deallocate()
                for string in tlsStrings { free(string) }
                throw error
            }
            state.tlsStrings = tlsStrings
            state.daemon = daemon
            state.boundPort = kpid_mhd_bind_port(daemon)
            state.logSink = sink
            state.phase = .running
        }
        if let watchdog = context.headerWatchdog {
            watchdog.startScanning { [context] count in
                context.slowRequestsAborted.add(count, ordering: .relaxed)
                context.logger.warning(
                    "request headers still arriving past the request timeout; connection dropped",
                    metadata: ["connections": "\(count)"])
            }
        }
        context.logger.debug(
            "HTTP server listening",
            metadata: ["address": "\(configuration.bindAddress)", "port": "\(boundPort)"])
    }

    /// Stops accepting new connections while connections already open go on being served,
    /// including further requests on kept-alive ones. Does nothing if the server is not running.
    public func stopAccepting() {
        state.withLock { state in
            guard let daemon = state.daemon, state.quiescedSocket == -1 else { return }
            let socket = MHD_quiesce_daemon(daemon)
            if socket != kpid_mhd_invalid_socket() {
                state.quiescedSocket = socket
            }
        }
    }

    /// Stops the server: stops accepting, lets requests already being received or handled finish
    /// and their responses go out, then closes every connection and ends the threads.
    ///
    /// The wait for in-flight requests is bounded by
    /// ``HTTPServerConfiguration/connectionTimeoutSeconds`` (30 s if that is 0); a handler still
    /// running then is waited for, but its response may not be sent. Idempotent; also called when
    /// the server is deinitialized. Must not be called from a handler: it waits for the handler's
    /// own thread to end.
    public func stop() {
        let taken = state.withLock {
            state -> (
                daemon: OpaquePointer, socket: Int32, sink: UnsafeMutablePointer<kpid_mhd_log_sink>?, tls: [UnsafeMutablePointer<CChar>]
            )? in
            guard let daemon = state.daemon else {
                if state.phase == .idle { state.phase = .stopped }
                return nil
            }
            defer {
                state.daemon = nil
                state.quiescedSocket = -1
                state.logSink = nil
                state.tlsStrings = []
                state.phase = .stopped
            }
            return (daemon, state.quiescedSocket, state.logSink, state.tlsStrings)
        }
        guard let taken else { return }
        var socket = taken.socket
        if socket == -1 {
            let quiesced = MHD_quiesce_daemon(taken.daemon)
            if quiesced != kpid_mhd_invalid_socket() {
                socket = quiesced
            }
        }
        waitForInFlightRequests()
        // libmicrohttpd refuses to stop with a suspended connection: answer any request whose
        // handler never did, then give the answers a moment to go out.
        let stranded = context.suspendedResponders
        if !stranded.isEmpty {
            context.logger.warning("HTTP server answering unanswered requests with 503", metadata: ["requests": "\(stranded.count)"])
            for responder in stranded {
                responder.respond(.text(503, "server stopping before the request was answered\n"))
            }
            let deadline = ContinuousClock.now + .seconds(2)
            while context.activeRequests.load(ordering: .acquiring) > 0 && ContinuousClock.now < deadline { usleep(5_000) }
        }
        MHD_stop_daemon(taken.daemon)
        // After the daemon: slow headers are cut off while in-flight requests finish, and every
        // connection has had its closed notice by now.
        context.headerWatchdog?.stopScanning()
        if socket != -1 {
            close(socket)
        }
        if let sink = taken.sink {
            sink.deinitialize(count: 1)
            sink.deallocate()
        }
        for string in taken.tls { free(string) }
        context.logger.debug("HTTP server stopped")
    }

    // MARK: - Private

    /// The context as the `void *` the C callbacks receive. Unretained: `self` owns the context
    /// and stops the daemon before letting it go.
    private var contextPointer: UnsafeMutableRawPointer {
        Unmanaged.passUnretained(context).toOpaque()
    }

    private func validate(_ configuration: HTTPServerConfiguration) throws(HTTPServerError) {
        guard configuration.threadCount >= 1, configuration.threadCount <= 1024 else {
            throw HTTPServerError(message: "threadCount must be within 1...1024, not \(configuration.threadCount)")
        }
        guard configuration.maxBodyBytes >= 0 else {
            throw HTTPServerError(message: "maxBodyBytes must not be negative, not \(configuration.maxBodyBytes)")
        }
        guard configuration.connectionLimit >= 1, configuration.connectionLimit <= Int(UInt32.max) else {
            throw HTTPServerError(message: "connectionLimit must be at least 1, not \(configuration.connectionLimit)")
        }
        guard configuration.connectionTimeoutSeconds >= 0, configuration.connectionTimeoutSeconds <= Int(UInt32.max)
        else {
            throw HTTPServerError(
                message: "connectionTimeoutSeconds must not be negative, not \(configuration.connectionTimeoutSeconds)")
        }
    }

    private func startDaemon(
        logSink: UnsafeMutablePointer<kpid_mhd_log_sink>, tls: (certificate: UnsafeMutablePointer<CChar>, key: UnsafeMutablePointer<CChar>)?
    ) throws(HTTPServerError) -> OpaquePointer {
        let host = configuration.bindAddress
        let port = configuration.port
        var address = sockaddr_storage()
        let family = kpid_mhd_make_socket_address(host, port, &address)
        guard family != 0 else {
            throw HTTPServerError(message: "cannot bind \(host): not a numeric IPv4 or IPv6 address")
        }

        // poll(), not epoll: libmicrohttpd 0.9.75's MHD_quiesce_daemon races its epoll loop with
        // a thread pool (both remove the listen socket from a worker's epoll set; the loser gets
        // ENOENT and MHD aborts the process, "Failed to remove listen FD from epoll set"), and
        // kpid quiesces on every stop. The poll() loop has no such removal; each pool thread
        // polls only its own connections, so the cost stays small.
        let polling = MHD_USE_POLL.rawValue
        var flags =
            MHD_USE_INTERNAL_POLLING_THREAD.rawValue | polling | MHD_USE_ERROR_LOG.rawValue
            // ITC: required by MHD_quiesce_daemon with a thread pool; suspend/resume lets a
            // handler answer later without holding a pool thread.
            | MHD_USE_ITC.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue
        if tls != nil {
            flags |= kpid_mhd_use_tls_flag()
        }
        if family == AF_INET6 {
            // Dual stack so that "::" also serves IPv4 clients; harmless for a specific address.
            flags |= MHD_USE_DUAL_STACK.rawValue
        }

        let daemon: OpaquePointer? = withUnsafeMutablePointer(to: &address) { addressPointer in
            var options: [MHD_OptionItem] = [
                // First, so that libmicrohttpd routes every message, even about later options, here.
                kpid_mhd_option_logger(logSink),
                MHD_OptionItem(
                    option: .THREAD_POOL_SIZE, value: configuration.threadCount, ptr_value: nil),
                MHD_OptionItem(
                    option: .CONNECTION_LIMIT, value: configuration.connectionLimit, ptr_value: nil),
                MHD_OptionItem(
                    option: .CONNECTION_TIMEOUT, value: configuration.connectionTimeoutSeconds,
                    ptr_value: nil),
                MHD_OptionItem(
                    option: .CONNECTION_MEMORY_LIMIT, value: configuration.maxHeaderBytes, ptr_value: nil),
                MHD_OptionItem(option: .SOCK_ADDR, value: 0, ptr_value: UnsafeMutableRawPointer(addressPointer)),
                kpid_mhd_option_notify_completed(kpidRequestCompleted, contextPointer),
            ]
            if context.headerWatchdog != nil {
                // Function pointers travel in the item's intptr_t, as MHD_OPTION_ARRAY expects.
                let notify: MHD_NotifyConnectionCallback = kpidConnectionNotify
                let uriLog: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, OpaquePointer?) -> UnsafeMutableRawPointer? =
                    kpidRequestLineParsed
                options.append(
                    MHD_OptionItem(option: .NOTIFY_CONNECTION, value: unsafeBitCast(notify, to: Int.self), ptr_value: contextPointer))
                options.append(
                    MHD_OptionItem(option: .URI_LOG_CALLBACK, value: unsafeBitCast(uriLog, to: Int.self), ptr_value: contextPointer))
            }
            if let tls {
                options.append(kpid_mhd_option_https_mem_cert(tls.certificate))
                options.append(kpid_mhd_option_https_mem_key(tls.key))
                options.append(kpid_mhd_option_https_priorities(Int32(configuration.tlsMinimumMinorVersion)))
            }
            options.append(MHD_OptionItem(option: .END, value: 0, ptr_value: nil))
            return options.withUnsafeBufferPointer { buffer in
                errno = 0
                return kpid_mhd_start_daemon(flags, port, kpidAccessHandler, contextPointer, buffer.baseAddress)
            }
        }
        guard let daemon else {
            let code = errno
            let shownHost = family == AF_INET6 ? "[\(host)]" : host
            throw HTTPServerError(message: "cannot bind \(shownHost):\(port): \(Self.describe(errno: code))")
        }
        return daemon
    }

    private static func describe(errno code: Int32) -> String {
        switch code {
        case 0: return "libmicrohttpd could not start (see its log message)"
        case EADDRINUSE: return "address in use"
        case EADDRNOTAVAIL: return "address not available on this machine"
        case EACCES: return "permission denied"
        case EAFNOSUPPORT: return "address family not supported"
        default:
            guard let text = strerror(code) else { return "error \(code)" }
            return String(cString: text).lowercased()
        }
    }

    private func waitForInFlightRequests() {
        let seconds = configuration.connectionTimeoutSeconds > 0 ? configuration.connectionTimeoutSeconds : 30
        let deadline = ContinuousClock.now + .seconds(seconds)
        while context.activeRequests.load(ordering: .acquiring) > 0 {
            guard ContinuousClock.now < deadline else {
                context.logger.warning(
                    "HTTP server stopping with requests still in flight",
                    metadata: ["requests": "\(context.activeRequests.load(ordering: .relaxed))"])
                return
            }
            usleep(5_000)
        }
    }
}
