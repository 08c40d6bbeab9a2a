import Foundation

/// What to generate: one site of one template over `days` days ending (exclusive) at `end`.
public struct FixtureOptions: Sendable {
    /// The site to write.
    public var site: FixtureSite
    /// Days of data before `end`.
    public var days: Int
    /// Seed of the generator (mixed with the site id).
    public var seed: UInt64
    /// Exclusive end, unix ms (default 2026-11-23T00:00:00Z).
    public var end: Int64
    /// Grid of gauges, counters and states in minutes (divides 60).
    public var stepMinutes: Int

    /// 2026-11-23T00:00:00Z: the committed fixtures end here (ISO weeks 2026-W40 .. W47).
    public static let defaultEnd: Int64 = 1_795_392_000_000

    /// Options; the defaults are those of the committed fixtures.
    public init(site: FixtureSite, days: Int = 56, seed: UInt64 = 1, end: Int64 = defaultEnd, stepMinutes: Int = 15) {
        self.site = site
        self.days = days
        self.seed = seed
        self.end = end
        self.stepMinutes = stepMinutes
    }
}

/// Why generation was refused.
public struct FixtureError: Error, CustomStringConvertible, Equatable {
    /// What is wrong, naming the option.
    public var description: String
}

/// The deterministic fixture generator: the same options give the same bytes.
public enum FixtureGenerator {
    /// The ndjson lines (`{"metric":...,"labels":{...},"ts":<ms>,"value":<number>}`) of the site,
    /// sorted by time.
    public static func generate(_ options: FixtureOptions) throws(FixtureError) -> [UInt8] {
        try samples(options).ndjson()
    }

    /// The same samples as ``generate(_:)``, in time order with their series.
    public static func samples(_ options: FixtureOptions) throws(FixtureError) -> FixtureSamples {
        guard options.days >= 1 && options.days <= 3660 else { throw FixtureError(description: "days: must be 1 to 3660") }
        guard options.stepMinutes >= 1 && options.stepMinutes <= 60 && 60 % options.stepMinutes == 0 else {
            throw FixtureError(description: "step-minutes: must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)")
        }
        guard options.end % dayMs == 0 else { throw FixtureError(description: "end: must be a UTC midnight") }
        guard let zone = TimeZone(identifier: options.site.timeZone) else {
            throw FixtureError(description: "time zone: unknown \"\(options.site.timeZone)\"")
        }
        var c = Context(options: options, zone: zone)
        switch options.site.template {
        case "airport": c.airport()
        case "retail": c.retail()
        case "campus": c.campus()
        case "stadium": c.stadium()
        case "logistics": c.logistics()
        case "manufacturing": c.manufacturing()
        default:
            throw FixtureError(
                description: "template: unknown \"\(options.site.template)\"; one of \(FixtureSite.templates.joined(separator: ", "))")
        }
        return c.out.fixtureSamples()
    }
}

/// Everything one site's generator works with.
struct Context {
    var out: SampleWriter
    var rng: FixtureRandom
    let clock: Clock
    let seed: UInt64
    let site: FixtureSite
    let start: Int64
    let end: Int64
    let stepMs: Int64
    let stepMinutes: Double
    let steps: Int
    /// Local epoch days touched by the range, first and last.
    let firstDay: Int64
    let lastDay: Int64

    init(options: FixtureOptions, zone: TimeZone) {
        site = options.site
        seed = options.seed
        end = options.end
        start = options.end - Int64(options.days) * dayMs
        stepMs = Int64(options.stepMinutes) * minuteMs
        stepMinutes = Double(options.stepMinutes)
        steps = Int((end - start) / stepMs)
        clock = Clock(zone: zone, start: start, end: end)
        out = SampleWriter(site: site.site, start: start, end: end)
        rng = FixtureRandom(seed: options.seed, site: site.site)
        firstDay = clock.local(start).day - 1
        lastDay = clock.local(end - 1).day + 1
    }

    @inline(__always) func ts(_ i: Int) -> Int64 { start + Int64(i) * stepMs }

    /// Steps per hour.
    var perHour: Int { Int(hourMs / stepMs) }

    /// The local days of the range (with a day of margin on each side).
    var days: ClosedRange<Int64> { firstDay...lastDay }

    /// UTC ms of local `hour:minute` on a calendar date.
    func at(_ y: Int, _ m: Int, _ d: Int, _ hour: Int, _ minute: Int = 0) -> Int64 {
        clock.ms(epochDay(y, m, d), hour, minute)
    }

    func capacity(_ name: String, _ fallback: Double) -> Double { site.capacities[name] ?? fallback }

    /// The weeks of the range outside the scripted 2026-W40 .. W47 (numbered on from 2026's, as
    /// `isoWeek2026`), each with a generator of its own: ordinary weeks for ranges such as the
    /// live demo's, drawn without touching the main sequence (so the committed weeks keep their
    /// bytes).
    func unscriptedWeeks() -> [(week: Int, rng: FixtureRandom)] {
        var out: [(week: Int, rng: FixtureRandom)] = []
        var w = isoWeek2026(firstDay)
        while monday2026(w) <= lastDay {
            if w < 40 || w > 47 {
                out.append((w, FixtureRandom(seed: seed ^ (UInt64(bitPattern: Int64(w)) &* 0x9E37_79B9_7F4A_7C15), site: site.site)))
            }
            w += 1
        }
        return out
    }
}

/// ISO week number in 2026 of a local epoch day (W1 starts Monday 2025-12-29), for the scripted weeks.
@inline(__always) func isoWeek2026(_ day: Int64) -> Int { Int(floorDiv(day - epochDay(2025, 12, 29), 7)) + 1 }

/// Local epoch day of Monday of ISO week `w` of 2026.
func monday2026(_ w: Int) -> Int64 { epochDay(2025, 12, 29) + Int64(w - 1) * 7 }

/// Whether `ts` is inside one of the half-open intervals.
@inline(__always) func inside(_ ts: Int64, _ intervals: [(Int64, Int64)]) -> Bool {
    for (a, b) in intervals where a <= ts && ts < b { return true }
    return false
}

extension Context {
    /// A 0/1 series on the grid: `valueIn` while a step's time is inside one of `intervals`.
    mutating func stateSeries(_ metric: String, _ labels: KeyValuePairs<String, String>, _ intervals: [(Int64, Int64)]) {
        let id = out.series(metric, labels)
        let sorted = intervals.sorted { $0.0 < $1.0 }
        var k = 0
        for i in 0..<steps {
            let t = ts(i)
            while k < sorted.count && sorted[k].1 <= t { k += 1 }
            var value: Int64 = 0
            var j = k
            while j < sorted.count && sorted[j].0 <= t {
                if t < sorted[j].1 {
                    value = 1
                    break
                }
                j += 1
            }
            out.add(id, t, int: value)
        }
    }
}
