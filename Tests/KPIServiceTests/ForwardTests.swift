import Foundation
import KPIRuntime
import KPIService
import Testing

/// `forward-url`: kpid forwards what it acknowledges to a real Prometheus started with
/// `--web.enable-remote-write-receiver`; what Prometheus then holds is compared with kpid's own
/// export. Also: the queue survives a restart, a refused request is dropped and counted, and a
/// full queue drops its oldest rows.
@Suite(.serialized) struct ForwardTests {
    static func receiver(_ dir: TempDir) throws -> PrometheusServer {
        try PrometheusServer(
            dir: dir.path, tsdb: dir.path + "/tsdb", extraArguments: ["--web.enable-remote-write-receiver"])
    }

    static func start(_ dir: String, url: String, configure: (inout ServiceConfiguration) -> Void = { _ in }) throws
        -> RunningService
    {
        try RunningService(data: dir) { c in
            c.forwardURL = url
            c.checkpointIntervalSeconds = 1
            configure(&c)
        }
    }

    /// ndjson for `series` of `metric` with one sample a minute over the last `minutes`,
    /// oldest first; values differ per series and minute.
    static func ndjson(_ metric: String, series: [String], minutes: Int, now: Int64, shuffled: Bool = false) -> String {
        var lines: [String] = []
        for (s, zone) in series.enumerated() {
            var points = Array((0..<minutes).reversed())
            if shuffled {
                points = points.enumerated().sorted { ($0.offset * 7919) % minutes < ($1.offset * 7919) % minutes }.map(\.element)
            }
            for m in points {
                let ts = now - Int64(m) * 60_000
                let value = Double(s * 1000 + m) + 0.25
                lines.append(#"{"metric":"\#(metric)","labels":{"site":"JFK","zone":"\#(zone)"},"ts":\#(ts),"value":\#(value)}"#)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// (Prometheus' head takes samples at most an hour older than its newest: 50 minutes here.)
    /// `metric`'s raw samples in Prometheus over the last three hours: "zone" -> [(ms, value)].
    static func prometheusSamples(_ prometheus: PrometheusServer, _ metric: String) throws -> [String: [(Int64, Double)]] {
        let r = try http(
            "GET", prometheus.base + "/api/v1/query?query=" + percentEncoded("\(metric)[3h]"))
        let result = ((r.json["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
        var out: [String: [(Int64, Double)]] = [:]
        for series in result {
            let zone = (series["metric"] as? [String: String])?["zone"] ?? ""
            for pair in series["values"] as? [[Any]] ?? [] {
                let seconds = (pair[0] as? NSNumber)?.doubleValue ?? 0
                out[zone, default: []].append((Int64((seconds * 1000).rounded()), Double(pair[1] as? String ?? "") ?? .nan))
            }
        }
        return out
    }

    static func kpidSamples(_ kpid: RunningService, _ metric: String) throws -> [String: [(Int64, Double)]] {
        var out: [String: [(Int64, Double)]] = [:]
        for (labels, ts, value) in try kpid.exportedSamples(metric) {
            let zone =
                labels.split(separator: ",").first { $0.hasPrefix("zone=") }.map {
                    String($0.dropFirst(5)).trimmingCharacters(in: CharacterSet(charactersIn: "}"))
                } ?? ""
            out[zone, default: []].append((ts, value))
        }
        return out
    }

    static func metric(_ kpid: RunningService, _ line: String) throws -> Double? {
        let text = try http("GET", kpid.base + "/metrics").text
        for l in text.split(separator: "\n") where l.hasPrefix(line + " ") {
            return Double(l.dropFirst(line.count + 1))
        }
        return nil
    }

    /// Polls until `condition` holds or `seconds` pass.
    static func eventually(_ seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let until = Date().addingTimeInterval(seconds)
        while Date() < until {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return try condition()
    }

    static func equal(_ a: [String: [(Int64, Double)]], _ b: [String: [(Int64, Double)]]) -> Bool {
        guard Set(a.keys) == Set(b.keys) else { return false }
        for (k, x) in a {
            let y = b[k]!.sorted { $0.0 < $1.0 }
            let xs = x.sorted { $0.0 < $1.0 }
            guard xs.count == y.count, zip(xs, y).allSatisfy({ $0.0 == $1.0 && $0.1 == $1.1 }) else { return false }
        }
        return true
    }

    @Test func prometheusHoldsWhatKpidAcknowledged() throws {
        let dir = TempDir()
        let prometheus = try Self.receiver(dir)
        defer { prometheus.stop() }
        let kpid = try Self.start(dir.path + "/data", url: prometheus.base + "/api/v1/write") { $0.forwardBatchSamples = 70 }
        let now = try peerClockMilliseconds() / 1000 * 1000
        // Three requests; the last one's samples arrive out of time order.
        for (metric, zones, shuffled) in [
            ("queue_length_people", ["T1", "T4-east"], false), ("queue_wait_seconds", ["T1"], false),
            ("occupancy_people", ["gate A/B", "café"], true),
        ] {
            let r = try kpid.ingest(
                Self.ndjson(metric, series: zones, minutes: 50, now: now, shuffled: shuffled), contentType: "application/x-ndjson")
            #expect(r.status == 200, "\(r.text)")
        }
        let total = 5 * 50
        #expect(try Self.eventually { try Self.metric(kpid, "kpid_forward_samples_sent_total") == Double(total) })
        for metric in ["queue_length_people", "queue_wait_seconds", "occupancy_people"] {
            let want = try Self.kpidSamples(kpid, metric)
            #expect(want.values.reduce(0) { $0 + $1.count } > 0)
            let got = try Self.prometheusSamples(prometheus, metric)
            #expect(Self.equal(want, got), "\(metric): kpid \(want.mapValues(\.count)) prometheus \(got.mapValues(\.count))")
        }
        #expect(try Self.metric(kpid, "kpid_forward_pending_samples") == 0)
        // batch of 70: at least ceil(250 / 70) = 4 requests, all answered 204.
        #expect(try (Self.metric(kpid, "kpid_forward_requests_total{code=\"204\"}") ?? 0) >= 4)
        #expect(try Self.metric(kpid, "kpid_forward_samples_dropped_total{reason=\"rejected\"}") == 0)
    }

    @Test func theQueueSurvivesARestart() throws {
        let dir = TempDir()
        let data = dir.path + "/data"
        let now = try peerClockMilliseconds() / 1000 * 1000
        // First run: nothing listens at the URL; the samples wait in the queue.
        let closed = try freeLoopbackPort()
        var kpid = try Self.start(data, url: "http://127.0.0.1:\(closed)/api/v1/write")
        let r = try kpid.ingest(
            Self.ndjson("device_up", series: ["cam-1", "cam-2"], minutes: 50, now: now), contentType: "application/x-ndjson")
        #expect(r.status == 200)
        #expect(try Self.eventually { try (Self.metric(kpid, "kpid_forward_retries_total") ?? 0) >= 1 })
        #expect(try Self.metric(kpid, "kpid_forward_pending_samples") == 100)
        #expect(try Self.metric(kpid, "kpid_forward_samples_sent_total") == 0)
        kpid.stop()
        // Second run, now with a receiver: the queued samples arrive.
        let prometheus = try Self.receiver(dir)
        defer { prometheus.stop() }
        kpid = try Self.start(data, url: prometheus.base + "/api/v1/write")
        #expect(try Self.eventually { try Self.metric(kpid, "kpid_forward_samples_sent_total") == 100 })
        #expect(Self.equal(try Self.kpidSamples(kpid, "device_up"), try Self.prometheusSamples(prometheus, "device_up")))
        kpid.stop()
        // Third run: everything was sent and the position stored, so nothing goes out again.
        kpid = try Self.start(data, url: prometheus.base + "/api/v1/write")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try Self.metric(kpid, "kpid_forward_pending_samples") == 0)
        #expect(try Self.metric(kpid, "kpid_forward_samples_sent_total") == 0)
        #expect(try !http("GET", kpid.base + "/metrics").text.contains("kpid_forward_requests_total{"))  // none sent
        kpid.stop()
    }

    @Test func aRefusedRequestIsDroppedAndCounted() throws {
        let dir = TempDir()
        let prometheus = try Self.receiver(dir)
        defer { prometheus.stop() }
        let kpid = try Self.start(dir.path + "/data", url: prometheus.base + "/api/v1/write")
        let now = try peerClockMilliseconds() / 1000 * 1000
        let line = { (ts: Int64, v: Int) in #"{"metric":"entries","labels":{"site":"JFK"},"ts":\#(ts),"value":\#(v)}"# }
        #expect(try kpid.ingest(line(now, 5), contentType: "application/x-ndjson").status == 200)
        #expect(try Self.eventually { try Self.metric(kpid, "kpid_forward_samples_sent_total") == 1 })
        // Ten minutes older: within kpid's out-of-order window, but Prometheus (no out-of-order
        // ingestion) refuses it with a 400, so it is dropped, not retried for ever.
        #expect(try kpid.ingest(line(now - 600_000, 3), contentType: "application/x-ndjson").status == 200)
        #expect(try Self.eventually { try Self.metric(kpid, "kpid_forward_samples_dropped_total{reason=\"rejected\"}") == 1 })
        #expect(try Self.metric(kpid, "kpid_forward_requests_total{code=\"400\"}") == 1)
        // Later samples still flow.
        #expect(try kpid.ingest(line(now + 1000, 7), contentType: "application/x-ndjson").status == 200)
        #expect(try Self.eventually { try Self.metric(kpid, "kpid_forward_samples_sent_total") == 2 })
        #expect(try Self.metric(kpid, "kpid_forward_pending_samples") == 0)
    }

    @Test func aFullQueueDropsItsOldestRows() throws {
        let dir = TempDir()
        let closed = try freeLoopbackPort()
        let kpid = try Self.start(dir.path + "/data", url: "http://127.0.0.1:\(closed)/api/v1/write") {
            $0.forwardQueueMaxSamples = 1000
        }
        let now = try peerClockMilliseconds() / 1000 * 1000
        for k in 0..<3 {
            // 1000 samples per request: 10 series x 100 minutes.
            let body = Self.ndjson("m\(k)", series: (0..<10).map { "z\($0)" }, minutes: 100, now: now)
            #expect(try kpid.ingest(body, contentType: "application/x-ndjson").status == 200)
        }
        // 3000 queued, 1000 allowed: the two oldest requests' rows go.
        #expect(try Self.eventually { try Self.metric(kpid, "kpid_forward_samples_dropped_total{reason=\"queue_full\"}") == 2000 })
        #expect(try Self.metric(kpid, "kpid_forward_pending_samples") == 1000)
        // Nothing acknowledged was lost from kpid itself.
        #expect(try kpid.exportedSamples("m0").count == 1000)
    }

    @Test func deletionWorksWhileRowsWaitToBeForwarded() throws {
        let dir = TempDir()
        let closed = try freeLoopbackPort()
        let kpid = try Self.start(dir.path + "/data", url: "http://127.0.0.1:\(closed)/api/v1/write")
        let now = try peerClockMilliseconds() / 1000 * 1000
        #expect(
            try kpid.ingest(Self.ndjson("gone", series: ["a"], minutes: 10, now: now), contentType: "application/x-ndjson").status == 200)
        #expect(
            try kpid.ingest(Self.ndjson("kept", series: ["a"], minutes: 10, now: now), contentType: "application/x-ndjson").status == 200)
        // The write-ahead rows stay for the forwarder, but they are below the checkpoint mark:
        // a deletion may go ahead, and a restart does not bring the samples back.
        let r = try http("DELETE", kpid.base + "/api/v1/series?match[]=gone")
        #expect(r.status == 200 || r.status == 204, "\(r.text)")
        #expect(try kpid.exportedSamples("gone").isEmpty)
        kpid.stop()
        let again = try Self.start(dir.path + "/data", url: "http://127.0.0.1:\(closed)/api/v1/write")
        #expect(try again.exportedSamples("gone").isEmpty)
        #expect(try again.exportedSamples("kept").count == 10)
        // The forwarder counts its queue on its first pass, just after the start.
        #expect(try Self.eventually { try Self.metric(again, "kpid_forward_pending_samples").map { $0 >= 10 } ?? false })
    }

    @Test func settingsAreChecked() throws {
        #expect(throws: ServiceConfiguration.Invalid.self) {
            try ServiceConfiguration.resolve(flags: ["forward-url": "ftp://x/y"], environment: [:], configFile: [:])
        }
        #expect(throws: ServiceConfiguration.Invalid.self) {
            try ServiceConfiguration.resolve(flags: ["forward-batch-samples": "0"], environment: [:], configFile: [:])
        }
        let c = try ServiceConfiguration.resolve(
            flags: ["forward-url": "https://mimir.example/api/v1/push"], environment: ["KPID_FORWARD_BEARER_TOKEN": "t0k"],
            configFile: [:])
        #expect(c.forwardURL == "https://mimir.example/api/v1/push")
        #expect(c.forwardBearerToken == "t0k")
    }
}
