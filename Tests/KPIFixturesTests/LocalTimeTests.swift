import Foundation
import Testing

@testable import KPIFixtures

/// Daylight saving changes inside the 8 weeks: 2026-10-25 in Europe, 2026-11-01 in the US.
@Suite struct LocalTimeTests {
    let data = FixtureData.shared

    /// Samples of a grid series whose local date (Foundation's calendar in `zone`) is y-m-d.
    func samplesOnLocalDay(_ s: FixtureData.Series, _ zone: String, _ y: Int, _ m: Int, _ d: Int) -> Int {
        let from = FixtureData.local(zone, y, m, d)
        let to = FixtureData.local(zone, y, m, d + 1)
        return s.ts.filter { $0 >= from && $0 < to }.count
    }

    @Test func theClockKnowsTheLongDays() {
        let cases: [(String, Int, Int, Int, Int)] = [
            ("America/New_York", 2026, 11, 1, 25), ("America/New_York", 2026, 10, 31, 24), ("America/Chicago", 2026, 11, 1, 25),
            ("Europe/London", 2026, 10, 25, 25), ("Europe/Berlin", 2026, 10, 25, 25), ("Europe/Berlin", 2026, 3, 29, 23),
            ("America/New_York", 2026, 3, 8, 23),
        ]
        for (zone, y, m, d, hours) in cases {
            let clock = Clock(
                zone: TimeZone(identifier: zone)!, start: epochDay(2026, 1, 1) * 86_400_000, end: epochDay(2026, 12, 31) * 86_400_000)
            #expect(clock.hoursInDay(epochDay(y, m, d)) == hours, "\(zone) \(y)-\(m)-\(d)")
            #expect(clock.ms(epochDay(y, m, d), 12) == FixtureData.local(zone, y, m, d, 12), "\(zone) noon")
        }
    }

    @Test func fallBackDaysHave25LocalHoursOfSamples() {
        let cases: [(String, String, Int, Int, Int)] = [
            ("JFK", "America/New_York", 2026, 11, 1), ("NYC-5TH", "America/New_York", 2026, 11, 1),
            ("DC-ATL", "America/New_York", 2026, 11, 1), ("CAMPUS-E", "America/Chicago", 2026, 11, 1),
            ("ARENA-1", "Europe/London", 2026, 10, 25), ("PLANT-1", "Europe/Berlin", 2026, 10, 25),
        ]
        for (site, zone, y, m, d) in cases {
            let s = data.series(site, "device_up", ["device": "nvr-01"]).first!
            #expect(samplesOnLocalDay(s, zone, y, m, d) == 25 * 4, "\(site)")
            #expect(samplesOnLocalDay(s, zone, y, m, d - 1) == 24 * 4, "\(site)")
            #expect(samplesOnLocalDay(s, zone, y, m, d + 1) == 24 * 4, "\(site)")
        }
    }

    @Test func theStoreOpensAt10LocalBeforeAndAfterTheChange() {
        // NYC-5TH: L1 opens at 10:00 Monday-Saturday and 11:00 on Sunday, New York time, whether
        // that is 14:00Z (EDT, before 2026-11-01) or 15:00Z (EST, after).
        let lane = data.series("NYC-5TH", "lane_open", ["lane": "L1"])[0]
        for (y, m, d) in [(2026, 10, 30), (2026, 10, 31), (2026, 11, 1), (2026, 11, 2), (2026, 11, 20)] {
            let from = FixtureData.local("America/New_York", y, m, d)
            let to = FixtureData.local("America/New_York", y, m, d + 1)
            let first = zip(lane.ts, lane.values).first { $0.0 >= from && $0.0 < to && $0.1 == 1 }!.0
            let opening = d == 1 && m == 11 ? 11 : 10
            #expect(first == FixtureData.local("America/New_York", y, m, d, opening), "\(y)-\(m)-\(d)")
        }
    }

    @Test func theShiftsStartAt6BerlinTimeOnBothSidesOfTheChange() {
        // PLANT-1: L2 runs 06:00-22:00 on weekdays, Berlin time (04:00Z in CEST, 05:00Z in CET).
        let press = data.series("PLANT-1", "machine_state", ["machine": "mold"])[0]
        for (y, m, d) in [(2026, 10, 23), (2026, 10, 26)] {
            let six = FixtureData.local("Europe/Berlin", y, m, d, 6)
            #expect(FixtureData.value(press, at: six - FixtureData.step) == 1)
            // 06:00-06:10 is the shift handover (planned stop); running from 06:15.
            #expect(FixtureData.value(press, at: six + FixtureData.step) == 2)
        }
    }
}
