/// Entry point of the query language front end.
///
/// Grammar (keywords case-insensitive, identifiers case-sensitive):
///
///     statement  := [EXPLAIN] select [';']
///     select     := SELECT [DISTINCT] item {',' item} FROM source [WHERE expr]
///                   [GROUP BY expr {',' expr}] [HAVING expr]
///                   [FILL '(' (null | previous | linear | ['-'] number) ')']
///                   [ORDER BY expr [ASC|DESC] [NULLS (FIRST|LAST)] {',' ...}]
///                   [LIMIT integer [OFFSET integer]]
///     item       := '*' | expr [AS name]
///     source     := primary {[INNER | LEFT [OUTER]] JOIN primary (USING '(' name {',' name} ')' | ON expr)}
///     primary    := name [AS name] | name '(' [expr {',' expr}] ')' [AS name] | '(' select ')' AS name
///     expr       := or;  or := and {OR and};  and := not {AND not};  not := NOT not | comparison
///     comparison := additive {cmp additive | [NOT] LIKE additive | [NOT] IN '(' expr {',' expr} ')'
///                   | [NOT] BETWEEN additive AND additive | IS [NOT] NULL}
///     cmp        := '=' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | '~' | '!~'
///     additive   := term {('+'|'-') term};  term := unary {('*'|'/'|'%') unary}
///     unary      := ('-'|'+') unary | atom
///     atom       := number | string | TRUE | FALSE | NULL | INTERVAL string | TIMESTAMP string
///                   | :param | name ['.' name] | name '(' [DISTINCT] ['*' | expr {',' expr}] ')'
///                   | CASE [expr] WHEN expr THEN expr {...} [ELSE expr] END
///                   | CAST '(' expr AS type ')' | '(' expr ')'
///
/// Names are bare (`[A-Za-z_][A-Za-z0-9_:]*`, not a keyword) or `"double quoted"`.
/// Aliases always need `AS`, which lets a missing comma in the select list be diagnosed.
public enum QueryParser {
    /// Parses one statement (`SELECT ...` or `EXPLAIN SELECT ...`, optional trailing `;`).
    public static func parse(_ text: String) throws(QueryError) -> Statement {
        var parser = Parser(tokens: try Lexer.tokenize(text))
        return try parser.parseStatement()
    }
}

/// Recursive-descent parser over the token array; one method per grammar level.
///
/// Precedence, loosest first: `OR`, `AND`, `NOT`, comparisons (`=`, `LIKE`, `IN`, `IS`,
/// `BETWEEN`, `~`, ...; left-associative), `+ -`, `* / %`, unary `- +`, primary.
struct Parser {
    private let tokens: [Token]
    private var index = 0
    /// Current nesting of parentheses, subqueries, NOT and signs. Bounded so a hostile query
    /// cannot overflow the stack of the parser (or of the recursive printer and planner).
    private var depth = 0
    static let maximumDepth = 100
    /// Binary operators chained on the current path (`a + b + c ...`, `x OR y OR ...`): each
    /// nests the tree one level although no parenthesis does, so flat chains are bounded too.
    private var chain = 0
    static let maximumChain = 500

    init(tokens: [Token]) {
        self.tokens = tokens
    }

    // MARK: - Token helpers

    private var current: Token { tokens[index] }

    private func peek(_ distance: Int = 1) -> Token {
        tokens[min(index + distance, tokens.count - 1)]
    }

    /// The token before the current one (the start of input has none).
    private var previous: Token? { index > 0 ? tokens[index - 1] : nil }

    @discardableResult
    private mutating func advance() -> Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    private func isKeyword(_ keyword: Keyword, _ token: Token? = nil) -> Bool {
        if case .keyword(let k) = (token ?? current).kind { return k == keyword }
        return false
    }

    private func isSymbol(_ symbol: Symbol, _ token: Token? = nil) -> Bool {
        if case .symbol(let s) = (token ?? current).kind { return s == symbol }
        return false
    }

    private mutating func accept(_ keyword: Keyword) -> Token? {
        isKeyword(keyword) ? advance() : nil
    }

    private mutating func accept(_ symbol: Symbol) -> Token? {
        isSymbol(symbol) ? advance() : nil
    }

    private func error(_ message: String, at token: Token? = nil, hint: String? = nil) -> QueryError {
        QueryError(message: message, position: (token ?? current).range.start, hint: hint)
    }

    /// `expected <what> <context>, found '<token>'`, with a typo hint when the found word is
    /// close to an expected keyword.
    private func expectedError(_ what: String, _ context: String, suggest: [Keyword] = []) -> QueryError {
        let where_ = context.isEmpty ? "" : " \(context)"
        return error(
            "expected \(what)\(where_), found \(current.quoted)",
            hint: typoHint(for: current, among: suggest.isEmpty ? Keyword.allCases : suggest))
    }

    @discardableResult
    private mutating func expect(_ keyword: Keyword, _ context: String) throws(QueryError) -> Token {
        guard let token = accept(keyword) else {
            throw expectedError(keyword.rawValue, context, suggest: [keyword])
        }
        return token
    }

    @discardableResult
    private mutating func expect(_ symbol: Symbol, _ context: String) throws(QueryError) -> Token {
        guard let token = accept(symbol) else { throw expectedError("'\(symbol.rawValue)'", context) }
        return token
    }

    /// A name: bare or double-quoted identifier. Keywords get a hint to quote them.
    private mutating func expectName(_ what: String, _ context: String) throws(QueryError) -> String {
        switch current.kind {
        case .identifier(let name), .quotedIdentifier(let name):
            advance()
            return name
        case .keyword(let keyword):
            throw error(
                "expected \(what) \(context), found \(current.quoted)",
                hint: "\(keyword.rawValue) is a reserved word; quote it to use it as a name: \"\(current.text)\"")
        default:
            throw error("expected \(what) \(context), found \(current.quoted)")
        }
    }

    // MARK: - Statements

    mutating func parseStatement() throws(QueryError) -> Statement {
        let statement: Statement
        if accept(.explain) != nil {
            guard isKeyword(.select) else {
                throw expectedError("SELECT", "after EXPLAIN", suggest: [.select])
            }
            statement = .explain(try parseSelect(nested: false))
        } else if isKeyword(.select) {
            statement = .select(try parseSelect(nested: false))
        } else {
            throw expectedError("SELECT or EXPLAIN", "at start of query", suggest: [.select, .explain])
        }
        _ = accept(.semicolon)
        guard case .endOfInput = current.kind else {
            throw error("unexpected \(current.quoted) after end of statement")
        }
        return statement
    }

    /// Clause keywords in the order they must appear, for "out of order" messages.
    private static let clauseOrder: [Keyword] = [.where, .group, .having, .fill, .order, .limit]

    private mutating func parseSelect(nested: Bool) throws(QueryError) -> SelectStatement {
        try expect(.select, "")
        let distinct = accept(.distinct) != nil
        let items = try parseSelectList()
        try expect(.from, "after select list")
        let from = try parseSource()
        var statement = SelectStatement(distinct: distinct, items: items, from: from)
        var lastClause = "FROM"
        if accept(.where) != nil {
            statement.filter = try parseExpression()
            lastClause = "WHERE"
        }
        if accept(.group) != nil {
            try expect(.by, "after GROUP")
            statement.groupBy = try parseExpressionList()
            lastClause = "GROUP BY"
        }
        if accept(.having) != nil {
            statement.having = try parseExpression()
            lastClause = "HAVING"
        }
        if accept(.fill) != nil {
            statement.fill = try parseFill()
            lastClause = "FILL"
        }
        if accept(.order) != nil {
            try expect(.by, "after ORDER")
            statement.orderBy = try parseOrderList()
            lastClause = "ORDER BY"
        }
        if accept(.limit) != nil {
            statement.limit = try parseCount("LIMIT")
            lastClause = "LIMIT"
            if accept(.offset) != nil {
                statement.offset = try parseCount("OFFSET")
                lastClause = "OFFSET"
            }
        }
        try checkStatementEnd(after: lastClause, nested: nested)
        return statement
    }

    /// After the last clause only `;`/end (or `)` for a subquery) may follow. Anything else
    /// is a misplaced clause, a misspelled keyword or stray text; say which.
    private func checkStatementEnd(after clause: String, nested: Bool) throws(QueryError) {
        if nested ? isSymbol(.rightParen) : (isSymbol(.semicolon) || current.kind == .endOfInput) {
            return
        }
        if nested, current.kind == .endOfInput {
            throw error("expected ')' to close subquery, found end of input")
        }
        if case .keyword(let keyword) = current.kind, Parser.clauseOrder.contains(keyword) {
            throw error(
                "unexpected \(current.quoted) after \(clause) clause",
                hint: "clauses go in the order WHERE, GROUP BY, HAVING, FILL, ORDER BY, LIMIT")
        }
        // Any keyword may be the misspelled one: `GRUOP BY`, but also `a = 1 ADN b = 2`.
        var hint = typoHint(for: current, among: Keyword.allCases)
        if hint == nil, clause == "FROM", case .identifier(let name) = current.kind {
            hint = "aliases need AS: AS \(name)"
        }
        if hint == nil, isKeyword(.not), isKeyword(.null, peek()) {
            hint = "test for missing values with IS NOT NULL"
        }
        throw error("unexpected \(current.quoted) after \(clause) clause", hint: hint)
    }

    private mutating func parseSelectList() throws(QueryError) -> [SelectItem] {
        var items: [SelectItem] = []
        while true {
            if accept(.star) != nil {
                items.append(.wildcard)
            } else {
                let expression = try parseExpression()
                var alias: String? = nil
                if accept(.as) != nil { alias = try expectName("alias", "after AS") }
                items.append(.expression(expression, alias: alias))
            }
            if accept(.comma) != nil { continue }
            if isKeyword(.from) { return items }
            // Something other than FROM: a misspelled FROM, or the start of another item
            // because a comma (or AS) is missing.
            if let hint = typoHint(for: current, among: [.from, .as]) {
                throw error("expected FROM after select list, found \(current.quoted)", hint: hint)
            }
            if startsExpression(current) {
                throw error(
                    "expected ',' or FROM after select item, found \(current.quoted)",
                    hint: "missing comma between select items? (aliases need AS)")
            }
            throw error("expected FROM after select list, found \(current.quoted)")
        }
    }

    private func startsExpression(_ token: Token) -> Bool {
        switch token.kind {
        case .identifier, .quotedIdentifier, .integer, .decimal, .string, .parameter: return true
        case .keyword(let k): return [.not, .null, .true, .false, .interval, .timestamp, .case, .cast].contains(k)
        case .symbol(let s): return s == .leftParen || s == .minus || s == .plus
        case .endOfInput: return false
        }
    }

    private mutating func parseFill() throws(QueryError) -> FillStrategy {
        try expect(.leftParen, "after FILL")
        let strategy: FillStrategy
        let negative = accept(.minus) != nil
        switch current.kind {
        case .keyword(.null) where !negative: strategy = .null
        case .identifier(let word) where !negative && word.lowercased() == "previous": strategy = .previous
        case .identifier(let word) where !negative && word.lowercased() == "linear": strategy = .linear
        case .integer(let n): strategy = .value(negative ? -Double(n) : Double(n))
        case .decimal(let d): strategy = .value(negative ? -d : d)
        default:
            throw error(
                "expected null, previous, linear or a number in FILL, found \(current.quoted)")
        }
        advance()
        try expect(.rightParen, "after FILL strategy")
        return strategy
    }

    private mutating func parseOrderList() throws(QueryError) -> [OrderItem] {
        var items: [OrderItem] = []
        repeat {
            var item = OrderItem(try parseExpression())
            if accept(.desc) != nil {
                item.descending = true
            } else {
                _ = accept(.asc)
            }
            if accept(.nulls) != nil {
                if accept(.first) != nil {
                    item.nulls = .first
                } else if accept(.last) != nil {
                    item.nulls = .last
                } else {
                    throw expectedError("FIRST or LAST", "after NULLS", suggest: [.first, .last])
                }
            }
            items.append(item)
        } while accept(.comma) != nil
        return items
    }

    private mutating func parseCount(_ clause: String) throws(QueryError) -> Int64 {
        guard case .integer(let n) = current.kind else {
            throw error("expected a non-negative integer after \(clause), found \(current.quoted)")
        }
        advance()
        return n
    }

    // MARK: - Sources

    private mutating func parseSource() throws(QueryError) -> Source {
        var source = try parseSourcePrimary()
        while true {
            let kind: Join.Kind
            if accept(.join) != nil {
                kind = .inner
            } else if accept(.inner) != nil {
                try expect(.join, "after INNER")
                kind = .inner
            } else if accept(.left) != nil {
                _ = accept(.outer)
                try expect(.join, "after LEFT")
                kind = .left
            } else {
                return source
            }
            let right = try parseSourcePrimary()
            let condition: Join.Condition
            if accept(.using) != nil {
                try expect(.leftParen, "after USING")
                var columns: [String] = []
                repeat {
                    columns.append(try expectName("column name", "in USING list"))
                } while accept(.comma) != nil
                try expect(.rightParen, "to close USING list")
                condition = .using(columns)
            } else if accept(.on) != nil {
                condition = .on(try parseExpression())
            } else {
                throw expectedError("USING or ON", "after joined source", suggest: [.using, .on])
            }
            source = .join(Join(kind: kind, left: source, right: right, condition: condition))
        }
    }

    private mutating func parseAlias() throws(QueryError) -> String? {
        guard accept(.as) != nil else { return nil }
        return try expectName("alias", "after AS")
    }

    private mutating func parseSourcePrimary() throws(QueryError) -> Source {
        switch current.kind {
        case .symbol(.leftParen):
            advance()
            guard isKeyword(.select) else {
                throw expectedError("SELECT", "in parenthesized subquery", suggest: [.select])
            }
            let select = try nested { (parser: inout Parser) throws(QueryError) in try parser.parseSelect(nested: true) }
            try expect(.rightParen, "to close subquery")
            guard isKeyword(.as) else {
                throw error(
                    "expected AS alias after subquery, found \(current.quoted)",
                    hint: "a subquery in FROM needs a name: (SELECT ...) AS q")
            }
            return .subquery(select, alias: try parseAlias()!)
        case .identifier(let name), .quotedIdentifier(let name):
            advance()
            if accept(.leftParen) != nil {
                let arguments = isSymbol(.rightParen) ? [] : try parseExpressionList()
                try expect(.rightParen, "to close arguments of \(name)")
                return .function(name: name, arguments: arguments, alias: try parseAlias())
            }
            return .metric(name, alias: try parseAlias())
        case .string(let text):
            throw error(
                "expected metric name after FROM, found \(current.quoted)",
                hint: "metric names are identifiers; write \(text) or \"\(text)\"")
        default:
            throw error("expected metric name or subquery, found \(current.quoted)")
        }
    }

    // MARK: - Expressions

    private mutating func parseExpressionList() throws(QueryError) -> [Expression] {
        var list: [Expression] = []
        repeat { list.append(try parseExpression()) } while accept(.comma) != nil
        return list
    }

    mutating func parseExpression() throws(QueryError) -> Expression {
        try nested { (parser: inout Parser) throws(QueryError) in try parser.parseOr() }
    }

    /// Runs `body` one nesting level deeper, failing once the query nests too deeply.
    private mutating func nested<T>(_ body: (inout Parser) throws(QueryError) -> T) throws(QueryError) -> T {
        guard depth < Parser.maximumDepth else {
            throw error("query nests too deeply (more than \(Parser.maximumDepth) levels)")
        }
        depth += 1
        defer { depth -= 1 }
        return try body(&self)
    }

    /// Counts one more chained operator on the current path (undone by the caller's `defer`).
    private mutating func chained(_ count: inout Int) throws(QueryError) {
        guard chain < Parser.maximumChain else {
            throw error(
                "expression chains too many operators (more than \(Parser.maximumChain) on one path)",
                hint: "use IN (...) for many alternatives, or split the expression")
        }
        chain += 1
        count += 1
    }

    private mutating func parseOr() throws(QueryError) -> Expression {
        var lhs = try parseAnd()
        var links = 0
        defer { chain -= links }
        while accept(.or) != nil {
            let rhs = try parseAnd()
            try chained(&links)
            lhs = .binary(.or, lhs, rhs, range: lhs.range.union(rhs.range))
        }
        return lhs
    }

    private mutating func parseAnd() throws(QueryError) -> Expression {
        var lhs = try parseNot()
        var links = 0
        defer { chain -= links }
        while accept(.and) != nil {
            let rhs = try parseNot()
            try chained(&links)
            lhs = .binary(.and, lhs, rhs, range: lhs.range.union(rhs.range))
        }
        return lhs
    }

    private mutating func parseNot() throws(QueryError) -> Expression {
        if let not = accept(.not) {
            let operand = try nested { (parser: inout Parser) throws(QueryError) in try parser.parseNot() }
            return .unary(.not, operand, range: not.range.union(operand.range))
        }
        return try parseComparison()
    }

    private static let comparisonOperators: [Symbol: BinaryOperator] = [
        .equal: .equal, .notEqual: .notEqual, .less: .less, .lessEqual: .lessEqual,
        .greater: .greater, .greaterEqual: .greaterEqual, .tilde: .matches, .notTilde: .notMatches,
    ]

    private mutating func parseComparison() throws(QueryError) -> Expression {
        var lhs = try parseAdditive()
        var links = 0
        defer { chain -= links }
        while true {
            if case .symbol(let symbol) = current.kind, let op = Parser.comparisonOperators[symbol] {
                advance()
                try chained(&links)
                let rhs = try parseValue()
                lhs = .binary(op, lhs, rhs, range: lhs.range.union(rhs.range))
                continue
            }
            // NOT here only negates LIKE/IN/BETWEEN; a bare NOT cannot follow an operand.
            var negated = false
            if isKeyword(.not) {
                let next = peek()
                guard isKeyword(.like, next) || isKeyword(.in, next) || isKeyword(.between, next) else {
                    return lhs
                }
                advance()
                negated = true
            }
            if accept(.like) != nil {
                let pattern = try parseValue()
                lhs = .like(lhs, pattern: pattern, negated: negated, range: lhs.range.union(pattern.range))
            } else if accept(.in) != nil {
                try expect(.leftParen, "after IN")
                if isKeyword(.select) {
                    throw error("subqueries are only supported in FROM", hint: "list values: IN ('a', 'b')")
                }
                if isSymbol(.rightParen) { throw error("IN list must not be empty") }
                var list: [Expression] = []
                repeat { list.append(try parseValue(full: true)) } while accept(.comma) != nil
                let close = try expect(.rightParen, "to close IN list")
                lhs = .inList(lhs, list, negated: negated, range: lhs.range.union(close.range))
            } else if accept(.between) != nil {
                let lower = try parseValue()
                try expect(.and, "between BETWEEN bounds")
                let upper = try parseValue()
                lhs = .between(
                    lhs, lower: lower, upper: upper, negated: negated, range: lhs.range.union(upper.range))
            } else if accept(.is) != nil {
                let not = accept(.not) != nil
                let null = try expect(.null, not ? "after IS NOT" : "after IS")
                lhs = .isNull(lhs, negated: not, range: lhs.range.union(null.range))
            } else {
                return lhs
            }
        }
    }

    /// An operand that is compared against: a double-quoted name here is almost certainly a
    /// string written with the wrong quotes (`site = "JFK"`), so it is rejected with a hint.
    /// To compare against such a column, qualify it (`t."col"`) or parenthesize it (`("col")`).
    private mutating func parseValue(full: Bool = false) throws(QueryError) -> Expression {
        if case .quotedIdentifier = current.kind, !isSymbol(.dot, peek()), !isSymbol(.leftParen, peek()) {
            throw error("\(current.quoted) is a column name, not a string value", hint: quotesHint)
        }
        return full ? try parseExpression() : try parseAdditive()
    }

    private mutating func parseAdditive() throws(QueryError) -> Expression {
        var lhs = try parseMultiplicative()
        var links = 0
        defer { chain -= links }
        while true {
            let op: BinaryOperator
            if accept(.plus) != nil {
                op = .add
            } else if accept(.minus) != nil {
                op = .subtract
            } else {
                return lhs
            }
            try chained(&links)
            let rhs = try parseMultiplicative()
            lhs = .binary(op, lhs, rhs, range: lhs.range.union(rhs.range))
        }
    }

    private mutating func parseMultiplicative() throws(QueryError) -> Expression {
        var lhs = try parseUnary()
        var links = 0
        defer { chain -= links }
        while true {
            let op: BinaryOperator
            if accept(.star) != nil {
                op = .multiply
            } else if accept(.slash) != nil {
                op = .divide
            } else if accept(.percent) != nil {
                op = .modulo
            } else {
                return lhs
            }
            try chained(&links)
            let rhs = try parseUnary()
            lhs = .binary(op, lhs, rhs, range: lhs.range.union(rhs.range))
        }
    }

    private mutating func parseUnary() throws(QueryError) -> Expression {
        let op: UnaryOperator
        if isSymbol(.minus) {
            op = .negate
        } else if isSymbol(.plus) {
            op = .plus
        } else {
            return try parsePrimary()
        }
        let sign = advance()
        let operand = try nested { (parser: inout Parser) throws(QueryError) in try parser.parseUnary() }
        return .unary(op, operand, range: sign.range.union(operand.range))
    }

    private mutating func parsePrimary() throws(QueryError) -> Expression {
        let token = current
        switch token.kind {
        case .integer(let n):
            advance()
            return .literal(.integer(n), range: token.range)
        case .decimal(let d):
            advance()
            return .literal(.decimal(d), range: token.range)
        case .string(let s):
            advance()
            return .literal(.string(s), range: token.range)
        case .parameter(let name):
            advance()
            return .parameter(name, range: token.range)
        case .keyword(.true), .keyword(.false):
            advance()
            return .literal(.boolean(isKeyword(.true, token)), range: token.range)
        case .keyword(.null):
            advance()
            return .literal(.null, range: token.range)
        case .keyword(.interval):
            advance()
            return try parseInterval(start: token)
        case .keyword(.timestamp):
            advance()
            return try parseTimestamp(start: token)
        case .keyword(.case):
            advance()
            return try parseCase(start: token)
        case .keyword(.cast):
            advance()
            return try parseCast(start: token)
        case .symbol(.leftParen):
            advance()
            if isKeyword(.select) {
                throw error("subqueries are only supported in FROM")
            }
            let inner = try parseExpression()
            try expect(.rightParen, "to close parenthesis")
            return inner
        case .identifier(let name), .quotedIdentifier(let name):
            advance()
            if accept(.leftParen) != nil { return try parseCall(name, start: token) }
            if accept(.dot) != nil {
                let column = current
                let columnName = try expectName("column name", "after '\(name).'")
                return .column(ColumnReference(table: name, columnName), range: token.range.union(column.range))
            }
            return .column(ColumnReference(name), range: token.range)
        case .keyword(let keyword) where (keyword == .first || keyword == .last) && isSymbol(.leftParen, peek()):
            // FIRST and LAST are keywords of NULLS FIRST/LAST, and aggregates when called.
            advance()
            advance()
            return try parseCall(token.text.lowercased(), start: token)
        case .symbol(.star):
            throw error("'*' is only allowed as SELECT * or count(*)")
        default:
            var hint = typoHint(for: token, among: Keyword.allCases)
            if hint == nil, let previous, isSymbol(.comma, previous), case .keyword = token.kind {
                hint = "remove the trailing comma before \(token.text)"
            }
            throw error("expected expression, found \(token.quoted)", hint: hint)
        }
    }

    private mutating func parseCall(_ name: String, start: Token) throws(QueryError) -> Expression {
        var call = FunctionCall(name, [])
        if let star = accept(.star) {
            call.arguments = [.star(range: star.range)]
        } else if !isSymbol(.rightParen) {
            call.distinct = accept(.distinct) != nil
            call.arguments = try parseExpressionList()
        }
        let close = try expect(.rightParen, "to close arguments of \(name)")
        return .function(call, range: start.range.union(close.range))
    }

    private mutating func parseInterval(start: Token) throws(QueryError) -> Expression {
        guard case .string(let text) = current.kind else {
            throw error(
                "expected duration string after INTERVAL, found \(current.quoted)",
                hint: quotesHint ?? "e.g. INTERVAL '7 days' or INTERVAL '1h30m'")
        }
        let literal = advance()
        do {
            let ms = try IntervalLiteral.milliseconds(text)
            return .literal(.interval(milliseconds: ms), range: start.range.union(literal.range))
        } catch {
            throw QueryError(
                message: error.message, position: position(inside: literal, byteOffset: error.offset),
                hint: error.hint)
        }
    }

    /// The wrong-quotes hint when the current token is a double-quoted name.
    private var quotesHint: String? {
        guard case .quotedIdentifier(let name) = current.kind else { return nil }
        return "use single quotes for strings: '\(name)'"
    }

    /// The position of byte `byteOffset` of a string literal's decoded content. Exact unless
    /// an escaped quote comes before it, which a valid duration never contains.
    private func position(inside literal: Token, byteOffset: Int) -> SourcePosition {
        guard !literal.text.dropFirst().dropLast().contains("'") else { return literal.range.start }
        let prefix = literal.text.utf8.dropFirst().prefix(byteOffset)
        let scalars = String(decoding: prefix, as: UTF8.self).unicodeScalars.count
        var position = literal.range.start
        position.column += 1 + scalars
        position.offset += 1 + prefix.count
        return position
    }

    private mutating func parseTimestamp(start: Token) throws(QueryError) -> Expression {
        guard case .string(let text) = current.kind else {
            throw error(
                "expected timestamp string after TIMESTAMP, found \(current.quoted)",
                hint: quotesHint ?? "e.g. TIMESTAMP '2026-11-02T08:00:00Z'")
        }
        let literal = current
        do {
            let ms = try TimestampLiteral.milliseconds(text)
            advance()
            return .literal(.timestamp(milliseconds: ms), range: start.range.union(literal.range))
        } catch {
            throw QueryError(
                message: error.message, position: literal.range.start,
                hint: "use RFC 3339, e.g. '2026-11-02T08:00:00Z' or '2026-11-02T09:00:00+01:00'")
        }
    }

    private mutating func parseCase(start: Token) throws(QueryError) -> Expression {
        var caseExpression = CaseExpression(branches: [])
        if !isKeyword(.when) { caseExpression.operand = try parseExpression() }
        guard isKeyword(.when) else { throw expectedError("WHEN", "in CASE expression", suggest: [.when]) }
        while accept(.when) != nil {
            let condition = try parseExpression()
            try expect(.then, "after WHEN condition")
            let result = try parseExpression()
            caseExpression.branches.append(CaseExpression.Branch(when: condition, then: result))
        }
        if accept(.else) != nil { caseExpression.elseResult = try parseExpression() }
        let end = try expect(.end, "to close CASE expression")
        return .caseWhen(caseExpression, range: start.range.union(end.range))
    }

    private mutating func parseCast(start: Token) throws(QueryError) -> Expression {
        try expect(.leftParen, "after CAST")
        let value = try parseExpression()
        try expect(.as, "in CAST")
        let type: String
        switch current.kind {
        case .identifier(let name), .quotedIdentifier(let name): type = name.lowercased()
        case .keyword(let keyword): type = keyword.rawValue.lowercased()
        default: throw error("expected type name in CAST, found \(current.quoted)")
        }
        advance()
        let close = try expect(.rightParen, "to close CAST")
        return .cast(value, type: type, range: start.range.union(close.range))
    }

    // MARK: - Typo hints

    /// `did you mean GROUP?` when an identifier is a small edit away from a keyword.
    private func typoHint(for token: Token, among keywords: [Keyword]) -> String? {
        guard case .identifier(let word) = token.kind, word.count >= 3 else { return nil }
        let upper = Array(word.uppercased())
        var best: (Keyword, Int)? = nil
        for keyword in keywords {
            let candidate = Array(keyword.rawValue)
            let limit = candidate.count <= 3 ? 1 : 2
            let distance = Parser.editDistance(upper, candidate)
            if distance <= limit, best.map({ distance < $0.1 }) ?? true { best = (keyword, distance) }
        }
        return best.map { "did you mean \($0.0.rawValue)?" }
    }

    /// Optimal string alignment distance: Levenshtein plus adjacent transposition, since
    /// swapped letters (`GRUOP`) are the most common keyword typo.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var value = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    value = min(value, table[i - 2][j - 2] + 1)
                }
                table[i][j] = value
            }
        }
        return table[a.count][b.count]
    }
}
