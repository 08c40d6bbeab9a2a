import Foundation
import KPIHTTP
import Testing

extension HTTPServerTests {
    /// The one error envelope (as every API refusal): Prometheus' status and errorType beside
    /// kpid's error and details.
    static let tooLargeJSON =
        #"{"status":"error","errorType":"bad_data","error":"request body too large","details":[{"line":0,"field":"body","reason":"exceeds the limit of 1024 bytes"}]}"#
            + "\n"

    @Test func contentLengthOverLimitIs413WithoutCallingTheHandler() throws {
        let calls = Shared(0)
        try withServer(
            configure: { $0.maxBodyBytes = 1024 },
            handler: { _ in
                calls.update { $0 += 1 }
                return .text(200, "handled")
            }
        ) { server in
            // Only the head is sent: the answer must not wait for a body.
            let connection = try RawHTTPConnection(port: server.boundPort)
            try connection.send(requestBytes(method: "POST", target: "/ingest", headers: [("Content-Length", "1025")]))
            let response = try connection.readResponse()
            #expect(response.status == 413)
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.bodyText == Self.tooLargeJSON)
            #expect(calls.value == 0)

            // Exactly the limit is accepted.
            let atLimit = try exchange(
                port: server.boundPort, method: "POST", target: "/ingest", body: patternBytes(count: 1024))
            #expect(atLimit.status == 200)
            #expect(calls.value == 1)
        }
    }

    @Test func expectContinueOverLimitGets413InsteadOf100() throws {
        try withServer(configure: { $0.maxBodyBytes = 1024 }, handler: { _ in .text(200, "handled") }) { server in
            let connection = try RawHTTPConnection(port: server.boundPort)
            try connection.send(
                requestBytes(
                    method: "POST", target: "/", headers: [("Content-Length", "999999999"), ("Expect", "100-continue")]))
            let response = try connection.readResponse()
            #expect(response.status == 413)
            #expect(response.bodyText == Self.tooLargeJSON)
        }
    }

    @Test func chunkedUploadOverLimitIs413AndKeepsTheConnection() throws {
        let calls = Shared(0)
        try withServer(
            configure: { $0.maxBodyBytes = 1024 },
            handler: { request in
                calls.update { $0 += 1 }
                return .text(200, "got \(request.body.count)")
            }
        ) { server in
            let connection = try RawHTTPConnection(port: server.boundPort)
            let pieces = (0..<30).map { patternBytes(count: 100, seed: UInt64($0 + 3)) }  // 3000 bytes
            try connection.send(
                requestBytes(method: "POST", target: "/", headers: [("Transfer-Encoding", "chunked")]) + chunkedBody(pieces))
            let response = try connection.readResponse()
            #expect(response.status == 413)
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.bodyText == Self.tooLargeJSON)
            #expect(calls.value == 0)

            // The whole upload was read, so the connection stays usable.
            try connection.send(
                requestBytes(method: "POST", target: "/", headers: [("Transfer-Encoding", "chunked")])
                    + chunkedBody([patternBytes(count: 1000)]))
            let next = try connection.readResponse()
            #expect(next.status == 200)
            #expect(next.bodyText == "got 1000")
            #expect(calls.value == 1)
        }
    }

    @Test(arguments: [false, true])
    func clientVanishingMidUploadNeverReachesTheHandler(chunked: Bool) throws {
        let paths = Shared<[String]>([])
        try withServer(handler: { request in
            paths.update { $0.append(request.path) }
            return .text(200, "ok")
        }) { server in
            do {
                let connection = try RawHTTPConnection(port: server.boundPort)
                let head =
                    chunked
                    ? requestBytes(method: "POST", target: "/partial", headers: [("Transfer-Encoding", "chunked")])
                        + Array("400\r\n".utf8)
                    : requestBytes(method: "POST", target: "/partial", headers: [("Content-Length", "100000")])
                try connection.send(head + patternBytes(count: 600))
                usleep(50_000)
                connection.close()
            }
            // A later request is served; the partial one never was.
            let response = try exchange(port: server.boundPort, target: "/after")
            #expect(response.status == 200)
            usleep(100_000)
            #expect(paths.value == ["/after"])
        }
    }
}
