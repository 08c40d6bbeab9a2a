import Foundation

/// Numbers as Prometheus' alert templates print them (Go's `fmt` and Prometheus' `humanize`
/// family), so an annotation reads the same from kpid as from Prometheus.
public enum GoFormat {
    /// Go's `%v` of a float64 (`strconv.FormatFloat(v, 'g', -1, 64)`): the shortest digits that
    /// read back the same, in exponent form below 1e-4 and from 1e6 (`1e+06`, `123456`).
    public static func float(_ v: Double) -> String {
        if let text = special(v) { return text }
        if v == 0 { return v.sign == .minus ? "-0" : "0" }
        let (negative, digits, point) = shortestDigits(v)
        let exponent = point - 1
        var out = negative ? "-" : ""
        if exponent < -4 || exponent >= 6 {
            out += String(digits.first!)
            if digits.count > 1 { out += "." + digits.dropFirst() }
            out += "e" + (exponent < 0 ? "-" : "+")
            let e = abs(exponent)
            out += e < 10 ? "0\(e)" : "\(e)"
        } else if point <= 0 {
            out += "0." + String(repeating: "0", count: -point) + digits
        } else if point >= digits.count {
            out += digits + String(repeating: "0", count: point - digits.count)
        } else {
            let cut = digits.index(digits.startIndex, offsetBy: point)
            out += digits[..<cut] + "." + digits[cut...]
        }
        return out
    }

    /// The shortest round-trip digits of `v` (no leading or trailing zeros) and where the
    /// decimal point goes: `v = 0.digits × 10^point`.
    static func shortestDigits(_ v: Double) -> (negative: Bool, digits: String, point: Int) {
        // Swift's description is the shortest round-trip form: "1e-05", "123.45", "1.5e+20".
        var text = "\(abs(v))"
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        var integer = text
        var fraction = ""
        if let dot = text.firstIndex(of: ".") {
            integer = String(text[..<dot])
            fraction = String(text[text.index(after: dot)...])
        }
        var digits = integer + fraction
        var point = integer.count + exponent
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            point -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        return (v < 0, digits, point)
    }

    /// C's and Go's `%.4g` (the two agree for a given precision).
    static func g4(_ v: Double) -> String {
        special(v) ?? String(format: "%.4g", v)
    }

    /// How Go prints NaN and the infinities; nil for a finite number.
    static func special(_ v: Double) -> String? {
        v.isNaN ? "NaN" : v.isInfinite ? (v > 0 ? "+Inf" : "-Inf") : nil
    }

    /// Prometheus' `humanize`: SI prefixes, four significant digits (`1.235k`, `12.5m`).
    public static func humanize(_ value: Double) -> String {
        var v = value
        if v == 0 || v.isNaN || v.isInfinite { return g4(v) }
        if abs(v) >= 1 {
            var prefix = ""
            for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
                if abs(v) < 1000 { break }
                prefix = p
                v /= 1000
            }
            return g4(v) + prefix
        }
        return subUnit(v)
    }

    /// A magnitude below 1 with its SI prefix (`12.5m`, `250u`), as `humanize` and
    /// `humanizeDuration` write it.
    static func subUnit(_ value: Double) -> String {
        var v = value
        var prefix = ""
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if abs(v) >= 1 { break }
            prefix = p
            v *= 1000
        }
        return g4(v) + prefix
    }

    /// Prometheus' `humanize1024`: binary prefixes (`1ki`, `1.5Mi`).
    public static func humanize1024(_ value: Double) -> String {
        var v = value
        if abs(v) <= 1 || v.isNaN || v.isInfinite { return g4(v) }
        var prefix = ""
        for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
            if abs(v) < 1024 { break }
            prefix = p
            v /= 1024
        }
        return g4(v) + prefix
    }

    /// Prometheus' `humanizeDuration` of seconds: `1d 2h 3m 4s`, `1.5s`, `500ms`.
    public static func humanizeDuration(_ value: Double) -> String {
        var v = value
        if v.isNaN || v.isInfinite { return g4(v) }
        if v == 0 { return g4(v) + "s" }
        if abs(v) >= 1 {
            var sign = ""
            if v < 0 {
                sign = "-"
                v = -v
            }
            let duration = Int64(min(v, 9.2e18))
            let seconds = duration % 60
            let minutes = (duration / 60) % 60
            let hours = (duration / 3600) % 24
            let days = duration / 86_400
            if days != 0 { return "\(sign)\(days)d \(hours)h \(minutes)m \(seconds)s" }
            if hours != 0 { return "\(sign)\(hours)h \(minutes)m \(seconds)s" }
            if minutes != 0 { return "\(sign)\(minutes)m \(seconds)s" }
            return sign + g4(v) + "s"
        }
        return subUnit(v) + "s"
    }

    /// Prometheus' `humanizePercentage`: a ratio as a percentage (`0.256` → `25.6%`).
    public static func humanizePercentage(_ v: Double) -> String { g4(v * 100) + "%" }

    /// Prometheus' `humanizeTimestamp`: Unix seconds as a UTC time (`2026-12-07 10:00:00 +0000 UTC`).
    public static func humanizeTimestamp(_ v: Double) -> String {
        // Beyond ±1e15 s (30 million years) there is no calendar date to print.
        if v.isNaN || v.isInfinite || abs(v) > 1e15 { return g4(v) }
        let seconds = v.rounded(.down)
        let nanos = Int64(((v - seconds) * 1e9).rounded())
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var text = String(
            format: "%04d-%02d-%02d %02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        if nanos > 0 {
            var fraction = String(format: "%09lld", nanos)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + " +0000 UTC"
    }
}

extension GoFormat {
    /// Go's `strconv.FormatFloat(v, 'e', -1, 64)`, as Prometheus' alert API writes `value`:
    /// the shortest digits in exponent form (`1e+00`, `2.5e-01`).
    public static func exponent(_ v: Double) -> String {
        if let text = special(v) { return text }
        if v == 0 { return v.sign == .minus ? "-0e+00" : "0e+00" }
        let (negative, digits, point) = shortestDigits(v)
        let e = point - 1
        var out = negative ? "-" : ""
        out += String(digits.first!)
        if digits.count > 1 { out += "." + digits.dropFirst() }
        out += "e" + (e < 0 ? "-" : "+") + (abs(e) < 10 ? "0\(abs(e))" : "\(abs(e))")
        return out
    }
}
