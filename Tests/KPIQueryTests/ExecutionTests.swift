import KPICore
import KPITestSupport
import Testing

@testable import KPIQuery

/// A store with two queue series and one device series, small enough to compute every
/// expectation by hand. Times are minutes after 2026-11-16T00:00:00Z.
func handStore() -> ColumnarStore {
    let store = ColumnarStore()
    let base: Int64 = 1_794_787_200_000  // 2026-11-16T00:00:00Z
    let series: [(Labels, [(Int64, Double)])] = [
        (Labels(metric: "queue_wait_seconds", ["site": "JFK", "zone": "T4-A"]), [(0, 10), (1, 20), (2, 30), (61, 40)]),
        (Labels(metric: "queue_wait_seconds", ["site": "JFK", "zone": "T4-B"]), [(0, 5), (1, 15)]),
        (Labels(metric: "queue_wait_seconds", ["site": "LHR", "zone": "T5"]), [(0, 100)]),
        (Labels(metric: "device_up", ["site": "JFK", "device": "cam-1"]), [(0, 1), (10, 0), (25, 1), (30, 0), (32, 1), (40, 1)]),
        (Labels(metric: "requests_total", ["site": "JFK"]), [(0, 10), (1, 15), (2, 3), (3, 8)]),
    ]
    for (k, (labels, samples)) in series.enumerated() {
        let id = SeriesID(UInt32(k))
        store.apply(
            newSeries: [(id, labels)], series: [id], timestamps: [samples.map { base + $0.0 * 60_000 }],
            values: [samples.map(\.1)])
    }
    return store
}

let handNow: Int64 = 1_794_787_200_000 + 3 * 3_600_000

func run(_ sql: String, _ store: ColumnarStore = handStore(), parameters: [String: Value] = [:]) throws -> QueryResult {
    try QueryEngine(store: store).execute(sql, options: QueryOptions(now: handNow, parameters: parameters))
}

func texts(_ result: QueryResult) -> [[String]] { result.rows.map { $0.map(\.description) } }

@Suite struct ExecutionTests {
    @Test func plainSelectFiltersByLabelAndTime() throws {
        let r = try run(
            "SELECT ts, value, zone FROM queue_wait_seconds WHERE site = 'JFK' AND ts >= '2026-11-16T00:01:00Z' ORDER BY ts, zone")
        #expect(r.columns.map(\.name) == ["ts", "value", "zone"])
        #expect(r.columns.map(\.type) == [.timestamp, .double, .string])
        #expect(
            texts(r) == [
                ["2026-11-16T00:01:00Z", "20", "T4-A"], ["2026-11-16T00:01:00Z", "15", "T4-B"],
                ["2026-11-16T00:02:00Z", "30", "T4-A"], ["2026-11-16T01:01:00Z", "40", "T4-A"],
            ])
        #expect(r.stats.seriesScanned == 2)
        #expect(r.stats.samplesScanned == 4)
    }

    @Test func bucketedAggregatesWithHaving() throws {
        let r = try run(
            """
            SELECT time_bucket('1h', ts) AS hour, zone, avg(value) AS avg_wait, max(value) AS worst, count(*) AS n
            FROM queue_wait_seconds WHERE site = 'JFK' GROUP BY hour, zone HAVING count(*) > 1 ORDER BY hour, worst DESC
            """)
        #expect(texts(r) == [["2026-11-16T00:00:00Z", "T4-A", "20", "30", "3"], ["2026-11-16T00:00:00Z", "T4-B", "10", "15", "2"]])
    }

    @Test func havingAndOrderByMayNameAliases() throws {
        let r = try run(
            """
            SELECT zone, max(value) AS worst, min(value) AS best FROM queue_wait_seconds
            GROUP BY zone HAVING worst > 10 ORDER BY worst - best DESC
            """)
        // T4-A: 40 - 10 = 30; T4-B: 15 - 5 = 10; T5 (max 100) spread 0.
        #expect(texts(r) == [["T4-A", "40", "10"], ["T4-B", "15", "5"], ["T5", "100", "100"]])
    }

    @Test func quantileIsExactWithInterpolation() throws {
        // T4-A values 10, 20, 30, 40: p95 position 0.95 * 3 = 2.85 -> 30 + 0.85 * 10 = 38.5.
        let r = try run("SELECT quantile(0.95, value) AS p95, median(value) AS p50 FROM queue_wait_seconds WHERE zone = 'T4-A'")
        #expect(texts(r) == [["38.5", "25"]])
    }

    @Test func timeInStateAndIntervals() throws {
        // cam-1 is down 10..25 and 30..32 (minutes): 17 minutes; up 0..10, 25..30, 32..40: 23
        // minutes, plus the last probe (00:40, up) held for its staleness limit, the range
        // being open: steps 10, 15, 5, 2, 8 have median 8, times 3 = 24 minutes; 47 in all.
        let r = try run(
            """
            SELECT device, time_in_state(value, value = 0) AS down, time_in_state(value = 1) AS up FROM device_up GROUP BY device
            """)
        #expect(texts(r) == [["cam-1", "\(17 * 60_000)", "\(47 * 60_000)"]])
        let i = try run(
            "SELECT start, duration, device FROM intervals(device_up, value = 0) WHERE site = 'JFK' ORDER BY start")
        #expect(texts(i) == [["2026-11-16T00:10:00Z", "\(15 * 60_000)", "cam-1"], ["2026-11-16T00:30:00Z", "\(2 * 60_000)", "cam-1"]])
        let mttr = try run(
            "SELECT count(*) AS incidents, avg(duration) / INTERVAL '1 minute' AS mttr_min FROM intervals(device_up, value = 0)")
        #expect(texts(mttr) == [["2", "8.5"]])
        // [from, to): over 00:00 .. 00:30 the outage from 00:30 belongs to the next window (it
        // was counted here too, at 0 minutes, pulling MTTR down); the one at 00:10 .. 00:25 stays.
        let window = try run(
            "SELECT count(*) AS incidents, sum(duration) / INTERVAL '1 minute' AS down_min FROM "
                + "intervals(device_up, value = 0, TIMESTAMP '2026-11-16T00:00:00Z', TIMESTAMP '2026-11-16T00:30:00Z')")
        #expect(texts(window) == [["1", "15"]])
        let next = try run(
            "SELECT start, duration FROM "
                + "intervals(device_up, value = 0, TIMESTAMP '2026-11-16T00:30:00Z', TIMESTAMP '2026-11-16T01:00:00Z')")
        #expect(texts(next) == [["2026-11-16T00:30:00Z", "\(2 * 60_000)"]])
    }

    @Test func counterIncreaseIsResetAware() throws {
        // 10 -> 15 (+5), reset to 3 (+3), 3 -> 8 (+5): 13 over 3 minutes.
        let r = try run("SELECT increase(value) AS inc, rate(value) AS per_second FROM requests_total")
        #expect(r.rows[0][0] == .double(13))
        #expect(abs((r.rows[0][1].number ?? 0) - 13.0 / 180) < 1e-15)
    }

    @Test func fillAddsMissingBuckets() throws {
        let r = try run(
            """
            SELECT time_bucket('30m', ts) AS b, sum(value) AS s FROM queue_wait_seconds
            WHERE zone = 'T4-A' AND ts >= '2026-11-16T00:00:00Z' AND ts < '2026-11-16T02:00:00Z'
            GROUP BY b FILL(previous) ORDER BY b
            """)
        #expect(
            texts(r) == [
                ["2026-11-16T00:00:00Z", "60"], ["2026-11-16T00:30:00Z", "60"], ["2026-11-16T01:00:00Z", "40"],
                ["2026-11-16T01:30:00Z", "40"],
            ])
        let linear = try run(
            """
            SELECT time_bucket('30m', ts) AS b, sum(value) AS s FROM queue_wait_seconds
            WHERE zone = 'T4-A' GROUP BY b FILL(linear)
            """)
        #expect(texts(linear) == [["2026-11-16T00:00:00Z", "60"], ["2026-11-16T00:30:00Z", "50"], ["2026-11-16T01:00:00Z", "40"]])
    }

    @Test func joinOfBucketedSubqueries() throws {
        let r = try run(
            """
            SELECT hour, site, w.total / u.samples AS ratio FROM
              (SELECT time_bucket('1h', ts) AS hour, site, sum(value) AS total FROM queue_wait_seconds GROUP BY hour, site) AS w
              JOIN (SELECT time_bucket('1h', ts) AS hour, site, count(*) AS samples FROM device_up GROUP BY hour, site) AS u
              USING (hour, site)
            ORDER BY hour
            """)
        // JFK hour 0: queue sum 10+20+30+5+15 = 80; device samples 6 -> 13.333...
        #expect(r.rows.count == 1)
        #expect(r.rows[0][1] == .string("JFK"))
        #expect(abs((r.rows[0][2].number ?? 0) - 80.0 / 6.0) < 1e-12)
    }

    @Test func parametersAreTypedNotPasted() throws {
        let r = try run(
            "SELECT count(*) AS n FROM queue_wait_seconds WHERE site = :site", parameters: ["site": .string("JFK' OR '1'='1")])
        #expect(texts(r) == [["0"]])
        let ok = try run("SELECT count(*) AS n FROM queue_wait_seconds WHERE site = :site", parameters: ["site": .string("JFK")])
        #expect(texts(ok) == [["6"]])
    }

    @Test func errorsNameTheProblemAndPlace() throws {
        func error(_ sql: String) -> QueryError? {
            do {
                _ = try run(sql)
                return nil
            } catch let e as QueryError {
                return e
            } catch {
                return nil
            }
        }
        let unknownMetric = error("SELECT value FROM queue_wait_secs")
        #expect(unknownMetric?.message == "unknown metric \"queue_wait_secs\"")
        #expect(unknownMetric?.position.column == 19)
        #expect(unknownMetric?.hint == "did you mean queue_wait_seconds?")
        let unknownFunction = error("SELECT avgg(value) FROM queue_wait_seconds")
        #expect(unknownFunction?.message == "unknown function avgg()")
        #expect(unknownFunction?.position.column == 8)
        let arity = error("SELECT quantile(value) FROM queue_wait_seconds")
        #expect(arity?.message == "quantile() takes 2 arguments, got 1")
        let mismatch = error("SELECT value + zone FROM queue_wait_seconds")
        #expect(mismatch?.message == "cannot apply + to double and string")
        #expect(mismatch?.kind == .semantic)
        let notGrouped = error("SELECT zone, avg(value) FROM queue_wait_seconds")
        #expect(notGrouped?.message == "column \"zone\" must appear in GROUP BY or be used in an aggregate function")
        let typo = error("SELECT avg(valu) FROM queue_wait_seconds")
        #expect(typo?.message == "unknown column \"valu\"")
        #expect(typo?.hint == "did you mean value?")
        #expect(typo?.position.column == 12)
        // A label no series has is not an error: it is NULL everywhere, with a warning.
        let absent = try run("SELECT count(gate) AS n FROM queue_wait_seconds")
        #expect(texts(absent) == [["0"]])
        #expect(absent.warnings == ["no series of queue_wait_seconds has a label \"gate\": the column is NULL everywhere"])
        let missing = error("SELECT value FROM queue_wait_seconds WHERE site = :site")
        #expect(missing?.message == "missing value for parameter :site")
    }

    @Test func limitsStopTheQuery() throws {
        let engine = QueryEngine(store: handStore())
        var options = QueryOptions(now: handNow)
        options.limits.maxSamples = 3
        #expect(throws: QueryError.self) { try engine.execute("SELECT count(*) FROM queue_wait_seconds", options: options) }
        options = QueryOptions(now: handNow)
        options.limits.maxRows = 2
        do {
            _ = try engine.execute("SELECT ts FROM queue_wait_seconds", options: options)
            Issue.record("expected the row limit")
        } catch {
            #expect(error.kind == .limit)
        }
        // LIMIT keeps the result under the row limit, with ORDER BY too.
        let top = try engine.execute("SELECT value FROM queue_wait_seconds ORDER BY value DESC LIMIT 2", options: options)
        #expect(texts(top) == [["100"], ["40"]])
    }

    @Test func timeoutAndGroupMemoryLimits() throws {
        let engine = QueryEngine(store: handStore())
        var options = QueryOptions(now: handNow)
        options.limits.timeoutMilliseconds = 0
        do {
            _ = try engine.execute("SELECT count(*) FROM queue_wait_seconds", options: options)
            Issue.record("expected a timeout")
        } catch {
            #expect(error.kind == .timeout)
        }
        options = QueryOptions(now: handNow)
        options.limits.maxGroupBytes = 100
        do {
            _ = try engine.execute("SELECT ts, count(*) FROM queue_wait_seconds GROUP BY ts", options: options)
            Issue.record("expected the GROUP BY memory limit")
        } catch {
            #expect(error.kind == .limit)
            #expect(error.message == "the query needs more than 100 bytes for GROUP BY state")
        }
    }

    @Test func calendarFunctionsInATimeZone() throws {
        let store = ColumnarStore()
        // 2026-11-16T03:30Z is Sunday 22:30 in New York (EST, UTC-5); 2026-03-08T12:00Z is the
        // first day of daylight saving time there (EDT from 02:00 local), 08:00 local.
        let times: [Int64] = [1_794_799_800_000, 1_772_971_200_000]
        let id = SeriesID(0)
        store.apply(newSeries: [(id, Labels(metric: "m"))], series: [id], timestamps: [times.sorted()], values: [[1, 2]])
        let r = try run(
            """
            SELECT ts, date_trunc('day', ts, 'America/New_York') AS d, date_trunc('week', ts, 'America/New_York') AS w,
                   date_part('hour', ts, 'America/New_York') AS h, date_part('isodow', ts, 'America/New_York') AS dow,
                   date_trunc('month', ts) AS m
            FROM m ORDER BY ts
            """, store)
        #expect(
            texts(r) == [
                // Midnight EST on 2026-03-08 is 05:00Z; that Sunday's week began Monday 2026-03-02 (EST).
                ["2026-03-08T12:00:00Z", "2026-03-08T05:00:00Z", "2026-03-02T05:00:00Z", "8", "7", "2026-03-01T00:00:00Z"],
                // Sunday 2026-11-15 local; its week began Monday 2026-11-09.
                ["2026-11-16T03:30:00Z", "2026-11-15T05:00:00Z", "2026-11-09T05:00:00Z", "22", "7", "2026-11-01T00:00:00Z"],
            ])
    }

    @Test func extremeValuesGiveNullOrNumbersNotTraps() throws {
        let r = try run(
            """
            SELECT INTERVAL '1 day' * 1e300 AS huge, INTERVAL '1 day' / 0.0 AS div0,
                   (-9223372036854775807 - 1) % -1 AS m, abs(-9223372036854775807 - 1) AS a,
                   date_trunc('day', TIMESTAMP '2026-01-01T00:00:00Z' + INTERVAL '1 day' * 1e9, 'Europe/Paris') IS NULL AS far
            FROM requests_total LIMIT 1
            """)
        #expect(r.rows.first?[0] == .null)
        #expect(r.rows.first?[1] == .null)
        #expect(r.rows.first?[2] == .int(0))
        #expect(r.rows.first?[3] == .double(9_223_372_036_854_775_808))
        // 2.7 million years on: outside the time contract (years 0001-9999), so NULL.
        #expect(r.rows.first?[4] == .bool(true))
        let huge = try run("SELECT value FROM requests_total ORDER BY value LIMIT 9223372036854775807 OFFSET 9223372036854775807")
        #expect(huge.rows.isEmpty)
    }

    @Test func explainShowsPushdown() throws {
        let r = try run(
            "EXPLAIN SELECT avg(value) FROM queue_wait_seconds WHERE site = 'JFK' AND zone LIKE 'T4-%' AND ts >= now() - INTERVAL '1 day'")
        let plan = r.rows.map(\.[0].description).joined(separator: "\n")
        #expect(plan.contains("Scan queue_wait_seconds series=2"))
        #expect(plan.contains("site=\"JFK\""))
        #expect(plan.contains("zone=~\"T4-.*\""))
        #expect(plan.contains("time=[2026-11-15T03:00:00Z, +inf]"))
        #expect(r.stats.samplesScanned == 0)
    }
}

/// The selection-based exact quantile against sorting and interpolating by hand.
@Suite struct QuantileTests {
    static func reference(_ q: Double, _ values: [Double]) -> Double {
        let sorted = values.filter { !$0.isNaN }.sorted() + values.filter(\.isNaN)
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        if fraction == 0 { return sorted[lower] }
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }

    @Test func matchesSortingOnRandomInputs() {
        var rng = SeededGenerator(seed: 99)
        for round in 0..<200 {
            let n = 1 + rng.below(round < 100 ? 40 : 3000)
            let distinct = 1 + rng.below(round % 3 == 0 ? 5 : 100_000)
            var values = (0..<n).map { _ in Double(rng.below(distinct)) - Double(distinct / 2) }
            if round % 7 == 0 { for _ in 0..<rng.below(3) { values[rng.below(n)] = .nan } }
            for q in [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1, Double(rng.below(1000)) / 999] {
                var copy = values
                let got = AggregateSpec.quantile(q, &copy)
                let want = Self.reference(q, values)
                #expect(got == want || (got.isNaN && want.isNaN), "n=\(n) q=\(q): \(got) vs \(want)")
            }
        }
    }
}
