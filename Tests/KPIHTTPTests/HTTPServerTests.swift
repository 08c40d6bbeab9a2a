import Foundation
import KPIHTTP
import Testing

/// Real libmicrohttpd servers on loopback, driven by a raw-socket client. Serialized: the
/// machine has two cores and some tests measure concurrency.
@Suite(.serialized) struct HTTPServerTests {
    // MARK: - Requests

    @Test func getDecodesPathAndQuery() throws {
        let seen = Shared<HTTPRequest?>(nil)
        try withServer(handler: { request in
            seen.update { $0 = request }
            return .text(200, "ok")
        }) { server in
            let target =
                "/api/v1/query%20x/a+b?match[]=up&match%5B%5D=%7Bjob%3D%22a%22%7D&q=a+b%2Bc%26d&empty=&flag&caf%C3%A9=%E2%9C%93"
            let response = try exchange(port: server.boundPort, target: target)
            #expect(response.status == 200)
            #expect(response.bodyText == "ok")
            let request = try #require(seen.value)
            #expect(request.method == "GET")
            #expect(request.path == "/api/v1/query x/a+b")
            #expect(request.query.map(\.name) == ["match[]", "match[]", "q", "empty", "flag", "café"])
            #expect(request.query.map(\.value) == ["up", "{job=\"a\"}", "a b+c&d", "", "", "✓"])
            #expect(request.queryValues("match[]") == ["up", "{job=\"a\"}"])
            #expect(request.queryValue("q") == "a b+c&d")
            #expect(request.remoteAddress == "127.0.0.1")
            #expect(request.body.isEmpty)
        }
    }

    @Test func headersAreCaseInsensitiveAndRepeatsJoined() throws {
        let seen = Shared<HTTPRequest?>(nil)
        try withServer(handler: { request in
            seen.update { $0 = request }
            return HTTPResponse(status: 204, headers: [("X-Answer", "42"), ("Cache-Control", "no-store")])
        }) { server in
            let response = try exchange(
                port: server.boundPort, target: "/h",
                headers: [("X-Custom-Thing", "Value One"), ("x-repeat", "a"), ("X-REPEAT", "b")])
            #expect(response.status == 204)
            #expect(response.header("x-answer") == "42")
            #expect(response.header("cache-control") == "no-store")
            let request = try #require(seen.value)
            #expect(request.header("x-custom-thing") == "Value One")
            #expect(request.header("X-CUSTOM-THING") == "Value One")
            #expect(request.headers["x-custom-thing"] == "Value One")
            #expect(request.header("X-Repeat") == "a, b")
            #expect(request.header("host") == "localhost")
        }
    }

    @Test(arguments: [0, 17, 70_000, 5 << 20])
    func postBodyIsEchoed(size: Int) throws {
        let body = patternBytes(count: size)
        try withServer(handler: { request in
            HTTPResponse(
                status: 200, headers: [("Content-Type", "application/octet-stream")], body: .bytes(request.body))
        }) { server in
            let response = try exchange(port: server.boundPort, method: "POST", target: "/echo", body: body)
            #expect(response.status == 200)
            #expect(response.body.count == size)
            #expect(response.body == body)
            #expect(response.header("Content-Length") == "\(size)")
        }
    }

    @Test func expectContinueUploadIsEchoed() throws {
        let body = patternBytes(count: 300_000, seed: 7)
        try withServer(handler: { request in HTTPResponse(status: 200, body: .bytes(request.body)) }) { server in
            let connection = try RawHTTPConnection(port: server.boundPort)
            try connection.send(
                requestBytes(method: "PUT", target: "/e", headers: [("Content-Length", "\(body.count)"), ("Expect", "100-continue")]))
            let interim = try connection.readResponse()
            #expect(interim.status == 100)
            try connection.send(body)
            let response = try connection.readResponse()
            #expect(response.status == 200)
            #expect(response.body == body)
        }
    }

    @Test func chunkedUploadIsReassembled() throws {
        let pieces = (0..<200).map { patternBytes(count: ($0 * 7919) % 9000 + 1, seed: UInt64($0 + 1)) }
        let expected = pieces.flatMap { $0 }
        let calls = Shared(0)
        try withServer(handler: { request in
            calls.update { $0 += 1 }
            return HTTPResponse(status: 200, body: .bytes(request.body))
        }) { server in
            let connection = try RawHTTPConnection(port: server.boundPort)
            try connection.send(requestBytes(method: "POST", target: "/chunked", headers: [("Transfer-Encoding", "chunked")]))
            try connection.send(chunkedBody(pieces))
            let response = try connection.readResponse()
            #expect(response.status == 200)
            #expect(response.body.count == expected.count)
            #expect(response.body == expected)
            #expect(calls.value == 1)
        }
    }

    /// A request framed twice (Content-Length and Transfer-Encoding: chunked) is refused with
    /// 400 before its body is read, the handler never sees it, and the connection is closed,
    /// so no leftover bytes can be taken as a second request.
    @Test func contentLengthWithTransferEncodingIsRefused() throws {
        let calls = Shared(0)
        try withServer(handler: { request in
            calls.update { $0 += 1 }
            return HTTPResponse(status: 200, body: .bytes(request.body))
        }) { server in
            let connection = try RawHTTPConnection(port: server.boundPort)
            try connection.send(
                requestBytes(
                    method: "POST", target: "/smuggle", headers: [("Content-Length", "5"), ("Transfer-Encoding", "chunked")]))
            try connection.send(chunkedBody([Array("GET /second HTTP/1.1\r\nHost: x\r\n\r\n".utf8)]))
            let response = try connection.readResponse()
            #expect(response.status == 400)
            #expect(String(decoding: response.body, as: UTF8.self).contains("Transfer-Encoding"))
            #expect(try connection.readToEnd().isEmpty)
            #expect(calls.value == 0)
        }
    }

    // MARK: - Responses

    @Test func streamedResponseIsAssembledInOrder() throws {
        // Pieces from empty to larger than the 64 KiB block, so the reader must both merge
        // pieces into one block and carry the rest of a piece over to the next block.
        let pieces = (0..<1000).map { index -> [UInt8] in
            let size = index % 97 == 0 ? 0 : (index * 2_654_435_761) % 3000 + (index % 250 == 1 ? 150_000 : 0)
            return patternBytes(count: size, seed: UInt64(index) + 11)
        }
        let expected = pieces.flatMap { $0 }
        let streamsMade = Shared(0)
        try withServer(handler: { _ in
            HTTPResponse(
                status: 200, headers: [("Content-Type", "application/octet-stream")],
                body: .stream({
                    streamsMade.update { $0 += 1 }
                    return PieceStream(pieces)
                }))
        }) { server in
            let response = try exchange(port: server.boundPort, target: "/stream")
            #expect(response.status == 200)
            #expect(response.header("Transfer-Encoding")?.lowercased() == "chunked")
            #expect(response.header("Content-Length") == nil)
            #expect(response.body.count == expected.count)
            #expect(response.body == expected)
            #expect(streamsMade.value == 1)
        }
    }

    @Test func emptyStreamGivesEmptyBody() throws {
        try withServer(handler: { _ in HTTPResponse(status: 200, body: .stream({ PieceStream([]) })) }) { server in
            let response = try exchange(port: server.boundPort, target: "/")
            #expect(response.status == 200)
            #expect(response.body.isEmpty)
        }
    }

    @Test func invalidHandlerStatusBecomes500() throws {
        try withServer(handler: { _ in .text(1234, "odd") }) { server in
            let response = try exchange(port: server.boundPort, target: "/")
            #expect(response.status == 500)
        }
    }

    @Test func keepAliveServesTwoRequestsOnOneConnection() throws {
        let remotePorts = Shared<[String]>([])
        try withServer(handler: { request in
            remotePorts.update { $0.append(request.path) }
            return .text(200, "answer to \(request.path)")
        }) { server in
            let connection = try RawHTTPConnection(port: server.boundPort)
            try connection.send(requestBytes(target: "/first"))
            let first = try connection.readResponse()
            try connection.send(requestBytes(method: "POST", target: "/second", body: Array("x".utf8)))
            let second = try connection.readResponse()
            #expect(first.status == 200)
            #expect(first.bodyText == "answer to /first")
            #expect(!first.head.lowercased().contains("connection: close"))
            #expect(second.status == 200)
            #expect(second.bodyText == "answer to /second")
            #expect(remotePorts.value == ["/first", "/second"])
        }
    }

    @Test func pipelinedRequestsOnTheWireAreBothAnswered() throws {
        try withServer(handler: { request in .text(200, request.path) }) { server in
            let connection = try RawHTTPConnection(port: server.boundPort)
            // Both requests in one write; the second asks the server to close afterwards.
            try connection.send(
                requestBytes(target: "/a") + requestBytes(target: "/b", headers: [("Connection", "close")]))
            let raw = String(decoding: try connection.readToEnd(), as: UTF8.self)
            #expect(raw.components(separatedBy: "HTTP/1.1 200 OK\r\n").count == 3)
            #expect(raw.hasSuffix("\r\n\r\n/b"))
            #expect(raw.contains("\r\n\r\n/aHTTP/1.1 200 OK\r\n"))
        }
    }

    @Test func headRequestSendsNoBody() throws {
        try withServer(handler: { _ in .text(200, "body") }) { server in
            let connection = try RawHTTPConnection(port: server.boundPort)
            try connection.send(requestBytes(method: "HEAD", target: "/"))
            let head = try connection.readResponse(headOnly: true)
            #expect(head.status == 200)
            // The connection is still usable, which proves no stray body bytes were sent.
            try connection.send(requestBytes(target: "/"))
            #expect(try connection.readResponse().bodyText == "body")
        }
    }
}
