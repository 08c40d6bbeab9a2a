import Foundation
import KPIStorage
import Testing

@testable import KPIService

#if canImport(Glibc)
    import Glibc
#endif

/// A raw TCP client for faults an HTTP library will not produce: a body cut short, many
/// connections held open at once.
struct RawConnection {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else {
            close(fd)
            throw TestFailure("connect() failed: errno \(errno)")
        }
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Everything the server sends until it closes (requests ask `Connection: close`).
    func readAll() -> String {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    func closeNow() { close(fd) }
}

/// Fault tests that run quickly enough for every `make test`: a full disk (SQLite's own size
/// limit), a client that disconnects mid-upload, and a thousand connections at once.
@Suite(.serialized) struct FaultTests {
    static func ndjson(prefix: String, series: Int, samples: Int, now: Int64) -> String {
        var lines: [String] = []
        for s in 0..<series {
            for k in 0..<samples {
                lines.append(
                    #"{"metric":"fill_\#(prefix)","labels":{"site":"JFK","s":"\#(s)"},"ts":\#(now - Int64(k) * 1000),"value":\#(k % 97)}"#
                )
            }
        }
        return lines.joined(separator: "\n")
    }

    @Test func aFullDatabaseAnswers507StoresNothingAndRecovers() throws {
        let dir = TempDir()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var kpid = try RunningService(data: dir.path) { $0.maxDatabaseBytes = 3 << 20 }
        var acknowledged = 0
        var full: ClientResponse? = nil
        for round in 0..<400 {
            let body = Self.ndjson(prefix: "\(round)", series: 20, samples: 250, now: now)
            let r = try kpid.ingest(body, contentType: "application/x-ndjson")
            if r.status == 200 {
                acknowledged += 5000
            } else {
                full = r
                break
            }
        }
        let refused = try #require(full, "the database never filled up")
        #expect(refused.status == 507, "\(refused.text)")
        #expect(refused.text.contains("nothing was stored"))
        // SQLite's message (which can quote the statement) stays in the log.
        #expect(!refused.text.contains("INSERT") && !refused.text.lowercased().contains("sqlite"), "\(refused.text)")
        #expect(acknowledged > 0)
        // Every acknowledged sample is there, nothing of the refused request.
        let seriesCount = { (k: RunningService) throws -> Int in
            let r = try http("GET", k.base + "/api/v1/export?match=" + percentEncoded(#"{__name__=~"fill_.*"}"#))
            return r.text.split(separator: "\n").count
        }
        #expect(try seriesCount(kpid) == acknowledged)
        #expect(try http("GET", kpid.base + "/metrics").text.contains("kpid_samples_rejected_total{reason=\"storage_full\"} 5000"))
        kpid.stop()
        // Room again (the limit lifted): the same data, and writes succeed.
        kpid = try RunningService(data: dir.path)
        #expect(try seriesCount(kpid) == acknowledged)
        let again = try kpid.ingest(Self.ndjson(prefix: "after", series: 20, samples: 250, now: now), contentType: "application/x-ndjson")
        #expect(again.status == 200, "\(again.text)")
        kpid.stop()
        let check = try runKpidCommand(["check", "--data", dir.path])
        #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
    }

    @Test func aClientDisconnectingMidUploadStoresNothing() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        let port = kpid.service.boundPort!
        let body = Array(Self.ndjson(prefix: "cut", series: 10, samples: 200, now: Int64(Date().timeIntervalSince1970 * 1000)).utf8)
        // Half the body (whole lines), then the connection is gone.
        let half = body[..<(body[..<(body.count / 2)].lastIndex(of: UInt8(ascii: "\n"))! + 1)]
        let connection = try RawConnection(port: port)
        connection.send(
            Array(
                "POST /api/v1/ingest HTTP/1.1\r\nHost: kpid\r\nContent-Type: application/x-ndjson\r\nContent-Length: \(body.count)\r\n\r\n"
                    .utf8))
        connection.send(Array(half))
        Thread.sleep(forTimeInterval: 0.2)
        connection.closeNow()
        Thread.sleep(forTimeInterval: 0.5)
        let r = try http("GET", kpid.base + "/api/v1/series?match[]=fill_cut")
        #expect(r.status == 200)
        #expect((r.json["data"] as? [Any])?.isEmpty == true, "\(r.text)")
        // The server is fine: the whole body in one request is stored.
        let whole = try kpid.ingest(String(decoding: body, as: UTF8.self), contentType: "application/x-ndjson")
        #expect(whole.status == 200)
        #expect(try kpid.exportedSamples("fill_cut").count == 2000)
    }

    @Test func oversizedHeadersAreRefused() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path) { $0.maxHeaderBytes = 16 << 10 }
        let connection = try RawConnection(port: kpid.service.boundPort!)
        defer { connection.closeNow() }
        let filler = String(repeating: "x", count: 40 << 10)
        connection.send(Array("GET /api/v1/labels HTTP/1.1\r\nHost: kpid\r\nX-Filler: \(filler)\r\n\r\n".utf8))
        let answer = connection.readAll()
        #expect(answer.hasPrefix("HTTP/1.1 431"), "\(answer.prefix(200))")
        // Ordinary requests are unaffected.
        #expect(try http("GET", kpid.base + "/api/v1/labels").status == 200)
    }

    @Test func aSlowDripUploadIsCutOff() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path) { $0.requestTimeoutSeconds = 1 }
        let connection = try RawConnection(port: kpid.service.boundPort!)
        defer { connection.closeNow() }
        let line = #"{"metric":"drip","labels":{"site":"JFK"},"ts":1,"value":1}"# + "\n"
        connection.send(
            Array(
                "POST /api/v1/ingest HTTP/1.1\r\nHost: kpid\r\nContent-Type: application/x-ndjson\r\nContent-Length: \(line.utf8.count * 20)\r\n\r\n"
                    .utf8))
        // One line every 0.3 s: 20 lines would take 6 s; the server cuts it off after about 1 s.
        let started = Date()
        for _ in 0..<20 {
            connection.send(Array(line.utf8))
            Thread.sleep(forTimeInterval: 0.3)
            if kpid.service.httpServer?.slowRequestsAborted == 1 { break }
        }
        #expect(kpid.service.httpServer?.slowRequestsAborted == 1)
        #expect(Date().timeIntervalSince(started) < 4)
        #expect(connection.readAll().isEmpty)  // closed with no answer
        #expect(try kpid.exportedSamples("drip").isEmpty)
        #expect(try http("GET", kpid.base + "/metrics").text.contains("kpid_http_slow_requests_aborted_total 1"))
    }

    /// Resident memory of another process, from /proc/<pid>/statm.
    static func residentBytes(of pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test func queriesStoppedByTheTimeoutGiveTheirMemoryBack() throws {
        // A kpid process of its own, so other tests' memory does not blur the measure.
        let dir = TempDir()
        let kpid = try KpidProcess(data: dir.path, extraArguments: ["--query-timeout", "150ms"])
        defer { kpid.terminate() }
        let pid = kpid.process.processIdentifier
        // 40 series x 5,000 samples.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        for part in 0..<4 {
            var lines: [String] = []
            for s in 0..<10 {
                for k in 0..<5000 {
                    lines.append(#"{"metric":"big","labels":{"s":"\#(part * 10 + s)"},"ts":\#(now - Int64(k) * 1000),"value":\#(k)}"#)
                }
            }
            let r = try http(
                "POST", kpid.base + "/api/v1/ingest", body: Data(lines.joined(separator: "\n").utf8),
                headers: ["Content-Type": "application/x-ndjson"], timeout: 60)
            #expect(r.status == 200)
        }
        // A join of every sample with every sample of its series (a billion pairs, tens of MB
        // of join table and group state): far more than 150 ms of work on any machine, so each
        // run is stopped by the timeout with its state built.
        let sql =
            "SELECT a.s, a.ts, count(*) AS n, sum(b.value) AS v FROM big AS a JOIN big AS b ON a.s = b.s GROUP BY a.s, a.ts"
        func run() throws -> ClientResponse {
            try http("POST", kpid.base + "/api/v1/sql", body: Data(sql.utf8), headers: ["Content-Type": "text/plain"], timeout: 60)
        }
        let first = try run()
        #expect(first.status == 503, "\(first.text.prefix(300))")
        #expect(first.text.contains("timeout"))
        let before = try #require(Self.residentBytes(of: pid))
        for _ in 0..<12 { #expect(try run().status == 503) }
        let after = try #require(Self.residentBytes(of: pid))
        print("stopped queries: kpid resident memory \(before >> 20) MB before, \(after >> 20) MB after 12 more runs")
        // Twelve leaked runs would hold hundreds of MB; freed ones leave the heap where it was.
        #expect(after - before < 96 << 20, "resident memory grew by \((after - before) >> 20) MB over 12 stopped queries")
    }

    @Test func aThousandConcurrentConnectionsAreAllAnswered() throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 4096 {
            limit.rlim_cur = min(limit.rlim_max, 4096)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let dir = TempDir()
        // libmicrohttpd divides `max-connections` evenly among its worker threads (4 here, 256
        // each), and which worker accepts a connection is up to the kernel. On a loaded machine
        // exactly 256 of the 1,000 went unanswered twice, most likely because one worker's share
        // was reached (not proven). So the limit here leaves every worker room for all 1,000.
        // That the configured limit is not a global one is a product issue of its own.
        let kpid = try RunningService(data: dir.path) { $0.maxConnections = 4 * 1024 }
        let port = kpid.service.boundPort!
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        // All open at once, then each sends one ingest request, then all answers are read.
        var connections: [RawConnection] = []
        for _ in 0..<1000 { connections.append(try RawConnection(port: port)) }
        defer { for c in connections { c.closeNow() } }
        for (i, c) in connections.enumerated() {
            let body = #"{"metric":"conn","labels":{"site":"JFK","c":"\#(i)"},"ts":\#(now),"value":\#(i)}"#
            c.send(
                Array(
                    ("POST /api/v1/ingest HTTP/1.1\r\nHost: kpid\r\nConnection: close\r\nContent-Type: application/x-ndjson\r\n"
                        + "Content-Length: \(body.utf8.count)\r\n\r\n" + body).utf8))
        }
        var ok = 0
        for c in connections where c.readAll().hasPrefix("HTTP/1.1 200") { ok += 1 }
        #expect(ok == 1000)
        let samples = try kpid.exportedSamples("conn")
        #expect(samples.count == 1000)
        #expect(Set(samples.map(\.2)).count == 1000)
        #expect(try http("GET", kpid.base + "/healthz").status == 200)
    }
}

/// A chunk whose bytes were damaged on disk is left out at start, counted and reported; the
/// server starts and serves everything else.
@Suite(.serialized) struct CorruptChunkTests {
    @Test func aDamagedChunkIsIsolatedAtStart() throws {
        let dir = TempDir()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var kpid = try RunningService(data: dir.path) { $0.chunkSize = 64 }
        // Two series of 300 samples a minute apart: what is older than the out-of-order window
        // (1 h) is sealed in chunks of 64, the rest is the head.
        var lines: [String] = []
        for zone in ["a", "b"] {
            for k in 0..<300 {
                lines.append(#"{"metric":"dmg","labels":{"zone":"\#(zone)"},"ts":\#(now - Int64(300 - k) * 60_000),"value":\#(k)}"#)
            }
        }
        #expect(try kpid.ingest(lines.joined(separator: "\n"), contentType: "application/x-ndjson").status == 200)
        kpid.stop()

        // Flip one byte in the middle of zone a's second chunk.
        let path = dir.path + "/kpid.sqlite"
        let db = try SQLiteConnection(path: path)
        let select = try db.prepare(
            """
            SELECT c.series_id, c.min_ts, c.sample_count, c.data FROM chunks c JOIN series s ON s.id = c.series_id
            WHERE s.labels_text LIKE '%zone="a"%' ORDER BY c.min_ts LIMIT 1 OFFSET 1
            """)
        #expect(try select.step())
        let series = select.int64(at: 0)
        let minTs = select.int64(at: 1)
        let lost = Int(select.int64(at: 2))
        var bytes = select.withBlob(at: 3) { Array($0) }
        select.reset()
        bytes[bytes.count / 2] ^= 0x5A
        let update = try db.prepare("UPDATE chunks SET data = ?1 WHERE series_id = ?2 AND min_ts = ?3")
        try update.bind(bytes, at: 1)
        try update.bind(series, at: 2)
        try update.bind(minTs, at: 3)
        _ = try update.step()
        update.reset()
        db.close()

        // kpid check names it and fails.
        let check = try runKpidCommand(["check", "--data", dir.path])
        #expect(check.status == 1)
        #expect((check.stdout + check.stderr).contains("series=\(series) min_ts=\(minTs)"), "\(check.stdout)")

        // The server starts; zone a lacks exactly that chunk, zone b is whole.
        kpid = try RunningService(data: dir.path) { $0.chunkSize = 64 }
        let a = try kpid.exportedSamples(#"dmg{zone="a"}"#)
        let b = try kpid.exportedSamples(#"dmg{zone="b"}"#)
        #expect(a.count == 300 - lost)
        #expect(!a.contains { $0.1 >= minTs && $0.1 < minTs + Int64(lost) * 60_000 })
        #expect(b.count == 300)
        let metrics = try http("GET", kpid.base + "/metrics").text
        #expect(metrics.contains("kpid_store_corrupt_rows{table=\"chunks\"} 1"), "\(metrics)")
        #expect(metrics.contains("kpid_store_load_seconds "))
    }
}
