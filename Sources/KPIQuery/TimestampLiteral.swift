import KPICore

/// Parses RFC 3339 timestamps of `TIMESTAMP '...'` into Unix milliseconds, and formats them
/// back. Done by hand (proleptic Gregorian day arithmetic) rather than with a date formatter:
/// it is exact, locale-free and cheap.
///
/// Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)` (`T` may be `t` or a space),
/// or a bare date `YYYY-MM-DD` meaning midnight UTC. Fractions beyond milliseconds are
/// truncated.
public enum TimestampLiteral {
    /// Why a timestamp string was rejected.
    public struct SyntaxError: Error, Sendable, Equatable {
        public var message: String
    }

    /// Unix milliseconds of the RFC 3339 timestamp `text`.
    public static func milliseconds(_ text: String) throws(SyntaxError) -> Int64 {
        let b = Array(text.utf8)
        var i = 0
        func fail(_ why: String) -> SyntaxError {
            SyntaxError(message: "invalid timestamp '\(text)': \(why)")
        }
        func digits(_ count: Int, _ what: String) throws(SyntaxError) -> Int64 {
            guard i + count <= b.count else { throw fail("expected \(what)") }
            var value: Int64 = 0
            for k in i..<(i + count) {
                guard Lexer.isDigit(b[k]) else { throw fail("expected \(what)") }
                value = value * 10 + Int64(b[k] - 0x30)
            }
            i += count
            return value
        }
        func literal(_ c: Character, _ what: String) throws(SyntaxError) {
            guard i < b.count, b[i] == c.asciiValue! else { throw fail("expected \(what)") }
            i += 1
        }

        let year = try digits(4, "4-digit year")
        try literal("-", "'-' after year")
        let month = try digits(2, "2-digit month")
        try literal("-", "'-' after month")
        let day = try digits(2, "2-digit day")
        guard (1...12).contains(month) else { throw fail("month \(month) out of range") }
        guard day >= 1, day <= CivilCalendar.daysInMonth(year: year, month: Int(month)) else {
            throw fail("day \(day) out of range")
        }
        let days = CivilCalendar.days(year: year, month: Int(month), day: Int(day))
        if i == b.count { return days * 86_400_000 }

        guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else {
            throw fail("expected 'T' between date and time")
        }
        i += 1
        let hour = try digits(2, "2-digit hour")
        try literal(":", "':' after hour")
        let minute = try digits(2, "2-digit minute")
        try literal(":", "':' after minute")
        let second = try digits(2, "2-digit second")
        guard hour <= 23 else { throw fail("hour \(hour) out of range") }
        guard minute <= 59 else { throw fail("minute \(minute) out of range") }
        guard second <= 59 else { throw fail("second \(second) out of range") }
        var millis: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var count = 0
            while i < b.count, Lexer.isDigit(b[i]) {
                if count < 3 { millis = millis * 10 + Int64(b[i] - 0x30) }
                count += 1
                i += 1
            }
            guard count > 0 else { throw fail("expected digits after '.'") }
            for _ in count..<max(count, 3) { millis *= 10 }
        }
        guard i < b.count else { throw fail("missing time zone (Z or +HH:MM)") }
        var offsetMinutes: Int64 = 0
        switch b[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            let offsetHours = try digits(2, "2-digit offset hours")
            try literal(":", "':' in time zone offset")
            let offsetMins = try digits(2, "2-digit offset minutes")
            guard offsetHours <= 23, offsetMins <= 59 else { throw fail("time zone offset out of range") }
            offsetMinutes = sign * (offsetHours * 60 + offsetMins)
        default:
            throw fail("missing time zone (Z or +HH:MM)")
        }
        guard i == b.count else { throw fail("unexpected text after time zone") }
        let local = days * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1_000 + millis
        return local - offsetMinutes * 60_000
    }

    /// The UTC RFC 3339 spelling of `milliseconds`, with a `.mmm` fraction only when needed.
    public static func format(_ milliseconds: Int64) -> String {
        let msPerDay: Int64 = 86_400_000
        var days = milliseconds / msPerDay
        var rest = milliseconds % msPerDay
        if rest < 0 {
            days -= 1
            rest += msPerDay
        }
        let (year, month, day) = CivilCalendar.date(fromDays: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        var text = "\(pad(year, 4))-\(pad(Int64(month), 2))-\(pad(Int64(day), 2))T"
        text += "\(pad(rest / 3_600_000, 2)):\(pad(rest / 60_000 % 60, 2)):\(pad(rest / 1_000 % 60, 2))"
        if rest % 1_000 != 0 { text += ".\(pad(rest % 1_000, 3))" }
        return text + "Z"
    }
}
