import CMicroHTTPD
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Cuts off connections whose request headers are still arriving
/// ``HTTPServerConfiguration/requestTimeoutSeconds`` after the request's first byte.
///
/// libmicrohttpd's connection timeout is an idle timeout that every received byte resets, and the
/// access handler is not called before the headers are complete, so without this a client sending
/// one header byte a second would hold a connection slot for ever (a few of them lock a server with
/// a small connection limit out).
///
/// The C callbacks report each connection's life here, all on the connection's pool thread:
/// accepted and closed (`MHD_OPTION_NOTIFY_CONNECTION`), request line parsed
/// (`MHD_OPTION_URI_LOG_CALLBACK`), headers complete (the access handler's first call) and request
/// finished (`MHD_OPTION_NOTIFY_COMPLETED`). A timer owned by the server calls ``scan()`` a few
/// times a second; a connection whose headers are overdue has its socket shut down (never closed:
/// libmicrohttpd owns the descriptor and closes it after the closed notice), which libmicrohttpd
/// then sees as the client going away.
///
/// When a request starts:
/// - on Linux, when the socket's count of received bytes (`TCP_INFO`) first grows after the
///   connection was accepted or the previous request finished, as seen by the next scan, or when
///   its request line is parsed, whichever comes first. Idle time before a request, first or
///   kept-alive, stays governed by the connection timeout alone.
/// - elsewhere, or if that count cannot be read: the first request when the connection was
///   accepted; a later one when its request line is parsed, and at the latest one connection
///   timeout after the previous request finished (a connection idle longer would have been closed
///   by libmicrohttpd).
///
/// A cut-off may come up to two scan intervals late: one to see the first byte, one to see the
/// deadline pass. With TLS, the handshake counts as part of the first request.
///
/// Once the headers are complete the request leaves the watchdog: a slow body is cut off by the
/// access handler, timed from the start recorded here, and a handler may take as long as it needs.
final class HTTPHeaderWatchdog: Sendable {
    private enum Phase: Equatable {
        /// No byte of a request seen since `since` (uptime nanoseconds), when the socket had
        /// received `receivedBytes` bytes (nil: count unknown).
        case idle(since: UInt64, receivedBytes: UInt64?)
        /// A request started at `since` and its headers are not complete.
        case receivingHeaders(since: UInt64)
        /// The headers are complete: body, handler and response are not watched.
        case handling
        /// The socket was shut down by ``scan()``; waiting for libmicrohttpd to close it.
        case cut
    }

    private struct Connection {
        /// The socket, owned by libmicrohttpd; valid until the closed notice removes this entry.
        let socket: Int32
        var phase: Phase
    }

    /// Tracked connections by their `struct MHD_Connection *`, which stays valid (and unique)
    /// from the started to the closed notice. The closed notice comes before libmicrohttpd closes
    /// the socket and removes the entry under this lock, so ``scan()``, holding it, never shuts
    /// down a descriptor that was closed and reused.
    private let connections = Mutex<[UInt: Connection]>([:])
    private let timeoutNanoseconds: UInt64
    /// libmicrohttpd's idle timeout; 0 = none.
    private let idleTimeoutNanoseconds: UInt64
    /// Whether to read sockets' received-byte counts (false: behave as where there are none).
    private let readsReceivedBytes: Bool
    /// How often ``scan()`` runs once scanning, in nanoseconds.
    let scanIntervalNanoseconds: Int
    /// The running timer and its queue, between ``startScanning(_:)`` and ``stopScanning()``.
    private let timer = Mutex<(source: DispatchSourceTimer, queue: DispatchQueue)?>(nil)

    /// - Parameters:
    ///   - timeoutSeconds: the request timeout; must be positive.
    ///   - idleTimeoutSeconds: libmicrohttpd's connection timeout; 0 = none.
    ///   - readsReceivedBytes: false to ignore sockets' received-byte counts (for tests).
    init(timeoutSeconds: Int, idleTimeoutSeconds: Int, readsReceivedBytes: Bool = true) {
        timeoutNanoseconds = nanoseconds(seconds: timeoutSeconds)
        idleTimeoutNanoseconds = nanoseconds(seconds: idleTimeoutSeconds)
        self.readsReceivedBytes = readsReceivedBytes
        // A sixteenth of the timeout, within 250 ms...1 s: a cut-off comes at most two intervals
        // late (one to notice the first byte, one to notice the deadline), and there are at most
        // four scans a second however many connections are open.
        let sixteenth = timeoutNanoseconds / 16
        scanIntervalNanoseconds = Int(min(max(sixteenth, 250_000_000), 1_000_000_000))
    }

    /// The connection's socket (`MHD_CONNECTION_INFO_CONNECTION_FD`), or nil if unknown.
    static func socket(of connection: OpaquePointer) -> Int32? {
        let socket = kpid_mhd_connection_socket(connection)
        return socket >= 0 ? socket : nil
    }

    // MARK: - Notices from the C callbacks (on the connection's pool thread)
    //
    // `now` is the uptime in nanoseconds, a parameter for tests.

    /// A connection was accepted; `socket` is its descriptor, from ``socket(of:)``.
    func connectionStarted(_ connection: OpaquePointer, socket: Int32, now: UInt64 = uptimeNanoseconds()) {
        // With a byte count, the first request starts with its first byte; without, at accept.
        let phase: Phase =
            receivedByteCount(socket) != nil ? .idle(since: now, receivedBytes: 0) : .receivingHeaders(since: now)
        connections.withLock { $0[key(connection)] = Connection(socket: socket, phase: phase) }
    }

    /// A request line was parsed: the request has started, if no earlier sign said so.
    func requestLineParsed(_ connection: OpaquePointer, now: UInt64 = uptimeNanoseconds()) {
        connections.withLock { connections in
            guard var entry = connections[key(connection)] else { return }
            switch entry.phase {
            case .idle(let since, let receivedBytes):
                var started = now
                if receivedBytes == nil, idleTimeoutNanoseconds > 0 {
                    // Started at most one idle timeout after the previous request.
                    started = min(now, saturatingSum(since, idleTimeoutNanoseconds))
                }
                entry.phase = .receivingHeaders(since: started)
            case .handling:
                // Not expected (a finished request moves to idle); count from now.
                entry.phase = .receivingHeaders(since: now)
            case .receivingHeaders, .cut:
                return
            }
            connections[key(connection)] = entry
        }
    }

    /// The headers of the connection's request are complete. Returns when the request started
    /// (uptime nanoseconds), or nil if the connection has been cut off and must not be served.
    func headersComplete(_ connection: OpaquePointer, now: UInt64 = uptimeNanoseconds()) -> UInt64? {
        return connections.withLock { connections -> UInt64? in
            guard var entry = connections[key(connection)] else { return now }
            let started: UInt64
            switch entry.phase {
            case .receivingHeaders(let since): started = since
            case .idle, .handling: started = now
            case .cut: return nil
            }
            entry.phase = .handling
            connections[key(connection)] = entry
            return started
        }
    }

    /// The connection's request finished (answered, aborted or refused); it may carry another.
    func requestCompleted(_ connection: OpaquePointer, now: UInt64 = uptimeNanoseconds()) {
        connections.withLock { connections in
            guard var entry = connections[key(connection)] else { return }
            if case .cut = entry.phase { return }
            entry.phase = .idle(since: now, receivedBytes: receivedByteCount(entry.socket))
            connections[key(connection)] = entry
        }
    }

    /// The connection is about to be closed by libmicrohttpd (its socket is still open).
    func connectionClosed(_ connection: OpaquePointer) {
        _ = connections.withLock { $0.removeValue(forKey: key(connection)) }
    }

    // MARK: - Scanning

    /// Shuts down the sockets of connections whose headers are overdue; returns how many.
    func scan(now: UInt64 = uptimeNanoseconds()) -> Int {
        connections.withLock { connections -> Int in
            var cut = 0
            for (key, entry) in connections {
                var phase = entry.phase
                if case .idle(let since, let receivedBytes) = phase {
                    if let receivedBytes {
                        guard let current = receivedByteCount(entry.socket), current != receivedBytes else { continue }
                        phase = .receivingHeaders(since: now)
                    } else {
                        guard idleTimeoutNanoseconds > 0, elapsed(since: since, now: now) > idleTimeoutNanoseconds else {
                            continue
                        }
                        phase = .receivingHeaders(since: saturatingSum(since, idleTimeoutNanoseconds))
                    }
                }
                if case .receivingHeaders(let since) = phase, elapsed(since: since, now: now) > timeoutNanoseconds {
                    // Both directions: libmicrohttpd's next read sees the end of the stream and
                    // closes the connection; the client sees it closed without an answer.
                    _ = shutdown(entry.socket, Int32(SHUT_RDWR))
                    phase = .cut
                    cut += 1
                }
                if phase != entry.phase {
                    connections[key]?.phase = phase
                }
            }
            return cut
        }
    }

    /// Starts calling ``scan()`` every ``scanIntervalNanoseconds``, handing `report` the number cut off
    /// whenever it is not zero. Does nothing if already scanning.
    func startScanning(_ report: @escaping @Sendable (Int) -> Void) {
        timer.withLock { timer in
            guard timer == nil else { return }
            let queue = DispatchQueue(label: "kpid.http.header-watchdog")
            let source = DispatchSource.makeTimerSource(queue: queue)
            let interval = DispatchTimeInterval.nanoseconds(scanIntervalNanoseconds)
            source.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(50))
            source.setEventHandler { [self] in
                let cut = scan()
                if cut > 0 { report(cut) }
            }
            source.resume()
            timer = (source, queue)
        }
    }

    /// Stops the timer and waits for a scan in progress to end.
    func stopScanning() {
        let running = timer.withLock { timer in
            defer { timer = nil }
            return timer
        }
        guard let taken = running else { return }
        taken.source.cancel()
        // The handler runs on this serial queue: once this block has run, no scan is running.
        taken.queue.sync {}
    }

    // MARK: - Private

    private func key(_ connection: OpaquePointer) -> UInt {
        UInt(bitPattern: connection)
    }

    private func receivedByteCount(_ socket: Int32) -> UInt64? {
        readsReceivedBytes ? socketReceivedByteCount(socket) : nil
    }
}

// MARK: - System helpers

func uptimeNanoseconds() -> UInt64 {
    DispatchTime.now().uptimeNanoseconds
}

private func elapsed(since: UInt64, now: UInt64) -> UInt64 {
    now > since ? now - since : 0
}

private func saturatingSum(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? .max : sum
}

/// `seconds` in nanoseconds; negative counts as 0, and the product saturates.
func nanoseconds(seconds: Int) -> UInt64 {
    let (product, overflow) = UInt64(max(0, seconds)).multipliedReportingOverflow(by: 1_000_000_000)
    return overflow ? .max : product
}

/// Bytes the socket has received so far, or nil where the kernel does not tell.
private func socketReceivedByteCount(_ socket: Int32) -> UInt64? {
    #if os(Linux)
        // `struct tcp_info` of <linux/tcp.h> (glibc's copy, which Swift imports, stops before
        // this field, and the kernel's header cannot be imported beside it):
        // `tcpi_bytes_received`, since Linux 4.1, is the u64 at offset 128 (the kernel only
        // appends to this struct).
        let tcpInfo: Int32 = 11  // TCP_INFO
        let offset = 128
        return withUnsafeTemporaryAllocation(byteCount: 256, alignment: 8) { buffer -> UInt64? in
            var length = socklen_t(buffer.count)
            guard getsockopt(socket, Int32(IPPROTO_TCP), tcpInfo, buffer.baseAddress, &length) == 0,
                Int(length) >= offset + MemoryLayout<UInt64>.size
            else { return nil }
            return buffer.load(fromByteOffset: offset, as: UInt64.self)
        }
    #else
        return nil
    #endif
}
