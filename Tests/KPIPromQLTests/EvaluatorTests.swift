import KPICore
import Testing

@testable import KPIPromQL

/// Evaluation on small stores; every expectation is computed by hand in the comments.
@Suite struct EvaluatorTests {
    /// rate/increase with a counter reset and no extrapolation: samples cover the window.
    @Test func rateWithCounterReset() throws {
        let engine = PromQLEngine(
            store: makeStore([(labels("c", ["job": "a"]), [(0, 0), (15, 10), (30, 20), (45, 5), (60, 15)])]))
        // Change 15 - 0, plus 20 for the reset at 45 s: 35 over 60 s; the samples touch both
        // window edges, so no extrapolation.
        #expect(close(try engine.vector("increase(c[1m])", at: 60)["{job=\"a\"}"], 35))
        #expect(close(try engine.vector("rate(c[1m])", at: 60)["{job=\"a\"}"], 35.0 / 60))
        #expect(try engine.vector("resets(c[1m])", at: 60)["{job=\"a\"}"] == 1)
        #expect(try engine.vector("changes(c[1m])", at: 60)["{job=\"a\"}"] == 4)
        // irate: last two samples 5 -> 15 over 15 s.
        #expect(close(try engine.vector("irate(c[1m])", at: 60)["{job=\"a\"}"], 10.0 / 15))
        // The window is [0, 60] inclusive at both ends (Prometheus 2.x): at 75 s it is
        // [15, 75]: 10, 20, 5, 15 -> 5 + 20 = 25 over 45 s sampled, avg interval 15;
        // 0 s to the start (15 - 15), 15 s to the end (< 16.5): extrapolated to 60 s.
        #expect(close(try engine.vector("increase(c[1m])", at: 75)["{job=\"a\"}"], 25 * 60.0 / 45))
    }

    @Test func rateExtrapolation() throws {
        let engine = PromQLEngine(
            store: makeStore([
                (labels("up_by_two"), [(10, 2), (20, 4), (30, 6), (40, 8)]),
                (labels("from_one"), [(10, 1), (20, 11), (30, 21), (40, 31)]),
            ]))
        // up_by_two at 60 s over [0, 60]: change 6 over 30 s, avg interval 10 (threshold 11).
        // 10 s to the start < 11: extend by 10 (the zero point, 30 * 2/6 = 10 s back, is not
        // closer); 20 s to the end >= 11: extend by half an interval, 5. 45/30 * 6 = 9.
        #expect(close(try engine.vector("increase(up_by_two[1m])", at: 60)["{}"], 9))
        #expect(close(try engine.vector("rate(up_by_two[1m])", at: 60)["{}"], 9.0 / 60))
        #expect(close(try engine.vector("delta(up_by_two[1m])", at: 60)["{}"], 9))
        // from_one: change 30; the counter's zero is 30 * 1/30 = 1 s before the first sample,
        // closer than 10 s: extend by 1 at the start and 5 at the end: 36/30 * 30 = 36.
        #expect(close(try engine.vector("increase(from_one[1m])", at: 60)["{}"], 36))
        // delta is not a counter: no zero limit, 45/30 * 30 = 45.
        #expect(close(try engine.vector("delta(from_one[1m])", at: 60)["{}"], 45))
        // deriv: exact line, 1 per second; predict_linear 60 s after t=60: 31 + 1*80 = 111.
        #expect(close(try engine.vector("deriv(from_one[1m])", at: 60)["{}"], 1))
        #expect(close(try engine.vector("predict_linear(from_one[1m], 60)", at: 60)["{}"], 111))
        // One sample in the window: no rate.
        #expect(try engine.vector("rate(up_by_two[5s])", at: 45).isEmpty)
    }

    @Test func lookbackAndStaleness() throws {
        let engine = PromQLEngine(
            store: makeStore([
                (labels("g", ["k": "stale"]), [(0, 1), (60, 2), (120, staleMarker)]),
                (labels("g", ["k": "once"]), [(0, 7)]),
            ]))
        #expect(try engine.vector("g", at: 90) == ["g{k=\"stale\"}": 2, "g{k=\"once\"}": 7])
        // The stale marker ends the series at once; "once" is still within 5 m.
        #expect(try engine.vector("g", at: 130) == ["g{k=\"once\"}": 7])
        // Lookback is inclusive: 300 s after the sample it is still seen, 1 ms later not.
        #expect(try engine.vector("g", at: 300) == ["g{k=\"once\"}": 7])
        #expect(try engine.vector("g", at: 300.001) == [:])
        // Range functions skip the stale marker.
        #expect(try engine.vector("count_over_time(g[5m])", at: 200) == ["{k=\"stale\"}": 2, "{k=\"once\"}": 1])
        // A shorter configured lookback.
        let short = PromQLEngine(source: engine.source, options: PromQLOptions(lookbackDeltaMs: 30_000))
        #expect(try short.vector("g", at: 90) == ["g{k=\"stale\"}": 2])
        // offset and @.
        #expect(try engine.vector("g offset 60s", at: 90) == ["g{k=\"stale\"}": 1, "g{k=\"once\"}": 7])
        #expect(try engine.vector("g{k=\"stale\"} @ 60", at: 1000) == ["g{k=\"stale\"}": 2])
        #expect(try engine.vector("timestamp(g)", at: 90) == ["{k=\"stale\"}": 60, "{k=\"once\"}": 0])
        // absent: labels from the equality matchers.
        #expect(try engine.vector("absent(g{k=\"none\",j=~\"x\"})", at: 90) == ["{k=\"none\"}": 1])
        #expect(try engine.vector("absent(g)", at: 90) == [:])
        #expect(try engine.vector("absent_over_time(g{k=\"stale\"}[1m])", at: 500) == ["{k=\"stale\"}": 1])
    }

    /// Two metrics joined on `x`.
    var joined: PromQLEngine {
        PromQLEngine(
            store: makeStore([
                (labels("a", ["x": "1", "y": "p"]), [(0, 10)]),
                (labels("a", ["x": "2", "y": "q"]), [(0, 20)]),
                (labels("b", ["x": "1", "z": "r"]), [(0, 2)]),
                (labels("b", ["x": "2", "z": "s"]), [(0, 4)]),
                (labels("c", ["x": "1", "y": "p"]), [(0, 1)]),
                (labels("c", ["x": "1", "y": "q"]), [(0, 3)]),
            ]))
    }

    @Test func vectorMatching() throws {
        let e = joined
        #expect(try e.vector("a / on(x) b", at: 0) == ["{x=\"1\"}": 5, "{x=\"2\"}": 5])
        #expect(try e.vector("a * on(x) group_left(z) b", at: 0) == ["{x=\"1\",y=\"p\",z=\"r\"}": 20, "{x=\"2\",y=\"q\",z=\"s\"}": 80])
        #expect(try e.vector("b - on(x) group_right a", at: 0) == ["{x=\"1\",y=\"p\"}": -8, "{x=\"2\",y=\"q\"}": -16])
        // Comparison without bool keeps the left value and the name; with bool it drops the name.
        #expect(try e.vector("a > on(x) group_left b * 4", at: 0) == ["a{x=\"1\",y=\"p\"}": 10, "a{x=\"2\",y=\"q\"}": 20])
        #expect(try e.vector("a > bool 15", at: 0) == ["{x=\"1\",y=\"p\"}": 0, "{x=\"2\",y=\"q\"}": 1])
        #expect(try e.vector("a > 15", at: 0) == ["a{x=\"2\",y=\"q\"}": 20])
        #expect(try e.vector("15 < a", at: 0) == ["a{x=\"2\",y=\"q\"}": 20])
        // Ignoring y, c has two series for x="1" on the right side: not one-to-one.
        #expect(throws: PromQLError.self) { try e.vector("a + ignoring(y) c", at: 0) }
        // Set operators.
        #expect(try e.vector("a and on(x) b", at: 0).count == 2)
        #expect(try e.vector("a unless on(y) c", at: 0) == [:])
        #expect(try e.vector("a or b", at: 0).count == 4)
        #expect(try e.vector("c and ignoring(y) a", at: 0).count == 2)
        // Many-to-one without group_left is refused.
        #expect(throws: PromQLError.self) { try e.vector("c / on(x) b", at: 0) }
        #expect(throws: PromQLError.self) { try e.vector("b / on(x) c", at: 0) }
    }

    @Test func aggregations() throws {
        let engine = PromQLEngine(
            store: makeStore([
                (labels("m", ["site": "A", "d": "1"]), [(0, 1)]),
                (labels("m", ["site": "A", "d": "2"]), [(0, 4)]),
                (labels("m", ["site": "B", "d": "3"]), [(0, 4)]),
                (labels("m", ["site": "B", "d": "4"]), [(0, 10)]),
            ]))
        #expect(try engine.vector("sum by (site) (m)", at: 0) == ["{site=\"A\"}": 5, "{site=\"B\"}": 14])
        #expect(try engine.vector("sum(m) without (d)", at: 0) == ["{site=\"A\"}": 5, "{site=\"B\"}": 14])
        #expect(try engine.vector("avg(m)", at: 0) == ["{}": 4.75])
        #expect(try engine.vector("count(m)", at: 0) == ["{}": 4])
        #expect(try engine.vector("min(m)", at: 0) == ["{}": 1])
        #expect(try engine.vector("max by (site) (m)", at: 0) == ["{site=\"A\"}": 4, "{site=\"B\"}": 10])
        #expect(try engine.vector("group by (site) (m)", at: 0) == ["{site=\"A\"}": 1, "{site=\"B\"}": 1])
        // Values 1 4 4 10: mean 4.75, squared deviations 14.0625 0.5625 0.5625 27.5625 -> 42.75 / 4.
        #expect(close(try engine.vector("stdvar(m)", at: 0)["{}"], 10.6875))
        #expect(close(try engine.vector("stddev(m)", at: 0)["{}"], 10.6875.squareRoot()))
        // quantile 0.5 of 1 4 4 10: rank 1.5 -> 4; 0.9: rank 2.7 -> 4 + 0.7 * 6 = 8.2.
        #expect(try engine.vector("quantile(0.5, m)", at: 0) == ["{}": 4])
        #expect(close(try engine.vector("quantile(0.9, m)", at: 0)["{}"], 8.2))
        #expect(try engine.vector("topk(1, m)", at: 0) == ["m{d=\"4\",site=\"B\"}": 10])
        #expect(try engine.vector("bottomk by (site) (1, m)", at: 0) == ["m{d=\"1\",site=\"A\"}": 1, "m{d=\"3\",site=\"B\"}": 4])
        #expect(try engine.vector("count_values(\"v\",m)", at: 0) == ["{v=\"1\"}": 1, "{v=\"4\"}": 2, "{v=\"10\"}": 1])
        #expect(try engine.vector("count_values by (site) (\"v\",m)", at: 0).count == 4)
    }

    @Test func histogramQuantile() throws {
        let buckets: [(String, Double)] = [("0.1", 1), ("0.5", 3), ("1", 6), ("+Inf", 8)]
        let engine = PromQLEngine(
            store: makeStore(buckets.map { (labels("h_bucket", ["le": $0.0, "site": "A"]), [(0, $0.1)]) }))
        // rank 0.5 * 8 = 4 falls in (0.5, 1] holding 3: 0.5 + 0.5 * (4 - 3) / 3.
        #expect(close(try engine.vector("histogram_quantile(0.5, h_bucket)", at: 0)["{site=\"A\"}"], 0.5 + 0.5 / 3))
        // rank 0.05 * 8 = 0.4 in the first bucket, from 0: 0.1 * 0.4.
        #expect(close(try engine.vector("histogram_quantile(0.05, h_bucket)", at: 0)["{site=\"A\"}"], 0.04))
        // rank 7.6 lands in +Inf: the highest finite bound.
        #expect(try engine.vector("histogram_quantile(0.95, h_bucket)", at: 0)["{site=\"A\"}"] == 1)
        #expect(try engine.vector("histogram_quantile(1.5, h_bucket)", at: 0)["{site=\"A\"}"] == .infinity)
    }

    @Test func functionsAndLabels() throws {
        let engine = PromQLEngine(
            store: makeStore([
                (labels("v", ["host": "cam-17.jfk"]), [(0, -2.5)]),
                (labels("t"), [(0, 1_700_000_000)]),  // 2023-11-14T22:13:20Z, a Tuesday
            ]))
        #expect(try engine.vector("abs(v)", at: 0) == ["{host=\"cam-17.jfk\"}": 2.5])
        #expect(try engine.vector("round(v)", at: 0) == ["{host=\"cam-17.jfk\"}": -2])  // floor(-2.5 + 0.5)
        #expect(try engine.vector("round(v, 2)", at: 0) == ["{host=\"cam-17.jfk\"}": -2])
        #expect(try engine.vector("clamp(v, -1, 1)", at: 0) == ["{host=\"cam-17.jfk\"}": -1])
        #expect(try engine.vector("clamp(v, 1, -1)", at: 0) == [:])
        #expect(try engine.vector("clamp_max(v, -3)", at: 0) == ["{host=\"cam-17.jfk\"}": -3])
        #expect(try engine.vector("ceil(v) + floor(v)", at: 0) == ["{host=\"cam-17.jfk\"}": -5])
        #expect(
            try engine.vector(#"label_replace(v, "site", "$1-${2}x", "host", `cam-(\d+)\.(.*)`)"#, at: 0) == [
                "v{host=\"cam-17.jfk\",site=\"17-jfkx\"}": -2.5
            ])
        #expect(try engine.vector(#"label_replace(v, "site", "$1", "host", "nomatch")"#, at: 0) == ["v{host=\"cam-17.jfk\"}": -2.5])
        #expect(
            try engine.vector(#"label_join(v, "both", "/", "__name__", "host")"#, at: 0) == [
                "v{both=\"v/cam-17.jfk\",host=\"cam-17.jfk\"}": -2.5
            ])
        #expect(try engine.vector("day_of_week(t)", at: 0) == ["{}": 2])
        #expect(try engine.vector("hour(t)", at: 0) == ["{}": 22])
        #expect(try engine.vector("minute(t)", at: 0) == ["{}": 13])
        #expect(try engine.vector("month(t)", at: 0) == ["{}": 11])
        #expect(try engine.vector("year(t)", at: 0) == ["{}": 2023])
        #expect(try engine.vector("days_in_month(t)", at: 0) == ["{}": 30])
        #expect(try engine.vector("vector(time())", at: 12.5) == ["{}": 12.5])
        #expect(try engine.scalarValue("scalar(v)", at: 0) == -2.5)
        #expect(try engine.scalarValue("scalar(t or v)", at: 0).isNaN)
        #expect(try engine.vector("day_of_week()", at: 86_400 * 3) == ["{}": 0])  // 1970-01-04 was a Sunday
    }

    /// A range query's sum_over_time and avg_over_time slide one running sum over the series;
    /// each point must equal, within 1e-12 relative, the window summed on its own (a direct
    /// sum of the samples here, in exact integer arithmetic where the values allow), over
    /// series of mixed magnitudes and signs, irregular gaps and windows that stop overlapping.
    @Test func slidingWindowSumsMatchEachWindowSummedAlone() throws {
        var state: UInt64 = 99
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var series: [(Labels, [(Double, Double)])] = []
        for k in 0..<6 {
            var t = 0.0
            var samples: [(Double, Double)] = []
            for _ in 0..<2_000 {
                t += next() % 20 == 0 ? Double(next() % 3_600) : Double(5 + next() % 20)
                let magnitude: Double = [1, 1e6, 1e-3, 1e12, 7, 1][k]
                let sign: Double = k == 5 && next() % 2 == 0 ? -1 : 1
                samples.append((t, sign * magnitude * Double(next() % 1_000) / 7))
            }
            series.append((labels("x", ["k": "\(k)"]), samples))
        }
        let engine = PromQLEngine(store: makeStore(series))
        let range: Int64 = 600_000
        for (function, isAverage) in [("sum_over_time", false), ("avg_over_time", true)] {
            guard case .matrix(let m) = try engine.rangeQuery("\(function)(x[10m])", start: 0, end: 20_000_000, step: 30_000)
            else {
                Issue.record("not a matrix")
                return
            }
            #expect(m.count == series.count)
            var checked = 0
            for result in m {
                let k = Int(result.labels["k"]!)!
                let samples = series[k].1.map { (Int64(($0.0 * 1000).rounded()), $0.1) }
                for (t, v) in zip(result.timestamps, result.values) {
                    let inside = samples.filter { $0.0 >= t - range && $0.0 <= t }.map(\.1)
                    var sum = 0.0
                    for x in inside.sorted(by: { $0.magnitude < $1.magnitude }) { sum += x }
                    let expected = isAverage ? sum / Double(inside.count) : sum
                    let scale = inside.map(\.magnitude).reduce(0, +) / Double(isAverage ? inside.count : 1)
                    #expect(abs(v - expected) <= 1e-12 * max(scale, 1e-300), "\(function) k=\(k) t=\(t): \(v) vs \(expected)")
                    checked += 1
                }
            }
            #expect(checked > 1_500)
        }
    }

    @Test func rangeQueriesAndSubqueries() throws {
        let engine = PromQLEngine(
            store: makeStore([(labels("g"), [(0, 1), (60, 5), (120, 3), (180, 2)])]))
        guard case .matrix(let m) = try engine.rangeQuery("g", start: 0, end: 240_000, step: 60_000) else {
            Issue.record("not a matrix")
            return
        }
        #expect(m.count == 1 && m[0].timestamps == [0, 60_000, 120_000, 180_000, 240_000] && m[0].values == [1, 5, 3, 2, 2])
        // Subquery g[2m:1m] at 180 s: inner steps 60, 120, 180 (the first multiple of 1 m at or
        // after 60 s), values 5 3 2.
        #expect(try engine.vector("max_over_time(g[2m:1m])", at: 180) == ["{}": 5])
        #expect(try engine.vector("min_over_time(g[2m:1m])", at: 180) == ["{}": 2])
        #expect(try engine.vector("sum_over_time(g[150s:1m])", at: 180) == ["{}": 10])
        #expect(try engine.vector("quantile_over_time(0.5, g[3m])", at: 180) == ["{}": 2.5])
        #expect(try engine.vector("last_over_time(g[3m])", at: 200) == ["g": 2])
        #expect(try engine.vector("avg_over_time(g[3m])", at: 180) == ["{}": 11.0 / 4])
        // A scalar range query is one series without labels.
        guard case .matrix(let s) = try engine.rangeQuery("time() * 2", start: 0, end: 2000, step: 1000) else { return }
        #expect(s.count == 1 && s[0].labels.isEmpty && s[0].values == [0, 2, 4])
        // Too many points.
        #expect(throws: PromQLError.self) { try engine.rangeQuery("g", start: 0, end: 11_001_000, step: 1000) }
        // Matrix result of an instant query: the raw samples in [t - range, t].
        guard case .matrix(let raw) = try engine.instantQuery("g[2m]", at: 180_000) else { return }
        #expect(raw.count == 1 && raw[0].timestamps == [60_000, 120_000, 180_000])
    }

    @Test func limits() throws {
        let engine = PromQLEngine(store: makeStore([(labels("g"), (0..<100).map { (Double($0), 1) })]))
        let limited = PromQLEngine(source: engine.source, options: PromQLOptions(maxSamples: 10))
        #expect(throws: PromQLError.execution("query processing would load too many samples into memory in query execution (limit 10)")) {
            try limited.instantQuery("sum_over_time(g[1m])", at: 100_000)
        }
        // A subquery whose steps alone exceed the limit is refused before it allocates them.
        #expect(throws: PromQLError.self) { try limited.instantQuery("max_over_time(g[200y:1ms])", at: 100_000) }
        // A deadline already passed: the query is cancelled before it reads anything.
        #expect(throws: PromQLError.timeout("query timed out in expression evaluation")) {
            try engine.instantQuery("g", at: 0, deadline: .now - .seconds(1))
        }
        // Scope matchers restrict every selector.
        let scoped = try engine.instantQuery("g", at: 0, extraMatchers: [LabelMatcher("site", .equal, "A")])
        #expect(scoped == .vector([]))
    }

    @Test func formatting() {
        #expect(PromQLFormat.value(1e-05) == "0.00001")
        #expect(PromQLFormat.value(5e20) == "500000000000000000000")
        // Exponent form below 1e-6 and from 1e21, as Prometheus' API writes values.
        #expect(PromQLFormat.value(1e21) == "1e+21")
        #expect(PromQLFormat.value(-2.5e-7) == "-2.5e-07")
        #expect(PromQLFormat.value(1.9073465724950998e+21) == "1.9073465724950998e+21")
        #expect(PromQLFormat.value(1.5e300) == "1.5e+300")
        #expect(PromQLFormat.value(1e-6) == "0.000001")
        // count_values' labels never use an exponent.
        #expect(PromQLFormat.fixed(1e21) == "1000000000000000000000")
        #expect(PromQLFormat.fixed(2.5e-7) == "0.00000025")
        #expect(PromQLFormat.value(0.1) == "0.1")
        #expect(PromQLFormat.value(-1.5) == "-1.5")
        #expect(PromQLFormat.value(2) == "2")
        #expect(PromQLFormat.value(1.25e-5) == "0.0000125")
        #expect(PromQLFormat.value(123.456) == "123.456")
        #expect(PromQLFormat.value(.infinity) == "+Inf")
        #expect(PromQLFormat.value(-.infinity) == "-Inf")
        #expect(PromQLFormat.value(.nan) == "NaN")
        var out: [UInt8] = []
        PromQLFormat.appendTimestamp(&out, 1_700_000_000_120)
        #expect(String(decoding: out, as: UTF8.self) == "1700000000.120")
        out = []
        PromQLFormat.appendTimestamp(&out, 1_700_000_000_000)
        #expect(String(decoding: out, as: UTF8.self) == "1700000000")
    }
}
