/// Number and time formatting as Prometheus' query API writes them.
public enum PromQLFormat {
    /// A sample value as Prometheus' query API writes it: the shortest decimal that reads back
    /// as the same Double, in fixed notation (`0.00001`, `500000000000000000000`) unless its
    /// magnitude is below 1e-6 or at least 1e21, then in Go's exponent form (`2.5e-07`,
    /// `1e+21`); `NaN`, `+Inf`, `-Inf`.
    public static func value(_ v: Double) -> String {
        var out: [UInt8] = []
        appendValue(&out, v)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the `value(_:)` text to `out`.
    public static func appendValue(_ out: inout [UInt8], _ v: Double) {
        let magnitude = v.magnitude
        if v.isFinite && magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21) {
            appendExponent(&out, v)
        } else {
            appendFixed(&out, v)
        }
    }

    /// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an
    /// exponent (count_values' label values).
    public static func fixed(_ v: Double) -> String {
        var out: [UInt8] = []
        appendFixed(&out, v)
        return String(decoding: out, as: UTF8.self)
    }

    /// The shortest round-trip digits of a finite non-zero `v` (no leading or trailing zeros)
    /// and the decimal exponent: v = 0.d1d2d3... * 10^point.
    static func digits(_ v: Double) -> (digits: [UInt8], point: Int) {
        let text = Array(v.magnitude.description.utf8)
        var digits: [UInt8] = []
        var pointAt = -1
        var exponent = 0
        var i = 0
        while i < text.count {
            let c = text[i]
            if c == UInt8(ascii: ".") {
                pointAt = digits.count
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                exponent = Int(String(decoding: text[(i + 1)...], as: UTF8.self)) ?? 0
                break
            } else {
                digits.append(c)
            }
            i += 1
        }
        if pointAt < 0 { pointAt = digits.count }
        var point = pointAt + exponent
        while let first = digits.first, first == UInt8(ascii: "0") {
            digits.removeFirst()
            point -= 1
        }
        while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
        return (digits, point)
    }

    /// Go's `strconv.FormatFloat(v, 'e', -1, 64)`: `d.ddde±XX`, at least two exponent digits.
    static func appendExponent(_ out: inout [UInt8], _ v: Double) {
        let (digits, point) = Self.digits(v)
        if v < 0 { out.append(UInt8(ascii: "-")) }
        out.append(digits[0])
        if digits.count > 1 {
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: digits[1...])
        }
        let exponent = point - 1
        out.append(UInt8(ascii: "e"))
        out.append(exponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        if exponent.magnitude < 10 { out.append(UInt8(ascii: "0")) }
        out.append(contentsOf: String(exponent.magnitude).utf8)
    }

    static func appendFixed(_ out: inout [UInt8], _ v: Double) {
        if v.isNaN {
            out.append(contentsOf: "NaN".utf8)
            return
        }
        if v.isInfinite {
            out.append(contentsOf: (v < 0 ? "-Inf" : "+Inf").utf8)
            return
        }
        if v == v.rounded(.towardZero) && v.magnitude < 1e15 {
            if v == 0 {
                out.append(contentsOf: (v.sign == .minus ? "-0" : "0").utf8)
                return
            }
            let n = Int64(v)
            if n < 0 { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: String(n.magnitude).utf8)
            return
        }
        // Swift's description is the shortest round-trip text, possibly with an exponent;
        // rewrite it in fixed notation from its digits and decimal exponent.
        let (digits, decimalPoint) = Self.digits(v)
        let negative = v < 0
        if negative { out.append(UInt8(ascii: "-")) }
        if decimalPoint <= 0 {
            out.append(contentsOf: "0.".utf8)
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: -decimalPoint))
            out.append(contentsOf: digits)
        } else if decimalPoint >= digits.count {
            out.append(contentsOf: digits)
            out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: decimalPoint - digits.count))
        } else {
            out.append(contentsOf: digits[..<decimalPoint])
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: digits[decimalPoint...])
        }
    }

    /// A timestamp in milliseconds as Prometheus' API writes it: seconds, and when the
    /// milliseconds are not zero a three-digit fraction (`1700000000.120`).
    public static func appendTimestamp(_ out: inout [UInt8], _ ms: Int64) {
        var t = ms
        if t < 0 {
            out.append(UInt8(ascii: "-"))
            t = -t
        }
        out.append(contentsOf: String(t / 1000).utf8)
        let fraction = t % 1000
        if fraction != 0 {
            out.append(UInt8(ascii: "."))
            if fraction < 100 { out.append(UInt8(ascii: "0")) }
            if fraction < 10 { out.append(UInt8(ascii: "0")) }
            out.append(contentsOf: String(fraction).utf8)
        }
    }
}
