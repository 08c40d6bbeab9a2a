import Foundation
import KPICore
import Testing

@testable import KPIQuery

/// Grouped scans answered from sealed chunks' rollups: the same rows as the scan of raw
/// samples (rollups off), and rollups actually read where buckets and aggregates allow.
@Suite struct RollupQueryTests {
    /// 2026-11-16T00:00:00Z, a Monday.
    static let t0: Int64 = 1_794_787_200_000

    /// A store exercising every way chunks come to be: 64-sample chunks of 10 s, 60 s and
    /// hourly series; late samples merged into sealed chunks; a NaN; staleness markers; a
    /// deleted range (chunks rewritten); a retention floor inside a chunk; open heads.
    static let store: ColumnarStore = {
        let store = ColumnarStore(configuration: StoreConfiguration(outOfOrderWindowMs: 600_000, chunkSize: 64))
        var r = SplitMixQ(state: 11)
        var next: UInt32 = 0
        func add(_ labels: Labels, _ ts: [Int64], _ vs: [Double]) -> SeriesID {
            let id = SeriesID(next)
            next += 1
            store.apply(newSeries: [(id, labels)], series: [id], timestamps: [ts], values: [vs])
            return id
        }
        let day: Int64 = 86_400_000
        let fast = Array(stride(from: t0, to: t0 + 2 * day, by: 10_000))
        for site in ["A", "B"] {
            for zone in ["z1", "z2", "z3"] {
                // Every 97th sample held back, then sent late (merged into sealed chunks).
                let values = fast.map { _ in (r.unit() * 600).rounded() / 10 }
                let onTime = fast.indices.filter { $0 % 97 != 5 }
                let late = fast.indices.filter { $0 % 97 == 5 }
                let id = add(
                    Labels(metric: "wait", ["site": site, "zone": zone]), onTime.map { fast[$0] }, onTime.map { values[$0] })
                store.apply(newSeries: [], series: [id], timestamps: [late.map { fast[$0] }], values: [late.map { values[$0] }])
            }
        }
        // NaN and staleness markers in one more series.
        var odd = fast.map { _ in (r.unit() * 50).rounded() }
        odd[1_000] = .nan
        for k in stride(from: 3_000, to: 3_050, by: 1) { odd[k] = Double(bitPattern: 0x7ff0_0000_0000_0002) }
        _ = add(Labels(metric: "wait", ["site": "C", "zone": "z1"]), fast, odd)
        // 60 s gauge (hour level only) and an hourly one (no rollups).
        let minutely = Array(stride(from: t0, to: t0 + 2 * day, by: 60_000))
        _ = add(Labels(metric: "slow", ["site": "A"]), minutely, minutely.map { _ in (r.unit() * 20).rounded() })
        let hourly = Array(stride(from: t0, to: t0 + 9 * day, by: 3_600_000))
        _ = add(Labels(metric: "hourly", ["site": "A"]), hourly, hourly.map { _ in r.unit() })
        // A deleted range in site B zone z2 (chunks straddling it are rewritten).
        let b2 = try! store.select([try! LabelMatcher("site", .equal, "B"), try! LabelMatcher("zone", .equal, "z2")])[0].id
        store.apply(store.planDeletion([b2], start: t0 + 3_600_000 + 123_000, end: t0 + 5 * 3_600_000 + 7_000))
        // A retention floor inside a chunk of site A zone z3.
        store.apply(
            store.planRetention { labels in
                labels["site"] == "A" && labels["zone"] == "z3" ? t0 + 2 * 3_600_000 + 45_000 : nil
            })
        return store
    }()

    static let queries: [(sql: String, rollups: Bool)] = [
        (
            "SELECT time_bucket('1h', ts) AS h, zone, avg(value) AS a, min(value) AS lo, max(value) AS hi, count(*) AS n, "
                + "sum(value) AS s, first(value) AS f, last(value) AS l, count(value) AS c FROM wait GROUP BY h, zone ORDER BY h, zone",
            true
        ),
        (
            "SELECT time_bucket('1m', ts) AS m, site, avg(value) AS a, max(value) AS hi, last(value) AS l FROM wait "
                + "WHERE zone = 'z1' GROUP BY m, site ORDER BY m, site", true
        ),
        (
            "SELECT time_bucket('5m', ts) AS m, site, min(value) AS lo, first(value) AS f FROM wait GROUP BY m, site ORDER BY m, site",
            true
        ),
        (
            "SELECT time_bucket('1d', ts) AS d, site, zone, avg(value) AS a, count(*) AS n FROM wait "
                + "WHERE ts >= TIMESTAMP '2026-11-16T03:17:10Z' AND ts < TIMESTAMP '2026-11-17T20:01:00Z' GROUP BY d, site, zone "
                + "ORDER BY d, site, zone", true
        ),
        (
            "SELECT time_bucket('90m', ts) AS b, avg(value) AS a, max(value) AS hi FROM wait GROUP BY b ORDER BY b", true
        ),
        (
            "SELECT time_bucket('1h', ts, TIMESTAMP '2026-11-16T00:30:00Z') AS b, sum(value) AS s FROM wait "
                + "GROUP BY b ORDER BY b", true
        ),
        ("SELECT time_bucket('7s', ts) AS b, count(*) AS n FROM wait WHERE site = 'A' GROUP BY b ORDER BY b", false),
        (
            "SELECT date_trunc('day', ts, 'Asia/Kolkata') AS d, zone, avg(value) AS a, min(value) AS lo FROM wait "
                + "GROUP BY d, zone ORDER BY d, zone", true
        ),
        (
            "SELECT date_trunc('hour', ts) AS h, count(*) AS n, last(value) AS l FROM wait WHERE site = 'C' GROUP BY h ORDER BY h",
            true
        ),
        (
            "SELECT site, count(*) AS n, avg(value) AS a, min(value) AS lo, max(value) AS hi, first(value) AS f, "
                + "last(value) AS l FROM wait GROUP BY site ORDER BY site", true
        ),
        (
            "SELECT time_bucket('1h', ts) AS h, approx_quantile(0.95, value) AS p95, approx_median(value) AS p50 FROM wait "
                + "WHERE site <> 'C' GROUP BY h ORDER BY h", true
        ),
        ("SELECT time_bucket('1h', ts) AS h, avg(value) AS a, max(value) AS m FROM slow GROUP BY h ORDER BY h", true),
        ("SELECT time_bucket('1d', ts) AS d, avg(value) AS a FROM hourly GROUP BY d ORDER BY d", false),
        // Not rollup-able aggregates: the samples, as before.
        ("SELECT time_bucket('1h', ts) AS h, quantile(0.9, value) AS q, stddev(value) AS sd FROM wait GROUP BY h ORDER BY h", false),
    ]

    static func same(_ x: Value, _ y: Value) -> Bool {
        if case .double(let a) = x, case .double(let b) = y {
            if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
            return abs(a - b) <= 1e-9 * max(1, abs(a), abs(b))
        }
        return x == y
    }

    @Test(arguments: queries.indices)
    func rollupsGiveTheSameRowsAsSamples(_ index: Int) throws {
        let (sql, expectRollups) = Self.queries[index]
        let engine = QueryEngine(store: Self.store)
        for parallelism in [1, 2] {
            var on = QueryOptions(now: Self.t0 + 10 * 86_400_000)
            on.parallelism = parallelism
            var off = on
            off.useRollups = false
            let a = try engine.execute(sql, options: on)
            let b = try engine.execute(sql, options: off)
            #expect(!a.rows.isEmpty)
            #expect(a.rows.count == b.rows.count, "\(sql)")
            for (x, y) in zip(a.rows, b.rows) {
                #expect(zip(x, y).allSatisfy { Self.same($0, $1) }, "\(sql): \(x) vs \(y)")
            }
            #expect(b.stats.rollupBucketsScanned == 0)
            if expectRollups {
                #expect(a.stats.rollupBucketsScanned > 0, "\(sql)")
                // Every sample is accounted for, read raw or through a bucket.
                #expect(a.stats.samplesScanned + a.stats.samplesFromRollups >= b.stats.samplesScanned - 100, "\(sql)")
                #expect(a.stats.samplesScanned < b.stats.samplesScanned / 2, "\(sql)")
            } else {
                #expect(a.stats.rollupBucketsScanned == 0, "\(sql)")
            }
        }
    }

    /// approx_quantile reads the same sketches from rollups as from samples (bins add up
    /// exactly), and stays within 1 % of the exact quantile.
    @Test func approxQuantileMatchesExactWithinOnePercent() throws {
        let engine = QueryEngine(store: Self.store)
        let options = QueryOptions(now: Self.t0 + 10 * 86_400_000)
        let sql = """
            SELECT time_bucket('6h', ts) AS h, zone, approx_quantile(value, 0.95) AS a95, quantile(0.95, value) AS e95,
                approx_quantile(0.5, value) AS a50, median(value) AS e50, approx_quantile(0.01, value) AS a01,
                quantile(0.01, value) AS e01
            FROM wait WHERE site IN ('A', 'B') GROUP BY h, zone ORDER BY h, zone
            """
        let result = try engine.execute(sql, options: options)
        #expect(result.rows.count == 8 * 3)
        for row in result.rows {
            for (approx, exact) in [(2, 3), (4, 5), (6, 7)] {
                guard case .double(let a) = row[approx], case .double(let e) = row[exact] else {
                    Issue.record("not doubles: \(row)")
                    continue
                }
                #expect(abs(a - e) <= 0.01 * abs(e) + 1e-12, "\(row)")
            }
        }
        var off = options
        off.useRollups = false
        let approxOnly = "SELECT time_bucket('6h', ts) AS h, approx_quantile(0.95, value) AS a FROM wait GROUP BY h ORDER BY h"
        let viaRollups = try engine.execute(approxOnly, options: options)
        #expect(viaRollups.stats.rollupBucketsScanned > 0)
        #expect(try engine.execute(approxOnly, options: off).rows == viaRollups.rows)
    }

    /// Worked by hand: one series of 10 s samples whose value is k mod 6, so every hour holds
    /// 60 each of 0...5: avg 2.5, min 0, max 5, count 360, sum 900, first 0, last 5; the exact
    /// median interpolates ranks 179 (a 2) and 180 (a 3): 2.5.
    @Test func handComputedHourlyBuckets() throws {
        let store = ColumnarStore(configuration: StoreConfiguration(outOfOrderWindowMs: 0, chunkSize: 100))
        let ts = (0..<(24 * 360)).map { Self.t0 + Int64($0) * 10_000 }
        let vs = ts.indices.map { Double($0 % 6) }
        store.apply(newSeries: [(SeriesID(0), Labels(metric: "m", [:]))], series: [SeriesID(0)], timestamps: [ts], values: [vs])
        let engine = QueryEngine(store: store)
        let result = try engine.execute(
            """
            SELECT time_bucket('1h', ts) AS h, avg(value), min(value), max(value), count(*), sum(value), first(value),
                last(value), approx_median(value) FROM m GROUP BY h ORDER BY h
            """)
        #expect(result.rows.count == 24)
        #expect(result.stats.rollupBucketsScanned > 0)
        for (k, row) in result.rows.enumerated() {
            #expect(row[0] == .timestamp(Self.t0 + Int64(k) * 3_600_000))
            #expect(Array(row[1...7]) == [.double(2.5), .double(0), .double(5), .int(360), .double(900), .double(0), .double(5)])
            guard case .double(let median) = row[8] else { continue }
            #expect(abs(median - 2.5) <= 0.025)
        }
        let plan = try engine.execute("EXPLAIN SELECT time_bucket('1h', ts) AS h, avg(value) FROM m GROUP BY h").rows
        #expect(plan.contains { $0[0].description.contains("Aggregate (columnar, rollups 1h)") }, "\(plan)")
        let minutePlan = try engine.execute("EXPLAIN SELECT time_bucket('15m', ts) AS h, avg(value) FROM m GROUP BY h").rows
        #expect(minutePlan.contains { $0[0].description.contains("rollups 1m") }, "\(minutePlan)")
    }

    /// With `rollupSketches` off, avg still reads buckets but approx_quantile reads samples,
    /// with the same answer as with sketches.
    @Test func withoutSketchesApproxQuantileReadsSamples() throws {
        let ts = (0..<5_000).map { Self.t0 + Int64($0) * 10_000 }
        let vs = ts.indices.map { Double(($0 * 37) % 101) }
        func run(_ sketches: Bool, _ sql: String) throws -> QueryResult {
            let store = ColumnarStore(configuration: StoreConfiguration(chunkSize: 256, rollupSketches: sketches))
            store.apply(newSeries: [(SeriesID(0), Labels(metric: "m", [:]))], series: [SeriesID(0)], timestamps: [ts], values: [vs])
            return try QueryEngine(store: store).execute(sql)
        }
        let quantiles = "SELECT time_bucket('1h', ts) AS h, approx_quantile(0.9, value) AS q FROM m GROUP BY h ORDER BY h"
        let withSketches = try run(true, quantiles)
        let withoutSketches = try run(false, quantiles)
        #expect(withSketches.stats.rollupBucketsScanned > 0)
        #expect(withoutSketches.stats.rollupBucketsScanned == 0)
        #expect(withSketches.rows == withoutSketches.rows)
        let averages = "SELECT time_bucket('1h', ts) AS h, avg(value) AS a FROM m GROUP BY h ORDER BY h"
        #expect(try run(false, averages).stats.rollupBucketsScanned > 0)
    }

    /// q must be a constant in [0, 1] in either argument order.
    @Test func approxQuantileNeedsAConstantQ() {
        let engine = QueryEngine(store: Self.store)
        for sql in [
            "SELECT approx_quantile(value, value) FROM wait", "SELECT approx_quantile(1.5, value) FROM wait",
            "SELECT approx_quantile(value, -0.1) FROM wait",
        ] {
            #expect {
                try engine.execute(sql)
            } throws: { error in
                (error as? QueryError)?.message.contains("approx_quantile() needs a constant q between 0 and 1") == true
            }
        }
    }

    /// A rollup bucket counts as one sample against the sample limit.
    @Test func bucketsCountAgainstTheSampleLimit() throws {
        let engine = QueryEngine(store: Self.store)
        var options = QueryOptions(now: Self.t0 + 10 * 86_400_000)
        let sql = "SELECT time_bucket('1h', ts) AS h, avg(value) FROM slow GROUP BY h"
        let full = try engine.execute(sql, options: options)
        let read = full.stats.samplesScanned + full.stats.rollupBucketsScanned
        #expect(read < 2_880)
        options.limits.maxSamples = read
        #expect(try engine.execute(sql, options: options).rows.count == 48)
        options.limits.maxSamples = read - 1
        #expect(throws: QueryError.self) { try engine.execute(sql, options: options) }
    }
}

/// splitmix64, for deterministic test data.
struct SplitMixQ {
    var state: UInt64
    mutating func unit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
}
