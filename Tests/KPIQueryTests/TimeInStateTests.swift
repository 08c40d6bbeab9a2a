import KPICore
import KPITestSupport
import Testing

@testable import KPIQuery

/// `time_in_state` as a sample-and-hold signal: state carried in from before the range, held
/// at most the staleness limit, cut at the range's end and at now, split at `time_bucket`
/// boundaries. Times are minutes after 2026-11-16T00:00:00Z; expectations are computed by hand
/// in the comments, and checked against `intervals()` (a second implementation of the same
/// holding rule) over random series.
@Suite struct TimeInStateTests {
    typealias Fixture = IntervalRunsTests

    /// The answers of the columnar path (plain WHERE on labels and ts) and the row path (a
    /// per-sample predicate that holds for every sample keeps the scan off the columnar path).
    func both(
        _ store: ColumnarStore, select: String, from: Int64, to: Int64, now: Int64, rules: [String: Int64] = [:],
        groupBy: String = ""
    ) throws -> (columnar: [[Value]], rows: [[Value]]) {
        var options = QueryOptions(now: Fixture.base + now * 60_000)
        options.staleness = StalenessPolicy(rules: rules)
        let range = "ts >= TIMESTAMP '\(Fixture.at(from))' AND ts < TIMESTAMP '\(Fixture.at(to))'"
        let tail = groupBy.isEmpty ? "" : " GROUP BY \(groupBy) ORDER BY \(groupBy)"
        let engine = QueryEngine(store: store)
        let columnar = try engine.execute("SELECT \(select) FROM device_up WHERE \(range)\(tail)", options: options).rows
        let rows = try engine.execute("SELECT \(select) FROM device_up WHERE \(range) AND value >= 0\(tail)", options: options)
            .rows
        return (columnar, rows)
    }

    static let upDown =
        "time_in_state(value = 1) / INTERVAL '1 minute', time_in_state(value = 0) / INTERVAL '1 minute', count(*)"

    @Test func theStateBeforeTheRangeIsCarriedIn() throws {
        // Down at 03:00, up at 07:00, nothing else; device_up's limit 6 h. [05:00, 09:00):
        // down 05:00-07:00 (120, carried in from 03:00), up 07:00-09:00 (120, cut at the end).
        // count(*) sees only the one sample inside the range.
        let store = Fixture.store([("cam", [(180, 0), (420, 1)])])
        let answer = try both(store, select: Self.upDown, from: 300, to: 540, now: 600, rules: ["device_up": 21_600_000])
        let expected: [[Value]] = [[.double(120), .double(120), .int(1)]]
        #expect(answer.columnar == expected)
        #expect(answer.rows == expected)
        // [07:30, 09:00) has no sample at all: the 07:00 "up" holds through it (90 minutes).
        let silent = try both(store, select: Self.upDown, from: 450, to: 540, now: 600, rules: ["device_up": 21_600_000])
        #expect(silent.columnar == [[.double(90), .double(0), .int(0)]])
        #expect(silent.rows == silent.columnar)
    }

    @Test func aCarriedStateOlderThanTheLimitIsUnknown() throws {
        // Same samples, default limit: a series with fewer than two samples in reach gets the
        // maximum (1 h), so the 03:00 "down" no longer holds at 05:00 and nothing is counted
        // before 07:00; the 07:00 "up" holds one hour.
        let store = Fixture.store([("cam", [(180, 0), (420, 1)])])
        let answer = try both(store, select: Self.upDown, from: 300, to: 540, now: 600)
        #expect(answer.columnar == [[.double(60), .double(0), .int(1)]])
        #expect(answer.rows == answer.columnar)
    }

    @Test func holdingStopsAtNow() throws {
        // The week reaches into the future: the 07:00 "up" holds until now (08:00), not 09:00.
        let store = Fixture.store([("cam", [(180, 0), (420, 1)])])
        let answer = try both(store, select: Self.upDown, from: 300, to: 540, now: 480, rules: ["device_up": 21_600_000])
        #expect(answer.columnar == [[.double(60), .double(120), .int(1)]])
        #expect(answer.rows == answer.columnar)
    }

    @Test func perDeviceBreakdownCarriesEachDevice() throws {
        // a: up at 04:00 (before the range) and nothing since; b: down at 05:30, up at 06:00.
        // Limit 6 h. [05:00, 07:00): a is up all 120 minutes; b is unknown 05:00-05:30, down
        // 30, up 60.
        let store = Fixture.store([("a", [(240, 1)]), ("b", [(330, 0), (360, 1)])])
        let answer = try both(
            store, select: "device, " + Self.upDown, from: 300, to: 420, now: 600, rules: ["device_up": 21_600_000],
            groupBy: "device")
        let expected: [[Value]] = [
            [.string("a"), .double(120), .double(0), .int(0)],
            [.string("b"), .double(60), .double(30), .int(2)],
        ]
        #expect(answer.columnar == expected)
        #expect(answer.rows == expected)
    }

    @Test func timeBucketsSplitAStateAtTheirBoundaries() throws {
        // Down at 03:00, up at 07:00; limit 6 h; hourly buckets over [05:00, 09:00): every hour
        // is whole, the empty ones included: 05 and 06 down, 07 and 08 up (a group in which a
        // state never held reads 0 minutes of it).
        let store = Fixture.store([("cam", [(180, 0), (420, 1)])])
        var options = QueryOptions(now: Fixture.base + 600 * 60_000)
        options.staleness = StalenessPolicy(rules: ["device_up": 21_600_000])
        let sql = """
            SELECT time_bucket(INTERVAL '1 hour', ts) AS h, time_in_state(value = 1) / INTERVAL '1 minute',
                   time_in_state(value = 0) / INTERVAL '1 minute'
            FROM device_up WHERE ts >= TIMESTAMP '\(Fixture.at(300))' AND ts < TIMESTAMP '\(Fixture.at(540))'
            GROUP BY h ORDER BY h
            """
        let rows = try QueryEngine(store: store).execute(sql, options: options).rows
        let hour: (Int64) -> Value = { .timestamp(Fixture.base + $0 * 3_600_000) }
        #expect(
            rows == [
                [hour(5), .double(0), .double(60)], [hour(6), .double(0), .double(60)], [hour(7), .double(60), .double(0)],
                [hour(8), .double(60), .double(0)],
            ])
    }

    /// Over random series and windows: `time_in_state(cond)` equals the total duration of
    /// `intervals(metric, cond)` (the same holding rule, written separately), and splitting a
    /// window at any instant changes no total; up + down + unknown is the window.
    @Test func agreesWithIntervalsAndSplitsAdditively() throws {
        var rng = SeededGenerator(seed: 1607)
        let rules = ["device_up": Int64(15 * 60_000)]
        for round in 0..<40 {
            var samples: [(minute: Int64, value: Double)] = []
            var t = Int64(rng.below(40))
            var value = 1.0
            while t < 2000 {
                if rng.below(6) == 0 { value = 1 - value }
                samples.append((t, value))
                t += 1 + Int64(rng.below(rng.below(10) == 0 ? 120 : 8))
            }
            let store = Fixture.store([("d", samples)])
            let lo = Int64(rng.below(600))
            let hi = lo + 200 + Int64(rng.below(1400))
            let cut = lo + 1 + Int64(rng.below(Int(hi - lo - 1)))
            func minutes(_ from: Int64, _ to: Int64) throws -> (up: Double, down: Double) {
                let answer = try both(store, select: Self.upDown, from: from, to: to, now: 3000, rules: rules)
                #expect(answer.columnar == answer.rows, "round \(round) [\(from), \(to))")
                let row = answer.columnar.first ?? []
                return (row.first?.doubleValue ?? 0, row.dropFirst().first?.doubleValue ?? 0)
            }
            func runMinutes(_ condition: String) throws -> Double {
                try Fixture().query(store, lo, hi, now: 3000, rules: rules, condition: condition)
                    .reduce(0) { $0 + Double($1[3])! }
            }
            let whole = try minutes(lo, hi)
            let (first, second) = (try minutes(lo, cut), try minutes(cut, hi))
            #expect(abs(whole.up - (first.up + second.up)) < 1e-9, "round \(round): split at \(cut)")
            #expect(abs(whole.down - (first.down + second.down)) < 1e-9, "round \(round): split at \(cut)")
            #expect(abs(whole.up - (try runMinutes("value = 1"))) < 1e-9, "round \(round)")
            #expect(abs(whole.down - (try runMinutes("value = 0"))) < 1e-9, "round \(round)")
            // Unknown time, counted by hand: the parts of the window no sample's hold covers.
            var known = 0.0
            for (k, s) in samples.enumerated() {
                let next = k + 1 < samples.count ? samples[k + 1].minute : Int64.max
                let from = max(s.minute, lo)
                let until = min(next, s.minute + 15, hi)
                if until > from { known += Double(until - from) }
            }
            #expect(abs(whole.up + whole.down - known) < 1e-9, "round \(round): up + down + unknown = window")
        }
    }
}

extension Value {
    fileprivate var doubleValue: Double? {
        if case .double(let d) = self { return d }
        return nil
    }
}
