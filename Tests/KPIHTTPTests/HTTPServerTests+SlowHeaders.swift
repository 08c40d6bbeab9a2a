import Foundation
import KPIHTTP
import Testing

/// The request timeout against clients that send their headers a byte at a time: libmicrohttpd's
/// connection timeout is reset by every byte, so without a cut-off a few such clients would hold
/// every connection slot for ever.
extension HTTPServerTests {
    /// Connection timeout 5 s, request timeout 2 s, four connection slots.
    static func slowHeaderLimits(_ configuration: inout HTTPServerConfiguration) {
        configuration.connectionLimit = 4
        configuration.connectionTimeoutSeconds = 5
        configuration.requestTimeoutSeconds = 2
    }

    /// A request head that takes a minute to drip out a byte at a time.
    static func slowHead(path: String) -> [UInt8] {
        Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nX-Filler: \(String(repeating: "x", count: 200))\r\n\r\n".utf8)
    }

    @Test func slowHeadersAreCutOffAtTheRequestTimeout() throws {
        try withServer(configure: Self.slowHeaderLimits, handler: { request in .text(200, "ok \(request.path)") }) { server in
            let port = server.boundPort
            let drippers = try (0..<4).map { _ in try RawHTTPConnection(port: port) }
            // A fifth client asks while the four hold every slot: it is answered once they are cut off.
            let probe = Shared<(status: Int?, waited: Duration)?>(nil)
            Thread {
                usleep(600_000)
                let asked = ContinuousClock.now
                let status = try? exchange(port: port, target: "/healthz").status
                probe.update { $0 = (status, ContinuousClock.now - asked) }
            }.start()

            let closedAfter = dripUntilClosed(drippers, Self.slowHead(path: "/slow"), limit: .seconds(9)) { probe.value != nil }

            for (index, closed) in closedAfter.enumerated() {
                // Closed by the server: 2 s after the first byte, well before anything else would.
                let after = try #require(closed, "connection \(index) still open")
                #expect(after >= .milliseconds(1_500), "connection \(index)")
                #expect(after < .seconds(5), "connection \(index)")
            }
            #expect(waitUntil(timeoutSeconds: 2) { server.slowRequestsAborted == 4 })
            #expect(server.slowRequestsAborted == 4)
            #expect(waitUntil(timeoutSeconds: 10) { probe.value != nil })
            let answer = try #require(probe.value)
            #expect(answer.status == 200)
            // Locked out until the cut-off (about 1.5 s after asking), then served at once.
            #expect(answer.waited >= .milliseconds(500))
            #expect(answer.waited < .seconds(5))
        }
    }

    @Test func keptAliveConnectionPausingBetweenRequestsIsNotCutOff() throws {
        try withServer(configure: Self.slowHeaderLimits, handler: { request in .text(200, "ok \(request.path)") }) { server in
            let connection = try RawHTTPConnection(port: server.boundPort)
            try connection.send(requestBytes(target: "/first"))
            let first = try connection.readResponse()
            #expect(first.status == 200)
            #expect(first.bodyText == "ok /first")
            // Longer than the request timeout, shorter than the connection timeout.
            usleep(3_000_000)
            #expect(!connection.hasBeenClosedByPeer())
            try connection.send(requestBytes(target: "/second"))
            let second = try connection.readResponse()
            #expect(second.status == 200)
            #expect(second.bodyText == "ok /second")
            #expect(server.slowRequestsAborted == 0)
        }
    }

    @Test func slowHeadersOfAKeptAliveRequestAreCutOff() throws {
        try withServer(configure: Self.slowHeaderLimits, handler: { request in .text(200, "ok \(request.path)") }) { server in
            let connection = try RawHTTPConnection(port: server.boundPort)
            try connection.send(requestBytes(target: "/first"))
            #expect(try connection.readResponse().status == 200)
            usleep(1_000_000)
            // The second request line never completes, so only its bytes tell that it started.
            let closedAfter = dripUntilClosed([connection], Self.slowHead(path: "/second"), limit: .seconds(10))
            let after = try #require(closedAfter[0], "connection still open")
            #expect(after >= .milliseconds(1_500))
            #if os(Linux)
                // Timed from its first byte.
                #expect(after < .seconds(5))
            #else
                // Timed from one connection timeout after the first request at the latest.
                #expect(after < .seconds(8))
            #endif
            #expect(waitUntil(timeoutSeconds: 2) { server.slowRequestsAborted == 1 })
        }
    }

    #if os(Linux)
        /// With the socket's byte count (Linux), a request is timed from its first byte, not from
        /// the accept: a client may connect early and stay idle within the connection timeout.
        @Test func idleConnectionBeforeItsFirstRequestIsNotCutOff() throws {
            try withServer(configure: Self.slowHeaderLimits, handler: { request in .text(200, "ok \(request.path)") }) {
                server in
                let connection = try RawHTTPConnection(port: server.boundPort)
                usleep(3_000_000)
                #expect(!connection.hasBeenClosedByPeer())
                try connection.send(requestBytes(target: "/late"))
                let response = try connection.readResponse()
                #expect(response.status == 200)
                #expect(response.bodyText == "ok /late")
                #expect(server.slowRequestsAborted == 0)
            }
        }
    #endif

    @Test func withoutARequestTimeoutSlowHeadersAreLeftAlone() throws {
        try withServer(
            configure: {
                $0.connectionTimeoutSeconds = 5
                $0.requestTimeoutSeconds = 0
            }, handler: { _ in .text(200, "ok") }
        ) { server in
            let connection = try RawHTTPConnection(port: server.boundPort)
            let closedAfter = dripUntilClosed([connection], Self.slowHead(path: "/slow"), limit: .milliseconds(2_500))
            #expect(closedAfter == [nil])
            #expect(server.slowRequestsAborted == 0)
        }
    }
}

/// Sends `bytes` to every connection one byte at a time, every 300 ms, never the last byte (the
/// request never completes), watching for the server closing them; stops when all are closed,
/// after `limit`, and, once all are closed, not before `alsoWaitFor` holds (still within `limit`).
/// Returns how long after the first byte each connection was seen closed, nil if never.
private func dripUntilClosed(
    _ connections: [RawHTTPConnection], _ bytes: [UInt8], limit: Duration, alsoWaitFor: () -> Bool = { true }
) -> [Duration?] {
    let clock = ContinuousClock()
    let start = clock.now
    var closedAfter: [Duration?] = Array(repeating: nil, count: connections.count)
    var sent = 0
    var nextSend = start
    while clock.now - start < limit {
        for (index, connection) in connections.enumerated() where closedAfter[index] == nil {
            if connection.hasBeenClosedByPeer() {
                closedAfter[index] = clock.now - start
            }
        }
        if !closedAfter.contains(where: { $0 == nil }) && alsoWaitFor() { break }
        if clock.now >= nextSend, sent < bytes.count - 1 {
            for (index, connection) in connections.enumerated() where closedAfter[index] == nil {
                // A send racing the server's close may fail; the next check sees the close.
                try? connection.send([bytes[sent]])
            }
            sent += 1
            nextSend = nextSend + .milliseconds(300)
        }
        usleep(20_000)
    }
    return closedAfter
}
