import Foundation

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
public func epochDay(_ year: Int, _ month: Int, _ day: Int) -> Int64 {
    let y = Int64(month <= 2 ? year - 1 : year)
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let m = Int64(month)
    let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + Int64(day) - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

/// Floor division for negative numerators too.
@inline(__always) func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

let dayMs: Int64 = 86_400_000
let hourMs: Int64 = 3_600_000
let minuteMs: Int64 = 60_000

/// A site's local time over the generated range: the UTC offsets of its IANA zone (daylight
/// saving changes included) as a small table, so the hot loops never call into Foundation.
struct Clock: Sendable {
    /// (first UTC ms the offset holds, offset ms), sorted.
    let spans: [(from: Int64, offset: Int64)]

    /// The offsets of `zone` from a week before `start` to a week after `end`.
    init(zone: TimeZone, start: Int64, end: Int64) {
        func offset(_ ms: Int64) -> Int64 {
            Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(ms) / 1000))) * 1000
        }
        var spans: [(Int64, Int64)] = [(Int64.min, offset(start - 7 * dayMs))]
        var t = start - 7 * dayMs
        while t < end + 7 * dayMs {
            let next = t + hourMs
            if offset(next) != spans.last!.1 {
                // Narrow the change down to the minute.
                var lo = t
                var hi = next
                while hi - lo > minuteMs {
                    let mid = lo + (hi - lo) / 2 / minuteMs * minuteMs
                    if mid == lo { break }
                    if offset(mid) == spans.last!.1 { lo = mid } else { hi = mid }
                }
                spans.append((hi, offset(hi)))
            }
            t = next
        }
        self.spans = spans
    }

    /// UTC offset in ms at UTC time `ts`.
    @inline(__always) func offset(_ ts: Int64) -> Int64 {
        var k = spans.count - 1
        while k > 0 && spans[k].from > ts { k -= 1 }
        return spans[k].offset
    }

    /// Local epoch day, weekday (0 = Monday ... 6 = Sunday) and hour of day (a fraction) at `ts`.
    @inline(__always) func local(_ ts: Int64) -> (day: Int64, weekday: Int, hour: Double) {
        let l = ts + offset(ts)
        let day = floorDiv(l, dayMs)
        let weekday = Int(((day + 3) % 7 + 7) % 7)
        return (day, weekday, Double(l - day * dayMs) / Double(hourMs))
    }

    /// UTC ms of local wall time `hour:minute` on local epoch day `day` (the hour may pass 24).
    func ms(_ day: Int64, _ hour: Int, _ minute: Int = 0) -> Int64 {
        let wall = day * dayMs + Int64(hour * 60 + minute) * minuteMs
        let guess = wall - offset(wall)
        return wall - offset(guess)
    }

    /// Length of local day `day` in hours (23 or 25 on a daylight saving change).
    func hoursInDay(_ day: Int64) -> Int { Int((ms(day + 1, 0) - ms(day, 0)) / hourMs) }
}

/// Weekday (0 = Monday) of an epoch day.
@inline(__always) func weekday(ofDay day: Int64) -> Int { Int(((day + 3) % 7 + 7) % 7) }
