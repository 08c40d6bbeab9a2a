import Foundation

extension Context {
    /// Airport: security checkpoint queues, zone occupancy and dwell, departure entries (one
    /// counter reset), operator time to action on alerts, and the security devices.
    mutating func airport() {
        let clock = self.clock
        let dayFactor = [1.0, 0.9, 0.92, 1.02, 1.1, 0.86, 1.05]
        // Traffic per ISO week: Columbus Day weekend (W42) busy, early November quiet.
        let season: [Int: Double] = [40: 0.97, 41: 1.0, 42: 1.05, 43: 0.96, 44: 0.99, 45: 0.95, 46: 0.98, 47: 1.0]
        func departures(_ ts: Int64) -> Double {
            let (day, d, h) = clock.local(ts)
            var p = bump(h, 6.6, 1.1) + 0.55 * bump(h, 11.5, 1.8) + 0.85 * bump(h, 16.6, 1.6) + 0.35 * bump(h, 20.6, 1.2) + 0.03
            if d == 4 { p *= 1.0 + 0.25 * bump(h, 16.5, 2.5) }  // Friday afternoon getaway
            if d == 6 { p *= 0.8 + 0.5 * bump(h, 16.0, 3.0) }  // Sunday: quiet morning, busy afternoon
            return p * dayFactor[d] * (season[isoWeek2026(day)] ?? 1.0)
        }

        let checkpoints: [(cp: String, terminal: String, peak: Double, maxLanes: Int)] = [
            ("T4-A", "T4", 7.0, 5), ("T4-B", "T4", 5.5, 4), ("T1-main", "T1", 4.0, 3), ("T8-main", "T8", 4.5, 3),
        ]
        let laneRate = 2.4  // passengers per minute per lane
        // Staffing shortfalls (scanner down, late screeners): (checkpoint, start, minutes, lanes lost).
        var disruptions: [(String, Int64, Int, Int)] = [
            // 2026-W47, the reference week.
            ("T4-A", at(2026, 11, 16, 5, 50), 55, 2), ("T1-main", at(2026, 11, 18, 16, 10), 50, 1),
            ("T4-B", at(2026, 11, 20, 15, 40), 45, 1), ("T8-main", at(2026, 11, 22, 15, 20), 40, 1),
            ("T4-A", at(2026, 11, 19, 17, 0), 35, 2),
            // 2026-W45: recovering, one short shortfall.
            ("T4-A", at(2026, 11, 2, 16, 0), 60, 1),
            // 2026-W44, the bad week: T4-B's scanner out Wednesday morning.
            ("T4-B", at(2026, 10, 28, 5, 30), 390, 2),
        ]
        // 2026-W44: T4-A short of two screener teams every weekday afternoon peak.
        for d in 26...30 { disruptions.append(("T4-A", at(2026, 10, d, 15, 0), 240, 2)) }
        // Other weeks: two short random shortfalls each.
        for w in [40, 41, 42, 43, 46] {
            for _ in 0..<2 {
                let cp = rng.choice(["T4-A", "T4-B", "T1-main", "T8-main"])
                let day = monday2026(w) + Int64(rng.below(7))
                disruptions.append((cp, clock.ms(day, rng.choice([6, 16, 17]), 5 * rng.below(12)), rng.int(30, 50), 1))
            }
        }
        var lost: [String: [(Int64, Int64, Int)]] = [:]
        for (cp, a, minutes, lanes) in disruptions { lost[cp, default: []].append((a, a + Int64(minutes) * minuteMs, lanes)) }

        var t4Wait = [Double](repeating: 0, count: steps)
        for (cp, terminal, peak, maxLanes) in checkpoints {
            let length = out.series("queue_length_people", ["terminal": terminal, "checkpoint": cp])
            let waitSeries = out.series("queue_wait_seconds", ["terminal": terminal, "checkpoint": cp])
            var backlog = 0.0
            var eff = 1.0
            for i in 0..<steps {
                let t = ts(i)
                if i % perHour == 0 { eff = rng.uniform(0.93, 1.04) }  // screener performance drifts per hour
                let lam = peak * departures(t)
                let expected = peak * departures(t + 30 * minuteMs)
                // Lanes rostered ahead of demand, extra ones opened to clear a backlog.
                var lanes = min(maxLanes, max(1, Int(((expected + backlog / 15) / (laneRate * 0.85)).rounded(.up))))
                for (a, b, n) in lost[cp] ?? [] where a <= t && t < b { lanes = max(1, lanes - n) }
                let cap = Double(lanes) * laneRate * eff
                let arrivals = rng.poisson(lam * stepMinutes)
                backlog = max(0, backlog + Double(arrivals) - cap * stepMinutes)
                let rho = min(lam / cap, 0.95)
                let standing = 1.4 * rho * rho / (1 - rho)
                let people = max(0, (backlog + standing + rng.gauss(0, 0.8)).rounded())
                let wait = max(5.0, people / cap * 60 + rng.uniform(18, 32) + rng.gauss(0, 4))
                out.add(length, t, people)
                out.add(waitSeries, t, wait)
                if terminal == "T4" { t4Wait[i] = max(t4Wait[i], wait) }
            }
        }

        // Zones: base share, peak share, lag behind departures (h; nil = arrivals), closed at night.
        let zones: [(zone: String, base: Double, peak: Double, lag: Double?, closes: Bool)] = [
            ("T4-security-hall", 0.02, 0.55, 0.0, false), ("T4-food-court", 0.01, 0.88, 0.9, true),
            ("T4-gates-B", 0.05, 0.78, 1.2, false), ("T1-arrivals", 0.04, 0.7, nil, false),
        ]
        let defaults = ["T4-security-hall": 250.0, "T4-food-court": 350, "T4-gates-B": 900, "T1-arrivals": 500]
        var occupancy: [String: [Double]] = [:]
        for (zone, base, peak, lag, closes) in zones {
            let cap = capacity(zone, defaults[zone]!)
            let occ = out.series("occupancy_people", ["zone": zone])
            let capSeries = out.series("zone_capacity_people", ["zone": zone])
            var series = [Double](repeating: 0, count: steps)
            var noise = 0.0
            for i in 0..<steps {
                let t = ts(i)
                let (day, d, h) = clock.local(t)
                let p: Double
                if let lag {
                    p = departures(t - Int64(lag * 3_600_000))
                } else {  // international arrivals: afternoon and late-evening banks
                    p =
                        (0.9 * bump(h, 15.0, 1.4) + 0.7 * bump(h, 21.5, 1.2) + 0.35 * bump(h, 7.0, 1.0)) * dayFactor[d]
                        * (season[isoWeek2026(day)] ?? 1.0)
                }
                var frac = base + (peak - base) * min(p, 1.4)
                if closes && (h >= 23.0 || h < 5.0) { frac = 0.008 }  // cleaning crew only
                noise = 0.7 * noise + rng.gauss(0, 0.025)
                let people = max(0, min(cap, (cap * (frac + noise * frac)).rounded()))
                series[i] = people
                out.add(occ, t, people)
                out.add(capSeries, t, cap)
            }
            occupancy[zone] = series
        }

        // Dwell: sampled visits, at the visit's exit time.
        let dwellMedian = ["T4-food-court": 27.0 * 60, "T4-gates-B": 48.0 * 60, "T1-arrivals": 13.0 * 60]
        for (zone, _, _, _, _) in zones {
            let cap = capacity(zone, defaults[zone]!)
            let dwell = out.series("dwell_seconds", ["zone": zone])
            let series = occupancy[zone]!
            for i in 0..<steps {
                let n = rng.poisson(1.9 * stepMinutes / 5 * series[i] / cap)
                for _ in 0..<n {
                    let value =
                        zone == "T4-security-hall"
                        ? 150 + t4Wait[i] + rng.lognormal(60, 0.5) : rng.lognormal(dwellMedian[zone]!, 0.55)
                    out.add(dwell, ts(i) + Int64(rng.below(Int(stepMs))), value)
                }
            }
        }

        // Departure entrances: passenger throughput, cumulative since installation.
        let resetAt = at(2026, 11, 18, 3, 10)  // the T4-dep-2 counting sensor reboots and restarts at 0
        for (gate, peak, initial) in [
            ("T4-dep-1", 0.55 * 12.5, 8_412_337), ("T4-dep-2", 0.45 * 12.5, 6_930_118), ("T1-dep-1", 4.0, 3_377_905),
        ] {
            let id = out.series("entries_total", ["gate": gate])
            var total = Int64(initial)
            var reset = false
            for i in 0..<steps {
                let t = ts(i)
                if gate == "T4-dep-2" && !reset && t >= resetAt {
                    total = 0
                    reset = true
                }
                total += Int64(rng.poisson(peak * departures(t) * stepMinutes))
                out.add(id, t, int: total)
            }
        }

        // Time to action on alerts: slower at night, a few long tails; W44 short-staffed (slower).
        for (system, perDay, median) in [("video", 9.0, 75.0), ("access", 14.0, 48.0), ("intrusion", 2.5, 38.0)] {
            let id = out.series("alert_ack_seconds", ["system": system])
            var t = start
            while true {
                t += Int64(rng.expovariate(perDay / Double(dayMs)))
                if t >= end { break }
                let (day, _, h) = clock.local(t)
                var m = median * (h < 6 || h >= 23 ? 1.8 : 1.0)
                if isoWeek2026(day) == 44 { m *= 1.6 }
                var value = rng.lognormal(m, 0.6)
                if rng.random() < 0.04 { value += rng.uniform(420, 1300) }  // operator busy with another incident
                out.add(id, t + Int64(value * 1000), (value * 1000).rounded() / 1000)
            }
        }

        let devices = makeDevices(
            [("camera", "cam", 6), ("reader", "rdr", 3), ("nvr", "nvr", 1), ("sensor", "sen", 2)],
            vendors: ["camera": ["Axis", "Hanwha"], "reader": ["HID"], "nvr": ["Genetec"], "sensor": ["Xovis"]],
            old: ["cam-06", "rdr-03"])
        var script = SecurityScript()
        script.outages = [
            ("sen-02", resetAt - stepMs, 10),  // the T4-dep-2 counter's sensor rebooting
            ("cam-03", at(2026, 11, 17, 13, 5), 190),  // a three-hour camera outage
            ("nvr-01", at(2026, 10, 24, 1, 0), 360),  // W43: recorder disk replacement overnight
        ]
        script.certificates = [("nvr-01", at(2026, 11, 19, 0, 0), at(2026, 11, 20, 10, 30)), ("cam-06", at(2026, 11, 9, 0, 0), nil)]
        script.badWeeks = [44]
        securityOperations(devices, script)
    }
}
