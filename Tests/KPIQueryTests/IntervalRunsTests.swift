import KPICore
import KPITestSupport
import Testing

@testable import KPIQuery

/// `intervals()` at the edges of time: carried state, staleness, half-open windows, runs open
/// at the end and starting at `to`. Times are minutes after 2026-11-16T00:00:00Z; every
/// expectation is computed by hand in the comments.
@Suite struct IntervalRunsTests {
    static let base: Int64 = 1_794_787_200_000

    static func store(_ series: [(device: String, samples: [(minute: Int64, value: Double)])]) -> ColumnarStore {
        let store = ColumnarStore()
        for (k, s) in series.enumerated() {
            let id = SeriesID(UInt32(k))
            store.apply(
                newSeries: [(id, Labels(metric: "device_up", ["site": "S", "device": s.device]))], series: [id],
                timestamps: [s.samples.map { base + $0.minute * 60_000 }], values: [s.samples.map(\.value)])
        }
        return store
    }

    /// Every minute from `from` to `to` (inclusive) with `value`.
    static func minutes(_ from: Int64, _ to: Int64, _ value: Double) -> [(minute: Int64, value: Double)] {
        (from...to).map { ($0, value) }
    }

    static func at(_ minute: Int64) -> String { TimestampLiteral.format(base + minute * 60_000) }

    func query(
        _ store: ColumnarStore, _ from: Int64, _ to: Int64, now: Int64, rules: [String: Int64] = [:], condition: String = "value = 0"
    ) throws -> [[String]] {
        var options = QueryOptions(now: Self.base + now * 60_000)
        options.staleness = StalenessPolicy(rules: rules)
        let sql = """
            SELECT device, start, "end", duration / INTERVAL '1 minute', run_start, run_end, started_before, ended, went_unknown
            FROM intervals(device_up, \(condition), TIMESTAMP '\(Self.at(from))', TIMESTAMP '\(Self.at(to))')
            ORDER BY device, start
            """
        return try QueryEngine(store: store).execute(sql, options: options).rows.map { $0.map(\.description) }
    }

    @Test func changeOnlyReportingCarriesTheStateAcrossTheWindowStart() throws {
        // Down at 03:00, up at 07:00, nothing else. With device_up's limit at 6 h, the window
        // 05:00-09:00 starts down: 120 minutes of it, the run began at 03:00 and was repaired
        // at 07:00 (a 240-minute outage, counted where it started, not here).
        let store = Self.store([("cam", [(180, 0), (420, 1)])])
        let rows = try query(store, 300, 540, now: 600, rules: ["device_up": 6 * 3_600_000])
        #expect(rows == [["cam", Self.at(300), Self.at(420), "120", Self.at(180), Self.at(420), "true", "true", "false"]])
        // The window where it started counts it once, with the part inside it (03:00-05:00);
        // there it is still open (run_end NULL: the repair comes after the window).
        let before = try query(store, 120, 300, now: 600, rules: ["device_up": 6 * 3_600_000])
        #expect(before == [["cam", Self.at(180), Self.at(300), "120", Self.at(180), "", "false", "false", "false"]])
        // Without the rule the 03:00 sample is older than the default limit (1 h) at 05:00:
        // the state there is unknown, and no outage is made up.
        #expect(try query(store, 300, 540, now: 600) == [])
    }

    @Test func anOutageOpenAtTheEndIsClippedAndNotEnded() throws {
        // Probes every minute: up 00:00-00:49, down 00:50-01:00, then silence. Limit: 3 × 1 min.
        let store = Self.store([("cam", Self.minutes(0, 49, 1) + Self.minutes(50, 60, 0))])
        // [00:00, 01:00): down from 00:50, still down at 01:00, so open: 10 minutes, no run_end.
        #expect(
            try query(store, 0, 60, now: 120) == [
                ["cam", Self.at(50), Self.at(60), "10", Self.at(50), "", "false", "false", "false"]
            ])
        // [01:00, 02:00): the last probe (01:00, down) holds 3 more minutes, then the device is
        // unknown: 3 minutes of downtime, not 60, and not a repair.
        #expect(
            try query(store, 60, 120, now: 120) == [
                ["cam", Self.at(60), Self.at(63), "3", Self.at(50), Self.at(63), "true", "false", "true"]
            ])
    }

    @Test func anOutageStartingAtToBelongsToTheNextWindow() throws {
        // Down 01:00-01:05, up from 01:06.
        let store = Self.store([("cam", Self.minutes(0, 59, 1) + Self.minutes(60, 65, 0) + Self.minutes(66, 70, 1))])
        #expect(try query(store, 0, 60, now: 180) == [])
        #expect(
            try query(store, 60, 120, now: 180) == [
                ["cam", Self.at(60), Self.at(66), "6", Self.at(60), Self.at(66), "false", "true", "false"]
            ])
    }

    @Test func aLongSilenceIsUnknownAfterUpAndAfterDown() throws {
        // Ten minutes of probes, 48 hours of silence, one probe: after "up" the device is not up
        // for 48 h, after "down" it is not down for 48 h. Limit: 3 × the median step (1 min).
        let store = Self.store([
            ("after-down", Self.minutes(0, 10, 0) + [(2890, 1)]),
            ("after-up", Self.minutes(0, 10, 1) + [(2890, 1)]),
        ])
        let down = try query(store, 0, 4320, now: 4320)
        #expect(down == [["after-down", Self.at(0), Self.at(13), "13", Self.at(0), Self.at(13), "false", "false", "true"]])
        let up = try query(store, 0, 4320, now: 4320, condition: "value = 1")
        #expect(
            up == [
                ["after-down", Self.at(2890), Self.at(2893), "3", Self.at(2890), Self.at(2893), "false", "false", "true"],
                ["after-up", Self.at(0), Self.at(13), "13", Self.at(0), Self.at(13), "false", "false", "true"],
                ["after-up", Self.at(2890), Self.at(2893), "3", Self.at(2890), Self.at(2893), "false", "false", "true"],
            ])
    }

    @Test func timeInStateHoldsAStateAtMostTheStalenessLimit() throws {
        // Up 00:00-00:10 every minute, silent 48 h, up once at 48:10: 10 minutes between the
        // probes plus 3 (the limit) after the last one before the silence, plus 3 after the
        // 48:10 probe (the range ends later). Before, the silence counted as 48 h up.
        let store = Self.store([("cam", Self.minutes(0, 10, 1) + [(2890, 1)])])
        var options = QueryOptions(now: Self.base + 4320 * 60_000)
        options.staleness = StalenessPolicy()
        let range = "ts >= TIMESTAMP '\(Self.at(0))' AND ts < TIMESTAMP '\(Self.at(4320))'"
        for sql in [
            "SELECT time_in_state(value = 1) / INTERVAL '1 minute' FROM device_up WHERE \(range)",
            "SELECT device, time_in_state(value = 1) / INTERVAL '1 minute' FROM device_up WHERE \(range) GROUP BY device",
            "SELECT time_in_state(value = 1) / INTERVAL '1 minute' FROM device_up WHERE \(range) AND value >= 0",
        ] {
            let rows = try QueryEngine(store: store).execute(sql, options: options).rows
            #expect(rows.first?.last == .double(16), "\(sql): \(rows)")
        }
    }

    @Test func aLongOutageFoundBackToItsStart() throws {
        // Down from 00:10 with a probe every minute for 20 hours: the window 12:00-13:00 sees a
        // run that began at 00:10, far before its one-hour look-back.
        let store = Self.store([("cam", Self.minutes(0, 9, 1) + Self.minutes(10, 1200, 0))])
        let rows = try query(store, 720, 780, now: 1300)
        #expect(rows == [["cam", Self.at(720), Self.at(780), "60", Self.at(10), "", "true", "false", "false"]])
    }

    /// Splitting a range at any instant never changes the number of runs (counted where they
    /// start) or their total time, and each run's whole length is the same from every window.
    @Test func splittingARangeChangesNoTotal() throws {
        var rng = SeededGenerator(seed: 16)
        for round in 0..<40 {
            var samples: [(minute: Int64, value: Double)] = []
            var t: Int64 = Int64(rng.below(30))
            var value = 1.0
            while t < 2000 {
                if rng.below(8) == 0 { value = 1 - value }
                samples.append((t, value))
                t += 1 + Int64(rng.below(rng.below(20) == 0 ? 200 : 6))
            }
            let store = Self.store([("d", samples)])
            let rules = ["device_up": Int64(20 * 60_000)]
            let lo = Int64(rng.below(500))
            let hi = lo + 500 + Int64(rng.below(1500))
            let cut = lo + 1 + Int64(rng.below(Int(hi - lo - 1)))
            func totals(_ rows: [[String]]) -> (count: Int, minutes: Double) {
                (rows.filter { $0[6] == "false" }.count, rows.reduce(0) { $0 + Double($1[3])! })
            }
            let whole = totals(try query(store, lo, hi, now: 3000, rules: rules))
            let first = totals(try query(store, lo, cut, now: 3000, rules: rules))
            let second = totals(try query(store, cut, hi, now: 3000, rules: rules))
            #expect(whole.count == first.count + second.count, "round \(round): split at \(cut)")
            #expect(abs(whole.minutes - (first.minutes + second.minutes)) < 1e-9, "round \(round): split at \(cut)")
        }
    }

    @Test func unknownRunsCoverTheSilences() throws {
        // Probes every minute 00:00-00:10 (up), silent until 48:10 (one probe), then silent
        // again. Limit 3 × 1 min. [00:00, 72:00), now 72:00: unknown from 00:13 until the probe
        // at 48:10 (reporting resumed: ended), and from 48:13 on, still unknown at the end.
        let store = Self.store([("cam", Self.minutes(0, 10, 1) + [(2890, 1)])])
        #expect(
            try query(store, 0, 4320, now: 4320, condition: "unknown") == [
                ["cam", Self.at(13), Self.at(2890), "2877", Self.at(13), Self.at(2890), "false", "true", "false"],
                ["cam", Self.at(2893), Self.at(4320), "1427", Self.at(2893), "", "false", "false", "false"],
            ])
    }

    @Test func aDeviceSilentAllWeekIsUnknownAllWeekUnlessDecommissioned() throws {
        // "old" last reported 40 days before the window: decommissioned, no run. "quiet" last
        // reported 3 days before (a probe each minute for an hour, so its limit was 3 minutes):
        // unknown since 3 minutes after its last probe, the whole window long (7 days = 10,080
        // minutes), still open.
        let day: Int64 = 1440
        let store = Self.store([
            ("old", Self.minutes(-40 * day - 60, -40 * day, 1)), ("quiet", Self.minutes(-3 * day - 60, -3 * day, 1)),
        ])
        let rows = try query(store, 0, 7 * day, now: 8 * day, condition: "unknown")
        #expect(
            rows == [["quiet", Self.at(0), Self.at(7 * day), "10080", Self.at(-3 * day + 3), "", "true", "false", "false"]])
    }

    /// Up, down and unknown runs of a series that reported before the window cover the window
    /// exactly (to now), over random series and windows.
    @Test func upDownAndUnknownCoverTheWindow() throws {
        var rng = SeededGenerator(seed: 2016)
        for round in 0..<40 {
            var samples: [(minute: Int64, value: Double)] = [(0, 1)]
            var t = Int64(1 + rng.below(40))
            var value = 1.0
            while t < 2000 {
                if rng.below(6) == 0 { value = 1 - value }
                samples.append((t, value))
                t += 1 + Int64(rng.below(rng.below(10) == 0 ? 300 : 8))
            }
            let store = Self.store([("d", samples)])
            let lo = 1 + Int64(rng.below(600))
            let hi = lo + 200 + Int64(rng.below(1800))
            let now = Int64(2000 + rng.below(1000))  // after the last sample, as in life
            var total = 0.0
            for condition in ["value = 1", "value = 0", "unknown"] {
                total += try query(store, lo, hi, now: now, condition: condition).reduce(0) { $0 + Double($1[3])! }
            }
            #expect(total == Double(max(0, min(hi, now) - lo)), "round \(round): [\(lo), \(hi)) now \(now)")
        }
    }

    @Test func maintenanceWindowsCutRunsIntoPlannedAndUnplannedParts() throws {
        // cam down 01:00-03:00 (probes every minute, up again at 03:00); a window for cam
        // 01:30-02:00 and one for another device. [00:00, 04:00): three rows of the one outage:
        // 01:00-01:30 unplanned (counted where it starts), 01:30-02:00 planned, 02:00-03:00
        // unplanned and ended (the repair). The other device's window changes nothing.
        let store = Self.store([("cam", Self.minutes(0, 59, 1) + Self.minutes(60, 179, 0) + Self.minutes(180, 240, 1))])
        var options = QueryOptions(now: Self.base + 300 * 60_000)
        options.maintenance = [
            MaintenanceSpan(
                matchers: [try LabelMatcher("device", .equal, "cam")], startMs: Self.base + 90 * 60_000, endMs: Self.base + 120 * 60_000),
            MaintenanceSpan(matchers: [try LabelMatcher("device", .equal, "other")], startMs: Self.base, endMs: Self.base + 240 * 60_000),
        ]
        let sql = """
            SELECT start, "end", duration / INTERVAL '1 minute', started_before, ended, planned
            FROM intervals(device_up, value = 0, TIMESTAMP '\(Self.at(0))', TIMESTAMP '\(Self.at(240))') ORDER BY start
            """
        let rows = try QueryEngine(store: store).execute(sql, options: options).rows.map { $0.map(\.description) }
        #expect(
            rows == [
                [Self.at(60), Self.at(90), "30", "false", "false", "false"],
                [Self.at(90), Self.at(120), "30", "true", "false", "true"],
                [Self.at(120), Self.at(180), "60", "true", "true", "false"],
            ])
        // Unknown (unplanned) downtime 90 min, planned 30, one outage counted.
        let totals = try QueryEngine(store: store).execute(
            """
            SELECT sum_if(epoch(duration) / 60, NOT planned), sum_if(epoch(duration) / 60, planned),
                   count_if(NOT started_before AND NOT planned)
            FROM intervals(device_up, value = 0, TIMESTAMP '\(Self.at(0))', TIMESTAMP '\(Self.at(240))')
            """, options: options
        ).rows.first?.map(\.description)
        #expect(totals == ["90", "30", "1"])
    }
}
