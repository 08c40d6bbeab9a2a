import Foundation
import KPITestSupport
import Testing

/// The same seeded data in kpid (ndjson over HTTP) and in a real Prometheus (OpenMetrics through
/// `promtool tsdb create-blocks-from openmetrics`); every expression of
/// Tests/PromQLDifferential/queries.txt is run against both through the HTTP API, as instant
/// queries at several times and as range queries, and the answers must agree: same status and
/// error type, same result type, same label sets, same timestamps, and values equal within a
/// relative 1e-9 (NaN equals NaN), and the same number written identically.
///
/// The data set, one hour from T0 = 1700000000 s at a 15 s interval:
/// - `kpi_occupancy{site=A|B|C, zone=z1|z2}`: gauges, random walks in halves;
/// - `kpi_temperature{site, sensor}`: one fractional gauge per site, some negative;
/// - `kpi_entries_total{site=A|B, door=d1|d2}`: counters with resets, timestamps jittered by
///   up to a second (so rate extrapolation is exercised);
/// - `kpi_door_state{site, door}`: 0/1;
/// - `kpi_wait_seconds_bucket{site=A|B, le=...}` with `_sum` and `_count`: a classic histogram;
/// - `kpi_gap{site="A"}`: no samples between 20 and 40 minutes (longer than the lookback);
/// - `kpi_late{site="C"}`: starts at 40 minutes.
///
/// Stale markers cannot be written in OpenMetrics text (a NaN there is an ordinary NaN); a
/// second test sends one remote write request with stale markers to both (Prometheus with
/// its remote write receiver on) and compares queries around the markers.
@Suite(.serialized) struct PromQLDifferentialTests {
    static let t0: Int64 = 1_700_000_000_000
    static let tolerance = 1e-9

    struct Sample {
        var metric: String
        var labels: [(String, String)]
        var points: [(Int64, Double)]
    }

    static func dataSet() -> [Sample] {
        var rng = SeededGenerator(seed: 20_261_123)
        var out: [Sample] = []
        let steps = 240
        func times(jitter: Bool) -> [Int64] {
            (0...steps).map { t0 + Int64($0) * 15_000 + (jitter ? Int64(rng.below(1000)) : 0) }
        }
        for site in ["A", "B", "C"] {
            for zone in ["z1", "z2"] {
                var v = Double(10 + rng.below(20))
                let points = times(jitter: false).map { t -> (Int64, Double) in
                    v = max(0, v + Double(rng.below(13) - 6) / 2)
                    return (t, v)
                }
                out.append(Sample(metric: "kpi_occupancy", labels: [("site", site), ("zone", zone)], points: points))
            }
            var temperature = 20.0
            let sensor = ["A": "s1", "B": "s2", "C": "s3"][site]!
            let tp = times(jitter: false).map { t -> (Int64, Double) in
                temperature += (Double(rng.below(2001)) - 1000) / 1237
                return (t, site == "C" ? temperature - 25 : temperature)
            }
            out.append(Sample(metric: "kpi_temperature", labels: [("site", site), ("sensor", sensor)], points: tp))
        }
        for site in ["A", "B"] {
            for door in ["d1", "d2"] {
                var c = Double(rng.below(100))
                let points = times(jitter: true).map { t -> (Int64, Double) in
                    if rng.below(60) == 0 { c = Double(rng.below(3)) } else { c += Double(rng.below(11)) }
                    return (t, c)
                }
                out.append(Sample(metric: "kpi_entries_total", labels: [("site", site), ("door", door)], points: points))
                let state = times(jitter: false).map { ($0, Double(rng.below(4) == 0 ? 0 : 1)) }
                out.append(Sample(metric: "kpi_door_state", labels: [("site", site), ("door", door)], points: state))
            }
            // A histogram: cumulative bucket counters, sum and count.
            let bounds = ["0.1", "0.5", "1", "5", "+Inf"]
            let limits = [0.1, 0.5, 1, 5, Double.infinity]
            var counts = [Double](repeating: 0, count: bounds.count)
            var sum = 0.0
            var bucketPoints = [[(Int64, Double)]](repeating: [], count: bounds.count)
            var sumPoints: [(Int64, Double)] = []
            var countPoints: [(Int64, Double)] = []
            for t in times(jitter: false) {
                for _ in 0..<rng.below(6) {
                    let x = Double(rng.below(8000)) / 1000
                    sum += x
                    for (k, limit) in limits.enumerated() where x <= limit { counts[k] += 1 }
                }
                for k in bounds.indices { bucketPoints[k].append((t, counts[k])) }
                sumPoints.append((t, sum))
                countPoints.append((t, counts[bounds.count - 1]))
            }
            for k in bounds.indices {
                out.append(Sample(metric: "kpi_wait_seconds_bucket", labels: [("site", site), ("le", bounds[k])], points: bucketPoints[k]))
            }
            out.append(Sample(metric: "kpi_wait_seconds_sum", labels: [("site", site)], points: sumPoints))
            out.append(Sample(metric: "kpi_wait_seconds_count", labels: [("site", site)], points: countPoints))
        }
        let all = times(jitter: false)
        out.append(
            Sample(
                metric: "kpi_gap", labels: [("site", "A")],
                points: all.filter { $0 < t0 + 1_200_000 || $0 >= t0 + 2_400_000 }.map { ($0, Double(($0 - t0) / 15_000 % 7)) }))
        out.append(
            Sample(metric: "kpi_late", labels: [("site", "C")], points: all.filter { $0 >= t0 + 2_400_000 }.map { ($0, 3) }))
        return out
    }

    static func openMetrics(_ data: [Sample]) -> String {
        var out = ""
        for s in data {
            let labels = s.labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",")
            for (t, v) in s.points {
                out += "\(s.metric){\(labels)} \(v) \(t / 1000).\(String(format: "%03d", t % 1000))\n"
            }
        }
        return out + "# EOF\n"
    }

    static func ndjson(_ data: [Sample]) -> String {
        var out = ""
        for s in data {
            let labels = s.labels.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",")
            for (t, v) in s.points {
                out += "{\"metric\":\"\(s.metric)\",\"labels\":{\(labels)},\"ts\":\(t),\"value\":\(v)}\n"
            }
        }
        return out
    }

    /// A query answer reduced to what must agree.
    struct Answer: CustomStringConvertible {
        var status: Int
        var errorType: String?
        var resultType: String?
        /// Label set text -> points (time in ms, value text).
        var series: [String: [(Int64, String)]] = [:]
        var scalar: (Int64, String)?

        var description: String {
            if let errorType { return "\(status) \(errorType)" }
            let s = series.keys.sorted().map { k in "\(k): \(series[k]!.prefix(4).map { "\($0.0)=\($0.1)" })" }
            return "\(resultType ?? "?") \(scalar.map { "\($0)" } ?? "") \(s.joined(separator: "; "))"
        }
    }

    static func point(_ any: Any) -> (Int64, String)? {
        guard let pair = any as? [Any], pair.count == 2, let t = (pair[0] as? NSNumber)?.doubleValue, let v = pair[1] as? String
        else { return nil }
        return (Int64((t * 1000).rounded()), v)
    }

    static func answer(_ r: ClientResponse) -> Answer {
        let json = r.json
        var a = Answer(status: r.status)
        guard json["status"] as? String == "success" else {
            a.errorType = json["errorType"] as? String ?? "none"
            return a
        }
        let data = json["data"] as? [String: Any] ?? [:]
        a.resultType = data["resultType"] as? String
        switch a.resultType {
        case "scalar", "string":
            a.scalar = point(data["result"] as Any)
        default:
            for entry in data["result"] as? [[String: Any]] ?? [] {
                let metric = (entry["metric"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }
                let key = "{" + metric.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
                if let p = entry["value"].flatMap(point) { a.series[key, default: []].append(p) }
                for v in entry["values"] as? [Any] ?? [] { if let p = point(v) { a.series[key, default: []].append(p) } }
            }
        }
        return a
    }

    /// Equal within the tolerance; the same Double must also be written the same way.
    static func sameValue(_ a: String, _ b: String) -> Bool {
        if a == b { return true }
        guard let x = Double(a), let y = Double(b) else { return false }
        if x.isNaN && y.isNaN { return false }  // both "NaN" is caught above
        if x == y { return false }  // same value, different text: a formatting difference
        return abs(x - y) <= tolerance * max(abs(x), abs(y))
    }

    /// Where two answers differ, or nil.
    static func difference(_ kpid: Answer, _ prom: Answer) -> String? {
        if kpid.status != prom.status || kpid.errorType != prom.errorType || kpid.resultType != prom.resultType {
            return "status/type differ"
        }
        if let a = kpid.scalar, let b = prom.scalar {
            return a.0 == b.0 && sameValue(a.1, b.1) ? nil : "scalar \(a) vs \(b)"
        }
        if Set(kpid.series.keys) != Set(prom.series.keys) {
            return
                "series differ: only kpid \(Set(kpid.series.keys).subtracting(prom.series.keys).sorted()), only prometheus \(Set(prom.series.keys).subtracting(kpid.series.keys).sorted())"
        }
        for (key, points) in kpid.series {
            let other = prom.series[key]!
            guard points.count == other.count else { return "\(key): \(points.count) points vs \(other.count)" }
            for (p, q) in zip(points, other) where p.0 != q.0 || !sameValue(p.1, q.1) {
                return "\(key): \(p) vs \(q)"
            }
        }
        return nil
    }

    /// Runs every query against both servers at `instants` and over `ranges`; the differences
    /// and how many answers carried data.
    static func compare(
        _ queries: [String], kpid: String, prometheus: String, instants: [Double], ranges: [(Double, Double, String)]
    ) throws -> (failures: [String], compared: Int, withData: Int) {
        var compared = 0
        var withData = 0
        var failures: [String] = []
        for query in queries {
            var requests: [String] = instants.map { "/api/v1/query?query=\(percentEncoded(query))&time=\($0)" }
            requests += ranges.map { "/api/v1/query_range?query=\(percentEncoded(query))&start=\($0.0)&end=\($0.1)&step=\($0.2)" }
            for path in requests {
                let a = answer(try http("GET", kpid + path))
                let b = answer(try http("GET", prometheus + path))
                compared += 1
                if a.status == 200 && (!a.series.isEmpty || a.scalar != nil) { withData += 1 }
                if let problem = difference(a, b) {
                    failures.append("\(path.removingPercentEncoding ?? path)\n  \(problem)\n  kpid:       \(a)\n  prometheus: \(b)")
                }
            }
        }
        return (failures, compared, withData)
    }

    @Test(.timeLimit(.minutes(5))) func kpidAgreesWithPrometheus() throws {
        let promtool = "/usr/bin/promtool"
        try #require(
            FileManager.default.isExecutableFile(atPath: promtool),
            "\(promtool) is missing: install Debian's prometheus package (scripts/install-deps.sh does); the differential PromQL test cannot run without it"
        )
        let queryFile = packageRoot.appendingPathComponent("Tests/PromQLDifferential/queries.txt").path
        let queries = try String(contentsOfFile: queryFile, encoding: .utf8).split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
        try #require(queries.count >= 100, "the expression list \(queryFile) is too short")

        let data = Self.dataSet()
        let dir = TempDir()
        try Self.openMetrics(data).write(toFile: dir.path + "/data.om", atomically: true, encoding: .utf8)
        let created = try runTool(promtool, ["tsdb", "create-blocks-from", "openmetrics", dir.path + "/data.om", dir.path + "/tsdb"])
        try #require(created.status == 0, "promtool failed: \(created.output)")

        let kpid = try RunningService(data: dir.path + "/kpid")
        defer { kpid.stop() }
        let loaded = try kpid.ingest(Self.ndjson(data), contentType: "application/x-ndjson")
        try #require(loaded.status == 200, "kpid ingest failed: \(loaded.text)")
        let prometheus = try PrometheusServer(dir: dir.path, tsdb: dir.path + "/tsdb")
        defer { prometheus.stop() }

        let t0 = Double(Self.t0) / 1000
        let (failures, compared, withData) = try Self.compare(
            queries, kpid: kpid.base, prometheus: prometheus.base, instants: [t0 + 1800.5, t0 + 3600, t0 + 3700, t0 + 4000],
            ranges: [(t0 - 300, t0 + 3900, "60"), (t0 + 7, t0 + 3607, "97s")])
        #expect(failures.isEmpty, "\(failures.count) of \(compared) answers differ:\n\(failures.joined(separator: "\n"))")
        // The comparison is not vacuous: most answers carry data.
        #expect(compared == queries.count * 6)
        #expect(withData * 4 >= compared * 3, "only \(withData) of \(compared) answers carry data")
    }

    /// Stale markers cannot be written in OpenMetrics, but remote write carries them: the same
    /// remote write request goes to kpid and to Prometheus' receiver, then both are queried
    /// around the markers.
    ///
    /// - `st_gauge{k="a"}`: every 15 s from 0 to 20 min, a stale marker at 20:15; again from
    ///   30 min to 40 min, stale at 40:15.
    /// - `st_gauge{k="b"}`: every 15 s for the whole hour.
    /// - `st_counter{k="a"}`: a counter every 15 s to 30 min, stale at 30:15, restarting from 0
    ///   at 35 min.
    @Test(.timeLimit(.minutes(3))) func stalenessAgreesWithPrometheus() throws {
        let stale = Double(bitPattern: 0x7ff0_0000_0000_0002)
        func at(_ seconds: Int) -> Int64 { Self.t0 + Int64(seconds) * 1000 }
        var a: [(Int64, Double)] = stride(from: 0, through: 1200, by: 15).map { (at($0), Double($0 % 97)) }
        a.append((at(1215), stale))
        a += stride(from: 1800, through: 2400, by: 15).map { (at($0), Double($0 % 89)) }
        a.append((at(2415), stale))
        let b: [(Int64, Double)] = stride(from: 0, through: 3600, by: 15).map { (at($0), Double($0 % 41) / 4) }
        var counter: [(Int64, Double)] = stride(from: 0, through: 1800, by: 15).map { (at($0), Double($0 / 15 * 3)) }
        counter.append((at(1815), stale))
        counter += stride(from: 2100, through: 3600, by: 15).map { (at($0), Double(($0 - 2100) / 15 * 2)) }
        let body = RemoteWriteBody.make([
            ([("__name__", "st_gauge"), ("k", "a")], a), ([("__name__", "st_gauge"), ("k", "b")], b),
            ([("__name__", "st_counter"), ("k", "a")], counter),
        ])

        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/kpid")
        defer { kpid.stop() }
        let prometheus = try PrometheusServer(
            dir: dir.path, tsdb: dir.path + "/tsdb", extraArguments: ["--web.enable-remote-write-receiver"])
        defer { prometheus.stop() }
        for base in [kpid.base, prometheus.base] {
            let r = try http("POST", base + "/api/v1/write", body: Data(body), headers: RemoteWriteTests.headers)
            try #require(r.status == 204, "remote write to \(base) failed: \(r.status) \(r.text) \(prometheus.logText)")
        }
        let queries = [
            "st_gauge", "st_counter", "st_gauge offset 1m", "timestamp(st_gauge)", "sum(st_gauge)", "count(st_gauge)",
            "rate(st_counter[5m])", "increase(st_counter[10m])", "resets(st_counter[30m])", "count_over_time(st_gauge[5m])",
            "last_over_time(st_gauge[5m])", "max_over_time(st_gauge[10m:1m])", "changes(st_gauge[10m])",
            "present_over_time(st_gauge[2m])", "absent(st_gauge{k=\"a\"})", "absent_over_time(st_gauge{k=\"a\"}[1m])",
            "st_gauge @ 1700001215", "st_gauge @ 1700001214", "st_gauge{k=\"a\"} or st_counter", "st_gauge > 5",
            "avg_over_time(st_gauge[20m])", "st_gauge[1m]",
        ]
        let t0s = Double(Self.t0) / 1000
        let (failures, compared, withData) = try Self.compare(
            queries, kpid: kpid.base, prometheus: prometheus.base,
            instants: [t0s + 1200, t0s + 1214.999, t0s + 1215, t0s + 1300, t0s + 1815, t0s + 2430, t0s + 2700],
            ranges: [(t0s, t0s + 3600, "15"), (t0s + 1, t0s + 3601, "60")])
        #expect(failures.isEmpty, "\(failures.count) of \(compared) answers differ:\n\(failures.joined(separator: "\n"))")
        #expect(withData * 2 >= compared, "only \(withData) of \(compared) answers carry data")
    }
}
