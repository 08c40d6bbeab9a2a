import Testing

@testable import KPICore

@Suite struct CivilCalendarTests {
    @Test func knownDates() {
        #expect(CivilCalendar.days(year: 1970, month: 1, day: 1) == 0)
        #expect(CivilCalendar.days(year: 1969, month: 12, day: 31) == -1)
        #expect(CivilCalendar.days(year: 2000, month: 2, day: 29) == 11_016)
        #expect(CivilCalendar.days(year: 2026, month: 11, day: 2) == 20_759)
        #expect(CivilCalendar.days(year: 1600, month: 3, day: 1) == -135_080)
    }

    @Test func consistentDayByDay() {
        // Walk every day of 1600...2400 and check the calendar steps by one day at a time.
        var expected = CivilCalendar.days(year: 1600, month: 1, day: 1)
        for year in Int64(1600)...2400 {
            for month in 1...12 {
                for day in 1...CivilCalendar.daysInMonth(year: year, month: month) {
                    #expect(CivilCalendar.days(year: year, month: month, day: day) == expected)
                    let back = CivilCalendar.date(fromDays: expected)
                    if back.year != year || back.month != month || back.day != day {
                        Issue.record("\(year)-\(month)-\(day) -> \(expected) -> \(back)")
                        return
                    }
                    expected += 1
                }
            }
        }
        // 1600-01-01 to 2401-01-01 is 801 years, of which 195 leap (every 4th, minus 1700, 1800,
        // 1900, 2100, 2200, 2300): 801 * 365 + 195 = 292 560 days.
        #expect(expected - CivilCalendar.days(year: 1600, month: 1, day: 1) == 292_560)
    }
}
