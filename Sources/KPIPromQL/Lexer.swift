import KPICore

/// A parse error: message and 0-based byte offset; `description` is Prometheus' format
/// (`1:5: parse error: unexpected ...`, line and 1-based column).
public struct PromQLParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, in Prometheus' words where it has them.
    public var message: String
    /// 0-based byte offset into the query.
    public var position: Int
    /// The query text, for the line and column of `description`.
    public var query: String

    /// An error at `position` of `query`.
    public init(message: String, position: Int, query: String) {
        self.message = message
        self.position = position
        self.query = query
    }

    /// 1-based line and column of `position`.
    public var lineAndColumn: (line: Int, column: Int) {
        var line = 1
        var lastBreak = -1
        for (i, b) in query.utf8.prefix(position).enumerated() where b == 0x0A {
            line += 1
            lastBreak = i
        }
        return (line, position - lastBreak)
    }

    /// `line:column: parse error: message`.
    public var description: String {
        let (line, column) = lineAndColumn
        return "\(line):\(column): parse error: \(message)"
    }
}

/// A token of the PromQL lexer.
enum TokenKind: Equatable {
    case identifier(String)
    /// An identifier with a colon: only a metric name.
    case metricIdentifier(String)
    case number(Double)
    case duration(Int64)
    case string(String)
    case leftParen, rightParen, leftBrace, rightBrace, leftBracket, rightBracket
    case comma, colon, at
    case assign  // =
    case equalMatch  // =~ (also the op)
    case notEqualMatch  // !~
    case op(BinaryOperator)  // arithmetic and comparison; ==, != included
    case end

    var text: String {
        switch self {
        case .identifier(let s), .metricIdentifier(let s): return "identifier \"\(s)\""
        case .number(let n): return "number \"\(PromQLFormat.value(n))\""
        case .duration: return "duration"
        case .string(let s): return "string \"\(s)\""
        case .leftParen: return "\"(\""
        case .rightParen: return "\")\""
        case .leftBrace: return "\"{\""
        case .rightBrace: return "\"}\""
        case .leftBracket: return "\"[\""
        case .rightBracket: return "\"]\""
        case .comma: return "\",\""
        case .colon: return "\":\""
        case .at: return "\"@\""
        case .assign: return "\"=\""
        case .equalMatch: return "\"=~\""
        case .notEqualMatch: return "\"!~\""
        case .op(let o): return "\"\(o.rawValue)\""
        case .end: return "end of input"
        }
    }
}

struct Token: Equatable {
    var kind: TokenKind
    /// 0-based byte offset.
    var position: Int
}

/// Splits a query into tokens. Durations are recognised where a number is directly followed
/// by a unit letter (`5m`, `1h30m`, `500ms`).
struct Lexer {
    let bytes: [UInt8]
    let query: String
    var i = 0

    init(_ query: String) {
        self.query = query
        self.bytes = Array(query.utf8)
    }

    func error(_ message: String, at position: Int) -> PromQLParseError {
        PromQLParseError(message: message, position: position, query: query)
    }

    static func isAlpha(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == 0x5F
    }
    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    mutating func tokenize() throws(PromQLParseError) -> [Token] {
        var out: [Token] = []
        while true {
            let t = try next()
            out.append(t)
            if t.kind == .end { return out }
        }
    }

    mutating func next() throws(PromQLParseError) -> Token {
        // Whitespace and comments.
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                i += 1
            } else if c == UInt8(ascii: "#") {
                while i < bytes.count && bytes[i] != 0x0A { i += 1 }
            } else {
                break
            }
        }
        let start = i
        guard i < bytes.count else { return Token(kind: .end, position: i) }
        let c = bytes[i]
        func two(_ second: UInt8) -> Bool { i + 1 < bytes.count && bytes[i + 1] == second }
        func single(_ kind: TokenKind, _ length: Int = 1) -> Token {
            i += length
            return Token(kind: kind, position: start)
        }
        switch c {
        case UInt8(ascii: "("): return single(.leftParen)
        case UInt8(ascii: ")"): return single(.rightParen)
        case UInt8(ascii: "{"): return single(.leftBrace)
        case UInt8(ascii: "}"): return single(.rightBrace)
        case UInt8(ascii: "["): return single(.leftBracket)
        case UInt8(ascii: "]"): return single(.rightBracket)
        case UInt8(ascii: ","): return single(.comma)
        case UInt8(ascii: ":"):
            // A colon may start a metric name (recording rules) outside brackets; inside a
            // subquery bracket it separates range and step. The parser asks for `:` only there.
            return single(.colon)
        case UInt8(ascii: "@"): return single(.at)
        case UInt8(ascii: "+"): return single(.op(.add))
        case UInt8(ascii: "-"): return single(.op(.subtract))
        case UInt8(ascii: "*"): return single(.op(.multiply))
        case UInt8(ascii: "/"): return single(.op(.divide))
        case UInt8(ascii: "%"): return single(.op(.modulo))
        case UInt8(ascii: "^"): return single(.op(.power))
        case UInt8(ascii: "="):
            if two(UInt8(ascii: "=")) { return single(.op(.equal), 2) }
            if two(UInt8(ascii: "~")) { return single(.equalMatch, 2) }
            return single(.assign)
        case UInt8(ascii: "!"):
            if two(UInt8(ascii: "=")) { return single(.op(.notEqual), 2) }
            if two(UInt8(ascii: "~")) { return single(.notEqualMatch, 2) }
            throw error("unexpected character after '!': expected '=' or '~'", at: start)
        case UInt8(ascii: "<"):
            if two(UInt8(ascii: "=")) { return single(.op(.lessOrEqual), 2) }
            return single(.op(.less))
        case UInt8(ascii: ">"):
            if two(UInt8(ascii: "=")) { return single(.op(.greaterOrEqual), 2) }
            return single(.op(.greater))
        case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "`"):
            return Token(kind: .string(try string()), position: start)
        default:
            break
        }
        if Lexer.isDigit(c) || (c == UInt8(ascii: ".") && i + 1 < bytes.count && Lexer.isDigit(bytes[i + 1])) {
            return Token(kind: try numberOrDuration(), position: start)
        }
        if Lexer.isAlpha(c) {
            var colon = false
            while i < bytes.count && (Lexer.isAlpha(bytes[i]) || Lexer.isDigit(bytes[i]) || bytes[i] == UInt8(ascii: ":")) {
                if bytes[i] == UInt8(ascii: ":") { colon = true }
                i += 1
            }
            let word = String(decoding: bytes[start..<i], as: UTF8.self)
            let lower = word.lowercased()
            if !colon {
                if lower == "inf" { return Token(kind: .number(.infinity), position: start) }
                if lower == "nan" { return Token(kind: .number(.nan), position: start) }
            }
            return Token(kind: colon ? .metricIdentifier(word) : .identifier(word), position: start)
        }
        throw error("unexpected character: '\(String(decoding: [c], as: UTF8.self))'", at: start)
    }

    /// A number (decimal, scientific, hexadecimal) or, when a unit letter follows the digits,
    /// a duration.
    mutating func numberOrDuration() throws(PromQLParseError) -> TokenKind {
        let start = i
        // Duration: digits followed by a unit, repeated.
        var j = i
        while j < bytes.count && Lexer.isDigit(bytes[j]) { j += 1 }
        if j > i, j < bytes.count, Lexer.startsDurationUnit(bytes[j]) {
            let scanned: (milliseconds: Int64, end: Int)
            do {
                scanned = try DurationParser.scan(bytes, from: i, syntax: .promQL)
            } catch {
                switch error.kind {
                case .outOfRange: throw self.error("duration out of range", at: start)
                case .unitOrder: throw self.error("bad duration syntax: units must be given from the largest to the smallest", at: start)
                default:
                    let end = min(error.offset + 1, bytes.count)
                    throw self.error("bad duration syntax: \"\(String(decoding: bytes[start..<end], as: UTF8.self))\"", at: start)
                }
            }
            i = scanned.end
            if i < bytes.count && (Lexer.isAlpha(bytes[i])) {
                throw error("bad duration syntax: \"\(String(decoding: bytes[start...i], as: UTF8.self))\"", at: start)
            }
            return .duration(scanned.milliseconds)
        }
        // Hexadecimal.
        if bytes[i] == UInt8(ascii: "0"), i + 1 < bytes.count, bytes[i + 1] | 0x20 == UInt8(ascii: "x") {
            i += 2
            let digitsStart = i
            while i < bytes.count && (Lexer.isDigit(bytes[i]) || (bytes[i] | 0x20 >= 0x61 && bytes[i] | 0x20 <= 0x66)) { i += 1 }
            guard i > digitsStart, let v = UInt64(String(decoding: bytes[digitsStart..<i], as: UTF8.self), radix: 16) else {
                throw error("bad number syntax", at: start)
            }
            return .number(Double(v))
        }
        while i < bytes.count && Lexer.isDigit(bytes[i]) { i += 1 }
        if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < bytes.count && Lexer.isDigit(bytes[i]) { i += 1 }
        }
        if i < bytes.count && bytes[i] | 0x20 == UInt8(ascii: "e") {
            var j = i + 1
            if j < bytes.count && (bytes[j] == UInt8(ascii: "+") || bytes[j] == UInt8(ascii: "-")) { j += 1 }
            if j < bytes.count && Lexer.isDigit(bytes[j]) {
                i = j
                while i < bytes.count && Lexer.isDigit(bytes[i]) { i += 1 }
            }
        }
        if i < bytes.count && (Lexer.isAlpha(bytes[i]) || bytes[i] == UInt8(ascii: ".")) {
            throw error("bad number or duration syntax: \"\(String(decoding: bytes[start...i], as: UTF8.self))\"", at: start)
        }
        guard let v = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else {
            throw error("bad number syntax", at: start)
        }
        return .number(v)
    }

    /// The longest duration, in milliseconds: Int64 nanoseconds, as Prometheus stores durations.
    static let maxDurationMs = DurationParser.Syntax.promQL.maximumMilliseconds

    /// Whether `c` begins a duration unit (`ms s m h d w y`): digits followed by one make a
    /// duration, not a number.
    static func startsDurationUnit(_ c: UInt8) -> Bool {
        DurationParser.Syntax.promQL.units[String(UnicodeScalar(c))] != nil
    }

    /// A quoted string with Go's escapes; backquotes are raw.
    mutating func string() throws(PromQLParseError) -> String {
        let start = i
        let quote = bytes[i]
        i += 1
        var out: [UInt8] = []
        while i < bytes.count {
            let c = bytes[i]
            if c == quote {
                i += 1
                guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in string", at: start) }
                return s
            }
            if c == 0x0A && quote != UInt8(ascii: "`") { throw error("unterminated quoted string", at: start) }
            if c == UInt8(ascii: "\\") && quote != UInt8(ascii: "`") {
                i += 1
                guard i < bytes.count else { break }
                let e = bytes[i]
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "a"): out.append(0x07)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "v"): out.append(0x0B)
                case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"): out.append(e)
                case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let n = e == UInt8(ascii: "x") ? 2 : e == UInt8(ascii: "u") ? 4 : 8
                    guard i + n < bytes.count, let code = UInt32(String(decoding: bytes[(i + 1)...(i + n)], as: UTF8.self), radix: 16)
                    else { throw error("invalid escape sequence in string", at: i - 1) }
                    if e == UInt8(ascii: "x") {
                        out.append(UInt8(code))
                    } else {
                        guard let scalar = Unicode.Scalar(code) else { throw error("invalid Unicode code point in string", at: i - 1) }
                        out.append(contentsOf: String(Character(scalar)).utf8)
                    }
                    i += n
                default:
                    throw error("unknown escape sequence \"\\\(String(decoding: [e], as: UTF8.self))\"", at: i - 1)
                }
                i += 1
                continue
            }
            out.append(c)
            i += 1
        }
        throw error("unterminated quoted string", at: start)
    }
}
