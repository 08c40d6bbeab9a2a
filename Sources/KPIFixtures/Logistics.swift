import Foundation

extension Context {
    /// Logistics: booked trailer visits at ten dock doors (door occupancy, trailer dwell per yard,
    /// appointment variance, departure delay), and the security devices.
    mutating func logistics() {
        let clock = self.clock
        let doorCount = max(2, Int(capacity("dock_doors", 10)))
        let doors = (1...doorCount).map { "D" + ($0 < 10 ? "0" : "") + String($0) }
        func yard(_ n: Int) -> String { n < (doorCount + 1) / 2 ? "north" : "south" }
        let weekdaySlots = [5, 8, 11, 14, 17, 20]
        let saturdaySlots = [6, 9, 12]
        let plannedTurn = 165.0 * 60  // seconds from booked arrival to planned departure
        // W43: peak-season surge (more late trucks, slower unloading); W44 recovering.
        let surge = (epochDay(2026, 10, 19), epochDay(2026, 10, 24))
        let d07Repair = (at(2026, 11, 19, 4, 0), at(2026, 11, 19, 14, 0))  // W47: D07 leveler repaired Thursday morning
        for (n, door) in doors.enumerated() {
            var appointments: [Double] = []
            for day in days {
                let d = weekday(ofDay: day)
                if d == 6 { continue }
                for hh in d < 5 ? weekdaySlots : saturdaySlots where rng.random() < (d < 5 ? 0.85 : 0.5) {
                    appointments.append(Double(clock.ms(day, hh, rng.choice([0, 0, 15, 30]))) / 1000)
                }
            }
            if door == "D07" {  // the bookings of the repair were moved
                appointments = appointments.filter { !(Double(d07Repair.0) / 1000 <= $0 && $0 < Double(d07Repair.1) / 1000) }
            }
            var occupied: [(Int64, Int64)] = []
            let variance = out.series("appointment_variance_seconds", ["door": door])
            let delay = out.series("departure_delay_seconds", ["door": door])
            let dwell = out.series("trailer_dwell_seconds", ["yard": yard(n)])
            var doorFree = Double(start) / 1000 - 86_400
            if door == "D09" {  // W46-47: a drop trailer left since Saturday, unloaded Monday morning
                let gateIn = Double(at(2026, 11, 14, 13, 10)) / 1000
                let dockEnd = Double(at(2026, 11, 16, 6, 40)) / 1000
                occupied.append((Int64(gateIn * 1000) + 20 * minuteMs, Int64(dockEnd * 1000)))
                let gateOut = dockEnd + 20 * 60
                out.add(dwell, Int64(gateOut * 1000), gateOut - gateIn)
                appointments = appointments.filter { $0 < gateIn || $0 >= dockEnd - 2 * 3600 }
            }
            var scriptedDrop: (Int64, Int64)? = nil
            if door == "D03" {  // W47: Saturday's last trailer is dropped and stays over the weekend
                scriptedDrop = (at(2026, 11, 21, 13, 20), end)
                appointments = appointments.filter { $0 < Double(at(2026, 11, 21, 12, 0)) / 1000 || $0 >= Double(end) / 1000 }
            }
            for booked in appointments.sorted() {
                let day = clock.local(Int64(booked * 1000)).day
                let peak = surge.0 <= day && day <= surge.1
                let r = rng.random()
                var v: Double
                if r < (peak ? 0.5 : 0.7) {
                    v = rng.gauss(4 * 60, 12 * 60)
                } else if r < (peak ? 0.6 : 0.85) {
                    v = -abs(rng.gauss(35 * 60, 15 * 60))
                } else {
                    v = rng.lognormal(55 * 60, 0.6)
                }
                v = (v * 1000).rounded() / 1000
                let gateIn = booked + v
                let dockStart = max(gateIn + rng.uniform(5, 15) * 60, doorFree + 10 * 60)
                let handling = rng.lognormal(95 * 60 * (peak ? 1.2 : 1.0), 0.28)
                let dockEnd = dockStart + handling
                let gateOut = dockEnd + rng.uniform(12, 30) * 60
                doorFree = dockEnd
                occupied.append((Int64(dockStart * 1000), Int64(dockEnd * 1000)))
                out.add(variance, Int64(gateIn * 1000), v)
                out.add(delay, Int64(gateOut * 1000), gateOut - (booked + plannedTurn))
                out.add(dwell, Int64(gateOut * 1000), gateOut - gateIn)
            }
            if let drop = scriptedDrop { occupied.append(drop) }
            stateSeries("dock_door_occupied", ["door": door], occupied)
        }

        let devices = makeDevices(
            [("camera", "cam", 6), ("reader", "rdr", 3), ("nvr", "nvr", 1), ("sensor", "sen", 2)],
            vendors: ["camera": ["Hanwha", "Axis"], "reader": ["HID"], "nvr": ["Genetec"], "sensor": ["Xovis"]],
            old: ["cam-01", "cam-02", "rdr-01"])
        var script = SecurityScript()
        script.outages = [("sen-01", d07Repair.0, 600), ("cam-04", at(2026, 10, 22, 14, 0), 130)]  // dock sensor down with the repair
        script.certificates = [("cam-04", at(2026, 11, 18, 12, 0), nil)]
        securityOperations(devices, script)
    }
}
