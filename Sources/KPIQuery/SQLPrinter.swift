/// Renders ASTs back to canonical SQL: keywords uppercase, single spaces, minimal
/// parentheses (added only where precedence requires), `!=` for inequality, intervals and
/// timestamps in normalized form. Parsing the output gives back the same tree (ranges aside),
/// which EXPLAIN and the round-trip tests rely on.
enum SQLPrinter {
    /// Binding strength of an expression's top node, matching the parser's levels.
    static func precedence(_ expression: Expression) -> Int {
        switch expression {
        case .binary(let op, _, _, _):
            switch op {
            case .or: return 1
            case .and: return 2
            case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .matches, .notMatches:
                return 4
            case .add, .subtract: return 5
            case .multiply, .divide, .modulo: return 6
            }
        case .unary(.not, _, _): return 3
        case .unary: return 7
        case .like, .inList, .isNull, .between: return 4
        case .literal(.integer(let n), _) where n < 0: return 7
        case .literal(.decimal(let d), _) where d < 0 || (d == 0 && d.sign == .minus): return 7
        default: return 8
        }
    }

    static func expression(_ e: Expression, minimum: Int = 0) -> String {
        let text = render(e)
        return precedence(e) < minimum ? "(\(text))" : text
    }

    /// An operand compared against (right of `=`, LIKE pattern, IN item, BETWEEN bound). The
    /// parser rejects a double-quoted name there as a probable wrong-quotes string, so such
    /// operands are parenthesized, which the parser accepts as a deliberate column.
    static func operand(_ e: Expression, minimum: Int = 0) -> String {
        let text = expression(e, minimum: minimum)
        return text.hasPrefix("\"") ? "(\(text))" : text
    }

    private static func render(_ e: Expression) -> String {
        switch e {
        case .literal(let value, _):
            return literal(value)
        case .column(let column, _):
            return (column.table.map { identifier($0) + "." } ?? "") + identifier(column.name)
        case .parameter(let name, _):
            return ":" + name
        case .star:
            return "*"
        case .unary(.not, let operand, _):
            return "NOT " + expression(operand, minimum: 3)
        case .unary(let op, let operand, _):
            // `- -x` would lex as a comment, and `-` before a negative literal likewise;
            // nested signs always get parentheses.
            let sign = op == .negate ? "-" : "+"
            let needsParens: Bool
            switch operand {
            case .unary(.negate, _, _), .unary(.plus, _, _): needsParens = true
            default: needsParens = precedence(operand) < 8
            }
            let inner = render(operand)
            return sign + (needsParens ? "(\(inner))" : inner)
        case .binary(let op, let lhs, let rhs, _):
            let p = precedence(e)
            let right = p == 4 ? operand(rhs, minimum: p + 1) : expression(rhs, minimum: p + 1)
            return "\(expression(lhs, minimum: p)) \(symbol(op)) \(right)"
        case .like(let value, let pattern, let negated, _):
            return "\(expression(value, minimum: 4)) \(negated ? "NOT LIKE" : "LIKE") \(operand(pattern, minimum: 5))"
        case .inList(let value, let list, let negated, _):
            let items = list.map { operand($0) }.joined(separator: ", ")
            return "\(expression(value, minimum: 4)) \(negated ? "NOT IN" : "IN") (\(items))"
        case .isNull(let value, let negated, _):
            return "\(expression(value, minimum: 4)) \(negated ? "IS NOT NULL" : "IS NULL")"
        case .between(let value, let lower, let upper, let negated, _):
            return "\(expression(value, minimum: 4)) \(negated ? "NOT BETWEEN" : "BETWEEN") "
                + "\(operand(lower, minimum: 5)) AND \(operand(upper, minimum: 5))"
        case .function(let call, _):
            let arguments = call.arguments.map { expression($0) }.joined(separator: ", ")
            return "\(identifier(call.name))(\(call.distinct ? "DISTINCT " : "")\(arguments))"
        case .caseWhen(let c, _):
            var text = "CASE"
            if let operand = c.operand { text += " " + expression(operand) }
            for branch in c.branches {
                text += " WHEN \(expression(branch.condition)) THEN \(expression(branch.result))"
            }
            if let elseResult = c.elseResult { text += " ELSE " + expression(elseResult) }
            return text + " END"
        case .cast(let value, let type, _):
            return "CAST(\(expression(value)) AS \(type))"
        }
    }

    static func symbol(_ op: BinaryOperator) -> String {
        switch op {
        case .or: return "OR"
        case .and: return "AND"
        case .equal: return "="
        case .notEqual: return "!="
        case .less: return "<"
        case .lessEqual: return "<="
        case .greater: return ">"
        case .greaterEqual: return ">="
        case .matches: return "~"
        case .notMatches: return "!~"
        case .add: return "+"
        case .subtract: return "-"
        case .multiply: return "*"
        case .divide: return "/"
        case .modulo: return "%"
        }
    }

    static func literal(_ value: Literal) -> String {
        switch value {
        case .integer(let n): return String(n)
        case .decimal(let d): return d.description
        case .string(let s): return quote(s, with: "'")
        case .boolean(let b): return b ? "TRUE" : "FALSE"
        case .null: return "NULL"
        case .interval(let ms): return "INTERVAL '\(IntervalLiteral.format(ms))'"
        case .timestamp(let ms): return "TIMESTAMP '\(TimestampLiteral.format(ms))'"
        }
    }

    static func quote(_ text: String, with mark: Character) -> String {
        var quoted = String(mark)
        for character in text {
            if character == mark { quoted.append(mark) }
            quoted.append(character)
        }
        quoted.append(mark)
        return quoted
    }

    /// Bare when the lexer would read it back as the same identifier, quoted otherwise.
    static func identifier(_ name: String) -> String {
        let bytes = Array(name.utf8)
        let bare =
            !bytes.isEmpty && Lexer.isIdentifierStart(bytes[0])
            && bytes.allSatisfy(Lexer.isIdentifierPart)
            && (name.contains(":") || Keyword.named(name) == nil)
        return bare ? name : quote(name, with: "\"")
    }

    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return value.description
    }

    static func source(_ source: Source) -> String {
        func aliased(_ text: String, _ alias: String?) -> String {
            alias.map { "\(text) AS \(identifier($0))" } ?? text
        }
        switch source {
        case .metric(let name, let alias):
            return aliased(identifier(name), alias)
        case .subquery(let select, let alias):
            return aliased("(\(self.select(select)))", alias)
        case .function(let name, let arguments, let alias):
            let list = arguments.map { expression($0) }.joined(separator: ", ")
            return aliased("\(identifier(name))(\(list))", alias)
        case .join(let join):
            var text = self.source(join.left) + (join.kind == .left ? " LEFT JOIN " : " JOIN ")
            text += self.source(join.right)
            switch join.condition {
            case .using(let columns): text += " USING (\(columns.map(identifier).joined(separator: ", ")))"
            case .on(let condition): text += " ON " + expression(condition)
            }
            return text
        }
    }

    static func select(_ s: SelectStatement) -> String {
        var text = s.distinct ? "SELECT DISTINCT " : "SELECT "
        text += s.items.map { item -> String in
            switch item {
            case .wildcard: return "*"
            case .expression(let e, let alias):
                return expression(e) + (alias.map { " AS " + identifier($0) } ?? "")
            }
        }.joined(separator: ", ")
        text += " FROM " + source(s.from)
        if let filter = s.filter { text += " WHERE " + expression(filter) }
        if !s.groupBy.isEmpty { text += " GROUP BY " + s.groupBy.map { expression($0) }.joined(separator: ", ") }
        if let having = s.having { text += " HAVING " + expression(having) }
        if let fill = s.fill {
            switch fill {
            case .null: text += " FILL(null)"
            case .previous: text += " FILL(previous)"
            case .linear: text += " FILL(linear)"
            case .value(let v): text += " FILL(\(number(v)))"
            }
        }
        if !s.orderBy.isEmpty {
            text +=
                " ORDER BY "
                + s.orderBy.map { item -> String in
                    var key = expression(item.expression)
                    if item.descending { key += " DESC" }
                    switch item.nulls {
                    case .first: key += " NULLS FIRST"
                    case .last: key += " NULLS LAST"
                    case nil: break
                    }
                    return key
                }.joined(separator: ", ")
        }
        if let limit = s.limit { text += " LIMIT \(limit)" }
        if let offset = s.offset { text += " OFFSET \(offset)" }
        return text
    }
}

extension Expression {
    /// Canonical SQL for this expression.
    public var sql: String { SQLPrinter.expression(self) }
}

extension Source {
    /// Canonical SQL for this source (the text after FROM).
    public var sql: String { SQLPrinter.source(self) }
}

extension SelectStatement {
    /// Canonical SQL for this query, on one line.
    public var sql: String { SQLPrinter.select(self) }
}

extension Statement {
    /// Canonical SQL for this statement, on one line, without a trailing `;`.
    public var sql: String {
        switch self {
        case .select(let s): return s.sql
        case .explain(let s): return "EXPLAIN " + s.sql
        }
    }
}
