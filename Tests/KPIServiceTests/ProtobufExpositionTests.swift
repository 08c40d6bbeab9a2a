import Foundation
import KPIRuntime
import Testing

@testable import KPIService

/// `/metrics` in the delimited MetricFamily protobuf format: negotiated by `Accept`, decoded
/// here by an independent wire-format reader and compared with the text format, and scraped by
/// a real Prometheus with protobuf negotiation on.
@Suite(.serialized) struct ProtobufExpositionTests {
    /// The Accept header of Prometheus 2.42's scraper with `--enable-feature=native-histograms`.
    static let prometheusProtobufAccept =
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

    @Test func negotiation() {
        #expect(MetricsController.negotiate(Self.prometheusProtobufAccept) == .protobuf)
        #expect(MetricsController.negotiate(nil) != .protobuf)
        #expect(MetricsController.negotiate("text/plain;version=0.0.4") != .protobuf)
        #expect(
            MetricsController.negotiate("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1") != .protobuf)
        #expect(
            MetricsController.negotiate(
                "text/plain,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited") != .protobuf)
        #expect(
            (MetricsController.negotiate(
                "text/plain;q=0.5,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited") == .protobuf)
        )
        // Another encoding or message is not this format.
        #expect(
            MetricsController.negotiate("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text")
                != .protobuf)
    }

    // MARK: An independent protobuf reader (wire format only)

    struct Field {
        var number: Int
        var varint: UInt64 = 0
        var bytes: [UInt8] = []
        var double: Double { Double(bitPattern: varint) }
    }

    static func readVarint(_ b: [UInt8], _ i: inout Int) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while i < b.count {
            let byte = b[i]
            i += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        return result
    }

    static func fields(_ b: [UInt8]) -> [Field] {
        var out: [Field] = []
        var i = 0
        while i < b.count {
            let key = readVarint(b, &i)
            var f = Field(number: Int(key >> 3))
            switch key & 7 {
            case 0: f.varint = readVarint(b, &i)
            case 1:
                var v: UInt64 = 0
                for k in 0..<8 { v |= UInt64(b[i + k]) << (8 * UInt64(k)) }
                f.varint = v
                i += 8
            case 2:
                let n = Int(readVarint(b, &i))
                f.bytes = Array(b[i..<(i + n)])
                i += n
            default: return out
            }
            out.append(f)
        }
        return out
    }

    /// Decoded families as sample lines `name{labels} value`, the way the text format writes
    /// them (histograms expanded into `_bucket`, `_sum`, `_count`), plus each family's type.
    static func decode(_ body: [UInt8]) -> (samples: [String: Double], types: [String: UInt64], help: [String: String]) {
        var samples: [String: Double] = [:]
        var types: [String: UInt64] = [:]
        var help: [String: String] = [:]
        var i = 0
        while i < body.count {
            let n = Int(readVarint(body, &i))
            let family = fields(Array(body[i..<(i + n)]))
            i += n
            let name = String(decoding: family.first { $0.number == 1 }?.bytes ?? [], as: UTF8.self)
            let type = family.first { $0.number == 3 }?.varint ?? 3
            types[name] = type
            help[name] = String(decoding: family.first { $0.number == 2 }?.bytes ?? [], as: UTF8.self)
            for metric in family where metric.number == 4 {
                let m = fields(metric.bytes)
                var labels: [(String, String)] = []
                for pair in m where pair.number == 1 {
                    let p = fields(pair.bytes)
                    labels.append(
                        (
                            String(decoding: p.first { $0.number == 1 }?.bytes ?? [], as: UTF8.self),
                            String(decoding: p.first { $0.number == 2 }?.bytes ?? [], as: UTF8.self)
                        ))
                }
                func key(_ n: String, _ extra: [(String, String)] = []) -> String {
                    let all = (labels + extra).sorted { $0.0 < $1.0 }
                    return all.isEmpty ? n : n + "{" + all.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
                }
                for value in m where [2, 3, 5].contains(value.number) {
                    samples[key(name)] = fields(value.bytes).first { $0.number == 1 }?.double ?? .nan
                }
                for h in m where h.number == 7 {
                    let hf = fields(h.bytes)
                    let count = Double(hf.first { $0.number == 1 }?.varint ?? 0)
                    samples[key(name + "_count")] = count
                    samples[key(name + "_sum")] = hf.first { $0.number == 2 }?.double ?? .nan
                    samples[key(name + "_bucket", [("le", "+Inf")])] = count
                    for bucket in hf where bucket.number == 3 {
                        let bf = fields(bucket.bytes)
                        let bound = bf.first { $0.number == 2 }?.double ?? .nan
                        let text = bound == bound.rounded() ? String(Int(bound)) : String(bound)
                        samples[key(name + "_bucket", [("le", text)])] = Double(bf.first { $0.number == 1 }?.varint ?? 0)
                    }
                }
            }
        }
        return (samples, types, help)
    }

    /// The text format's samples, keyed the same way.
    static func textSamples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2 else { continue }
            var name = String(parts[0])
            if let brace = name.firstIndex(of: "{") {
                let labels = name[name.index(after: brace)..<name.index(before: name.endIndex)].split(separator: ",").map { pair in
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    return (String(kv[0]), String(kv[1].dropFirst().dropLast()))
                }
                name = String(name[..<brace]) + "{" + labels.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
            }
            out[name] = parts[1] == "+Inf" ? .infinity : Double(parts[1])
        }
        return out
    }

    @Test func sameMetricsAsTheTextFormat() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        let body = #"{"metric":"m","labels":{"site":"A"},"ts":1700000000000,"value":1}"#
        #expect(try kpid.ingest(body, contentType: "application/x-ndjson").status == 200)
        let proto = try http("GET", kpid.base + "/metrics", headers: ["Accept": Self.prometheusProtobufAccept])
        let text = try http("GET", kpid.base + "/metrics", headers: ["Accept": "text/plain;version=0.0.4"])
        #expect(proto.status == 200)
        #expect(proto.headers["content-type"] == MetricsController.protobufExpositionType)
        #expect(text.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let decoded = Self.decode(Array(proto.body))
        let expected = Self.textSamples(text.text)
        // The HTTP metrics, memory and checkpoints (every 30 s) may change between the two
        // requests; all else must be equal.
        let volatile = ["kpid_http_", "process_resident_memory_bytes", "kpid_sqlite_file_bytes", "kpid_sqlite_checkpoint"]
        let stable = expected.filter { entry in !volatile.contains { entry.key.hasPrefix($0) } }
        #expect(stable.count > 10)
        for (key, value) in stable {
            let got: Double? = decoded.samples[key]
            #expect(got == value, "\(key): \(String(describing: got)) vs \(value)")
        }
        #expect(decoded.samples["kpid_series"] == 1)
        #expect(decoded.samples["kpid_samples_ingested_total{format=ndjson}"] == 1)
        // Types: counter 0, gauge 1, histogram 4; HELP text carried.
        #expect(decoded.types["kpid_samples_ingested_total"] == 0)
        #expect(decoded.types["kpid_series"] == 1)
        #expect(decoded.types["kpid_sqlite_commit_duration_seconds"] == 4)
        #expect(decoded.help["kpid_series"] == "Series in the store.")
        // The request histogram has the routes the text has (here the first /metrics call).
        #expect(decoded.samples.keys.contains { $0.hasPrefix("kpid_http_request_duration_seconds_bucket{le=0.0005,route=/api/v1/ingest}") })
    }

    /// Prometheus 2.42 with protobuf negotiation (`--enable-feature=native-histograms`) scrapes
    /// kpid and stores the values kpid reports.
    @Test(.timeLimit(.minutes(1))) func realPrometheusScrapesProtobuf() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/kpid")
        let body = """
            {"metric":"m","labels":{"site":"A"},"ts":1700000000000,"value":1}
            {"metric":"m","labels":{"site":"B"},"ts":1700000000000,"value":2}
            """
        #expect(try kpid.ingest(body, contentType: "application/x-ndjson").status == 200)
        let config = """
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: kpid
                static_configs:
                  - targets: ["127.0.0.1:\(kpid.service.boundPort!)"]

            """
        defer { kpid.stop() }
        let server = try PrometheusServer(
            dir: dir.path, tsdb: dir.path + "/tsdb", config: config, extraArguments: ["--enable-feature=native-histograms"])
        defer { server.stop() }
        let prom = server.base
        func query(_ q: String) -> [[String: Any]] {
            guard let r = try? http("GET", prom + "/api/v1/query?query=" + percentEncoded(q), timeout: 5) else { return [] }
            return (r.json["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
        }
        func value(_ entry: [String: Any]) -> Double? { ((entry["value"] as? [Any])?[1] as? String).flatMap(Double.init) }
        let deadline = Date().addingTimeInterval(30)
        var series: [[String: Any]] = []
        while Date() < deadline && server.process.isRunning {
            series = query("kpid_series")
            if !series.isEmpty && !query(#"kpid_http_request_duration_seconds_bucket{route="/metrics",le="+Inf"}"#).isEmpty { break }
            Thread.sleep(forTimeInterval: 0.25)
        }
        try #require(!series.isEmpty, "prometheus stored nothing within 30 s: \(server.logText)")
        #expect(series.count == 1 && value(series[0]) == 2)
        #expect(query("up").first.flatMap(value) == 1)
        #expect(query(#"kpid_samples_ingested_total{format="ndjson"}"#).first.flatMap(value) == 2)
        #expect(query("kpid_build_info").first.flatMap { ($0["metric"] as? [String: String])?["version"] } == ServiceMetrics.version)
        // The histogram arrives as classic buckets with the implied +Inf bucket equal to the count.
        let inf = query(#"kpid_http_request_duration_seconds_bucket{route="/metrics",le="+Inf"}"#).first.flatMap(value)
        let count = query(#"kpid_http_request_duration_seconds_count{route="/metrics"}"#).first.flatMap(value)
        #expect(inf != nil && inf == count)
        #expect(query(#"count(kpid_http_request_duration_seconds_bucket{route="/metrics"})"#).first.flatMap(value) == 15)
    }
}
