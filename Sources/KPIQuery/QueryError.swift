/// A point in query text. `line` and `column` are 1-based and count Unicode scalars, so they
/// match what an editor shows; `offset` is the 0-based UTF-8 byte offset the lexer works in.
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var offset: Int

    public init(line: Int, column: Int, offset: Int) {
        self.line = line
        self.column = column
        self.offset = offset
    }

    /// The position of the first character of a query.
    public static let start = SourcePosition(line: 1, column: 1, offset: 0)

    public var description: String { "line \(line), column \(column)" }
}

/// A half-open span of query text: `start` is the first character, `end` the one just past
/// the last. Expression nodes carry one so later phases (type checking, planning) can point
/// at the exact text they complain about.
public struct SourceRange: Sendable, Hashable, CustomStringConvertible {
    public var start: SourcePosition
    public var end: SourcePosition

    public init(start: SourcePosition, end: SourcePosition) {
        self.start = start
        self.end = end
    }

    /// The placeholder range used by `strippingRanges()` and by hand-built ASTs, so trees
    /// can be compared by structure alone.
    public static let unknown = SourceRange(
        start: SourcePosition(line: 0, column: 0, offset: 0),
        end: SourcePosition(line: 0, column: 0, offset: 0))

    /// The smallest range that covers both `self` and `other`.
    public func union(_ other: SourceRange) -> SourceRange {
        SourceRange(
            start: start.offset <= other.start.offset ? start : other.start,
            end: end.offset >= other.end.offset ? end : other.end)
    }

    public var description: String { "\(start.line):\(start.column)-\(end.line):\(end.column)" }
}

/// A query that cannot be answered: a syntax or semantic error located at the offending token,
/// or a limit or timeout hit while it ran.
public struct QueryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Why the query failed; decides the HTTP status.
    public enum Kind: String, Sendable, Equatable {
        /// Lexing or parsing failed.
        case syntax
        /// The query is well formed but wrong: unknown metric, column or function, wrong
        /// argument count, type mismatch, missing parameter.
        case semantic
        /// A configured limit (series, samples, rows, GROUP BY memory) was exceeded.
        case limit
        /// The query ran out of time and was stopped.
        case timeout
    }

    public var kind: Kind
    /// What went wrong, e.g. `expected FROM after select list, found 'WHERE'`.
    public var message: String
    /// Where the offending token (or character) starts.
    public var position: SourcePosition
    /// A suggestion for a likely mistake (typo, wrong quotes, missing comma), when we have one.
    public var hint: String?

    public init(message: String, position: SourcePosition, hint: String? = nil, kind: Kind = .syntax) {
        self.kind = kind
        self.message = message
        self.position = position
        self.hint = hint
    }

    public var description: String {
        var text = "\(message) at \(position)"
        if let hint { text += " (hint: \(hint))" }
        return text
    }

    /// The offending line of `source` followed by a line with `^` under the error column.
    ///
    /// Tabs before the column are copied into the caret line so the caret stays aligned in a
    /// terminal whatever its tab width. Positions past the end of the line (errors at end of
    /// input) put the caret just after the last character.
    public func caretDiagram(source: String) -> String {
        // Split on scalars, not Characters: "\r\n" is a single Character and would hide the break.
        let lines = source.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        guard position.line >= 1, position.line <= lines.count else { return "" }
        var line = String(String.UnicodeScalarView(lines[position.line - 1]))
        if line.unicodeScalars.last == "\r" { line.unicodeScalars.removeLast() }
        var padding = ""
        for scalar in line.unicodeScalars.prefix(max(0, position.column - 1)) {
            padding.append(scalar == "\t" ? "\t" : " ")
        }
        let missing = max(0, position.column - 1 - line.unicodeScalars.count)
        padding += String(repeating: " ", count: missing)
        return "\(line)\n\(padding)^"
    }
}
