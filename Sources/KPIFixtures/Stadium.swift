import Foundation

extension Context {
    /// The matches of the range: the site's listed events, or a Saturday 15:00 match every week.
    mutating func stadiumEvents() -> [FixtureSite.Event] {
        if !site.events.isEmpty { return site.events.filter { $0.kickoff + 4 * hourMs > start && $0.gatesOpen < end } }
        var events: [FixtureSite.Event] = []
        for day in days where weekday(ofDay: day) == 5 {
            let kickoff = clock.ms(day, 15, 0)
            events.append(
                FixtureSite.Event(
                    name: "Saturday match", gatesOpen: kickoff - 2 * hourMs, kickoff: kickoff, attendance: rng.int(44_000, 56_000)))
        }
        return events
    }

    /// Stadium: turnstile entries per gate, stand queue waits, order completion times and
    /// transactions on match days, and the security devices.
    mutating func stadium() {
        let clock = self.clock
        let events = stadiumEvents().sorted { $0.kickoff < $1.kickoff }
        let eventDays = Set(events.map { clock.local($0.kickoff).day })
        func onEventDay(_ ts: Int64) -> Bool { eventDays.contains(clock.local(ts).day) }
        let seats = capacity("seats", 60000)

        // Gate, share of the crowd, turnstiles, entries so far.
        let gates: [(String, Double, Int, Int64)] = [
            ("gate-A", 0.3, 14, 2_998_402), ("gate-B", 0.25, 12, 2_504_977), ("gate-C", 0.25, 12, 2_487_310), ("gate-D", 0.2, 9, 1_951_596),
        ]
        let turnstilePerMinute = 11.0
        // Turnstile readers offline: W41 derby gate-B (rdr-02), W47 Saturday gate-C (rdr-03).
        let readerOutages: [(String, Int64, Int64)] = [
            ("gate-B", at(2026, 10, 10, 14, 5), at(2026, 10, 10, 14, 40)), ("gate-C", at(2026, 11, 21, 14, 20), at(2026, 11, 21, 14, 50)),
        ]
        func arrivalShape(_ tau: Double) -> Double {  // minutes relative to kick-off
            if tau < -120 || tau > 30 { return 0 }
            return bump(tau, -28, 20) + 0.3 * bump(tau, -75, 25) + 0.05
        }
        var norm = 0.0
        var tau = -120.0
        while tau <= 30 {
            norm += arrivalShape(tau)
            tau += stepMinutes
        }
        for (gate, share, turnstiles, initial) in gates {
            let id = out.series("entries_total", ["gate": gate])
            var total = initial
            var backlog = 0.0
            for i in 0..<steps {
                let t = ts(i)
                guard onEventDay(t) else { continue }
                var n = 0.0
                for e in events where e.gatesOpen <= t && t < e.kickoff + hourMs {
                    let tau = Double(t - e.kickoff) / 60_000
                    let crowd = min(Double(e.attendance), seats)
                    var cap = Double(turnstiles) * turnstilePerMinute * stepMinutes
                    for (g, a, b) in readerOutages where g == gate && a <= t && t < b { cap *= 0.4 }
                    backlog += crowd * share * arrivalShape(tau) / norm
                    n = min(backlog, cap * rng.uniform(0.9, 1.0))
                    backlog -= n
                }
                total += Int64(n.rounded())
                out.add(id, t, int: total)
            }
        }

        // Concourse, stand, tills, till seconds (order and pay), preparation median seconds, demand weight.
        let stands: [(String, String, Int, Double, Double, Double, Int64)] = [
            ("north", "N-bar-1", 5, 32, 50, 1.0, 581_204), ("north", "N-food-2", 4, 42, 130, 0.8, 382_775),
            ("south", "S-food-1", 4, 42, 120, 0.9, 433_019), ("east", "E-bar-1", 4, 32, 55, 0.7, 283_663),
        ]
        for (concourse, stand, tills, tillSeconds, prepSeconds, weight, initialTx) in stands {
            var orders: [(start: Double, wait: Double)] = []
            var windows: [(Int64, Int64)] = []
            let completion = out.series("order_completion_seconds", ["stand": stand])
            for e in events {
                let k = Double(e.kickoff) / 1000
                let openS = Double(e.gatesOpen) / 1000
                let closeS = k + (115 + 45) * 60
                windows.append((e.gatesOpen, Int64(closeS * 1000)))
                var arrivals: [Double] = []
                var t = openS
                while t < closeS {
                    let tau = (t - k) / 60
                    var rate: Double
                    if tau < 0 {
                        rate = 1.0 + 3.0 * bump(tau, -22, 18)
                    } else if tau < 47 {
                        rate = 0.5
                    } else if tau < 64 {
                        rate = stand.contains("food") ? 9.5 : 11.0  // half-time rush
                    } else if tau < 112 {
                        rate = 0.45
                    } else {
                        rate = stand.contains("bar") ? 1.6 : 0.3
                    }
                    rate *= weight * Double(e.attendance) / 50000
                    t += rng.expovariate(rate / 60)
                    if t < closeS { arrivals.append(t) }
                }
                var free = [Double](repeating: openS, count: tills)
                for a in arrivals {
                    var best = 0
                    for j in 1..<tills where free[j] < free[best] { best = j }
                    let s = max(a, free[best])
                    let done = s + rng.lognormal(tillSeconds, 0.3)
                    free[best] = done
                    let load = 1 + 0.6 * min(1.0, (s - a) / 300)  // kitchen under pressure while queues are long
                    let handed = done + rng.lognormal(prepSeconds * load, 0.35)
                    orders.append((s, s - a))
                    out.add(completion, Int64(handed * 1000), ((handed - done) * 1000).rounded() / 1000)
                }
            }
            orders.sort { $0.start < $1.start }
            var prefix = [0.0]
            for o in orders { prefix.append(prefix.last! + o.wait) }
            func firstAtOrAfter(_ s: Double) -> Int {
                var lo = 0
                var hi = orders.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if orders[mid].start < s { lo = mid + 1 } else { hi = mid }
                }
                return lo
            }
            let waitID = out.series("queue_wait_seconds", ["concourse": concourse, "stand": stand])
            let txID = out.series("transactions_total", ["stand": stand])
            for i in 0..<steps {
                let t = ts(i)
                guard onEventDay(t) else { continue }
                let upTo = firstAtOrAfter(Double(t) / 1000)
                if inside(t, windows) {
                    let from = firstAtOrAfter(Double(t - stepMs) / 1000)
                    let n = upTo - from
                    let wait = n > 0 ? (prefix[upTo] - prefix[from]) / Double(n) : 0
                    out.add(waitID, t, (wait * 1000).rounded() / 1000)
                }
                // Orders started at or before t.
                var served = upTo
                while served < orders.count && orders[served].start <= Double(t) / 1000 { served += 1 }
                out.add(txID, t, int: initialTx + Int64(served))
            }
        }

        let devices = makeDevices(
            [("camera", "cam", 5), ("reader", "rdr", 4), ("nvr", "nvr", 1), ("sensor", "sen", 2)],
            vendors: ["camera": ["Axis", "Hanwha"], "reader": ["HID"], "nvr": ["Genetec"], "sensor": ["Xovis"]],
            old: ["cam-05", "sen-01"])
        var script = SecurityScript()
        script.outages = [
            ("rdr-02", readerOutages[0].1, 35), ("rdr-03", readerOutages[1].1, 30), ("cam-01", at(2026, 11, 19, 9, 0), 300),
        ]
        script.certificates = [("rdr-01", at(2026, 11, 16, 0, 0), at(2026, 11, 17, 12, 0))]
        securityOperations(devices, script)
    }
}
