/// Splits query text into tokens. Works on UTF-8 bytes because every token boundary in the
/// language is ASCII; non-ASCII text can only appear inside string literals, quoted
/// identifiers and comments, which are copied through untouched.
public struct Lexer {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var column = 1

    public init(_ text: String) {
        bytes = Array(text.utf8)
    }

    /// All tokens of `text`, ending with one `.endOfInput` token.
    public static func tokenize(_ text: String) throws(QueryError) -> [Token] {
        var lexer = Lexer(text)
        var tokens: [Token] = []
        while true {
            let token = try lexer.next()
            tokens.append(token)
            if case .endOfInput = token.kind { return tokens }
        }
    }

    private var position: SourcePosition { SourcePosition(line: line, column: column, offset: index) }

    private func byte(at offset: Int = 0) -> UInt8? {
        let i = index + offset
        return i < bytes.count ? bytes[i] : nil
    }

    /// Consumes one byte, keeping line and column in step. Columns count scalars, so UTF-8
    /// continuation bytes do not advance them.
    private mutating func advance() {
        let b = bytes[index]
        index += 1
        if b == UInt8(ascii: "\n") {
            line += 1
            column = 1
        } else if b & 0xC0 != 0x80 {
            column += 1
        }
    }

    private func text(from start: SourcePosition) -> String {
        String(decoding: bytes[start.offset..<index], as: UTF8.self)
    }

    private func token(_ kind: TokenKind, from start: SourcePosition) -> Token {
        Token(kind: kind, text: text(from: start), range: SourceRange(start: start, end: position))
    }

    static func isIdentifierStart(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || b == UInt8(ascii: "_")
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    static func isIdentifierPart(_ b: UInt8) -> Bool {
        isIdentifierStart(b) || isDigit(b) || b == UInt8(ascii: ":")
    }

    /// The next token, after skipping whitespace and comments.
    public mutating func next() throws(QueryError) -> Token {
        try skipTrivia()
        let start = position
        guard let b = byte() else { return token(.endOfInput, from: start) }
        if Lexer.isIdentifierStart(b) { return identifierOrKeyword(from: start) }
        if Lexer.isDigit(b) || (b == UInt8(ascii: ".") && byte(at: 1).map(Lexer.isDigit) == true) {
            return try number(from: start)
        }
        switch b {
        case UInt8(ascii: "'"):
            let value = try quoted(UInt8(ascii: "'"), what: "string literal", from: start)
            return token(.string(value), from: start)
        case UInt8(ascii: "\""):
            let value = try quoted(UInt8(ascii: "\""), what: "quoted identifier", from: start)
            if value.isEmpty {
                throw QueryError(
                    message: "empty quoted identifier", position: start,
                    hint: "use single quotes for strings: ''")
            }
            return token(.quotedIdentifier(value), from: start)
        case UInt8(ascii: ":"):
            advance()
            guard let first = byte(), Lexer.isIdentifierStart(first) else {
                throw QueryError(message: "expected parameter name after ':'", position: start)
            }
            let nameStart = index
            while let c = byte(), Lexer.isIdentifierStart(c) || Lexer.isDigit(c) { advance() }
            let name = String(decoding: bytes[nameStart..<index], as: UTF8.self)
            return token(.parameter(name), from: start)
        default:
            return try symbol(b, from: start)
        }
    }

    private mutating func skipTrivia() throws(QueryError) {
        while let b = byte() {
            switch b {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                advance()
            case UInt8(ascii: "-") where byte(at: 1) == UInt8(ascii: "-"):
                while let c = byte(), c != UInt8(ascii: "\n") { advance() }
            case UInt8(ascii: "/") where byte(at: 1) == UInt8(ascii: "*"):
                let start = position
                advance()
                advance()
                while true {
                    guard let c = byte() else {
                        throw QueryError(message: "unterminated block comment", position: start)
                    }
                    if c == UInt8(ascii: "*") && byte(at: 1) == UInt8(ascii: "/") {
                        advance()
                        advance()
                        break
                    }
                    advance()
                }
            default:
                return
            }
        }
    }

    private mutating func identifierOrKeyword(from start: SourcePosition) -> Token {
        while let c = byte(), Lexer.isIdentifierPart(c) { advance() }
        let word = text(from: start)
        // Names with ':' are metric names (recording rules), never keywords.
        if !word.contains(":"), let keyword = Keyword.named(word) {
            return token(.keyword(keyword), from: start)
        }
        return token(.identifier(word), from: start)
    }

    private mutating func number(from start: SourcePosition) throws(QueryError) -> Token {
        var isDecimal = false
        while let c = byte(), Lexer.isDigit(c) { advance() }
        if byte() == UInt8(ascii: "."), byte(at: 1).map(Lexer.isDigit) == true {
            isDecimal = true
            advance()
            while let c = byte(), Lexer.isDigit(c) { advance() }
        }
        if let e = byte(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            let signed = byte(at: 1) == UInt8(ascii: "+") || byte(at: 1) == UInt8(ascii: "-")
            if let d = byte(at: signed ? 2 : 1), Lexer.isDigit(d) {
                isDecimal = true
                advance()
                if signed { advance() }
                while let c = byte(), Lexer.isDigit(c) { advance() }
            }
        }
        // `1h` or `10days` outside quotes is almost always a duration missing INTERVAL.
        if let c = byte(), Lexer.isIdentifierStart(c) {
            while let c = byte(), Lexer.isIdentifierPart(c) { advance() }
            let word = text(from: start)
            throw QueryError(
                message: "invalid number '\(word)'", position: start,
                hint: "write durations as INTERVAL '\(word)'")
        }
        let literal = text(from: start)
        if isDecimal {
            guard let value = Double(literal), value.isFinite else {
                throw QueryError(message: "number '\(literal)' is out of range", position: start)
            }
            return token(.decimal(value), from: start)
        }
        guard let value = Int64(literal) else {
            throw QueryError(message: "integer '\(literal)' is out of range", position: start)
        }
        return token(.integer(value), from: start)
    }

    /// Reads a literal delimited by `quote`, where a doubled quote stands for one.
    private mutating func quoted(
        _ quote: UInt8, what: String, from start: SourcePosition
    ) throws(QueryError) -> String {
        advance()
        var content: [UInt8] = []
        while true {
            guard let c = byte() else {
                throw QueryError(message: "unterminated \(what)", position: start)
            }
            advance()
            if c == quote {
                if byte() == quote {
                    advance()
                    content.append(quote)
                } else {
                    return String(decoding: content, as: UTF8.self)
                }
            } else {
                content.append(c)
            }
        }
    }

    private mutating func symbol(_ b: UInt8, from start: SourcePosition) throws(QueryError) -> Token {
        let next = byte(at: 1)
        let two: Symbol?
        switch (b, next) {
        case (UInt8(ascii: "!"), UInt8(ascii: "=")): two = .notEqual
        case (UInt8(ascii: "<"), UInt8(ascii: ">")): two = .notEqual
        case (UInt8(ascii: "<"), UInt8(ascii: "=")): two = .lessEqual
        case (UInt8(ascii: ">"), UInt8(ascii: "=")): two = .greaterEqual
        case (UInt8(ascii: "!"), UInt8(ascii: "~")): two = .notTilde
        case (UInt8(ascii: "="), UInt8(ascii: "=")):
            throw QueryError(
                message: "unexpected '=='", position: start,
                hint: "SQL compares with a single '='")
        default: two = nil
        }
        if let two {
            advance()
            advance()
            return token(.symbol(two), from: start)
        }
        if b < 0x80, let one = Symbol(rawValue: String(UnicodeScalar(b))) {
            advance()
            return token(.symbol(one), from: start)
        }
        // Decode the whole scalar so the message shows the character, not a lone byte.
        var length = 1
        while let c = byte(at: length), c & 0xC0 == 0x80 { length += 1 }
        let character = String(decoding: bytes[index..<(index + length)], as: UTF8.self)
        var hint: String? = nil
        if b == UInt8(ascii: "`") {
            hint = "quote names with double quotes and strings with single quotes"
        } else if b == UInt8(ascii: "!") {
            hint = "use != for inequality, !~ for regex non-match, or NOT"
        }
        throw QueryError(message: "unexpected character '\(character)'", position: start, hint: hint)
    }
}
