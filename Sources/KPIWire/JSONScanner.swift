/// A JSON syntax problem; `position` is the byte offset in the scanned buffer.
/// The decoders also use it for type errors found mid-scan (`isSyntax == false`), which name a
/// field instead of a column.
struct JSONSyntaxError: Error {
    var position: Int
    var reason: String
    var isSyntax = true
    var field: String? = nil

    static func typeError(field: String?, _ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(position: -1, reason: reason, isSyntax: false, field: field)
    }
}

/// A scanned JSON string: the raw bytes between the quotes, already checked for valid escapes,
/// valid UTF-8 and no raw control characters.
struct JSONStringToken {
    var start: Int
    var end: Int
    /// False when the raw bytes are the decoded string, the common case.
    var hasEscapes: Bool

    var range: Range<Int> { start..<end }
}

/// A forward-only JSON tokenizer over one line of bytes. It validates as it goes and never
/// builds a String unless asked (`decode`), so the decoders can compare raw bytes first.
struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var pos: Int
    let end: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>, start: Int, end: Int) {
        self.bytes = bytes
        self.pos = start
        self.end = end
    }

    @inline(__always)
    func error(_ reason: String) -> JSONSyntaxError { JSONSyntaxError(position: pos, reason: reason) }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            let b = bytes[pos]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            pos += 1
        }
    }

    /// The next byte after whitespace, or nil at the end.
    @inline(__always)
    mutating func peek() -> UInt8? {
        skipWhitespace()
        return pos < end ? bytes[pos] : nil
    }

    /// Consumes `byte` (after whitespace) or throws naming what was expected.
    @inline(__always)
    mutating func expect(_ byte: UInt8, _ what: StaticString) throws(JSONSyntaxError) {
        skipWhitespace()
        guard pos < end else { throw error("unexpected end of line, expected \(what)") }
        guard bytes[pos] == byte else { throw error("expected \(what), found \(describe(bytes[pos]))") }
        pos += 1
    }

    func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16, uppercase: true)
    }

    /// Scans a string starting at the opening quote (at `pos`).
    mutating func scanString() throws(JSONSyntaxError) -> JSONStringToken {
        pos += 1
        let start = pos
        var escapes = false
        while true {
            guard pos < end else { throw error("unterminated string") }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { break }
            if b == UInt8(ascii: "\\") {
                escapes = true
                try scanEscape()
            } else if b < 0x20 {
                throw error("unescaped control character in string")
            } else if b < 0x80 {
                pos += 1
            } else {
                guard let length = UTF8Validator.sequenceLength(bytes, pos, end) else { throw error("invalid UTF-8") }
                pos += length
            }
        }
        let token = JSONStringToken(start: start, end: pos, hasEscapes: escapes)
        pos += 1
        return token
    }

    private mutating func scanEscape() throws(JSONSyntaxError) {
        pos += 1
        guard pos < end else { throw error("unterminated string") }
        switch bytes[pos] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            pos += 1
        case UInt8(ascii: "u"):
            let unit = try hex4(at: pos + 1)
            pos += 5
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard pos + 1 < end, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                    throw error("unpaired UTF-16 surrogate in \\u escape")
                }
                let low = try hex4(at: pos + 2)
                guard low >= 0xDC00 && low <= 0xDFFF else { throw error("unpaired UTF-16 surrogate in \\u escape") }
                pos += 6
            } else if unit >= 0xDC00 && unit <= 0xDFFF {
                throw error("unpaired UTF-16 surrogate in \\u escape")
            }
        default:
            throw error("invalid escape \\\(describe(bytes[pos]))")
        }
    }

    private func hex4(at i: Int) throws(JSONSyntaxError) -> UInt32 {
        guard i + 4 <= end else { throw JSONSyntaxError(position: i, reason: "truncated \\u escape") }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = bytes[i + k]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw JSONSyntaxError(position: i + k, reason: "invalid hex digit in \\u escape")
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    /// Scans a number starting at `pos` per the JSON grammar; returns its byte range.
    mutating func scanNumber() throws(JSONSyntaxError) -> Range<Int> {
        let start = pos
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < end, FloatParser.isDigit(bytes[pos]) else { throw error("invalid number") }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if pos < end && FloatParser.isDigit(bytes[pos]) { throw error("invalid number: leading zero") }
        } else {
            while pos < end && FloatParser.isDigit(bytes[pos]) { pos += 1 }
        }
        if pos < end && bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard pos < end, FloatParser.isDigit(bytes[pos]) else { throw error("invalid number: no digits after '.'") }
            while pos < end && FloatParser.isDigit(bytes[pos]) { pos += 1 }
        }
        if pos < end && bytes[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            if pos < end && (bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-")) { pos += 1 }
            guard pos < end, FloatParser.isDigit(bytes[pos]) else { throw error("invalid number: no digits in exponent") }
            while pos < end && FloatParser.isDigit(bytes[pos]) { pos += 1 }
        }
        return start..<pos
    }

    /// Consumes `true`, `false` or `null` at `pos`.
    mutating func scanLiteral() throws(JSONSyntaxError) -> UInt8 {
        let first = bytes[pos]
        let word: StaticString
        switch first {
        case UInt8(ascii: "t"): word = "true"
        case UInt8(ascii: "f"): word = "false"
        case UInt8(ascii: "n"): word = "null"
        default: throw error("unexpected \(describe(first))")
        }
        let n = word.utf8CodeUnitCount
        guard pos + n <= end else { throw error("invalid literal") }
        for k in 0..<n where bytes[pos + k] != word.utf8Start[k] { throw error("invalid literal") }
        pos += n
        return first
    }

    /// Skips any value (used only on error paths and for non-string label values).
    mutating func skipValue(depth: Int = 0) throws(JSONSyntaxError) {
        guard depth < 64 else { throw error("nesting too deep") }
        guard let b = peek() else { throw error("unexpected end of line, expected a value") }
        switch b {
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "{"):
            pos += 1
            if peek() == UInt8(ascii: "}") { pos += 1; return }
            while true {
                guard peek() == UInt8(ascii: "\"") else { throw error("expected a string key") }
                _ = try scanString()
                try expect(UInt8(ascii: ":"), "':'")
                try skipValue(depth: depth + 1)
                guard let c = peek() else { throw error("unexpected end of line, expected ',' or '}'") }
                pos += 1
                if c == UInt8(ascii: "}") { return }
                if c != UInt8(ascii: ",") { pos -= 1; throw error("expected ',' or '}', found \(describe(c))") }
            }
        case UInt8(ascii: "["):
            pos += 1
            if peek() == UInt8(ascii: "]") { pos += 1; return }
            while true {
                try skipValue(depth: depth + 1)
                guard let c = peek() else { throw error("unexpected end of line, expected ',' or ']'") }
                pos += 1
                if c == UInt8(ascii: "]") { return }
                if c != UInt8(ascii: ",") { pos -= 1; throw error("expected ',' or ']', found \(describe(c))") }
            }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try scanNumber()
        default:
            _ = try scanLiteral()
        }
    }

    // MARK: Decoding tokens

    /// Compares a token with an ASCII literal without decoding (escaped tokens are decoded).
    func equals(_ token: JSONStringToken, _ literal: StaticString) -> Bool {
        if token.hasEscapes {
            var scratch: [UInt8] = []
            unescape(token, into: &scratch)
            return scratch.elementsEqual(UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
        }
        let n = literal.utf8CodeUnitCount
        guard token.end - token.start == n, let base = bytes.baseAddress else { return false }
        return DecodeSupport.memcmpBytes(base + token.start, literal.utf8Start, n)
    }

    /// The decoded string. `scratch` is reused to avoid an allocation per escaped token.
    func decode(_ token: JSONStringToken, scratch: inout [UInt8]) -> String {
        if !token.hasEscapes { return DecodeSupport.string(bytes, token.start, token.end) }
        scratch.removeAll(keepingCapacity: true)
        unescape(token, into: &scratch)
        return String(decoding: scratch, as: UTF8.self)
    }

    /// Appends the decoded bytes of a token already validated by `scanString`.
    func unescape(_ token: JSONStringToken, into out: inout [UInt8]) {
        var i = token.start
        while i < token.end {
            let b = bytes[i]
            if b != UInt8(ascii: "\\") {
                out.append(b)
                i += 1
                continue
            }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = (try? hex4(at: i)) ?? 0xFFFD
                i += 4
                if scalar >= 0xD800 && scalar <= 0xDBFF {
                    let low = (try? hex4(at: i + 2)) ?? 0xDC00
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                appendUTF8(&out, scalar)
            default: out.append(e)  // " \ /
            }
        }
    }

    private func appendUTF8(_ out: inout [UInt8], _ v: UInt32) {
        switch v {
        case 0..<0x80:
            out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | v >> 6))
            out.append(UInt8(0x80 | v & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | v >> 12))
            out.append(UInt8(0x80 | v >> 6 & 0x3F))
            out.append(UInt8(0x80 | v & 0x3F))
        default:
            out.append(UInt8(0xF0 | v >> 18))
            out.append(UInt8(0x80 | v >> 12 & 0x3F))
            out.append(UInt8(0x80 | v >> 6 & 0x3F))
            out.append(UInt8(0x80 | v & 0x3F))
        }
    }

    /// A JSON number that must be a whole number of milliseconds (`1762070400000`, also
    /// `1.7620704e12`). Exact: digits are shifted by the exponent, no floating point.
    func integerValue(_ range: Range<Int>) -> Result<Int64, IntegerProblem> {
        if let v = DecodeSupport.parseInt64(bytes, range.lowerBound, range.upperBound) { return .success(v) }
        var i = range.lowerBound
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        // Significant digits: integer part then fraction part.
        let intStart = i
        while i < range.upperBound && FloatParser.isDigit(bytes[i]) { i += 1 }
        let intEnd = i
        var fracStart = i
        var fracEnd = i
        if i < range.upperBound && bytes[i] == UInt8(ascii: ".") {
            i += 1
            fracStart = i
            while i < range.upperBound && FloatParser.isDigit(bytes[i]) { i += 1 }
            fracEnd = i
        }
        var exponent = 0
        if i < range.upperBound {
            i += 1
            var expNegative = false
            if bytes[i] == UInt8(ascii: "-") { expNegative = true; i += 1 } else if bytes[i] == UInt8(ascii: "+") { i += 1 }
            while i < range.upperBound {
                if exponent < 10_000 { exponent = exponent * 10 + Int(bytes[i] - UInt8(ascii: "0")) }
                i += 1
            }
            if expNegative { exponent = -exponent }
        }
        // Drop trailing zeros of the digit sequence, each one raising the exponent.
        exponent -= fracEnd - fracStart
        var lastEnd = fracEnd  // exclusive end in the concatenated sequence, walking back
        var inFraction = fracEnd > fracStart
        while true {
            if inFraction {
                if lastEnd > fracStart && bytes[lastEnd - 1] == UInt8(ascii: "0") {
                    lastEnd -= 1
                    exponent += 1
                    continue
                }
                if lastEnd == fracStart { inFraction = false; lastEnd = intEnd; continue }
                break
            } else {
                if lastEnd > intStart && bytes[lastEnd - 1] == UInt8(ascii: "0") {
                    lastEnd -= 1
                    exponent += 1
                    continue
                }
                break
            }
        }
        if exponent < 0 { return .failure(.fractional) }
        var value: Int64 = 0
        func push(_ d: UInt8) -> Bool {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(d - UInt8(ascii: "0")))
            value = s
            return !(o1 || o2)
        }
        let intStop = inFraction ? intEnd : lastEnd
        for k in intStart..<intStop where !push(bytes[k]) { return .failure(.outOfRange) }
        if inFraction {
            for k in fracStart..<lastEnd where !push(bytes[k]) { return .failure(.outOfRange) }
        }
        if value != 0 {
            for _ in 0..<exponent {
                let (m, o) = value.multipliedReportingOverflow(by: 10)
                if o { return .failure(.outOfRange) }
                value = m
            }
        }
        return .success(negative ? -value : value)
    }

    enum IntegerProblem: Error {
        case fractional
        case outOfRange
    }
}
