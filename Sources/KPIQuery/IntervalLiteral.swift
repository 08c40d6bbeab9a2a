/// Parses the duration strings of `INTERVAL '...'` into milliseconds at parse time, so the
/// AST holds plain numbers and a bad duration is reported with the query's other syntax errors.
///
/// Accepted: one or more `<integer><unit>` parts, optionally separated by spaces, e.g.
/// `7 days`, `1h30m`, `90 seconds`, `1 hour 15 min`. Units (any letter case): `ms`,
/// `s`/`sec`/`second(s)`, `m`/`min`/`minute(s)`, `h`/`hour(s)`, `d`/`day(s)`, `w`/`week(s)`.
public enum IntervalLiteral {
    /// A failure inside the duration text; `offset` is the UTF-8 byte offset into it.
    public struct SyntaxError: Error, Sendable, Equatable {
        public var message: String
        public var offset: Int
        public var hint: String?
    }

    static let unitMilliseconds: [String: Int64] = {
        var table: [String: Int64] = [:]
        let units: [(Int64, [String])] = [
            (1, ["ms", "msec", "msecs", "millisecond", "milliseconds"]),
            (1_000, ["s", "sec", "secs", "second", "seconds"]),
            (60_000, ["m", "min", "mins", "minute", "minutes"]),
            (3_600_000, ["h", "hr", "hrs", "hour", "hours"]),
            (86_400_000, ["d", "day", "days"]),
            (604_800_000, ["w", "week", "weeks"]),
        ]
        for (ms, names) in units {
            for name in names { table[name] = ms }
        }
        return table
    }()

    static let unitHint = "units are ms, s, m, h, d, w (or sec, min, hour, day, week)"

    /// The duration `text` in milliseconds.
    public static func milliseconds(_ text: String) throws(SyntaxError) -> Int64 {
        let bytes = Array(text.utf8)
        var i = 0
        var total: Int64 = 0
        var parts = 0
        func skipSpaces() {
            while i < bytes.count, bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\t") {
                i += 1
            }
        }
        skipSpaces()
        while i < bytes.count {
            let numberStart = i
            var amount: Int64 = 0
            while i < bytes.count, Lexer.isDigit(bytes[i]) {
                let (scaled, o1) = amount.multipliedReportingOverflow(by: 10)
                let (sum, o2) = scaled.addingReportingOverflow(Int64(bytes[i] - 0x30))
                if o1 || o2 {
                    throw SyntaxError(message: "interval is too large", offset: numberStart)
                }
                amount = sum
                i += 1
            }
            if i == numberStart {
                let hint: String? = bytes[i] == UInt8(ascii: "-") ? "intervals cannot be negative" : nil
                throw SyntaxError(message: "expected a number in interval", offset: i, hint: hint)
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                throw SyntaxError(
                    message: "fractional interval amounts are not supported", offset: i,
                    hint: "combine units instead, e.g. '1h30m'")
            }
            skipSpaces()
            let unitStart = i
            while i < bytes.count, Lexer.isIdentifierStart(bytes[i]) { i += 1 }
            let unit = String(decoding: bytes[unitStart..<i], as: UTF8.self)
            if unit.isEmpty {
                throw SyntaxError(
                    message: "missing unit after '\(amount)' in interval", offset: unitStart,
                    hint: unitHint)
            }
            guard let scale = unitMilliseconds[unit.lowercased()] else {
                throw SyntaxError(
                    message: "unknown interval unit '\(unit)'", offset: unitStart, hint: unitHint)
            }
            let (part, o1) = amount.multipliedReportingOverflow(by: scale)
            let (sum, o2) = total.addingReportingOverflow(part)
            if o1 || o2 { throw SyntaxError(message: "interval is too large", offset: numberStart) }
            total = sum
            parts += 1
            skipSpaces()
        }
        if parts == 0 {
            throw SyntaxError(message: "empty interval", offset: 0, hint: "e.g. INTERVAL '7 days'")
        }
        return total
    }

    /// The canonical spelling of `milliseconds`, e.g. `1d2h30m` or `0s`; parses back to the
    /// same value. Weeks are not used so the text reads naturally for dashboards (`14d`).
    public static func format(_ milliseconds: Int64) -> String {
        if milliseconds == 0 { return "0s" }
        var rest = milliseconds
        var text = ""
        for (name, scale) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
            let amount = rest / scale
            if amount > 0 {
                text += "\(amount)\(name)"
                rest -= amount * scale
            }
        }
        return text
    }
}
