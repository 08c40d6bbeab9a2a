/// Formats Doubles as the shortest text that parses back to the identical value, in a form Go's
/// `strconv.ParseFloat`, JSON and this module's decoders all accept.
///
/// Integral values below 1e15 are written as plain integers (`3`, `-12`, `1762070400000`)
/// without touching `String`; everything else uses Swift's shortest-round-trip `description`
/// (`0.1`, `1e-05`, `5e+20`, `1.7976931348623157e+308`), minus a redundant `.0` suffix.
/// Specials are `NaN`, `+Inf`, `-Inf` (Prometheus' spelling); JSON callers must quote them.
public enum DoubleFormatter {
    /// Appends `value` to `out`.
    public static func append(_ out: inout [UInt8], _ value: Double) {
        if value.isNaN {
            appendASCII(&out, "NaN")
            return
        }
        if value.isInfinite {
            appendASCII(&out, value < 0 ? "-Inf" : "+Inf")
            return
        }
        if value.magnitude < 1e15, value == value.rounded(.towardZero) {
            if value == 0 && value.sign == .minus {
                appendASCII(&out, "-0")
                return
            }
            appendInteger(&out, Int64(value))
            return
        }
        let text = value.description
        var utf8 = text.utf8[...]
        // Swift writes "2.5e+15" style or "1234567890123456.0"; drop the ".0" of the latter.
        if utf8.count > 2, utf8.last == UInt8(ascii: "0"),
           utf8[utf8.index(utf8.endIndex, offsetBy: -2)] == UInt8(ascii: ".") {
            utf8 = utf8.dropLast(2)
        }
        out.append(contentsOf: utf8)
    }

    /// Appends the decimal digits of `value`.
    public static func appendInteger(_ out: inout [UInt8], _ value: Int64) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var v = value.magnitude
        if v < 10 {
            out.append(UInt8(ascii: "0") + UInt8(v))
            return
        }
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes >= 20 digits
        withUnsafeMutableBytes(of: &buffer) { raw in
            var n = 24
            while v > 0 {
                n -= 1
                raw[n] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[n..<24]))
        }
    }

    /// The formatted text as a String (for tests and non-hot paths).
    public static func string(_ value: Double) -> String {
        var out: [UInt8] = []
        append(&out, value)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func appendASCII(_ out: inout [UInt8], _ text: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }
}
