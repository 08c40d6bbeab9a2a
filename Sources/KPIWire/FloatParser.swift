/// Parses floating-point text the way Go's `strconv.ParseFloat` does for decimal input (which is
/// what Prometheus uses): optional sign, digits with an optional fraction, optional exponent,
/// plus the case-insensitive specials `NaN`, `Inf`, `+Inf`, `-Inf`, `Infinity`. Hex floats and
/// underscores are not accepted. Finite text whose value overflows a Double is rejected, as Go
/// reports `ErrRange` for it.
enum FloatParser {
    /// Exact powers of ten representable in a Double; the Clinger fast path multiplies or divides
    /// by one of these, a single correctly rounded operation.
    @usableFromInline
    static let exactPowersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// Parses `bytes[start..<end]`. Returns nil for anything Go would reject.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        guard start < end else { return nil }
        if let special = parseSpecial(bytes, start, end) { return special }
        guard isDecimal(bytes, start, end, allowLeadingPlus: true) else { return nil }
        return convertDecimal(bytes, start, end)
    }

    /// `NaN`, `[+-]Inf`, `[+-]Infinity`, case-insensitive.
    static func parseSpecial(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        var i = start
        var negative = false
        let first = bytes[i]
        if first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            negative = first == UInt8(ascii: "-")
            i += 1
        }
        let n = end - i
        guard n == 3 || n == 8 else { return nil }
        if n == 3 && i == start && matchesLower(bytes, i, "nan") { return .nan }
        if n == 3 && matchesLower(bytes, i, "inf") { return negative ? -.infinity : .infinity }
        if n == 8 && matchesLower(bytes, i, "infinity") { return negative ? -.infinity : .infinity }
        return nil
    }

    private static func matchesLower(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int, _ word: StaticString) -> Bool {
        let p = word.utf8Start
        for k in 0..<word.utf8CodeUnitCount where bytes[i + k] | 0x20 != p[k] {
            return false
        }
        return true
    }

    /// Checks the decimal grammar: `[+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?`.
    static func isDecimal(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, allowLeadingPlus: Bool) -> Bool {
        var i = start
        if i < end && (bytes[i] == UInt8(ascii: "-") || (allowLeadingPlus && bytes[i] == UInt8(ascii: "+"))) { i += 1 }
        var digits = 0
        while i < end && isDigit(bytes[i]) { i += 1; digits += 1 }
        if i < end && bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < end && isDigit(bytes[i]) { i += 1; digits += 1 }
        }
        guard digits > 0 else { return false }
        if i < end && (bytes[i] | 0x20) == UInt8(ascii: "e") {
            i += 1
            if i < end && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { i += 1 }
            var expDigits = 0
            while i < end && isDigit(bytes[i]) { i += 1; expDigits += 1 }
            guard expDigits > 0 else { return false }
        }
        return i == end
    }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

    /// Converts text already known to match the decimal grammar. Exact: the fast path is
    /// Clinger's (mantissa and power of ten both exact, one rounding), everything else goes to
    /// the standard library's correctly rounded conversion.
    static func convertDecimal(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        var i = start
        var negative = false
        if bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 } else if bytes[i] == UInt8(ascii: "+") { i += 1 }
        var mantissa: UInt64 = 0
        var significant = 0  // digits accumulated after leading zeros
        var exponent = 0
        var overflowDigits = false
        var sawDot = false
        while i < end {
            let b = bytes[i]
            if isDigit(b) {
                let d = UInt64(b &- UInt8(ascii: "0"))
                if significant < 19 {
                    mantissa = mantissa &* 10 &+ d
                    if mantissa != 0 { significant += 1 }
                    if sawDot { exponent -= 1 }
                } else {
                    if d != 0 { overflowDigits = true }
                    if !sawDot { exponent += 1 }
                }
            } else if b == UInt8(ascii: ".") {
                sawDot = true
            } else {
                break
            }
            i += 1
        }
        if i < end {
            // Exponent part: saturate so absurd exponents stay in Int range.
            i += 1
            var expNegative = false
            if bytes[i] == UInt8(ascii: "-") { expNegative = true; i += 1 } else if bytes[i] == UInt8(ascii: "+") { i += 1 }
            var e = 0
            while i < end {
                if e < 100_000_000 { e = e * 10 + Int(bytes[i] &- UInt8(ascii: "0")) }
                i += 1
            }
            exponent += expNegative ? -e : e
        }
        if mantissa == 0 && !overflowDigits { return negative ? -0.0 : 0.0 }
        if !overflowDigits && mantissa <= (1 << 53) && exponent >= -22 && exponent <= 22 {
            var value = Double(mantissa)
            if exponent >= 0 { value *= exactPowersOfTen[exponent] } else { value /= exactPowersOfTen[-exponent] }
            return negative ? -value : value
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }
}

/// Strict UTF-8 validation (no overlong forms, no surrogates, nothing above U+10FFFF).
enum UTF8Validator {
    /// Returns the index of the first byte of an invalid sequence, or nil when valid.
    static func firstInvalid(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        var i = start
        while i < end {
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            guard let length = sequenceLength(bytes, i, end) else { return i }
            i += length
        }
        return nil
    }

    /// Length of the valid multi-byte sequence starting at `i` (whose first byte is >= 0x80).
    @inline(__always)
    static func sequenceLength(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int? {
        let b0 = bytes[i]
        @inline(__always) func cont(_ k: Int) -> Bool { i + k < end && bytes[i + k] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2...0xDF:
            return cont(1) ? 2 : nil
        case 0xE0...0xEF:
            guard cont(1), cont(2) else { return nil }
            let b1 = bytes[i + 1]
            if b0 == 0xE0 && b1 < 0xA0 { return nil }  // overlong
            if b0 == 0xED && b1 > 0x9F { return nil }  // UTF-16 surrogate
            return 3
        case 0xF0...0xF4:
            guard cont(1), cont(2), cont(3) else { return nil }
            let b1 = bytes[i + 1]
            if b0 == 0xF0 && b1 < 0x90 { return nil }  // overlong
            if b0 == 0xF4 && b1 > 0x8F { return nil }  // above U+10FFFF
            return 4
        default:
            return nil
        }
    }
}

/// Helpers shared by the decoders.
enum DecodeSupport {
    /// Equal byte ranges within one buffer (used to recognise a series seen on the previous line).
    @inline(__always)
    static func rangesEqual(_ bytes: UnsafeBufferPointer<UInt8>, _ a: Range<Int>, _ b: Range<Int>) -> Bool {
        if a.count != b.count { return false }
        if a.lowerBound == b.lowerBound { return true }
        guard let base = bytes.baseAddress else { return true }
        return memcmpBytes(base + a.lowerBound, base + b.lowerBound, a.count)
    }

    @inline(__always)
    static func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        var k = 0
        // Word-at-a-time compare; the loads are unaligned-safe.
        while k + 8 <= n {
            if UnsafeRawPointer(a + k).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(b + k).loadUnaligned(as: UInt64.self) {
                return false
            }
            k += 8
        }
        while k < n {
            if a[k] != b[k] { return false }
            k += 1
        }
        return true
    }

    static func string(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// Parses an optionally signed decimal integer; nil on overflow or any other byte.
    static func parseInt64(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        var i = start
        var negative = false
        if i < end && (bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+")) {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < end else { return nil }
        // Accumulate negatively so Int64.min parses.
        var value: Int64 = 0
        while i < end {
            let d = bytes[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.subtractingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            value = s
            i += 1
        }
        if negative { return value }
        return value == .min ? nil : -value
    }

    /// A sample value: a Go float (`1.5`, `1e3`, `NaN`, `+Inf`, ...).
    static func parseValue(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        FloatParser.parse(bytes, start, end)
    }

    /// A timestamp column or field: integer milliseconds or RFC 3339.
    static func parseTimestamp(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        if let ms = parseInt64(bytes, start, end) { return ms }
        return TimestampParser.parseRFC3339(bytes, start, end)
    }

    /// Shortens text quoted in error messages so a huge bad token cannot blow up the response.
    static func excerpt(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, limit: Int = 40) -> String {
        let stop = min(end, start + limit)
        var text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<stop]), as: UTF8.self)
        if stop < end { text += "…" }
        return text
    }
}
