import Foundation
import Testing

@testable import KPIFixtures

/// The scripted incidents of Fixtures/README.md are in the data where documented.
@Suite struct ScriptedIncidentTests {
    let data = FixtureData.shared
    static let ny = "America/New_York"

    /// Overflow episodes (above 30 people for more than 15 minutes) per UTC week.
    func overflowsPerWeek() -> [Int: Int] {
        var out: [Int: Int] = [:]
        for s in data.series("JFK", "queue_length_people") {
            var start: Int64? = nil
            for (t, v) in zip(s.ts, s.values) {
                if v > 30 {
                    if start == nil { start = t }
                } else if let st = start {
                    if t - st > 900_000 { out[FixtureData.week(st), default: 0] += 1 }
                    start = nil
                }
            }
        }
        return out
    }

    /// Whether the 0/1 series is `value` at every grid time in [from, to).
    func holds(_ s: FixtureData.Series, _ value: Double, from: Int64, to: Int64) -> Bool {
        let inRange = zip(s.ts, s.values).filter { $0.0 >= from && $0.0 < to }
        return !inRange.isEmpty && inRange.allSatisfy { $0.1 == value }
    }

    @Test func airport() {
        // W44 is the bad week (T4-A short-staffed every weekday afternoon, T4-B's scanner out):
        // more overflow episodes than any other week; W45 recovers.
        let weeks = overflowsPerWeek()
        let bad = weeks[44] ?? 0
        for w in 40...47 where w != 44 { #expect(Double(bad) > Double(weeks[w] ?? 0) * 1.5, "W44 \(bad) vs W\(w) \(weeks[w] ?? 0)") }
        #expect((weeks[45] ?? 0) < bad / 2)
        // cam-03 down Tuesday 2026-11-17 13:05-16:15 local.
        let cam = data.series("JFK", "device_up", ["device": "cam-03"])[0]
        #expect(holds(cam, 0, from: FixtureData.local(Self.ny, 2026, 11, 17, 13, 15), to: FixtureData.local(Self.ny, 2026, 11, 17, 16, 15)))
        #expect(FixtureData.value(cam, at: FixtureData.local(Self.ny, 2026, 11, 17, 16, 15)) == 1)
        // cam-06's certificate invalid from 2026-11-09; nvr-01's from Thursday 19th 00:00 to Friday 10:30.
        let certCam = data.series("JFK", "cert_valid", ["device": "cam-06"])[0]
        #expect(holds(certCam, 0, from: FixtureData.local(Self.ny, 2026, 11, 9), to: FixtureData.end))
        #expect(holds(certCam, 1, from: FixtureData.start, to: FixtureData.local(Self.ny, 2026, 11, 8)))
        let certNVR = data.series("JFK", "cert_valid", ["device": "nvr-01"])[0]
        #expect(holds(certNVR, 0, from: FixtureData.local(Self.ny, 2026, 11, 19), to: FixtureData.local(Self.ny, 2026, 11, 20, 10, 30)))
        #expect(FixtureData.value(certNVR, at: FixtureData.local(Self.ny, 2026, 11, 20, 11)) == 1)
    }

    @Test func retail() {
        // cam-02 upgraded Wednesday 2026-11-18 02:00 local: its device_up series changes firmware
        // label there, after a 15-minute reboot, and firmware_compliant turns 1.
        let upgrade = FixtureData.local(Self.ny, 2026, 11, 18, 2)
        let cam = data.series("NYC-5TH", "device_up", ["device": "cam-02"]).sorted { $0.ts[0] < $1.ts[0] }
        #expect(cam.count == 2)
        #expect(cam[0].labels["vendor"] == "Hanwha")
        #expect(cam[0].labels["firmware"] == "2.10.05" && cam[0].ts.last! == upgrade - FixtureData.step)
        #expect(cam[1].labels["firmware"] == "2.21.02" && cam[1].ts.first! == upgrade && cam[1].values.first! == 0)
        let compliant = data.series("NYC-5TH", "firmware_compliant", ["device": "cam-02"])[0]
        #expect(holds(compliant, 0, from: FixtureData.start, to: upgrade) && holds(compliant, 1, from: upgrade, to: FixtureData.end))
        // A3 gap found Thursday 20:40, restocked Friday 09:45; A2 out for two days in W42.
        let a3 = data.series("NYC-5TH", "shelf_gap", ["aisle": "A3"])[0]
        #expect(holds(a3, 1, from: FixtureData.local(Self.ny, 2026, 11, 19, 20, 40), to: FixtureData.local(Self.ny, 2026, 11, 20, 9, 45)))
        let a2 = data.series("NYC-5TH", "shelf_gap", ["aisle": "A2"])[0]
        #expect(holds(a2, 1, from: FixtureData.local(Self.ny, 2026, 10, 14, 10), to: FixtureData.local(Self.ny, 2026, 10, 16, 11)))
        // Self-checkout closed all Tuesday 2026-11-03.
        let sco = data.series("NYC-5TH", "lane_open", ["lane": "SCO"])[0]
        #expect(holds(sco, 0, from: FixtureData.local(Self.ny, 2026, 11, 3), to: FixtureData.local(Self.ny, 2026, 11, 4)))
        // Halloween (Saturday 2026-10-31) is the busiest day of the 8 weeks.
        var perDay: [Int64: Double] = [:]
        for s in data.series("NYC-5TH", "entries_total") {
            for k in s.values.indices.dropFirst() {
                perDay[(s.ts[k] - 4 * 3_600_000) / 86_400_000, default: 0] += s.values[k] - s.values[k - 1]
            }
        }
        #expect(perDay.max { $0.value < $1.value }!.key == epochDay(2026, 10, 31))
    }

    @Test func campus() {
        let chicago = "America/Chicago"
        // Fall break (Monday-Tuesday 2026-10-19/20): lecture rooms near empty in the day.
        let room = data.series("CAMPUS-E", "occupancy_people", ["room": "SCI-101"])[0]
        func dayMax(_ d: Int, _ m: Int = 10) -> Double {
            zip(room.ts, room.values).filter {
                $0.0 >= FixtureData.local(chicago, 2026, m, d) && $0.0 < FixtureData.local(chicago, 2026, m, d + 1)
            }.map(\.1).max()!
        }
        #expect(dayMax(19) <= 3 && dayMax(20) <= 3)
        #expect(dayMax(12) > 30 && dayMax(26) > 30)
        // W45: the SCI dock door's closer is broken, the door propped 6 hours or more every weekday.
        let dock = data.series("CAMPUS-E", "door_held_open", ["door": "SCI-dock"])[0]
        for d in 2...6 {
            let open = zip(dock.ts, dock.values).filter {
                $0.0 >= FixtureData.local(chicago, 2026, 11, d) && $0.0 < FixtureData.local(chicago, 2026, 11, d + 1) && $0.1 == 1
            }.count
            #expect(open >= 24, "2026-11-0\(d): \(open) samples propped")
        }
        // Friday 2026-11-20 23:35: SCI-east propped two and a half hours.
        let east = data.series("CAMPUS-E", "door_held_open", ["door": "SCI-east"])[0]
        #expect(holds(east, 1, from: FixtureData.local(chicago, 2026, 11, 20, 23, 35), to: FixtureData.local(chicago, 2026, 11, 21, 2, 5)))
        // The first drill (2026-10-13) is slower than the second (2026-11-17) in every building.
        for building in ["SCI", "ENG", "LIB"] {
            let s = data.series("CAMPUS-E", "lockdown_secured_seconds", ["building": building])[0]
            func near(_ t: Int64) -> Double { zip(s.ts, s.values).first { $0.0 >= t && $0.0 < t + 900_000 }!.1 }
            #expect(near(FixtureData.local(chicago, 2026, 10, 13, 10, 15)) > near(FixtureData.local(chicago, 2026, 11, 17, 10, 15)))
        }
    }

    @Test func stadium() {
        // Entries are sampled on match days only; W44 has no home match.
        let entries = data.series("ARENA-1", "entries_total")
        #expect(entries.allSatisfy { s in s.ts.allSatisfy { FixtureData.week($0) != 44 } })
        var perMatch: [Int64: Double] = [:]
        for s in entries {
            for k in s.values.indices.dropFirst() where s.ts[k] - s.ts[k - 1] == FixtureData.step {
                perMatch[s.ts[k] / 86_400_000, default: 0] += s.values[k] - s.values[k - 1]
            }
        }
        perMatch = perMatch.filter { $0.value > 0 }
        #expect(perMatch.count == 10)
        // Every match admits about its listed attendance.
        for event in data.sites["ARENA-1"]!.events {
            let admitted = perMatch[event.kickoff / 86_400_000] ?? 0
            #expect(abs(admitted - Double(event.attendance)) < 0.02 * Double(event.attendance), "\(event.name): \(admitted)")
        }
        // gate-C's readers (rdr-03) down Saturday 2026-11-21 14:20-14:50; gate-B's (rdr-02) at the W41 derby.
        let rdr3 = data.series("ARENA-1", "device_up", ["device": "rdr-03"])[0]
        #expect(
            holds(
                rdr3, 0, from: FixtureData.local("Europe/London", 2026, 11, 21, 14, 30),
                to: FixtureData.local("Europe/London", 2026, 11, 21, 14, 50)))
        let rdr2 = data.series("ARENA-1", "device_up", ["device": "rdr-02"])[0]
        #expect(
            holds(
                rdr2, 0, from: FixtureData.local("Europe/London", 2026, 10, 10, 14, 15),
                to: FixtureData.local("Europe/London", 2026, 10, 10, 14, 40)))
    }

    @Test func logistics() {
        // W43 (peak season surge): on-time departures the lowest of the 8 weeks.
        var onTime: [Int: (Int, Int)] = [:]
        for s in data.series("DC-ATL", "departure_delay_seconds") {
            for (t, v) in zip(s.ts, s.values) {
                let w = FixtureData.week(t)
                onTime[w, default: (0, 0)].0 += v <= 0 ? 1 : 0
                onTime[w, default: (0, 0)].1 += 1
            }
        }
        let share = onTime.mapValues { Double($0.0) / Double($0.1) }
        for w in 40...47 where w != 43 { #expect(share[43]! < share[w]! - 0.15, "W43 \(share[43]!) vs W\(w) \(share[w]!)") }
        // D03: Saturday 2026-11-21's last trailer dropped at 13:20, there to the end.
        let d03 = data.series("DC-ATL", "dock_door_occupied", ["door": "D03"])[0]
        #expect(holds(d03, 1, from: FixtureData.local(Self.ny, 2026, 11, 21, 13, 20), to: FixtureData.end))
        // D07 out of service Thursday 2026-11-19 04:00-14:00 (no visits), its dock sensor down with it.
        let d07 = data.series("DC-ATL", "dock_door_occupied", ["door": "D07"])[0]
        #expect(holds(d07, 0, from: FixtureData.local(Self.ny, 2026, 11, 19, 6), to: FixtureData.local(Self.ny, 2026, 11, 19, 14)))
        let sensor = data.series("DC-ATL", "device_up", ["device": "sen-01"])[0]
        #expect(holds(sensor, 0, from: FixtureData.local(Self.ny, 2026, 11, 19, 4), to: FixtureData.local(Self.ny, 2026, 11, 19, 14)))
        // D09's drop trailer from Saturday 2026-11-14 until Monday 06:40.
        let d09 = data.series("DC-ATL", "dock_door_occupied", ["door": "D09"])[0]
        #expect(holds(d09, 1, from: FixtureData.local(Self.ny, 2026, 11, 15), to: FixtureData.local(Self.ny, 2026, 11, 16, 6, 30)))
    }

    @Test func manufacturing() {
        let berlin = "Europe/Berlin"
        // W42: L1's press down six hours from Tuesday 2026-10-13 08:00; W42 has the most downtime.
        let press = data.series("PLANT-1", "machine_state", ["machine": "press"])[0]
        #expect(holds(press, 0, from: FixtureData.local(berlin, 2026, 10, 13, 8), to: FixtureData.local(berlin, 2026, 10, 13, 14)))
        var downSamples: [Int: Int] = [:]
        for s in data.series("PLANT-1", "machine_state") {
            for (t, v) in zip(s.ts, s.values) where v == 0 { downSamples[FixtureData.week(t), default: 0] += 1 }
        }
        for w in 40...47 where w != 42 { #expect(downSamples[42]! > downSamples[w, default: 0], "W42 vs W\(w)") }
        // W45: L2 in planned maintenance all Friday 2026-11-06 (state 1, not 0).
        let mold = data.series("PLANT-1", "machine_state", ["machine": "mold"])[0]
        #expect(holds(mold, 1, from: FixtureData.local(berlin, 2026, 11, 6), to: FixtureData.local(berlin, 2026, 11, 7)))
        // Cycle time is sampled only while the line runs (never during a breakdown).
        let cycle = data.series("PLANT-1", "cycle_time_seconds", ["line": "L1"])[0]
        #expect(!cycle.ts.contains { $0 >= FixtureData.local(berlin, 2026, 10, 13, 8) && $0 < FixtureData.local(berlin, 2026, 10, 13, 14) })
    }
}
