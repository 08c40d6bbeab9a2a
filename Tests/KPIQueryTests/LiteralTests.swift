import Testing

@testable import KPIQuery

@Suite struct LiteralTests {
    @Test func timestampFormat() {
        #expect(TimestampLiteral.format(1_793_606_400_000) == "2026-11-02T08:00:00Z")
        #expect(TimestampLiteral.format(1_709_188_200_000) == "2024-02-29T06:30:00Z")
        #expect(TimestampLiteral.format(-1) == "1969-12-31T23:59:59.999Z")
        #expect(TimestampLiteral.format(5) == "1970-01-01T00:00:00.005Z")
    }

    @Test func timestampParsing() throws {
        #expect(try TimestampLiteral.milliseconds("2026-11-02t08:00:00z") == 1_793_606_400_000)
        #expect(try TimestampLiteral.milliseconds("2026-11-02T08:00:00.123456Z") == 1_793_606_400_123)
        #expect(try TimestampLiteral.milliseconds("2026-11-02T00:30:00-00:30") == 1_793_581_200_000)
        #expect(try TimestampLiteral.milliseconds("1900-02-28T00:00:00Z") == -2_203_977_600_000)
    }

    @Test func timestampRejections() {
        let bad: [(String, String)] = [
            ("2026-13-01T00:00:00Z", "month 13 out of range"),
            ("1900-02-29T00:00:00Z", "day 29 out of range"),
            ("2026-11-02T24:00:00Z", "hour 24 out of range"),
            ("2026-11-02T08:60:00Z", "minute 60 out of range"),
            ("2026-11-02T08:00:60Z", "second 60 out of range"),
            ("2026-11-02T08:00:00+5:30", "expected 2-digit offset hours"),
            ("2026-11-02T08:00:00Z junk", "unexpected text after time zone"),
            ("2026-11-02T08:00:00.Z", "expected digits after '.'"),
            ("26-11-02", "expected 4-digit year"),
            ("2026/11/02", "expected '-' after year"),
            ("2026-11-02X08:00:00Z", "expected 'T' between date and time"),
        ]
        for (text, reason) in bad {
            #expect(throws: TimestampLiteral.SyntaxError(message: "invalid timestamp '\(text)': \(reason)")) {
                try TimestampLiteral.milliseconds(text)
            }
        }
    }

    @Test func intervalFormatRoundTrips() throws {
        #expect(IntervalLiteral.format(0) == "0s")
        #expect(IntervalLiteral.format(604_800_000) == "7d")
        #expect(IntervalLiteral.format(5_400_000) == "1h30m")
        #expect(IntervalLiteral.format(93_784_005) == "1d2h3m4s5ms")
        for ms: Int64 in [1, 999, 1_000, 59_999, 3_600_001, 86_400_000 * 400 + 7] {
            #expect(try IntervalLiteral.milliseconds(IntervalLiteral.format(ms)) == ms)
        }
    }

    @Test func intervalOverflowIsAnError() {
        #expect(throws: IntervalLiteral.SyntaxError.self) {
            try IntervalLiteral.milliseconds("99999999999999999999 ms")
        }
        #expect(throws: IntervalLiteral.SyntaxError(message: "interval is too large", offset: 0, hint: nil)) {
            try IntervalLiteral.milliseconds("9223372036854775807 w")
        }
    }

    @Test func intervalUnitsAreCaseInsensitive() throws {
        #expect(try IntervalLiteral.milliseconds("1 Hour 2 MIN 3 Secs") == 3_723_000)
        #expect(try IntervalLiteral.milliseconds("  2 weeks ") == 1_209_600_000)
    }
}
