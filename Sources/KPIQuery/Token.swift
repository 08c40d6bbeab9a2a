/// Reserved words of the query language. Matched case-insensitively; an identifier spelled
/// like one of these must be double-quoted to be used as a name.
public enum Keyword: String, Sendable, CaseIterable {
    case select = "SELECT", distinct = "DISTINCT", `as` = "AS", from = "FROM", `where` = "WHERE"
    case group = "GROUP", by = "BY", having = "HAVING", fill = "FILL", order = "ORDER"
    case asc = "ASC", desc = "DESC", nulls = "NULLS", first = "FIRST", last = "LAST"
    case limit = "LIMIT", offset = "OFFSET", join = "JOIN", inner = "INNER", left = "LEFT"
    case outer = "OUTER", using = "USING", on = "ON", and = "AND", or = "OR", not = "NOT"
    case like = "LIKE", `in` = "IN", `is` = "IS", null = "NULL", between = "BETWEEN"
    case `true` = "TRUE", `false` = "FALSE", interval = "INTERVAL", timestamp = "TIMESTAMP"
    case `case` = "CASE", when = "WHEN", then = "THEN", `else` = "ELSE", end = "END"
    case cast = "CAST", explain = "EXPLAIN"

    /// Uppercased spelling -> keyword, so the lexer does one dictionary lookup per identifier.
    static let byName: [String: Keyword] = Dictionary(
        uniqueKeysWithValues: allCases.map { ($0.rawValue, $0) })

    /// The keyword spelled `word` in any letter case, if any.
    public static func named(_ word: String) -> Keyword? { byName[word.uppercased()] }
}

/// Punctuation and operators.
public enum Symbol: String, Sendable, CaseIterable {
    case comma = ",", dot = ".", leftParen = "(", rightParen = ")", semicolon = ";"
    case star = "*", plus = "+", minus = "-", slash = "/", percent = "%"
    case equal = "=", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">"
    case greaterEqual = ">=", tilde = "~", notTilde = "!~"
}

/// What a token is, with its decoded value.
public enum TokenKind: Sendable, Equatable {
    /// A bare name: letters, digits, `_` and `:` (metric names such as `job:rate5m`).
    case identifier(String)
    /// A `"double quoted"` name, with `""` decoded to `"`.
    case quotedIdentifier(String)
    case keyword(Keyword)
    case integer(Int64)
    case decimal(Double)
    /// A `'single quoted'` string, with `''` decoded to `'`.
    case string(String)
    /// A named parameter `:name` (the name without the colon).
    case parameter(String)
    case symbol(Symbol)
    case endOfInput
}

/// One lexeme: its kind, its exact source text and where it is.
public struct Token: Sendable, Equatable {
    public var kind: TokenKind
    /// The source text as written (keywords keep the user's letter case for messages).
    public var text: String
    public var range: SourceRange

    public init(kind: TokenKind, text: String, range: SourceRange) {
        self.kind = kind
        self.text = text
        self.range = range
    }

    /// How error messages name the token: quoted source text, or `end of input`.
    var quoted: String {
        switch kind {
        case .endOfInput: return "end of input"
        // Already delimited in the source; wrapping them again would read as `''x''`.
        case .string, .quotedIdentifier: return text
        default: return "'\(text)'"
        }
    }
}
