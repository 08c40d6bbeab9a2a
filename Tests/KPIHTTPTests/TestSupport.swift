import Foundation
import KPIHTTP
import Synchronization

/// A value shared between a server handler (on a pool thread) and the test.
final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>

    init(_ value: Value) {
        storage = Mutex(value)
    }

    var value: Value {
        storage.withLock { $0 }
    }

    func update(_ body: (inout Value) -> Void) {
        storage.withLock { body(&$0) }
    }
}

/// Starts a server on a free loopback port, runs `body`, and always stops the server.
func withServer(
    bindAddress: String = "127.0.0.1",
    configure: (inout HTTPServerConfiguration) -> Void = { _ in },
    handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse,
    _ body: (HTTPServer) throws -> Void
) throws {
    var configuration = HTTPServerConfiguration()
    configuration.bindAddress = bindAddress
    configuration.port = 0
    configuration.threadCount = 4
    configuration.connectionTimeoutSeconds = 10
    configure(&configuration)
    let server = HTTPServer(configuration: configuration, handler: handler)
    try server.start()
    defer { server.stop() }
    try body(server)
}

/// Opens a connection, sends one request and reads the answer.
func exchange(
    port: UInt16, host: String = "127.0.0.1", method: String = "GET", target: String,
    headers: [(String, String)] = [], body: [UInt8]? = nil
) throws -> RawHTTPResponse {
    let connection = try RawHTTPConnection(host: host, port: port)
    try connection.send(requestBytes(method: method, target: target, headers: headers, body: body))
    return try connection.readResponse(headOnly: method == "HEAD")
}

func requestBytes(method: String = "GET", target: String, headers: [(String, String)] = [], body: [UInt8]? = nil)
    -> [UInt8]
{
    var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n"
    for (name, value) in headers {
        head += "\(name): \(value)\r\n"
    }
    if let body {
        head += "Content-Length: \(body.count)\r\n"
    }
    head += "\r\n"
    return Array(head.utf8) + (body ?? [])
}

/// Frames `pieces` as a chunked request body.
func chunkedBody(_ pieces: [[UInt8]]) -> [UInt8] {
    var bytes: [UInt8] = []
    for piece in pieces where !piece.isEmpty {
        bytes += Array((String(piece.count, radix: 16) + "\r\n").utf8) + piece + Array("\r\n".utf8)
    }
    return bytes + Array("0\r\n\r\n".utf8)
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
func patternBytes(count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    var bytes = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes[index] = UInt8(truncatingIfNeeded: state)
    }
    return bytes
}

/// Runs `body` on `count` real threads at once (blocking sockets would starve the small
/// cooperative pool) and returns the results in order; `nil` for any thread not done in time.
func runOnThreads<T: Sendable>(count: Int, timeoutSeconds: Double, _ body: @escaping @Sendable (Int) -> T) -> [T?] {
    let results = Shared<[T?]>(Array(repeating: nil, count: count))
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            let result = body(index)
            results.update { $0[index] = result }
            group.leave()
        }
        thread.start()
    }
    _ = group.wait(timeout: .now() + timeoutSeconds)
    return results.value
}

/// Polls `condition` until it holds or `timeoutSeconds` pass; returns whether it held.
func waitUntil(timeoutSeconds: Double, _ condition: () -> Bool) -> Bool {
    // The monotonic clock: a wall-clock step must not stretch or cut the wait.
    let deadline = ContinuousClock.now + .milliseconds(Int(timeoutSeconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(2_000)
    }
    return condition()
}

/// A stream handing out `pieces` one by one.
final class PieceStream: HTTPBodyStream {
    private var pieces: [[UInt8]]
    private var index = 0

    init(_ pieces: [[UInt8]]) {
        self.pieces = pieces
    }

    func next() -> [UInt8]? {
        guard index < pieces.count else { return nil }
        defer { index += 1 }
        return pieces[index]
    }
}
