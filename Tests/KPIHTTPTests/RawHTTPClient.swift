#if canImport(Glibc)
    import Glibc

    private let systemClose = Glibc.close
    private let systemSend = Glibc.send
    private let systemRecv = Glibc.recv
    let streamSocketType = Int32(SOCK_STREAM.rawValue)
    private let noSignal = Int32(MSG_NOSIGNAL)
    private let peekWithoutWaiting = Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)
#elseif canImport(Darwin)
    import Darwin

    private let systemClose = Darwin.close
    private let systemSend = Darwin.send
    private let systemRecv = Darwin.recv
    let streamSocketType = SOCK_STREAM
    private let noSignal: Int32 = 0  // Darwin uses SO_NOSIGPIPE instead
    private let peekWithoutWaiting = MSG_PEEK | MSG_DONTWAIT
#endif

/// A response as read off the wire by ``RawHTTPConnection``.
struct RawHTTPResponse {
    var status: Int
    /// Header lines in the order received, names as sent.
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// The status line and header lines exactly as received.
    var head: String

    func header(_ name: String) -> String? {
        headers.first(where: { $0.name.lowercased() == name.lowercased() })?.value
    }

    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

struct RawHTTPError: Error, CustomStringConvertible {
    var description: String
}

/// A deliberately small HTTP/1.1 client on a blocking socket, so tests see exactly the bytes
/// exchanged (keep-alive, chunked framing) without a client library second-guessing them.
/// Every socket call is bounded by a receive/send timeout, so no test can hang.
final class RawHTTPConnection {
    private var fd: Int32
    private var buffer: [UInt8] = []

    init(host: String = "127.0.0.1", port: UInt16, timeoutSeconds: Int = 10) throws {
        var storage = sockaddr_storage()
        let length: socklen_t
        let family: Int32
        if host.contains(":") {
            family = AF_INET6
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            try withUnsafeMutablePointer(to: &storage) { pointer in
                try pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                    v6.pointee.sin6_family = sa_family_t(AF_INET6)
                    v6.pointee.sin6_port = port.bigEndian
                    guard inet_pton(AF_INET6, host, &v6.pointee.sin6_addr) == 1 else {
                        throw RawHTTPError(description: "bad address \(host)")
                    }
                }
            }
        } else {
            family = AF_INET
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            try withUnsafeMutablePointer(to: &storage) { pointer in
                try pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                    v4.pointee.sin_family = sa_family_t(AF_INET)
                    v4.pointee.sin_port = port.bigEndian
                    guard inet_pton(AF_INET, host, &v4.pointee.sin_addr) == 1 else {
                        throw RawHTTPError(description: "bad address \(host)")
                    }
                }
            }
        }
        fd = socket(family, streamSocketType, 0)
        guard fd >= 0 else { throw RawHTTPError(description: "socket() failed: \(errno)") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        guard result == 0 else {
            let code = errno
            _ = systemClose(fd)
            fd = -1
            throw RawHTTPError(description: "connect to \(host):\(port) failed: errno \(code)")
        }
    }

    deinit {
        close()
    }

    func close() {
        if fd >= 0 {
            _ = systemClose(fd)
            fd = -1
        }
    }

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                systemSend(fd, buffer.baseAddress! + offset, buffer.count - offset, noSignal)
            }
            guard sent > 0 else { throw RawHTTPError(description: "send failed: errno \(errno)") }
            offset += sent
        }
    }

    /// Reads one response; `headOnly` for answers to HEAD, which carry no body.
    func readResponse(headOnly: Bool = false) throws -> RawHTTPResponse {
        let headEnd = try readUntil(Array("\r\n\r\n".utf8))
        let head = String(decoding: buffer[0..<headEnd], as: UTF8.self)
        buffer.removeFirst(headEnd + 4)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw RawHTTPError(description: "bad status line in \(head)")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
            headers.append((name, value))
        }
        var response = RawHTTPResponse(status: status, headers: headers, body: [], head: head)
        if headOnly || status == 204 || status == 304 || (100..<200).contains(status) {
            return response
        }
        if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            response.body = try readChunkedBody()
        } else if let length = response.header("Content-Length").flatMap({ Int($0) }) {
            try fill(atLeast: length)
            response.body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        } else {
            response.body = try readToEnd()
        }
        return response
    }

    /// Everything until the server closes the connection.
    func readToEnd() throws -> [UInt8] {
        while try receive() > 0 {}
        defer { buffer = [] }
        return buffer
    }

    /// Whether the server has closed the connection (an orderly EOF within the timeout).
    func isClosedByPeer() -> Bool {
        (try? receive()) == 0
    }

    /// Whether the server has closed or reset the connection, without waiting: bytes waiting to
    /// be read, or none yet, mean it is open.
    func hasBeenClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let count = systemRecv(fd, &byte, 1, peekWithoutWaiting)
        if count == 0 { return true }
        if count < 0 {
            let code = errno
            return code != EAGAIN && code != EWOULDBLOCK && code != EINTR
        }
        return false
    }

    private func readChunkedBody() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let lineEnd = try readUntil(Array("\r\n".utf8))
            let sizeText = String(decoding: buffer[0..<lineEnd], as: UTF8.self)
            buffer.removeFirst(lineEnd + 2)
            guard let size = Int(sizeText.split(separator: ";")[0], radix: 16) else {
                throw RawHTTPError(description: "bad chunk size \(sizeText)")
            }
            if size == 0 {
                // Trailers, if any, end with an empty line.
                while true {
                    let end = try readUntil(Array("\r\n".utf8))
                    buffer.removeFirst(end + 2)
                    if end == 0 { return body }
                }
            }
            try fill(atLeast: size + 2)
            body.append(contentsOf: buffer[0..<size])
            buffer.removeFirst(size + 2)
        }
    }

    private func readUntil(_ marker: [UInt8]) throws -> Int {
        var searchFrom = 0
        while true {
            if buffer.count >= marker.count {
                for start in searchFrom...(buffer.count - marker.count)
                where buffer[start..<(start + marker.count)].elementsEqual(marker) {
                    return start
                }
                searchFrom = buffer.count - marker.count + 1
            }
            guard try receive() > 0 else {
                throw RawHTTPError(description: "connection closed before \(marker) (have \(buffer.count) bytes)")
            }
        }
    }

    private func fill(atLeast count: Int) throws {
        while buffer.count < count {
            guard try receive() > 0 else {
                throw RawHTTPError(description: "connection closed after \(buffer.count) of \(count) bytes")
            }
        }
    }

    /// Returns the number of bytes read, 0 at EOF; throws on a timeout or error.
    private func receive() throws -> Int {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let count = chunk.withUnsafeMutableBytes { systemRecv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 {
            throw RawHTTPError(description: "recv failed: errno \(errno)")
        }
        buffer.append(contentsOf: chunk[0..<count])
        return count
    }
}
