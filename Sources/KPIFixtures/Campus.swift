import Foundation

extension Context {
    /// Campus: lecture rooms on a MWF/TTh timetable and the library reading room (occupancy and
    /// seats), door-prop incidents, tailgating counters, lockdown times to secure, devices.
    mutating func campus() {
        let clock = self.clock
        let rooms = [("SCI", "SCI-101", 150.0), ("SCI", "SCI-204", 40.0), ("ENG", "ENG-110", 90.0), ("ENG", "ENG-215", 30.0)]
            .map { ($0.0, $0.1, capacity($0.1, $0.2)) }
        let mwf = (8..<16).map { ($0, 0, 50) } + [(17, 0, 75)]
        let tth = [(8, 0, 75), (9, 30, 75), (11, 0, 75), (12, 30, 75), (14, 0, 75), (15, 30, 75), (18, 30, 75)]
        // Fall break (no classes): W43, Monday 2026-10-19 and Tuesday 2026-10-20.
        let noClasses: Set<Int64> = [epochDay(2026, 10, 19), epochDay(2026, 10, 20)]
        let firstMonday = firstDay - Int64(weekday(ofDay: firstDay))
        var classes: [String: [(Int64, Int64, Double)]] = [:]
        for (_, room, cap) in rooms {
            var courses: [String: Double] = [:]  // a course meets in the same slot all term
            for slot in mwf + tth where rng.random() < (slot.0 < 17 ? 0.68 : 0.35) {
                courses["\(slot.0):\(slot.1):\(slot.2)"] = (cap * rng.uniform(0.45, 0.95)).rounded()
            }
            var list: [(Int64, Int64, Double)] = []
            var monday = firstMonday
            while monday <= lastDay {
                // Attendance fades slowly over the term (about 1.5 % a week), to 85 % at most.
                let fade = max(0.85, 1.0 - 0.015 * Double(max(0, isoWeek2026(monday) - 40)))
                for d in 0..<5 {
                    let day = monday + Int64(d)
                    if noClasses.contains(day) { continue }
                    for (hh, mm, length) in d % 2 == 0 ? mwf : tth {
                        guard let size = courses["\(hh):\(mm):\(length)"] else { continue }
                        let s = clock.ms(day, hh, mm)
                        let attend = size * rng.uniform(0.72, 0.93) * (d == 4 ? 0.85 : 1.0) * fade
                        list.append((s, s + Int64(length) * minuteMs, attend))
                    }
                }
                monday += 7
            }
            classes[room] = list
        }
        for (building, room, cap) in rooms {
            let occ = out.series("occupancy_people", ["building": building, "room": room])
            let seats = out.series("room_capacity_people", ["building": building, "room": room])
            let list = classes[room]!
            var k = 0
            for i in 0..<steps {
                let t = ts(i)
                let (_, d, h) = clock.local(t)
                var people = 0.0
                while k < list.count && list[k].1 + 10 * minuteMs <= t { k += 1 }
                var j = k
                while j < list.count && list[j].0 - 15 * minuteMs <= t {
                    let (s, e, attend) = list[j]
                    j += 1
                    guard t < e + 10 * minuteMs else { continue }
                    let rel = Double(t - s) / 60_000
                    let f: Double
                    if rel < -10 {
                        f = 0.05
                    } else if rel < -5 {
                        f = 0.2
                    } else if rel < 0 {
                        f = 0.6
                    } else if rel < 5 {
                        f = 0.92
                    } else if t < e - 5 * minuteMs {
                        f = 1.0
                    } else if t < e {
                        f = 0.97
                    } else if t < e + 5 * minuteMs {
                        f = 0.25
                    } else {
                        f = 0.03
                    }
                    people = max(people, attend * f)
                }
                if people < 1 {
                    if d < 5 && 7.5 <= h && h < 21 {
                        people = Double(rng.choice([0, 0, 0, 1, 1, 2, 3]))  // a few students between classes
                    } else if d == 5 && room == "SCI-204" && 13 <= h && h < 16 {
                        people = Double(rng.int(6, 11))  // Saturday study group
                    } else if d >= 5 && 10 <= h && h < 18 {
                        people = Double(rng.choice([0, 0, 0, 0, 1, 2]))
                    } else {
                        people = 0
                    }
                } else {
                    people *= rng.uniform(0.96, 1.04)
                }
                out.add(occ, t, max(0, min(cap, people.rounded())))
                out.add(seats, t, cap)
            }
        }

        // Library reading room: open 07:00-24:00, busy afternoons and evenings, Sunday evening cram.
        let libCap = capacity("LIB-reading", 120)
        let lib = out.series("occupancy_people", ["building": "LIB", "room": "LIB-reading"])
        let libSeats = out.series("room_capacity_people", ["building": "LIB", "room": "LIB-reading"])
        for i in 0..<steps {
            let t = ts(i)
            let (day, d, h) = clock.local(t)
            var people = 0.0
            if h >= 7 {
                var p = 0.15 + 0.55 * bump(h, 15.5, 2.0) + 0.6 * bump(h, 20.5, 1.6) - 0.15 * bump(h, 23.8, 0.3)
                p *= [0.85, 0.85, 0.85, 0.8, 0.5, 0.35, 0.65][d]
                if d == 6 { p += 0.35 * bump(h, 20.0, 2.0) }
                if noClasses.contains(day) { p *= 0.5 }
                people = max(0, min(libCap, (libCap * p * rng.uniform(0.9, 1.1)).rounded()))
                if h >= 23.75 { people = min(people, Double(rng.int(0, 4))) }
            }
            out.add(lib, t, people)
            out.add(libSeats, t, libCap)
        }

        let doors = [("SCI", "SCI-east"), ("SCI", "SCI-dock"), ("ENG", "ENG-main"), ("LIB", "LIB-north")]
        var props: [String: [(Int64, Int64)]] = [:]
        let brokenCloser = (epochDay(2026, 11, 2), epochDay(2026, 11, 6))  // W45: SCI-dock closer broken
        for day in days where weekday(ofDay: day) < 5 {
            if (brokenCloser.0...brokenCloser.1).contains(day) {
                let a = clock.ms(day, 6, 45)
                props["SCI-dock", default: []].append((a, a + Int64(rng.int(24, 34)) * stepMs))
            } else if rng.random() < 0.6 {  // deliveries: the dock door is propped most weekday mornings
                let a = clock.ms(day, 7, 0) + Int64(rng.below(30)) * stepMs / 2
                props["SCI-dock", default: []].append((a, a + Int64(rng.int(2, 8)) * stepMs))
            }
            for _ in 0..<rng.choice([0, 1, 1, 2]) {  // ENG main entrance at class changes
                let a = clock.ms(day, rng.choice([8, 9, 11, 12, 14]), 55)
                props["ENG-main", default: []].append((a, a + Int64(rng.int(1, 2)) * stepMs))
            }
            if [1, 3].contains(weekday(ofDay: day)) {  // LIB north door propped on Tuesday and Thursday evenings
                let a = clock.ms(day, 21, 0) + Int64(rng.below(12)) * stepMs
                props["LIB-north", default: []].append((a, a + Int64(rng.int(1, 3)) * stepMs))
            }
        }
        let friday = at(2026, 11, 20, 23, 35)  // W47: SCI east door propped two and a half hours on Friday night
        props["SCI-east", default: []].append((friday, friday + 150 * minuteMs))
        for (building, door) in doors { stateSeries("door_held_open", ["building": building, "door": door], props[door] ?? []) }

        // Tailgating: follows foot traffic, peaks at class changes.
        let initial: [String: Int64] = ["SCI-east": 1_642, "SCI-dock": 281, "ENG-main": 3_653, "LIB-north": 2_296]
        let weight = ["SCI-east": 0.8, "SCI-dock": 0.15, "ENG-main": 1.4, "LIB-north": 1.0]
        for (building, door) in doors {
            let id = out.series("tailgating_total", ["building": building, "door": door])
            var total = initial[door]!
            for i in 0..<steps {
                let t = ts(i)
                let (day, d, h) = clock.local(t)
                var traffic: Double
                if d < 5 && !noClasses.contains(day) {
                    var changes = 0.0
                    for c in 8..<17 { changes += bump(h, Double(c) + 0.95, 0.15) }
                    traffic = 0.02 + changes * 0.35 + 0.05 * bump(h, 12.5, 1.5)
                    traffic *= 7 <= h && h < 22 ? 1.0 : 0.05
                } else {
                    traffic = 10 <= h && h < 18 ? 0.03 : 0.002
                }
                total += Int64(rng.poisson(weight[door]! * traffic * stepMinutes * 0.22))
                out.add(id, t, int: total)
            }
        }

        // Time to secure after a lockdown alert.
        var lockdowns: [(String, Int64, Double)] = [
            // W42: the term's first drill, all buildings, slow.
            ("SCI", at(2026, 10, 13, 10, 15), rng.uniform(300, 380)), ("ENG", at(2026, 10, 13, 10, 15), rng.uniform(320, 400)),
            ("LIB", at(2026, 10, 13, 10, 15), rng.uniform(520, 640)),
            // W47: the second drill (faster), a night alert at LIB, a shelter-in-place at ENG.
            ("SCI", at(2026, 11, 17, 10, 15), rng.uniform(160, 220)), ("ENG", at(2026, 11, 17, 10, 15), rng.uniform(210, 280)),
            ("LIB", at(2026, 11, 17, 10, 15), rng.uniform(380, 460)), ("LIB", at(2026, 11, 19, 21, 40), rng.uniform(85, 120)),
            ("ENG", at(2026, 11, 20, 14, 5), rng.uniform(130, 170)),
        ]
        // Every other week: one intrusion alarm that ends in a building lockdown.
        for w in [40, 41, 43, 44, 45, 46] {
            let day = monday2026(w) + Int64(rng.below(5))
            lockdowns.append((rng.choice(["SCI", "ENG", "LIB"]), clock.ms(day, rng.int(8, 21), 5 * rng.below(12)), rng.uniform(90, 240)))
        }
        for (w, var r) in unscriptedWeeks() {
            let day = monday2026(w) + Int64(r.below(5))
            lockdowns.append((r.choice(["SCI", "ENG", "LIB"]), clock.ms(day, r.int(8, 21), 5 * r.below(12)), r.uniform(90, 240)))
        }
        for (building, a, value) in lockdowns {
            let id = out.series("lockdown_secured_seconds", ["building": building])
            out.add(id, a + Int64(value * 1000), (value * 1000).rounded() / 1000)
        }

        let devices = makeDevices(
            [("camera", "cam", 5), ("reader", "rdr", 4), ("nvr", "nvr", 1), ("sensor", "sen", 2)],
            vendors: ["camera": ["Hanwha", "Axis"], "reader": ["HID"], "nvr": ["Genetec"], "sensor": ["Xovis"]],
            old: ["rdr-04", "cam-03", "cam-04"])
        var script = SecurityScript()
        script.outages = [("rdr-02", at(2026, 11, 18, 7, 40), 20), ("rdr-01", at(2026, 11, 3, 6, 30), 240)]
        script.certificates = [("rdr-04", at(2026, 10, 30, 0, 0), nil), ("cam-01", at(2026, 11, 21, 0, 0), nil)]
        script.badWeeks = [45]
        securityOperations(devices, script)

        // Class starts: how long after the timetable the lecture began (recorded at that moment),
        // usually a minute or two; W46: ENG-110's projector failed and its classes started 8 to
        // 15 minutes late all week. Own generator, drawn last, so nothing above changes.
        var random = FixtureRandom(seed: rng.next(), site: site.site + "/class-starts")
        for (building, room, _) in rooms {
            let id = out.series("class_start_delay_seconds", ["building": building, "room": room])
            for (s, e, _) in classes[room]! where s >= start && s < end {
                var delay = random.lognormal(100, 0.7)
                if room == "ENG-110" && isoWeek2026(clock.local(s).day) == 46 { delay = random.uniform(480, 900) }
                delay = min(delay, Double(e - s) / 1000 - 60).rounded()
                out.add(id, s + Int64(delay * 1000), delay)
            }
        }
    }
}
