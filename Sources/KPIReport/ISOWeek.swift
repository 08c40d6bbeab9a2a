import Foundation
import KPICore

/// An ISO-8601 week (`2026-W45`): weeks start on Monday, and week 1 of a year is the week
/// holding that year's first Thursday (so 2026-W01 starts on 2025-12-29, and a year whose
/// January 1st is a Thursday, or a leap year starting on a Wednesday, has a week 53).
public struct ISOWeek: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The ISO week-numbering year (may differ from the calendar year near January 1st).
    public let year: Int
    /// 1 ... 52 or 53.
    public let week: Int

    /// Why a text is not a valid ISO week.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// A week of a year; nil when the year has no such week.
    public init?(year: Int, week: Int) {
        guard (1...9999).contains(year), week >= 1, week <= ISOWeek.weeks(inYear: year) else { return nil }
        self.year = year
        self.week = week
    }

    /// Parses `YYYY-Www` (also `YYYYWww`, and a lower-case `w`).
    public static func parse(_ text: String) throws(ParseError) -> ISOWeek {
        let bytes = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Int? {
            var n = 0
            for i in range {
                guard i < bytes.count, (48...57).contains(bytes[i]) else { return nil }
                n = n * 10 + Int(bytes[i] - 48)
            }
            return n
        }
        let dash = bytes.count == 8 && bytes[4] == UInt8(ascii: "-") ? 1 : 0
        guard bytes.count == 7 + dash, bytes[4 + dash] | 0x20 == UInt8(ascii: "w"),
            let year = digits(0..<4), let week = digits((5 + dash)..<(7 + dash))
        else {
            throw ParseError(description: "\"\(text)\" is not an ISO week like 2026-W45")
        }
        guard year >= 1 else { throw ParseError(description: "\"\(text)\": the year must be 0001 or later") }
        guard let result = ISOWeek(year: year, week: week) else {
            throw ParseError(
                description: "\"\(text)\": \(year) has \(weeks(inYear: year)) ISO weeks, numbered 01 to \(weeks(inYear: year))")
        }
        return result
    }

    /// `2026-W45`.
    public var description: String {
        let y = String(year)
        let w = week < 10 ? "0\(week)" : "\(week)"
        return String(repeating: "0", count: max(0, 4 - y.count)) + y + "-W" + w
    }

    public static func < (a: ISOWeek, b: ISOWeek) -> Bool { (a.year, a.week) < (b.year, b.week) }

    /// ISO day of the week of a day count since 1970-01-01: 1 = Monday ... 7 = Sunday
    /// (1970-01-01 was a Thursday).
    public static func isoWeekday(days: Int64) -> Int {
        let r = (days + 3) % 7
        return Int(r < 0 ? r + 7 : r) + 1
    }

    /// 52 or 53: the number of ISO weeks of `year` (53 when January 1st is a Thursday, or a
    /// Wednesday in a leap year).
    public static func weeks(inYear year: Int) -> Int {
        let jan1 = isoWeekday(days: CivilCalendar.days(year: Int64(year), month: 1, day: 1))
        if jan1 == 4 || (jan1 == 3 && CivilCalendar.isLeapYear(Int64(year))) { return 53 }
        return 52
    }

    /// The Monday of week 1 of `year`, as a day count since 1970-01-01 (January 4th is always in
    /// week 1).
    static func firstMonday(ofYear year: Int) -> Int64 {
        let jan4 = CivilCalendar.days(year: Int64(year), month: 1, day: 4)
        return jan4 - Int64(isoWeekday(days: jan4) - 1)
    }

    /// The Monday starting this week, as a day count since 1970-01-01.
    public var mondayDays: Int64 { ISOWeek.firstMonday(ofYear: year) + Int64(week - 1) * 7 }

    /// The week holding a date (a day count since 1970-01-01): the week-numbering year is the
    /// calendar year of that week's Thursday.
    public init(containingDays days: Int64) {
        let thursday = days - Int64(ISOWeek.isoWeekday(days: days)) + 4
        let year = Int(CivilCalendar.date(fromDays: thursday).year)
        self.year = year
        self.week = Int((thursday - ISOWeek.firstMonday(ofYear: year)) / 7) + 1
    }

    /// The week `n` weeks later (earlier for a negative `n`), across year boundaries.
    public func adding(weeks n: Int) -> ISOWeek { ISOWeek(containingDays: mondayDays + Int64(n) * 7) }

    /// The first day (Monday) and the last day (Sunday) as `YYYY-MM-DD`.
    public var firstDay: String { LocalTime.dateText(days: mondayDays) }
    public var lastDay: String { LocalTime.dateText(days: mondayDays + 6) }

    /// The half-open range `[Monday 00:00, next Monday 00:00)` in `zone`, in Unix milliseconds.
    /// Local midnights follow the zone's rules, so a week with a daylight-saving change lasts
    /// 167 or 169 hours.
    public func range(in zone: TimeZone) -> (from: Int64, to: Int64) {
        (LocalTime.startOfDay(days: mondayDays, in: zone), LocalTime.startOfDay(days: mondayDays + 7, in: zone))
    }

    /// The week holding the instant `ms` in `zone`.
    public static func containing(_ ms: Int64, in zone: TimeZone) -> ISOWeek {
        ISOWeek(containingDays: LocalTime.localDays(ms, in: zone))
    }

    /// The last complete week at the instant `ms` in `zone`: the week before the one in progress.
    public static func lastComplete(at ms: Int64, in zone: TimeZone) -> ISOWeek {
        containing(ms, in: zone).adding(weeks: -1)
    }
}

/// Conversions between instants (Unix ms) and local dates of a time zone, without Foundation
/// calendars (only `TimeZone.secondsFromGMT(for:)`).
public enum LocalTime {
    /// The zone's offset from UTC at the instant `ms`, in milliseconds.
    public static func offset(_ ms: Int64, in zone: TimeZone) -> Int64 {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        return Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds)))) * 1000
    }

    /// The local day (days since 1970-01-01) of the instant `ms` in `zone`.
    public static func localDays(_ ms: Int64, in zone: TimeZone) -> Int64 {
        let local = ms + offset(ms, in: zone)
        return local >= 0 ? local / 86_400_000 : (local - 86_399_999) / 86_400_000
    }

    /// The first instant of a local day in `zone`: local 00:00, or, where a clock change skips
    /// midnight, the instant of the change (the first local time of that day). Where 00:00
    /// happens twice (a change back at midnight), the earlier one.
    public static func startOfDay(days: Int64, in zone: TimeZone) -> Int64 {
        let local = days * 86_400_000
        // The offsets in force a day before and a day after cover both sides of any change
        // near this midnight.
        let before = offset(local - 86_400_000, in: zone)
        let after = offset(local + 86_400_000, in: zone)
        var best: Int64? = nil
        for o in [before, after] {
            let utc = local - o
            if offset(utc, in: zone) == o { best = min(best ?? utc, utc) }
        }
        if let best { return best }
        // Midnight does not exist (a change forward at 00:00): the day starts at the change,
        // which is local midnight under the offset before it.
        return local - before
    }

    /// `YYYY-MM-DD` of a day count.
    public static func dateText(days: Int64) -> String {
        let d = CivilCalendar.date(fromDays: days)
        return pad(Int(d.year), 4) + "-" + pad(d.month, 2) + "-" + pad(d.day, 2)
    }

    /// `YYYY-MM-DD HH:MM` in `zone` plus the zone's abbreviation (e.g. `EST`) when it has one.
    public static func dateTimeText(_ ms: Int64, in zone: TimeZone) -> String {
        let local = ms + offset(ms, in: zone)
        let days = local >= 0 ? local / 86_400_000 : (local - 86_399_999) / 86_400_000
        let minutes = Int((local - days * 86_400_000) / 60_000)
        var text = dateText(days: days) + " " + pad(minutes / 60, 2) + ":" + pad(minutes % 60, 2)
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        if let abbreviation = zone.abbreviation(for: Date(timeIntervalSince1970: TimeInterval(seconds))) {
            text += " " + abbreviation
        }
        return text
    }

    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
