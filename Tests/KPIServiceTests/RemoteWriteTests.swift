import Foundation
import KPICore
import KPIRuntime
import KPIService
import Testing

/// Remote write request bodies built by hand, byte by byte: protobuf fields and a snappy block
/// of literals only. Independent of the libraries kpid decodes with, so the tests check the
/// wire format itself.
enum RemoteWriteBody {
    /// A snappy-compressed `prometheus.WriteRequest` with these series.
    static func make(_ series: [(labels: [(String, String)], samples: [(Int64, Double)])]) -> [UInt8] {
        var request: [UInt8] = []
        for s in series {
            var ts: [UInt8] = []
            for (name, value) in s.labels {
                field(1, field(1, Array(name.utf8)) + field(2, Array(value.utf8)), into: &ts)
            }
            for (timestamp, value) in s.samples {
                var sample: [UInt8] = [0x09]  // field 1, 64-bit
                withUnsafeBytes(of: value.bitPattern.littleEndian) { sample += $0 }
                sample.append(0x10)  // field 2, varint
                varint(UInt64(bitPattern: timestamp), into: &sample)
                field(2, sample, into: &ts)
            }
            field(1, ts, into: &request)
        }
        return snappyLiterals(request)
    }

    static func varint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func field(_ number: UInt64, _ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        field(number, bytes, into: &out)
        return out
    }

    /// A length-delimited field.
    static func field(_ number: UInt64, _ bytes: [UInt8], into out: inout [UInt8]) {
        varint(number << 3 | 2, into: &out)
        varint(UInt64(bytes.count), into: &out)
        out += bytes
    }

    /// A valid snappy block that stores `raw` as literals (no compression).
    static func snappyLiterals(_ raw: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        varint(UInt64(raw.count), into: &out)
        var offset = 0
        while offset < raw.count {
            let n = min(65536, raw.count - offset)
            // Tag 61 << 2: a literal whose length - 1 follows in two little-endian bytes.
            out += [61 << 2, UInt8((n - 1) & 0xff), UInt8((n - 1) >> 8)]
            out += raw[offset..<(offset + n)]
            offset += n
        }
        return out
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).
func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard ok else { throw POSIXError(.EADDRINUSE) }
    return UInt16(bigEndian: address.sin_port)
}

@Suite(.serialized) struct RemoteWriteTests {
    static let headers = [
        "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    ]

    static func post(_ kpid: RunningService, _ body: [UInt8], headers: [String: String] = headers) throws -> ClientResponse {
        try http("POST", kpid.base + "/api/v1/write", body: Data(body), headers: headers)
    }

    static func seriesCount(_ kpid: RunningService) throws -> Int {
        let r = try http("GET", kpid.base + "/api/v1/series?match=" + percentEncoded(#"{__name__=~".+"}"#))
        return (r.json["data"] as? [Any])?.count ?? -1
    }

    @Test func statusCodesFollowTheSpec() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path) { config in
            config.maxBodyBytes = 4096
            config.maxNewSeriesPerRequest = 2
        }
        let good = RemoteWriteBody.make([
            (
                [("__name__", "queue_wait_seconds"), ("site", "JFK"), ("gate", "")],
                [(1_762_070_400_000, 312.5), (1_762_070_460_000, Double(bitPattern: 0x7ff0_0000_0000_0002))]
            )
        ])

        struct Case {
            var name: String
            var body: [UInt8]
            var headers: [String: String]
            var status: Int
            var field: String?
            var reason: String
        }
        var wrongEncoding = Self.headers
        wrongEncoding["Content-Encoding"] = "gzip"
        var noEncoding = Self.headers
        noEncoding["Content-Encoding"] = nil
        var wrongType = Self.headers
        wrongType["Content-Type"] = "application/json"
        var version2 = Self.headers
        version2["Content-Type"] = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
        let cases = [
            Case(name: "gzip", body: good, headers: wrongEncoding, status: 415, field: "Content-Encoding", reason: "snappy"),
            Case(name: "no encoding", body: good, headers: noEncoding, status: 415, field: "Content-Encoding", reason: "snappy"),
            Case(name: "json", body: good, headers: wrongType, status: 415, field: "Content-Type", reason: "application/x-protobuf"),
            Case(name: "v2", body: good, headers: version2, status: 415, field: "Content-Type", reason: "io.prometheus.write.v2.Request"),
            Case(
                name: "garbage", body: Array("hello, not snappy \u{ff}".utf8) + [0xff, 0xff, 0xff, 0xff, 0xff], headers: Self.headers,
                status: 400, field: "body", reason: "corrupt snappy block"),
            Case(
                name: "not protobuf", body: RemoteWriteBody.snappyLiterals([0x0a, 0x7f, 0x00]), headers: Self.headers,
                status: 400, field: "body", reason: "not a valid prometheus.WriteRequest"),
            Case(
                name: "bad metric", body: RemoteWriteBody.make([([("__name__", "bad-metric")], [(1, 1)])]), headers: Self.headers,
                status: 400, field: "timeseries[0].labels.__name__", reason: "invalid metric name"),
            // Decodes to more than 8 x max-body-bytes: refused from the block header alone.
            Case(
                name: "bomb", body: [0x80, 0x80, 0x80, 0x80, 0x01, 0x00], headers: Self.headers,
                status: 413, field: "body", reason: "over the limit of 32768"),
            Case(
                name: "too many new series",
                body: RemoteWriteBody.make((0..<3).map { ([("__name__", "m"), ("n", "\($0)")], [(1, 1)]) }), headers: Self.headers,
                status: 429, field: nil, reason: ""),
        ]
        for c in cases {
            let r = try Self.post(kpid, c.body, headers: c.headers)
            #expect(r.status == c.status, "\(c.name): \(r.text)")
            #expect(r.headers["content-type"] == "application/json", "\(c.name)")
            #expect(r.json["error"] is String, "\(c.name): \(r.text)")
            if let field = c.field {
                let details = r.json["details"] as? [[String: Any]] ?? []
                #expect(details.first?["field"] as? String == field, "\(c.name): \(r.text)")
                #expect((details.first?["reason"] as? String)?.contains(c.reason) == true, "\(c.name): \(r.text)")
            }
        }
        #expect(try Self.seriesCount(kpid) == 0, "a refused request stored something")
        let get = try http("GET", kpid.base + "/api/v1/write")
        #expect(get.status == 405)

        // The accepted request: 204, empty body, samples stored bit for bit (the stale marker too).
        let ok = try Self.post(kpid, good)
        #expect(ok.status == 204, "\(ok.text)")
        #expect(ok.body.isEmpty)
        #expect(try Self.seriesCount(kpid) == 1)
        let stored = try #require(kpid.service.store.select([try LabelMatcher("__name__", .equal, "queue_wait_seconds")]).first)
        let page = kpid.service.store.read(stored.id)
        #expect(page.timestamps == [1_762_070_400_000, 1_762_070_460_000])
        #expect(page.values.map(\.bitPattern) == [(312.5 as Double).bitPattern, 0x7ff0_0000_0000_0002])
        let samples = try kpid.exportedSamples("queue_wait_seconds")
        #expect(samples.first?.0 == "queue_wait_seconds{site=JFK}")

        let metrics = try http("GET", kpid.base + "/metrics").text
        #expect(metrics.contains(#"kpid_samples_ingested_total{format="remote_write"} 2"#), "\(metrics)")
    }

    /// A real Prometheus scrapes kpid's own /metrics and remote-writes the samples back to it.
    @Test(.timeLimit(.minutes(1))) func realPrometheusRemoteWritesIntoKpid() throws {
        let prometheus = "/usr/bin/prometheus"
        guard FileManager.default.isExecutableFile(atPath: prometheus) else {
            Issue.record("\(prometheus) is missing (apt-get install prometheus): the end-to-end remote write test did not run")
            return
        }
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/kpid")
        let port = kpid.service.boundPort!
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: kpid
                static_configs:
                  - targets: ["127.0.0.1:\(port)"]
            remote_write:
              - url: http://127.0.0.1:\(port)/api/v1/write
                queue_config:
                  batch_send_deadline: 1s
                  min_backoff: 100ms
                  max_backoff: 1s
                metadata_config:
                  send: false

            """
        // Prometheus stops first (defers run in reverse), kpid after it, so the final remote
        // write flush has a receiver and does not wait out its deadline.
        defer { kpid.stop() }
        let server = try PrometheusServer(
            dir: dir.path, tsdb: dir.path + "/tsdb", config: config, extraArguments: ["--storage.remote.flush-deadline=2s"])
        defer { server.stop() }

        // Prometheus sends its scrape's `up` with job and instance once the first WAL segment
        // is read and the 1 s batch deadline has passed: a few seconds.
        let deadline = Date().addingTimeInterval(30)
        var upSeries: [[String: String]] = []
        var buildInfoSamples: [(String, Int64, Double)] = []
        while Date() < deadline && server.process.isRunning {
            let r = try http("GET", kpid.base + "/api/v1/series?match=up")
            upSeries = r.json["data"] as? [[String: String]] ?? []
            buildInfoSamples = try kpid.exportedSamples("kpid_build_info")
            if !upSeries.isEmpty && !buildInfoSamples.isEmpty { break }
            Thread.sleep(forTimeInterval: 0.25)
        }
        try #require(server.process.isRunning, "prometheus exited: \(server.logText)")
        try #require(!upSeries.isEmpty && !buildInfoSamples.isEmpty, "nothing arrived within 30 s; prometheus log: \(server.logText)")
        #expect(upSeries == [["__name__": "up", "job": "kpid", "instance": "127.0.0.1:\(port)"]])
        let up = try kpid.exportedSamples("up")
        #expect(!up.isEmpty && up.allSatisfy { $0.2 == 1 }, "\(up)")
        #expect(buildInfoSamples.allSatisfy { $0.2 == 1 && $0.0.contains("instance=127.0.0.1:\(port)") }, "\(buildInfoSamples)")
        // Timestamps are the scrape times on Prometheus' clock, in milliseconds: within the last minute.
        let now = try peerClockMilliseconds()
        #expect(up.allSatisfy { now - 60_000 < $0.1 && $0.1 <= now + 1000 }, "\(up)")
        // Every request Prometheus sent was accepted: kpid's own series (histograms with `le`,
        // counters, `up`, `scrape_*`) all pass validation.
        let metrics = try http("GET", kpid.base + "/metrics").text
        #expect(metrics.contains(#"kpid_samples_ingested_total{format="remote_write"}"#))
        let writes = metrics.split(separator: "\n").filter { $0.hasPrefix(#"kpid_http_requests_total{route="/api/v1/write""#) }
        #expect(!writes.isEmpty && writes.allSatisfy { $0.contains(#"code="204""#) }, "\(writes)")
    }
}
