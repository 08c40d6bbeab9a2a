import Foundation
import Testing

@testable import KPIReport

/// ISO-8601 week numbering and local week boundaries, against hand-computed dates and against
/// Foundation's ISO-8601 calendar as a second implementation.
struct ISOWeekTests {
    static let utc = TimeZone(identifier: "UTC")!
    static let newYork = TimeZone(identifier: "America/New_York")!

    /// Unix ms of an RFC 3339 UTC time.
    static func ms(_ text: String) -> Int64 {
        let f = ISO8601DateFormatter()
        return Int64(f.date(from: text)!.timeIntervalSince1970 * 1000)
    }

    @Test func handComputedWeeks() throws {
        // 2026-01-01 is a Thursday, so week 1 starts on Monday 2025-12-29 and 2026 has 53 weeks.
        let w1 = try ISOWeek.parse("2026-W01")
        #expect(w1.firstDay == "2025-12-29" && w1.lastDay == "2026-01-04")
        #expect(ISOWeek.weeks(inYear: 2026) == 53)
        #expect(try ISOWeek.parse("2026-W53").firstDay == "2026-12-28")
        #expect(try ISOWeek.parse("2026-W45").firstDay == "2026-11-02")
        #expect(try ISOWeek.parse("2026-W47").firstDay == "2026-11-16")
        // 2020: a leap year starting on a Wednesday: 53 weeks, the last ending 2021-01-03.
        let w53 = try ISOWeek.parse("2020-W53")
        #expect(w53.firstDay == "2020-12-28" && w53.lastDay == "2021-01-03")
        #expect(ISOWeek.weeks(inYear: 2025) == 52 && ISOWeek.weeks(inYear: 2021) == 52)
        // Across year boundaries.
        #expect(w1.adding(weeks: -1).description == "2025-W52")
        #expect(try ISOWeek.parse("2021-W01").adding(weeks: -1) == w53)
        #expect(w53.adding(weeks: 1).description == "2021-W01")
        #expect(try ISOWeek.parse("2026-W45").adding(weeks: -7).description == "2026-W38")
        // The week of a date: 2021-01-03 (Sunday) still belongs to 2020-W53; 2027-01-01 to 2026-W53.
        #expect(ISOWeek.containing(Self.ms("2021-01-03T12:00:00Z"), in: Self.utc) == w53)
        #expect(ISOWeek.containing(Self.ms("2021-01-04T00:00:00Z"), in: Self.utc).description == "2021-W01")
        #expect(ISOWeek.containing(Self.ms("2027-01-01T00:00:00Z"), in: Self.utc).description == "2026-W53")
        #expect(ISOWeek.containing(Self.ms("2025-12-29T00:00:00Z"), in: Self.utc) == w1)
        // Monday 2026-11-23 01:00 UTC is still Sunday evening in New York: the week in progress
        // there is W47, so the last complete one is W46.
        #expect(ISOWeek.lastComplete(at: Self.ms("2026-11-23T01:00:00Z"), in: Self.newYork).description == "2026-W46")
        #expect(ISOWeek.lastComplete(at: Self.ms("2026-11-23T06:00:00Z"), in: Self.newYork).description == "2026-W47")
    }

    @Test func parsingRefusesWhatIsNotAWeek() throws {
        #expect(try ISOWeek.parse("2026W05").description == "2026-W05")
        #expect(try ISOWeek.parse("2026-w05").description == "2026-W05")
        for bad in ["2026-45", "2026-W5", "2026-W00", "26-W05", "2026-W054", "", "2026-Wxx", "week 45", "0000-W01"] {
            #expect(throws: ISOWeek.ParseError.self, "\(bad)") { try ISOWeek.parse(bad) }
        }
        do {
            _ = try ISOWeek.parse("2025-W53")
            Issue.record("2025-W53 was accepted")
        } catch {
            #expect(error.description.contains("2025 has 52 ISO weeks"), "\(error)")
        }
    }

    @Test func weeksInNewYorkFollowDaylightSavingTime() throws {
        // 2026-W10: Monday 2026-03-02 00:00 EST (05:00 UTC) to Monday 2026-03-09 00:00 EDT
        // (04:00 UTC); clocks go forward on Sunday 03-08: 167 hours.
        let spring = try ISOWeek.parse("2026-W10").range(in: Self.newYork)
        #expect(spring.from == Self.ms("2026-03-02T05:00:00Z"))
        #expect(spring.to == Self.ms("2026-03-09T04:00:00Z"))
        #expect(spring.to - spring.from == 167 * 3_600_000)
        // 2026-W44 holds Sunday 11-01, when clocks go back: 169 hours.
        let autumn = try ISOWeek.parse("2026-W44").range(in: Self.newYork)
        #expect(autumn.from == Self.ms("2026-10-26T04:00:00Z") && autumn.to == Self.ms("2026-11-02T05:00:00Z"))
        #expect(autumn.to - autumn.from == 169 * 3_600_000)
        let plain = try ISOWeek.parse("2026-W45").range(in: Self.newYork)
        #expect(plain.to - plain.from == 168 * 3_600_000)
        // India has no DST and a half-hour offset: Monday 00:00 IST is Sunday 18:30 UTC.
        let kolkata = try ISOWeek.parse("2026-W45").range(in: TimeZone(identifier: "Asia/Kolkata")!)
        #expect(kolkata.from == Self.ms("2026-11-01T18:30:00Z"))
        #expect(try ISOWeek.parse("2026-W45").range(in: Self.utc).from == Self.ms("2026-11-02T00:00:00Z"))
    }

    /// Every day of 2015-2035: the ISO week and year agree with Foundation's ISO-8601 calendar.
    @Test func weekNumbersAgreeWithFoundation() {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = Self.utc
        let first = Self.ms("2015-01-01T12:00:00Z") / 86_400_000
        let last = Self.ms("2035-12-31T12:00:00Z") / 86_400_000
        var mismatches = 0
        for day in first...last {
            let date = Date(timeIntervalSince1970: TimeInterval(day * 86_400 + 43_200))
            let c = calendar.dateComponents([.weekOfYear, .yearForWeekOfYear, .weekday], from: date)
            let week = ISOWeek(containingDays: day)
            if week.year != c.yearForWeekOfYear || week.week != c.weekOfYear { mismatches += 1 }
            // Foundation: 1 = Sunday ... 7 = Saturday.
            if ISOWeek.isoWeekday(days: day) != (c.weekday! + 5) % 7 + 1 { mismatches += 1 }
            if ISOWeek.isoWeekday(days: day) == 1 {
                #expect(week.mondayDays == day)
            }
        }
        #expect(mismatches == 0)
        for year in 2015...2035 {
            let dec28 = calendar.date(from: DateComponents(year: year, month: 12, day: 28, hour: 12))!
            #expect(ISOWeek.weeks(inYear: year) == calendar.component(.weekOfYear, from: dec28), "\(year)")
        }
    }

    /// The start of each local day 2020-2030 in zones with DST (one changing at midnight, one by
    /// 30 minutes), against Foundation's `Calendar.startOfDay`.
    @Test func startOfDayAgreesWithFoundation() {
        for name in ["America/New_York", "Europe/London", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata"] {
            let zone = TimeZone(identifier: name)!
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            let first = Self.ms("2020-01-01T00:00:00Z") / 86_400_000
            let last = Self.ms("2030-12-31T00:00:00Z") / 86_400_000
            var mismatches: [String] = []
            for day in first...last {
                let mine = LocalTime.startOfDay(days: day, in: zone)
                // Noon local is never in a transition; its start of day is Foundation's answer.
                let noon = Date(timeIntervalSince1970: TimeInterval(mine / 1000 + 12 * 3600))
                let theirs = Int64(calendar.startOfDay(for: noon).timeIntervalSince1970 * 1000)
                if mine != theirs { mismatches.append(LocalTime.dateText(days: day)) }
                if LocalTime.localDays(mine, in: zone) != day { mismatches.append("local day of " + LocalTime.dateText(days: day)) }
            }
            #expect(mismatches.isEmpty, "\(name): \(mismatches.prefix(5))")
        }
        // Chile moves clocks from 00:00 to 01:00 on 2026-09-06: the day starts at 04:00 UTC.
        let santiago = TimeZone(identifier: "America/Santiago")!
        let day = Self.ms("2026-09-06T00:00:00Z") / 86_400_000
        #expect(LocalTime.startOfDay(days: day, in: santiago) == Self.ms("2026-09-06T04:00:00Z"))
    }
}
