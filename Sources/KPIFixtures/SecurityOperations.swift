/// Firmware the security team approved, per vendor; anything else is non-compliant.
let approvedFirmware = ["Axis": "11.11.73", "Hanwha": "2.21.02", "HID": "8.4.1", "Genetec": "5.12.2", "Xovis": "5.6.1"]
let oldFirmware = ["Axis": "10.12.220", "Hanwha": "2.10.05", "HID": "8.2.0", "Genetec": "5.10.4", "Xovis": "5.4.0"]

struct Device {
    var name: String
    var type: String
    var vendor: String
    var firmware: String
}

/// Devices `prefix-NN` per type, vendors in turn; `old` run non-approved firmware.
func makeDevices(_ counts: [(type: String, prefix: String, count: Int)], vendors: [String: [String]], old: Set<String>) -> [Device] {
    var devices: [Device] = []
    for (type, prefix, count) in counts {
        for n in 1...count {
            let name = prefix + "-" + (n < 10 ? "0" : "") + String(n)
            let list = vendors[type]!
            let vendor = list[(n - 1) % list.count]
            devices.append(
                Device(
                    name: name, type: type, vendor: vendor, firmware: old.contains(name) ? oldFirmware[vendor]! : approvedFirmware[vendor]!)
            )
        }
    }
    return devices
}

/// Scripted security-operations events of a site.
struct SecurityScript {
    /// (device, start, minutes)
    var outages: [(String, Int64, Int)] = []
    /// (device, invalid from, invalid until or nil for the rest of the range)
    var certificates: [(String, Int64, Int64?)] = []
    /// (device, at, new firmware): device_up changes its firmware label from then on.
    var upgrades: [(String, Int64, String)] = []
    /// Local days (ISO week 2026 numbers) with extra random flaps: a bad week for the devices.
    var badWeeks: Set<Int> = []
}

extension Context {
    /// device_up every step (scripted outages, and each week a short, a medium and a long random
    /// outage plus a few one-sample flaps), cert_valid and firmware_compliant hourly.
    mutating func securityOperations(_ devices: [Device], _ script: SecurityScript) {
        let names = devices.map(\.name)
        var down: [String: [(Int64, Int64)]] = [:]
        for (dev, a, minutes) in script.outages { down[dev, default: []].append((a, a + Int64(minutes) * minuteMs)) }
        let perWeek = Int(7 * dayMs / stepMs)
        var week = start
        while week < end {
            let weekNumber = isoWeek2026(clock.local(week + dayMs).day)
            let ranges: [(Double, Double)] =
                weekNumber % 2 == 0 ? [(10, 35), (40, 110), (150, 420)] : [(10, 35), (40, 110)]
            for (lo, hi) in ranges {
                let dev = rng.choice(names)
                let a = week + Int64(rng.int(12, perWeek - 100)) * stepMs
                let length = max(1, Int((rng.uniform(lo, hi) / stepMinutes).rounded()))
                down[dev, default: []].append((a, a + Int64(length) * stepMs))
            }
            let flaps = rng.int(2, 4) + (script.badWeeks.contains(weekNumber) ? 8 : 0)
            for _ in 0..<flaps {
                let dev = rng.choice(names)
                let a = week + Int64(rng.below(perWeek)) * stepMs
                down[dev, default: []].append((a, a + stepMs))
            }
            week += 7 * dayMs
        }
        var upgradeOf: [String: (Int64, String)] = [:]
        for (dev, at, fw) in script.upgrades { upgradeOf[dev] = (at, fw) }
        for d in devices {
            let before = out.series(
                "device_up", ["device": d.name, "device_type": d.type, "vendor": d.vendor, "firmware": d.firmware])
            var after = before
            if let (_, fw) = upgradeOf[d.name] {
                after = out.series("device_up", ["device": d.name, "device_type": d.type, "vendor": d.vendor, "firmware": fw])
            }
            let intervals = down[d.name] ?? []
            let switchAt = upgradeOf[d.name]?.0 ?? Int64.max
            for i in 0..<steps {
                let t = ts(i)
                out.add(t >= switchAt ? after : before, t, int: inside(t, intervals) ? 0 : 1)
            }
        }
        var invalid: [String: [(Int64, Int64)]] = [:]
        for (dev, a, b) in script.certificates { invalid[dev, default: []].append((a, b ?? end)) }
        for d in devices {
            let cert = out.series("cert_valid", ["device": d.name])
            let compliant = out.series("firmware_compliant", ["device": d.name])
            var t = start
            while t < end {
                var fw = d.firmware
                if let (at, newFirmware) = upgradeOf[d.name], t >= at { fw = newFirmware }
                out.add(cert, t, int: inside(t, invalid[d.name] ?? []) ? 0 : 1)
                out.add(compliant, t, int: approvedFirmware[d.vendor] == fw ? 1 : 0)
                t += hourMs
            }
        }
        passwordsAndAudits(devices)
    }

    /// password_compliant hourly per device, and audit_evidence_turnaround_seconds, one sample
    /// per evidence request when it is handed over. Drawn after everything else of the site (and
    /// from their own generator), so the other signals stay as they were.
    mutating func passwordsAndAudits(_ devices: [Device]) {
        // Every fifth device shipped with a default password; those of even rank had it changed
        // in the W45 hardening (Wednesday 10:00 local), the others still have it.
        let hardening = clock.ms(monday2026(45) + 2, 10, 0)
        for (n, d) in devices.enumerated() {
            let weak = n % 5 == 4
            let fixed = weak && (n / 5) % 2 == 0
            let id = out.series("password_compliant", ["device": d.name])
            var t = start
            while t < end {
                out.add(id, t, int: !weak || (fixed && t >= hardening) ? 1 : 0)
                t += hourMs
            }
        }
        // Auditors ask for evidence (badge logs, video exports) two to four times a week during
        // office hours; the team answers in about a day, slower in W44 (half the team at a
        // conference): a week a reviewer should spot.
        var random = FixtureRandom(seed: rng.next(), site: site.site + "/audits")
        var handed: [(Int64, Double)] = []
        var monday = clock.local(start).day - Int64(weekday(ofDay: clock.local(start).day))
        while monday <= lastDay {
            let slow = isoWeek2026(monday) == 44
            for _ in 0..<random.int(2, 4) {
                let asked = clock.ms(monday + Int64(random.below(5)), random.int(9, 16), 5 * random.below(12))
                let hours = random.lognormal(slow ? 70 : 20, 0.5)
                let done = asked + Int64(hours * 3_600_000)
                if asked >= start && done < end { handed.append((done, (hours * 3600).rounded())) }
            }
            monday += 7
        }
        let id = out.series("audit_evidence_turnaround_seconds", ["team": "security"])
        var last = Int64.min
        for (t, seconds) in handed.sorted(by: { $0.0 < $1.0 }) where t > last {
            out.add(id, t, seconds)
            last = t
        }
    }
}
