/// One CSV cell, written the one way kpid writes CSV (RFC 4180): quoted, with `""` for a quote,
/// only when it holds a comma, quote, CR or LF.
///
/// **Formula guard.** A spreadsheet that opens a CSV file runs a cell starting with `=`, `+`,
/// `-`, `@`, TAB or CR as a formula (CSV injection). With `guarded`, such a cell gets a leading
/// apostrophe, as OWASP recommends, so it is shown as text; a cell that is a plain decimal
/// number (`-1.5`, `+2e3`) is a number, not a formula, and is written as it is. kpid's CSV
/// answers are guarded by default; `raw=true` on the request writes cells exactly as stored
/// (for re-ingesting an export byte for byte).
public enum CSVCell {
    /// Appends `text` as one cell to `out`.
    public static func append(_ text: String, to out: inout [UInt8], guarded: Bool) {
        text.withContiguousUTF8 { append(utf8: $0, to: &out, guarded: guarded) }
    }

    /// `text` as one cell.
    public static func string(_ text: String, guarded: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 2)
        append(text, to: &out, guarded: guarded)
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether a guarded cell gets the leading apostrophe: it starts with a formula character
    /// and is not a plain decimal number.
    public static func needsGuard(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let first = utf8.first else { return false }
        switch first {
        case UInt8(ascii: "="), UInt8(ascii: "@"), 0x09, 0x0D: return true
        case UInt8(ascii: "+"), UInt8(ascii: "-"): return !isDecimalNumber(utf8)
        default: return false
        }
    }

    /// `[+-]digits[.digits][(e|E)[+-]digits]`, with at least one digit before the exponent.
    static func isDecimalNumber(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        let n = utf8.count
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        if i < n && (utf8[i] == UInt8(ascii: "+") || utf8[i] == UInt8(ascii: "-")) { i += 1 }
        var digits = 0
        while i < n && isDigit(utf8[i]) {
            i += 1
            digits += 1
        }
        if i < n && utf8[i] == UInt8(ascii: ".") {
            i += 1
            while i < n && isDigit(utf8[i]) {
                i += 1
                digits += 1
            }
        }
        guard digits > 0 else { return false }
        if i < n && (utf8[i] == UInt8(ascii: "e") || utf8[i] == UInt8(ascii: "E")) {
            i += 1
            if i < n && (utf8[i] == UInt8(ascii: "+") || utf8[i] == UInt8(ascii: "-")) { i += 1 }
            var exponent = 0
            while i < n && isDigit(utf8[i]) {
                i += 1
                exponent += 1
            }
            if exponent == 0 { return false }
        }
        return i == n
    }

    private static func append(utf8: UnsafeBufferPointer<UInt8>, to out: inout [UInt8], guarded: Bool) {
        let guardIt = guarded && needsGuard(utf8)
        var plain = true
        for b in utf8 where b == UInt8(ascii: ",") || b == UInt8(ascii: "\"") || b == 0x0A || b == 0x0D {
            plain = false
            break
        }
        if plain {
            if guardIt { out.append(UInt8(ascii: "'")) }
            out.append(contentsOf: utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        if guardIt { out.append(UInt8(ascii: "'")) }
        for b in utf8 {
            out.append(b)
            if b == UInt8(ascii: "\"") { out.append(b) }
        }
        out.append(UInt8(ascii: "\""))
    }
}
