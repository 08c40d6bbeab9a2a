import Foundation
import KPIHTTP
import Testing

/// Handlers that answer later, from another thread, through an `HTTPResponder`.
@Suite struct HTTPResponderTests {
    func makeServer(threads: Int, timeout: Int = 10, _ handler: @escaping @Sendable (HTTPRequest, HTTPResponder) -> Void) throws
        -> HTTPServer
    {
        var configuration = HTTPServerConfiguration()
        configuration.port = 0
        configuration.threadCount = threads
        configuration.connectionTimeoutSeconds = timeout
        let server = HTTPServer(configuration: configuration, respondingHandler: handler)
        try server.start()
        return server
    }

    /// With ONE pool thread, a request whose answer is deferred for 600 ms does not hold the
    /// thread: another request is answered meanwhile, and the deferred one still arrives whole.
    @Test func deferredAnswerHoldsNoPoolThread() throws {
        let server = try makeServer(threads: 1) { request, responder in
            if request.path == "/slow" {
                // A plain thread, not a dispatch timer: the suite also runs under libfaketime.
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: 0.6)
                    responder.respond(.text(200, "slow done"))
                }
            } else {
                responder.respond(.text(200, "fast"))
            }
        }
        defer { server.stop() }
        let port = server.boundPort
        let slow = try RawHTTPConnection(port: port)
        try slow.send(requestBytes(target: "/slow"))
        Thread.sleep(forTimeInterval: 0.1)  // the slow request is now suspended
        let started = Date()
        let fast = try exchange(port: port, target: "/fast")
        let fastSeconds = Date().timeIntervalSince(started)
        #expect(fast.status == 200)
        #expect(String(decoding: fast.body, as: UTF8.self) == "fast")
        #expect(fastSeconds < 0.4, "the fast request waited \(fastSeconds) s behind the deferred one")
        let slowResponse = try slow.readResponse()
        #expect(slowResponse.status == 200)
        #expect(String(decoding: slowResponse.body, as: UTF8.self) == "slow done")
        // Keep-alive still works on the resumed connection.
        try slow.send(requestBytes(target: "/fast"))
        #expect(try slow.readResponse().status == 200)
    }

    /// Only the first answer counts; an answer given during the handler goes out without a
    /// suspend.
    @Test func answersOnceEvenIfCalledTwice() throws {
        let server = try makeServer(threads: 2) { _, responder in
            responder.respond(.text(201, "first"))
            responder.respond(.text(500, "second"))
        }
        defer { server.stop() }
        let r = try exchange(port: server.boundPort, target: "/")
        #expect(r.status == 201)
        #expect(String(decoding: r.body, as: UTF8.self) == "first")
    }

    /// A handler that never answers cannot wedge shutdown: stop answers it with 503.
    @Test func stopAnswersAnUnansweredRequest() throws {
        let kept = Shared<[HTTPResponder]>([])
        let server = try makeServer(threads: 1, timeout: 1) { _, responder in
            kept.update { $0.append(responder) }  // never answered
        }
        let connection = try RawHTTPConnection(port: server.boundPort)
        try connection.send(requestBytes(target: "/never"))
        Thread.sleep(forTimeInterval: 0.1)
        server.stopAccepting()
        server.stop()
        let r = try connection.readResponse()
        #expect(r.status == 503)
        #expect(kept.value.count == 1)
    }
}
