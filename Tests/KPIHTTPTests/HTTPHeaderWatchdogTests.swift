import Foundation
import Testing

@testable import KPIHTTP

/// The header watchdog's bookkeeping on a clock the test sets, without libmicrohttpd, as where
/// sockets' received-byte counts are unknown (the Linux path is covered by the server tests). The
/// sockets are a local pair, so that a cut-off shows at the other end.
@Suite struct HTTPHeaderWatchdogTests {
    static let second: UInt64 = 1_000_000_000
    static let start: UInt64 = 1_000 * second

    /// Request timeout 2 s, connection timeout 5 s.
    static func watchdog() -> HTTPHeaderWatchdog {
        HTTPHeaderWatchdog(timeoutSeconds: 2, idleTimeoutSeconds: 5, readsReceivedBytes: false)
    }

    static func connection(_ address: UInt = 0x1000) throws -> OpaquePointer {
        try #require(OpaquePointer(bitPattern: address))
    }

    @Test func firstRequestIsTimedFromTheAcceptAndCutOffOnce() throws {
        let sockets = try SocketPair()
        let watchdog = Self.watchdog()
        let connection = try Self.connection()
        let start = Self.start
        watchdog.connectionStarted(connection, socket: sockets.server, now: start)
        #expect(watchdog.scan(now: start + 2 * Self.second) == 0)
        #expect(!sockets.clientSeesEnd())
        #expect(watchdog.scan(now: start + 2 * Self.second + 1) == 1)
        #expect(sockets.clientSeesEnd())
        // Counted once, and never served: the headers arriving now are refused.
        #expect(watchdog.scan(now: start + 10 * Self.second) == 0)
        #expect(watchdog.headersComplete(connection, now: start + 10 * Self.second) == nil)
        watchdog.requestCompleted(connection, now: start + 11 * Self.second)
        #expect(watchdog.scan(now: start + 100 * Self.second) == 0)
        watchdog.connectionClosed(connection)
    }

    @Test func headersInTimeLeaveTheWatchAndReportTheRequestStart() throws {
        let sockets = try SocketPair()
        let watchdog = Self.watchdog()
        let connection = try Self.connection()
        let start = Self.start
        watchdog.connectionStarted(connection, socket: sockets.server, now: start)
        watchdog.requestLineParsed(connection, now: start + Self.second / 10)
        #expect(watchdog.headersComplete(connection, now: start + Self.second) == start)
        // Body and handler are not watched, however long they take.
        #expect(watchdog.scan(now: start + 60 * Self.second) == 0)
        #expect(!sockets.clientSeesEnd())
    }

    @Test func keptAliveRequestIsTimedFromItsRequestLine() throws {
        let sockets = try SocketPair()
        let watchdog = Self.watchdog()
        let connection = try Self.connection()
        let start = Self.start
        watchdog.connectionStarted(connection, socket: sockets.server, now: start)
        #expect(watchdog.headersComplete(connection, now: start) == start)
        let finished = start + Self.second
        watchdog.requestCompleted(connection, now: finished)
        // Idle within the connection timeout: left to libmicrohttpd.
        #expect(watchdog.scan(now: finished + 4 * Self.second) == 0)
        let requestLine = finished + 4 * Self.second + Self.second / 2
        watchdog.requestLineParsed(connection, now: requestLine)
        #expect(watchdog.scan(now: requestLine + 2 * Self.second) == 0)
        #expect(!sockets.clientSeesEnd())
        #expect(watchdog.scan(now: requestLine + 2 * Self.second + 1) == 1)
        #expect(sockets.clientSeesEnd())
    }

    @Test func keptAliveRequestStartsOneConnectionTimeoutAfterThePreviousAtTheLatest() throws {
        let sockets = try SocketPair()
        let watchdog = Self.watchdog()
        let connection = try Self.connection()
        let start = Self.start
        watchdog.connectionStarted(connection, socket: sockets.server, now: start)
        _ = watchdog.headersComplete(connection, now: start)
        watchdog.requestCompleted(connection, now: start)
        // Still open after the connection timeout, so bytes have been arriving since: a request
        // started by then, even if its request line is not complete yet.
        #expect(watchdog.scan(now: start + 7 * Self.second) == 0)
        #expect(watchdog.scan(now: start + 7 * Self.second + 1) == 1)
        #expect(sockets.clientSeesEnd())
    }

    @Test func closedConnectionIsForgotten() throws {
        let sockets = try SocketPair()
        let watchdog = Self.watchdog()
        let connection = try Self.connection()
        watchdog.connectionStarted(connection, socket: sockets.server, now: Self.start)
        watchdog.connectionClosed(connection)
        #expect(watchdog.scan(now: Self.start + 100 * Self.second) == 0)
        #expect(!sockets.clientSeesEnd())
        // Unknown connections are served, timed from when their headers came.
        #expect(watchdog.headersComplete(connection, now: Self.start + 3) == Self.start + 3)
    }

    @Test func connectionsAreTrackedApart() throws {
        let first = try SocketPair()
        let second = try SocketPair()
        let watchdog = Self.watchdog()
        let start = Self.start
        watchdog.connectionStarted(try Self.connection(0x1000), socket: first.server, now: start)
        watchdog.connectionStarted(try Self.connection(0x2000), socket: second.server, now: start + Self.second)
        #expect(watchdog.scan(now: start + 2 * Self.second + 1) == 1)
        #expect(first.clientSeesEnd())
        #expect(!second.clientSeesEnd())
        #expect(watchdog.scan(now: start + 3 * Self.second + 1) == 1)
        #expect(second.clientSeesEnd())
    }

    @Test func scanIntervalIsASixteenthOfTheTimeoutWithinBounds() {
        #expect(HTTPHeaderWatchdog(timeoutSeconds: 1, idleTimeoutSeconds: 0).scanIntervalNanoseconds == 250_000_000)
        #expect(HTTPHeaderWatchdog(timeoutSeconds: 8, idleTimeoutSeconds: 0).scanIntervalNanoseconds == 500_000_000)
        #expect(HTTPHeaderWatchdog(timeoutSeconds: 300, idleTimeoutSeconds: 0).scanIntervalNanoseconds == 1_000_000_000)
        #expect(HTTPHeaderWatchdog(timeoutSeconds: .max, idleTimeoutSeconds: .max).scanIntervalNanoseconds == 1_000_000_000)
    }
}

/// A connected pair of local stream sockets, closed on deinit.
private final class SocketPair {
    /// The end the watchdog shuts down.
    let server: Int32
    let client: Int32

    init() throws {
        var descriptors: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, streamSocketType, 0, &descriptors) == 0 else {
            throw RawHTTPError(description: "socketpair failed: errno \(errno)")
        }
        server = descriptors[0]
        client = descriptors[1]
    }

    deinit {
        close(server)
        close(client)
    }

    /// Whether the client end reads the end of the stream now, without waiting.
    func clientSeesEnd() -> Bool {
        var byte: UInt8 = 0
        return recv(client, &byte, 1, Int32(MSG_DONTWAIT)) == 0
    }
}
