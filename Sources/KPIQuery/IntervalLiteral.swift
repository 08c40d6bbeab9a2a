import KPICore

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

    static let unitHint = "units are ms, s, m, h, d, w (or sec, min, hour, day, week)"

    /// The duration `text` in milliseconds (``DurationParser`` with the SQL syntax).
    public static func milliseconds(_ text: String) throws(SyntaxError) -> Int64 {
        let bytes = Array(text.utf8)
        do {
            return try DurationParser.scan(bytes, from: 0, syntax: .sql).milliseconds
        } catch {
            let at = error.offset
            switch error.kind {
            case .empty:
                throw SyntaxError(message: "empty interval", offset: 0, hint: "e.g. INTERVAL '7 days'")
            case .expectedNumber:
                let hint: String? = at < bytes.count && bytes[at] == UInt8(ascii: "-") ? "intervals cannot be negative" : nil
                throw SyntaxError(message: "expected a number in interval", offset: at, hint: hint)
            case .fractional:
                throw SyntaxError(
                    message: "fractional interval amounts are not supported", offset: at,
                    hint: "combine units instead, e.g. '1h30m'")
            case .missingUnit(let amount):
                throw SyntaxError(message: "missing unit after '\(amount)' in interval", offset: at, hint: unitHint)
            case .unknownUnit(let unit):
                throw SyntaxError(message: "unknown interval unit '\(unit)'", offset: at, hint: unitHint)
            case .unitOrder, .outOfRange:
                throw SyntaxError(message: "interval is too large", offset: at)
            }
        }
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
