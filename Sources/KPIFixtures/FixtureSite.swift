import Foundation

/// One site the generator can write: its id (the `site` label), template, time zone and the
/// capacities the data depends on. Read from `Fixtures/sites.json`, or a template's defaults.
public struct FixtureSite: Sendable, Equatable {
    /// A scheduled event (a stadium match): gates open, kick-off, attendance.
    public struct Event: Sendable, Equatable {
        /// Shown in documentation only.
        public var name: String
        /// Unix ms the turnstiles open.
        public var gatesOpen: Int64
        /// Unix ms of kick-off.
        public var kickoff: Int64
        /// Spectators admitted.
        public var attendance: Int
    }

    /// The `site` label.
    public var site: String
    /// One of `templates`.
    public var template: String
    /// IANA time zone: daily and weekly patterns follow its local time.
    public var timeZone: String
    /// Capacities by name: zones, rooms (people), `seats`, `dock_doors`, `ideal_cycle_seconds.L1`, ...
    public var capacities: [String: Double]
    /// Stadium matches; empty means the default schedule (a Saturday 15:00 match each week).
    public var events: [Event]

    /// A site; see `defaults(template:site:)` for one with the template's zones and capacities.
    public init(site: String, template: String, timeZone: String, capacities: [String: Double] = [:], events: [Event] = []) {
        self.site = site
        self.template = template
        self.timeZone = timeZone
        self.capacities = capacities
        self.events = events
    }

    /// The templates the generator knows.
    public static let templates = ["airport", "retail", "campus", "stadium", "logistics", "manufacturing"]

    /// The committed site of each template: `Fixtures/<template>/<file>.ndjson.gz`.
    public static let fixtureSites: [(template: String, site: String, file: String)] = [
        ("airport", "JFK", "jfk"), ("retail", "NYC-5TH", "nyc-5th"), ("campus", "CAMPUS-E", "campus-e"),
        ("stadium", "ARENA-1", "arena-1"), ("logistics", "DC-ATL", "dc-atl"), ("manufacturing", "PLANT-1", "plant-1"),
    ]

    /// A site of `template` named `site` with the template's default zone, capacities and schedule.
    public static func defaults(template: String, site: String) -> FixtureSite? {
        switch template {
        case "airport":
            return FixtureSite(
                site: site, template: template, timeZone: "America/New_York",
                capacities: ["T4-security-hall": 250, "T4-food-court": 350, "T4-gates-B": 900, "T1-arrivals": 500])
        case "retail":
            return FixtureSite(
                site: site, template: template, timeZone: "America/New_York",
                capacities: ["floor-1": 450, "floor-2": 350, "fitting-rooms": 40])
        case "campus":
            return FixtureSite(
                site: site, template: template, timeZone: "America/Chicago",
                capacities: ["SCI-101": 150, "SCI-204": 40, "ENG-110": 90, "ENG-215": 30, "LIB-reading": 120])
        case "stadium":
            return FixtureSite(site: site, template: template, timeZone: "Europe/London", capacities: ["seats": 60000])
        case "logistics":
            return FixtureSite(site: site, template: template, timeZone: "America/New_York", capacities: ["dock_doors": 10])
        case "manufacturing":
            return FixtureSite(
                site: site, template: template, timeZone: "Europe/Berlin",
                capacities: ["ideal_cycle_seconds.L1": 45, "ideal_cycle_seconds.L2": 72])
        default:
            return nil
        }
    }

    /// Why a sites file could not be read.
    public struct LoadError: Error, CustomStringConvertible {
        /// What is wrong, naming the entry and field.
        public var description: String
    }

    /// Parses a `sites.json` (an array of objects with `site`, `template`, `time_zone`, `capacities`,
    /// `events`); capacities are flattened (`zones`, `rooms` by name, `seats`, `dock_doors`,
    /// `lines.L1.ideal_cycle_seconds` as `ideal_cycle_seconds.L1`).
    public static func parse(_ data: Data) throws -> [FixtureSite] {
        guard let array = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw LoadError(description: "sites file: expected a JSON array of site objects")
        }
        var out: [FixtureSite] = []
        for (n, o) in array.enumerated() {
            guard let site = o["site"] as? String, let template = (o["template"] ?? o["industry"]) as? String,
                let zone = o["time_zone"] as? String
            else {
                throw LoadError(description: "sites file: entry \(n + 1) needs site, template and time_zone")
            }
            guard TimeZone(identifier: zone) != nil else {
                throw LoadError(description: "sites file: site \(site): unknown time_zone \"\(zone)\"")
            }
            var result = defaults(template: template, site: site) ?? FixtureSite(site: site, template: template, timeZone: zone)
            result.timeZone = zone
            let caps = o["capacities"] as? [String: Any] ?? [:]
            for group in ["zones", "rooms"] {
                for (name, value) in caps[group] as? [String: Any] ?? [:] {
                    if let v = (value as? NSNumber)?.doubleValue { result.capacities[name] = v }
                }
            }
            for key in ["seats", "dock_doors", "checkout_lanes"] {
                if let v = (caps[key] as? NSNumber)?.doubleValue { result.capacities[key] = v }
            }
            for (line, value) in caps["lines"] as? [String: Any] ?? [:] {
                if let v = ((value as? [String: Any])?["ideal_cycle_seconds"] as? NSNumber)?.doubleValue {
                    result.capacities["ideal_cycle_seconds." + line] = v
                }
            }
            for (k, e) in (o["events"] as? [[String: Any]] ?? []).enumerated() {
                guard let kickoff = (e["kickoff"] as? String).flatMap(parseTimestamp),
                    let gates = (e["gates_open"] as? String).flatMap(parseTimestamp),
                    let attendance = (e["attendance"] as? NSNumber)?.intValue
                else {
                    throw LoadError(
                        description: "sites file: site \(site): event \(k + 1) needs kickoff, gates_open (RFC 3339) and attendance")
                }
                result.events.append(
                    Event(name: e["name"] as? String ?? "event \(k + 1)", gatesOpen: gates, kickoff: kickoff, attendance: attendance))
            }
            out.append(result)
        }
        return out
    }
}

/// Unix ms of an RFC 3339 timestamp like `2026-11-18T19:45:00Z` or `2026-11-18T19:45:00+01:00`.
func parseTimestamp(_ s: String) -> Int64? {
    let b = Array(s.utf8)
    func num(_ from: Int, _ count: Int) -> Int? {
        guard from + count <= b.count else { return nil }
        var v = 0
        for k in from..<(from + count) {
            guard b[k] >= 48 && b[k] <= 57 else { return nil }
            v = v * 10 + Int(b[k] - 48)
        }
        return v
    }
    guard b.count >= 20, let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2),
        let sec = num(17, 2)
    else { return nil }
    var offset = 0
    let tail = b[19...]
    if tail.first == UInt8(ascii: "Z") {
        offset = 0
    } else if let sign = tail.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"), let oh = num(20, 2), let om = num(23, 2) {
        offset = (oh * 60 + om) * (sign == UInt8(ascii: "+") ? 1 : -1)
    } else {
        return nil
    }
    return (epochDay(y, mo, d) * 86_400 + Int64(h * 3600 + mi * 60 + sec) - Int64(offset * 60)) * 1000
}
