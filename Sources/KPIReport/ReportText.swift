import Foundation
import KPICore
import KPIQuery
import KPITemplates

/// Number and text formatting shared by the renderers.
enum ReportText {
    // MARK: Numbers for people

    /// A value for reading: grouped thousands, and fewer decimals the larger it is
    /// (`41,250`, `97.3`, `4.25`, `0.123`).
    static func number(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "∞" : "-∞") }
        let magnitude = abs(v)
        let decimals: Int
        if magnitude >= 1000 || v == v.rounded() && magnitude < 1e15 {
            decimals = 0
        } else if magnitude >= 100 {
            decimals = 1
        } else if magnitude >= 1 {
            decimals = 2
        } else {
            decimals = 3
        }
        var text = String(format: "%.\(decimals)f", v)
        if decimals > 0 {
            // 4.50 -> 4.5, 2.00 -> 2
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        if text == "-0" { text = "0" }
        return grouped(text)
    }

    /// Inserts `,` between groups of three digits of the integer part.
    static func grouped(_ text: String) -> String {
        var sign = ""
        var body = Substring(text)
        if body.hasPrefix("-") {
            sign = "-"
            body = body.dropFirst()
        }
        let integer = body.prefix { $0 != "." }
        let rest = body.dropFirst(integer.count)
        guard integer.count > 3 else { return text }
        var out = ""
        for (i, c) in integer.enumerated() {
            if i > 0 && (integer.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return sign + out + rest
    }

    /// A value with its unit (`97.3 %`, `$12,345`, `4.2 min`, `1,200 /h`).
    static func value(_ v: Double?, unit: String) -> String {
        guard let v else { return "–" }
        return withUnit(number(v), unit: unit)
    }

    static func withUnit(_ n: String, unit: String) -> String {
        switch unit {
        case "%": return n + " %"
        case "usd": return n.hasPrefix("-") ? "-$" + n.dropFirst() : "$" + n
        case "count", "ratio": return n
        case "per_hour": return n + " /h"
        case "per_day": return n + " /day"
        default: return n + " " + unit
        }
    }

    /// A signed change with its unit (`+1.2 min`, `-350`), or `–`.
    static func change(_ d: Double?, unit: String) -> String {
        guard let d else { return "–" }
        let n = number(d)
        let signed = d > 0 ? "+" + n : (n == "0" ? "±0" : n.replacingOccurrences(of: "-", with: "−"))
        return unit == "%" ? signed + " pp" : withUnit(signed, unit: unit)
    }

    /// A ratio as a signed percentage (`+12.5 %`), or an empty string.
    static func percent(_ r: Double?) -> String {
        guard let r, r.isFinite else { return "" }
        let p = r * 100
        let n = abs(p) >= 10 ? String(format: "%.0f", p) : String(format: "%.1f", p)
        if n == "0" || n == "0.0" || n == "-0" || n == "-0.0" { return "±0 %" }
        return (p > 0 ? "+" + n : n.replacingOccurrences(of: "-", with: "−")) + " %"
    }

    /// `Green`, `Amber`, `Red`, `Insufficient data`, `No data`.
    static func statusLabel(_ s: KPIStatus?) -> String {
        switch s {
        case .green?: return "Green"
        case .amber?: return "Amber"
        case .red?: return "Red"
        case .insufficient?: return "Insufficient data"
        case nil: return "No data"
        }
    }

    /// A symbol that tells the status apart without colour.
    static func statusSymbol(_ s: KPIStatus?) -> String {
        switch s {
        case .green?: return "✓"
        case .amber?: return "!"
        case .red?: return "✗"
        case .insufficient?: return "?"
        case nil: return "·"
        }
    }

    /// "Higher is better" / "Lower is better".
    static func directionText(_ d: KPIDirection) -> String {
        d == .higherIsBetter ? "higher is better" : "lower is better"
    }

    // MARK: Numbers for machines

    /// The shortest text that reads back as the same Double; integers without `.0`. nil for
    /// NaN and infinities (JSON and CSV consumers get null / an empty field).
    static func machine(_ v: Double) -> String? {
        guard v.isFinite else { return nil }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    // MARK: Escaping

    /// Text safe inside HTML elements and quoted attributes.
    static func html(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Text safe inside a Markdown table cell: `|` and backslashes escaped, HTML-significant
    /// characters as entities, line breaks as spaces.
    static func markdownCell(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "|": out += "\\|"
            case "\\": out += "\\\\"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "*", "_", "`", "[", "]": out += "\\" + String(c)
            case "\n", "\r", "\t": out += " "
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// An RFC 4180 field by `CSVCell`, formula-guarded (the review's CSV is for spreadsheets;
    /// its numbers are plain decimals and stay as they are).
    static func csvField(_ s: String) -> String { CSVCell.string(s, guarded: true) }

    /// JSON string literal (``JSONString``).
    static func json(_ s: String) -> String { JSONString.literal(s) }

    /// A length of time for people: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
    static func duration(_ ms: Int64) -> String {
        let s = max(0, ms / 1000)
        if s < 60 { return "\(s) s" }
        let m = s / 60
        if m < 60 { return "\(m) min" }
        let h = m / 60
        if h < 48 { return m % 60 == 0 ? "\(h) h" : "\(h) h \(m % 60) min" }
        return "\(h / 24) d \(h % 24) h"
    }

    /// A JSON number, or `null`.
    static func json(_ v: Double?) -> String {
        guard let v, let text = machine(v) else { return "null" }
        return text
    }

    // MARK: Sparklines as text

    /// One block character per week, scaled from the lowest to the highest value (`·` where a
    /// week has no value; a flat series is drawn at mid height).
    static func blocks(_ series: [Double?]) -> String {
        let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let present = series.compactMap { $0 }.filter(\.isFinite)
        guard let lo = present.min(), let hi = present.max() else {
            return String(repeating: "·", count: series.count)
        }
        var out = ""
        for v in series {
            guard let v, v.isFinite else {
                out.append("·")
                continue
            }
            if hi == lo {
                out.append(blocks[3])
            } else {
                let i = Int(((v - lo) / (hi - lo) * Double(blocks.count - 1)).rounded())
                out.append(blocks[min(max(i, 0), blocks.count - 1)])
            }
        }
        return out
    }

    /// The review's timestamp text in UTC (RFC 3339).
    static func utc(_ ms: Int64) -> String { TimestampLiteral.format(ms) }
}
