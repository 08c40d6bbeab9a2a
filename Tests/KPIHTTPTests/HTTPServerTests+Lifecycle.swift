import Foundation
import KPIHTTP
import Testing

extension HTTPServerTests {
    @Test func portZeroBindsARealPort() throws {
        var configuration = HTTPServerConfiguration()
        configuration.port = 0
        let server = HTTPServer(configuration: configuration) { _ in .text(200, "hi") }
        #expect(server.boundPort == 0)
        try server.start()
        defer { server.stop() }
        #expect(server.boundPort != 0)
        let response = try exchange(port: server.boundPort, target: "/")
        #expect(response.status == 200)
        #expect(response.bodyText == "hi")
    }

    @Test func bindingABusyPortFailsWithAClearError() throws {
        try withServer(handler: { _ in .text(200, "") }) { first in
            var configuration = HTTPServerConfiguration()
            configuration.port = first.boundPort
            let second = HTTPServer(configuration: configuration) { _ in .text(200, "") }
            let error = #expect(throws: HTTPServerError.self) { try second.start() }
            #expect(error?.message == "cannot bind 127.0.0.1:\(first.boundPort): address in use")
        }
    }

    @Test func invalidConfigurationIsRejected() throws {
        var configuration = HTTPServerConfiguration()
        configuration.port = 0
        configuration.bindAddress = "localhost"
        let byName = HTTPServer(configuration: configuration) { _ in .text(200, "") }
        #expect(throws: HTTPServerError.self) { try byName.start() }

        configuration.bindAddress = "127.0.0.1"
        configuration.threadCount = 0
        let noThreads = HTTPServer(configuration: configuration) { _ in .text(200, "") }
        #expect(throws: HTTPServerError.self) { try noThreads.start() }
    }

    @Test func startTwiceFailsAndStopIsIdempotent() throws {
        var configuration = HTTPServerConfiguration()
        configuration.port = 0
        let server = HTTPServer(configuration: configuration) { _ in .text(200, "") }
        server.stopAccepting()  // before start: nothing to do
        try server.start()
        #expect(throws: HTTPServerError.self) { try server.start() }
        server.stop()
        server.stop()
        server.stopAccepting()
    }

    @Test(.enabled(if: ipv6LoopbackAvailable(), "no IPv6 loopback on this machine"))
    func ipv6LoopbackBind() throws {
        let seen = Shared<String?>(nil)
        try withServer(
            bindAddress: "::1",
            handler: { request in
                seen.update { $0 = request.remoteAddress }
                return .text(200, "v6")
            }
        ) { server in
            #expect(server.boundPort != 0)
            let response = try exchange(port: server.boundPort, host: "::1", target: "/")
            #expect(response.status == 200)
            #expect(response.bodyText == "v6")
            #expect(seen.value == "::1")
        }
    }

    @Test(.enabled(if: ipv6LoopbackAvailable(), "no IPv6 loopback on this machine"))
    func ipv6AnyAddressAlsoServesIPv4() throws {
        // "::" binds every address; the dual-stack socket must still answer IPv4 clients.
        try withServer(bindAddress: "::", handler: { request in .text(200, request.remoteAddress ?? "?") }) { server in
            let v4 = try exchange(port: server.boundPort, host: "127.0.0.1", target: "/")
            #expect(v4.bodyText == "127.0.0.1")
            let v6 = try exchange(port: server.boundPort, host: "::1", target: "/")
            #expect(v6.bodyText == "::1")
        }
    }

    @Test func fiftyConcurrentSlowRequestsAllSucceed() throws {
        // No timing: the handlers wait (together at most 20 s from the first one) until two of
        // them are inside at once, which only a server running requests concurrently reaches;
        // then every request must still get its own answer. (libmicrohttpd's pool threads each
        // serve the connections they accepted one at a time, so how many run at once depends on
        // how the 50 connections were spread: two is what every spread gives.)
        let inHandler = Shared(0)
        let mostAtOnce = Shared(0)
        let deadline = Shared<ContinuousClock.Instant?>(nil)
        try withServer(
            configure: { $0.threadCount = 16 },
            handler: { request in
                inHandler.update { $0 += 1 }
                let now = inHandler.value
                mostAtOnce.update { $0 = max($0, now) }
                deadline.update { $0 = $0 ?? ContinuousClock.now + .seconds(20) }
                while mostAtOnce.value < 2, let end = deadline.value, ContinuousClock.now < end { usleep(1_000) }
                inHandler.update { $0 -= 1 }
                return .text(200, request.path)
            }
        ) { server in
            let port = server.boundPort
            let results = runOnThreads(count: 50, timeoutSeconds: 60) { index -> String? in
                guard let response = try? exchange(port: port, target: "/r\(index)"), response.status == 200 else {
                    return nil
                }
                return response.bodyText
            }
            #expect(results.enumerated().allSatisfy { $0.element == "/r\($0.offset)" })
            #expect(mostAtOnce.value >= 2)
        }
    }

    @Test func stopLetsAnInFlightRequestFinish() throws {
        let entered = Shared(false)
        var configuration = HTTPServerConfiguration()
        configuration.port = 0
        configuration.connectionTimeoutSeconds = 10
        let server = HTTPServer(configuration: configuration) { _ in
            entered.update { $0 = true }
            usleep(500_000)
            return .text(200, "finished")
        }
        try server.start()
        let port = server.boundPort
        let outcome = Shared<(status: Int, body: String)?>(nil)
        let client = Thread {
            if let response = try? exchange(port: port, target: "/slow") {
                outcome.update { $0 = (response.status, response.bodyText) }
            }
        }
        client.start()
        #expect(waitUntil(timeoutSeconds: 5) { entered.value })

        server.stopAccepting()
        let stopStarted = ContinuousClock.now
        server.stop()
        // The response went out before the threads ended; the client thread may still be parsing it.
        #expect(waitUntil(timeoutSeconds: 5) { outcome.value != nil })
        #expect(outcome.value?.status == 200)
        #expect(outcome.value?.body == "finished")
        #expect(ContinuousClock.now - stopStarted < .seconds(5))
    }

    @Test func stopAcceptingRefusesNewClientsButServesOpenConnections() throws {
        try withServer(handler: { request in .text(200, request.path) }) { server in
            let open = try RawHTTPConnection(port: server.boundPort)
            try open.send(requestBytes(target: "/before"))
            #expect(try open.readResponse().bodyText == "/before")

            server.stopAccepting()

            // A new client is either refused outright or never answered.
            if let late = try? RawHTTPConnection(port: server.boundPort, timeoutSeconds: 1) {
                try? late.send(requestBytes(target: "/late"))
                #expect((try? late.readResponse()) == nil)
            }
            // The kept-alive connection is still served.
            try open.send(requestBytes(target: "/after"))
            #expect(try open.readResponse().bodyText == "/after")
        }
    }
}

/// Whether this machine can bind the IPv6 loopback address (containers often cannot).
func ipv6LoopbackAvailable() -> Bool {
    let fd = socket(AF_INET6, streamSocketType, 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_addr = in6addr_loopback
    let result = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
    }
    return result == 0
}
