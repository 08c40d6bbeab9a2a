import KPITestSupport
import Testing

@testable import KPIWire

@Suite struct TimestampParserTests {
    // Expected values computed by hand: days since 1970-01-01 times 86 400 s, plus the time of
    // day, minus the offset. E.g. 2026-11-02: 56 years (14 of them leap) = 20 454 days to
    // 2026-01-01, plus 305 days to Nov 2 = 20 759 days = 1 793 577 600 s; 08:00 adds 28 800 s.
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0)),
        ("2026-11-02T08:00:00Z", Int64(1_793_606_400_000)),
        ("2025-11-02T08:00:00Z", Int64(1_762_070_400_000)),
        ("2026-11-02T08:00:00.123+01:00", Int64(1_793_602_800_123)),
        ("2026-11-02T13:30:00+05:30", Int64(1_793_606_400_000)),
        ("2026-11-02T00:00:00-08:00", Int64(1_793_606_400_000)),
        ("2024-02-29T12:00:00Z", Int64(1_709_208_000_000)),
        ("1970-01-01T00:00:00.5Z", Int64(500)),
        ("1970-01-01T00:00:00.05Z", Int64(50)),
        ("1970-01-01T00:00:01.123456789Z", Int64(1123)),
        ("1969-12-31T23:59:59.999Z", Int64(-1)),
        ("1969-12-31T00:00:00Z", Int64(-86_400_000)),
        ("2016-12-31T23:59:60Z", Int64(1_483_228_799_000)),
        ("2000-02-29T00:00:00Z", Int64(951_782_400_000)),
        ("2026-11-02t08:00:00z", Int64(1_793_606_400_000)),
        ("2026-11-02 08:00:00Z", Int64(1_793_606_400_000)),
    ])
    func parsesRFC3339(text: String, expected: Int64) {
        #expect(TimestampParser.parseRFC3339(text[...]) == expected)
        #expect(TimestampParser.parseAPITime(text) == expected)
    }

    @Test(arguments: [
        "", "2026-11-02", "2026-11-02T08:00:00", "2026-13-02T08:00:00Z", "2026-00-02T08:00:00Z",
        "2026-11-31T08:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-11-02T24:00:00Z",
        "2026-11-02T08:60:00Z", "2026-11-02T08:00:61Z", "2026-11-02T08:00:00.Z", "2026-11-02T08:00:00+0100",
        "2026-11-02T08:00:00+24:00", "2026-11-02T08:00:00Zjunk", "26-11-02T08:00:00Z", "2026-1-02T08:00:00Z",
        "2026-11-02X08:00:00Z", "２026-11-02T08:00:00Z",
    ])
    func rejectsMalformedRFC3339(text: String) {
        #expect(TimestampParser.parseRFC3339(text[...]) == nil)
    }

    @Test func parsesSubstringsInPlace() {
        let text = "ts=2024-02-29T12:00:00Z;"
        let start = text.index(text.startIndex, offsetBy: 3)
        let end = text.index(before: text.endIndex)
        #expect(TimestampParser.parseRFC3339(text[start..<end]) == 1_709_208_000_000)
    }

    @Test(arguments: [
        ("1762070400", Int64(1_762_070_400_000)),
        ("1762070400.5", Int64(1_762_070_400_500)),
        ("1762070400.123", Int64(1_762_070_400_123)),
        ("1762070400.1234", Int64(1_762_070_400_123)),
        ("1762070400.0005", Int64(1_762_070_400_001)),
        ("0", Int64(0)),
        ("-1.5", Int64(-1500)),
        ("+2", Int64(2000)),
        (".25", Int64(250)),
        ("1.7620704e9", Int64(1_762_070_400_000)),
        ("1E3", Int64(1_000_000)),
    ])
    func parsesAPITimeSeconds(text: String, expected: Int64) {
        #expect(TimestampParser.parseAPITime(text) == expected)
    }

    @Test(arguments: ["", "abc", "1762070400s", "1.2.3", "--1", "1e", "NaN", "Inf", "99999999999999999999", "1e300", " 1"])
    func rejectsBadAPITime(text: String) {
        #expect(TimestampParser.parseAPITime(text) == nil)
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (Int64(1_793_606_400_000), "2026-11-02T08:00:00.000Z"),
        (Int64(1_709_208_000_123), "2024-02-29T12:00:00.123Z"),
        (Int64(-1), "1969-12-31T23:59:59.999Z"),
        (Int64(951_782_400_000), "2000-02-29T00:00:00.000Z"),
        (Int64(253_402_300_799_999), "9999-12-31T23:59:59.999Z"),
        (Int64(-62_167_219_200_000), "0000-01-01T00:00:00.000Z"),
    ])
    func formats(ms: Int64, expected: String) {
        #expect(TimestampParser.formatRFC3339(ms) == expected)
        #expect(TimestampParser.parseRFC3339(expected[...]) == ms)
    }

    @Test func formatParseRoundTripAcrossYears0To9999() {
        var rng = SeededGenerator(seed: 7)
        let low: Int64 = -62_167_219_200_000  // 0000-01-01
        let high: Int64 = 253_402_300_799_999  // 9999-12-31T23:59:59.999
        for _ in 0..<20_000 {
            let ms = Int64.random(in: low...high, using: &rng)
            let text = TimestampParser.formatRFC3339(ms)
            #expect(TimestampParser.parseRFC3339(text[...]) == ms, "\(ms) -> \(text)")
        }
    }

}
