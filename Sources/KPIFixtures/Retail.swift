import Foundation

extension Context {
    /// Retail: footfall at two doors, zone occupancy, four checkout lanes (queues, waits,
    /// transactions, sales, lane open), shelf gaps per aisle, and the security devices.
    mutating func retail() {
        let clock = self.clock
        func hours(_ d: Int) -> (Double, Double) { d == 6 ? (11.0, 19.0) : (10.0, 21.0) }
        let dayFactor = [0.85, 0.88, 0.92, 1.0, 1.18, 1.55, 1.25]
        let halloween = epochDay(2026, 10, 31)
        let season: [Int: Double] = [40: 0.94, 41: 0.97, 42: 1.0, 43: 0.98, 44: 1.04, 45: 0.96, 46: 0.99, 47: 1.0]
        func footfallRate(_ ts: Int64) -> Double {  // entries per minute
            let (day, d, h) = clock.local(ts)
            let (o, c) = hours(d)
            if h < o - 1.5 || h >= c + 0.5 { return 0 }
            if h < o { return 0.25 }  // staff and deliveries before opening
            if h >= c { return 0.05 }
            var p = 0.35 + 0.9 * bump(h, 13.2, 1.3) + 1.0 * bump(h, 17.3, 1.6) - 0.25 * bump(h, o, 0.4)
            if d < 5 { p += 0.25 * bump(h, 18.8, 0.8) }  // after work
            var f = season[isoWeek2026(day)] ?? 1.0
            if day == halloween { f *= 1.35 }
            return max(0.05, 9.0 * p * dayFactor[d] * f)
        }
        // Self-checkout out of service (payment terminal fault): W45, Tuesday 2026-11-03, all day.
        let scoDown = (at(2026, 11, 3, 0), at(2026, 11, 4, 0))

        let doors = [("5th-ave", 0.7), ("56th-st", 0.3)]
        let zoneDefaults = [("floor-1", 0.55, 450.0), ("floor-2", 0.35, 350.0), ("fitting-rooms", 0.10, 40.0)]
        let zones = zoneDefaults.map { ($0.0, $0.1, capacity($0.0, $0.2)) }
        let lanes = ["L1", "L2", "L3", "SCO"]
        let serviceRate = ["L1": 0.8, "L2": 0.8, "L3": 0.75, "SCO": 2.0]  // customers per minute per lane
        let basket = ["L1": 96.0, "L2": 96.0, "L3": 96.0, "SCO": 42.0]
        var txTotal: [String: Int64] = ["L1": 402_008, "L2": 378_451, "L3": 196_776, "SCO": 518_340]
        var centsTotal: [String: Int64] = ["L1": 3_881_224_510, "L2": 3_660_991_245, "L3": 1_894_018_833, "SCO": 2_181_870_012]
        var itemsTotal: [String: Int64] = ["L1": 4_312_472, "L2": 4_067_768, "L3": 2_104_465, "SCO": 2_424_300]
        var queue: [String: Int] = ["L1": 0, "L2": 0, "L3": 0, "SCO": 0]
        var open: [String: Int] = ["L1": 0, "L2": 0, "L3": 0, "SCO": 0]
        var doorTotals: [String: Int64] = ["5th-ave": 2_094_552, "56th-st": 863_117]
        var l3Pressure = 0
        var l3Idle = 0
        var occ = 0.0
        var pipe = [Int](repeating: 0, count: max(1, Int((22 / stepMinutes).rounded())))  // checkout ~22 min after entering

        let doorIDs = doors.map { out.series("entries_total", ["door": $0.0]) }
        let zoneIDs = zones.map { (out.series("occupancy_people", ["zone": $0.0]), out.series("zone_capacity_people", ["zone": $0.0])) }
        var laneIDs: [String: [Int32]] = [:]
        for lane in lanes {
            laneIDs[lane] = [
                out.series("lane_open", ["lane": lane]), out.series("queue_length_people", ["lane": lane]),
                out.series("queue_wait_seconds", ["lane": lane]), out.series("transactions_total", ["lane": lane]),
                out.series("sales_dollars_total", ["lane": lane]), out.series("items_sold_total", ["lane": lane]),
            ]
        }
        for i in 0..<steps {
            let t = ts(i)
            let (_, d, h) = clock.local(t)
            let (o, c) = hours(d)
            let storeOpen = o <= h && h < c
            let entries = rng.poisson(footfallRate(t) * stepMinutes)
            let main = rng.binomial(entries, doors[0].1)
            doorTotals["5th-ave"]! += Int64(main)
            doorTotals["56th-st"]! += Int64(entries - main)
            for (k, door) in doors.enumerated() { out.add(doorIDs[k], t, int: doorTotals[door.0]!) }

            // Occupancy: shoppers stay ~22 minutes; after closing the store empties within ~20 minutes.
            let stay = h < c ? 22.0 : 6.0
            occ = occ * exp(-stepMinutes / stay) + Double(entries) * (1 - exp(-stepMinutes / stay)) * stay / stepMinutes
            if !storeOpen && h >= c + 0.5 { occ = 0 }
            let staff = storeOpen ? 35.0 : ((o - 1.5 <= h && h < o) || (c <= h && h < c + 0.5) ? 12.0 : 0.0)
            for (k, (zone, share, cap)) in zones.enumerated() {
                var people = occ * share + (zone != "fitting-rooms" ? staff * share : 0)
                people = max(0, min(cap, (people * rng.uniform(0.93, 1.07)).rounded()))
                out.add(zoneIDs[k].0, t, people)
                out.add(zoneIDs[k].1, t, cap)
            }

            // Checkout: conversion ~18 %; lanes opened by schedule and on queue pressure.
            let buyers = rng.binomial(pipe.removeFirst(), 0.18)
            pipe.append(storeOpen ? entries : 0)
            let weekend = d >= 5
            let sco = storeOpen && !(scoDown.0 <= t && t < scoDown.1)
            let want: [String: Bool] = [
                "L1": storeOpen, "SCO": sco, "L2": storeOpen && (weekend || h >= 11.5),
                "L3": storeOpen && weekend && 13.0 <= h && h < 18.0,
            ]
            let staffedQueue = queue["L1"]! + queue["L2"]!
            l3Pressure = storeOpen && staffedQueue >= 10 ? l3Pressure + 1 : 0
            l3Idle = open["L3"]! == 1 && staffedQueue + queue["L3"]! <= 3 ? l3Idle + 1 : 0
            let l3On = want["L3"]! || (open["L3"]! == 1 && storeOpen && l3Idle < 3) || (storeOpen && l3Pressure >= 2)
            for lane in lanes {
                let wanted = lane == "L3" ? l3On : want[lane]!
                open[lane] = wanted || queue[lane]! > 0 ? 1 : 0  // a lane closes only once its queue is empty
            }
            // About 35 % use self-checkout, the rest join the shortest open staffed queue.
            for _ in 0..<buyers {
                if open["SCO"]! == 1 && rng.random() < 0.35 {
                    queue["SCO"]! += 1
                } else {
                    var staffed = ["L1", "L2", "L3"].filter { open[$0]! == 1 && ($0 != "L3" || l3On) && (storeOpen || queue[$0]! > 0) }
                    if staffed.isEmpty {
                        staffed = ["L1"]
                        open["L1"] = 1
                    }
                    let lane = staffed.min { (queue[$0]!, $0) < (queue[$1]!, $1) }!
                    queue[lane]! += 1
                }
            }
            for lane in lanes {
                let ids = laneIDs[lane]!
                let served = open[lane]! == 1 ? min(queue[lane]!, rng.poisson(serviceRate[lane]! * stepMinutes)) : 0
                queue[lane]! -= served
                txTotal[lane]! += Int64(served)
                for _ in 0..<served {
                    let cents = Int64((rng.lognormal(basket[lane]! * 0.8, 0.65) * 100).rounded())
                    centsTotal[lane]! += cents
                    itemsTotal[lane]! += max(1, (cents + 450) / 900)  // about $9 an item
                }
                let wait = queue[lane]! > 0 ? Double(queue[lane]!) / serviceRate[lane]! * 60 * rng.uniform(0.85, 1.15) : 0
                out.add(ids[0], t, int: Int64(open[lane]!))
                out.add(ids[1], t, int: Int64(queue[lane]!))
                out.add(ids[2], t, (wait * 1000).rounded() / 1000)
                out.add(ids[3], t, int: txTotal[lane]!)
                out.add(ids[4], t, Double(centsTotal[lane]!) / 100)
                out.add(ids[5], t, int: itemsTotal[lane]!)
            }
        }

        // Shelf gaps: found while the store trades, more often when busy; fixed within minutes to
        // hours, or the next morning when found late.
        for aisle in ["A1", "A2", "A3", "A4", "A5", "A6"] {
            var gaps: [(Int64, Int64)] = []
            let rate = rng.uniform(0.5, 1.1) / Double(dayMs)
            var busyUntil = start
            for i in 0..<steps {
                let t = ts(i)
                if t < busyUntil { continue }
                let f = footfallRate(t)
                let (day, d, h) = clock.local(t)
                let (o, c) = hours(d)
                if !(o <= h && h < c) { continue }
                if rng.random() < rate * Double(stepMs) * 24 / 11 * (f / 12.0) {
                    let minutes = min(8 * 60, max(10, rng.lognormal(50, 0.9)))
                    var gapEnd = t + Int64(minutes * 60_000)
                    let (endDay, endD, endH) = clock.local(gapEnd)
                    if endH >= hours(endD).1 || endDay != day {  // not fixed before closing: restocked next morning
                        gapEnd = clock.ms(day + 1, 9, 30) + Int64(rng.below(45)) * minuteMs
                    }
                    gaps.append((t, gapEnd))
                    busyUntil = gapEnd + stepMs
                }
            }
            var scripted: [(Int64, Int64)] = []
            if aisle == "A3" {  // W47: found at 20:40 on Thursday, restocked only on Friday morning
                scripted.append((at(2026, 11, 19, 20, 40), at(2026, 11, 20, 9, 45)))
            }
            if aisle == "A2" {  // W42: supplier shortage, the aisle's top seller out for two days
                scripted.append((at(2026, 10, 14, 10, 0), at(2026, 10, 16, 11, 0)))
            }
            for (a, b) in scripted { gaps = gaps.filter { $0.1 <= a || $0.0 >= b } + [(a, b)] }
            stateSeries("shelf_gap", ["aisle": aisle], gaps)
        }

        let devices = makeDevices(
            [("camera", "cam", 6), ("reader", "rdr", 3), ("nvr", "nvr", 1), ("sensor", "sen", 2)],
            vendors: ["camera": ["Axis", "Hanwha"], "reader": ["HID"], "nvr": ["Genetec"], "sensor": ["Xovis"]],
            old: ["cam-02", "cam-05", "sen-02"])
        let upgrade = at(2026, 11, 18, 2, 0)  // W47 maintenance window: cam-02 upgraded, reboots
        var script = SecurityScript()
        script.outages = [("cam-02", upgrade, 15), ("nvr-01", at(2026, 11, 20, 18, 20), 45)]
        script.certificates = [("rdr-02", at(2026, 11, 17, 9, 0), at(2026, 11, 18, 16, 0))]
        let vendor = devices.first { $0.name == "cam-02" }!.vendor
        script.upgrades = [("cam-02", upgrade, approvedFirmware[vendor]!)]
        securityOperations(devices, script)
    }
}
