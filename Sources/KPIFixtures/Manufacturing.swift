import Foundation

extension Context {
    /// Manufacturing: two lines of three machines (machine state), output, good and planned unit
    /// counters, cycle time while running, and the security devices.
    mutating func manufacturing() {
        let clock = self.clock
        struct Line {
            var name: String
            var machines: [String]
            var ideal: Double
            var fpy: Double
            var produced: Int64
            var good: Int64
            var planned: Int64
        }
        var lines = [
            Line(
                name: "L1", machines: ["press", "weld", "assembly"], ideal: capacity("ideal_cycle_seconds.L1", 45), fpy: 0.982,
                produced: 1_174_330, good: 1_151_102, planned: 1_208_410),
            Line(
                name: "L2", machines: ["mold", "trim", "pack"], ideal: capacity("ideal_cycle_seconds.L2", 72), fpy: 0.965,
                produced: 585_118, good: 564_045, planned: 612_902),
        ]
        func scheduled(_ line: String, _ ts: Int64) -> Bool {
            let (_, d, h) = clock.local(ts)
            if line == "L1" { return (d == 0 && h >= 6) || (1 <= d && d <= 4) || (d == 5 && h < 6) }  // Mon 06:00 to Sat 06:00
            return d < 5 && 6 <= h && h < 22
        }
        // W45: L2 down for planned maintenance all Friday (2026-11-06).
        let l2Maintenance = epochDay(2026, 11, 6)
        func plannedStop(_ line: String, _ ts: Int64) -> Bool {
            let (day, d, h) = clock.local(ts)
            let m = h * 60
            for shiftStart in [6.0, 14.0, 22.0] {  // handover (10 min) and a 30-minute break four hours in
                let s = shiftStart * 60
                let b = (s + 240).truncatingRemainder(dividingBy: 1440)
                if (s <= m && m < s + 10) || (b <= m && m < b + 30) { return true }
            }
            if line == "L2" && d == 2 && 13 <= h && h < 14 { return true }  // weekly mould changeover
            if line == "L1" && d == 3 && 22 <= h && h < 24 { return true }  // weekly preventive maintenance
            if line == "L2" && day == l2Maintenance { return true }
            return false
        }

        // Unplanned breakdowns: (line, machine, start, minutes).
        var breakdowns: [(String, String, Int64, Int)] = [
            // W47, the reference week.
            ("L1", "weld", at(2026, 11, 16, 11, 20), 25), ("L2", "mold", at(2026, 11, 17, 15, 5), 15),
            ("L1", "press", at(2026, 11, 18, 3, 10), 165), ("L2", "pack", at(2026, 11, 19, 9, 40), 70),
            ("L1", "assembly", at(2026, 11, 20, 19, 30), 10),
            // W42, the bad week: L1's press hydraulics fail for six hours, then the welder keeps faulting.
            ("L1", "press", at(2026, 10, 13, 8, 0), 360), ("L1", "weld", at(2026, 10, 14, 10, 0), 40),
            ("L1", "weld", at(2026, 10, 15, 2, 30), 55), ("L1", "weld", at(2026, 10, 16, 13, 15), 35),
            ("L2", "trim", at(2026, 10, 15, 17, 0), 45),
        ]
        breakdowns.append(
            (
                "L1", rng.choice(["press", "weld", "assembly"]), at(2026, 11, 17, rng.int(7, 20), 5 * rng.int(0, 11)),
                rng.choice([20, 35, 50])
            ))
        // Other weeks: three to five random breakdowns inside the shifts (W43, recovering: one).
        for w in [40, 41, 43, 44, 45, 46] {
            for _ in 0..<(w == 43 ? 1 : rng.int(3, 5)) {
                let l2 = rng.random() < 0.4
                let machine = rng.choice(l2 ? ["mold", "trim", "pack"] : ["press", "weld", "assembly"])
                let day = monday2026(w) + Int64(rng.below(5))
                breakdowns.append((l2 ? "L2" : "L1", machine, clock.ms(day, rng.int(7, 20), 5 * rng.below(12)), rng.int(10, 90)))
            }
        }
        for (w, var r) in unscriptedWeeks() {
            for _ in 0..<r.int(3, 5) {
                let l2 = r.random() < 0.4
                let machine = r.choice(l2 ? ["mold", "trim", "pack"] : ["press", "weld", "assembly"])
                let day = monday2026(w) + Int64(r.below(5))
                breakdowns.append((l2 ? "L2" : "L1", machine, clock.ms(day, r.int(7, 20), 5 * r.below(12)), r.int(10, 90)))
            }
        }
        var down: [String: [(Int64, Int64)]] = [:]
        for (line, machine, a, minutes) in breakdowns { down[line + "/" + machine, default: []].append((a, a + Int64(minutes) * minuteMs)) }
        // Yield dips: W47 a bad resin lot on L2 (Thursday 13:00-15:00); W45 a bad steel coil on L1 (Wednesday).
        let qualityDips: [(String, Int64, Int64, Double)] = [
            ("L2", at(2026, 11, 19, 13, 0), at(2026, 11, 19, 15, 0), 0.07), ("L1", at(2026, 11, 4, 6, 0), at(2026, 11, 5, 6, 0), 0.05),
        ]

        for k in lines.indices {
            let name = lines[k].name
            let stateIDs = lines[k].machines.map { out.series("machine_state", ["line": name, "machine": $0]) }
            let producedID = out.series("units_produced_total", ["line": name])
            let goodID = out.series("units_good_total", ["line": name])
            let plannedID = out.series("units_planned_total", ["line": name])
            let cycleID = out.series("cycle_time_seconds", ["line": name])
            var acc = 0.0
            var planAcc = 0.0
            var lastRestart = Int64.min / 2
            for i in 0..<steps {
                let t = ts(i)
                let sched = scheduled(name, t)
                let pstop = plannedStop(name, t)
                var lineDown = false
                for (m, machine) in lines[k].machines.enumerated() {
                    var state: Int64 = 2
                    if !sched {
                        state = 1
                    } else if inside(t, down[name + "/" + machine] ?? []) {
                        state = 0  // a breakdown stays unplanned downtime even through a break
                        lineDown = true
                    } else if pstop {
                        state = 1
                    }
                    out.add(stateIDs[m], t, int: state)
                }
                let running = sched && !pstop && !lineDown
                if sched && lineDown { lastRestart = t + stepMs }
                if sched && !pstop {
                    // Planned output accrues at the standard rate (6 % over the ideal cycle) in scheduled run time.
                    planAcc += Double(stepMs) / 1000 / (lines[k].ideal * 1.06)
                    let whole = Int64(planAcc)
                    lines[k].planned += whole
                    planAcc -= Double(whole)
                }
                if running {
                    let (_, _, h) = clock.local(t)
                    let settling = t - lastRestart < hourMs
                    let slow = 1.0 + (h >= 22 || h < 6 ? 0.03 : 0) + (settling ? 0.08 : 0)
                    let cycle = ((lines[k].ideal * rng.uniform(1.03, 1.12) * slow) * 1000).rounded() / 1000
                    acc += Double(stepMs) / 1000 / cycle
                    let made = Int(acc)
                    acc -= Double(made)
                    var fpy = lines[k].fpy
                    if settling { fpy -= 0.08 }  // scrap while the process settles after a breakdown
                    for (l, a, b, dip) in qualityDips where l == name && a <= t && t < b { fpy -= dip }
                    let good = rng.binomial(made, fpy)
                    lines[k].produced += Int64(made)
                    lines[k].good += Int64(good)
                    out.add(cycleID, t, cycle)
                }
                out.add(producedID, t, int: lines[k].produced)
                out.add(goodID, t, int: lines[k].good)
                out.add(plannedID, t, int: lines[k].planned)
            }
        }

        let devices = makeDevices(
            [("camera", "cam", 6), ("reader", "rdr", 3), ("nvr", "nvr", 1), ("sensor", "sen", 2)],
            vendors: ["camera": ["Axis"], "reader": ["HID"], "nvr": ["Genetec"], "sensor": ["Xovis"]],
            old: ["nvr-01", "cam-04"])
        var script = SecurityScript()
        script.outages = [("nvr-01", at(2026, 11, 21, 22, 0), 95)]
        script.certificates = [("nvr-01", at(2026, 11, 10, 0, 0), at(2026, 11, 17, 11, 0)), ("cam-05", at(2026, 11, 20, 8, 0), nil)]
        securityOperations(devices, script)
    }
}
