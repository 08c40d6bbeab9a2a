import Testing

@testable import KPIQuery

// Builders for hand-written expected trees; all ranges are `.unknown` and parsed trees are
// compared after `strippingRanges()`.

let none = SourceRange.unknown

func col(_ name: String, table: String? = nil) -> Expression {
    .column(ColumnReference(table: table, name), range: none)
}

func int(_ n: Int64) -> Expression { .literal(.integer(n), range: none) }
func dec(_ d: Double) -> Expression { .literal(.decimal(d), range: none) }
func str(_ s: String) -> Expression { .literal(.string(s), range: none) }
func param(_ name: String) -> Expression { .parameter(name, range: none) }
let star = Expression.star(range: none)

func call(_ name: String, _ arguments: Expression..., distinct: Bool = false) -> Expression {
    .function(FunctionCall(name, arguments, distinct: distinct), range: none)
}

func bin(_ op: BinaryOperator, _ lhs: Expression, _ rhs: Expression) -> Expression {
    .binary(op, lhs, rhs, range: none)
}

func un(_ op: UnaryOperator, _ operand: Expression) -> Expression { .unary(op, operand, range: none) }

/// Parses a SELECT and strips ranges; records an issue and returns nil on failure.
func select(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> SelectStatement? {
    do {
        guard case .select(let s) = try QueryParser.parse(text) else {
            Issue.record("not a SELECT: \(text)", sourceLocation: sourceLocation)
            return nil
        }
        return s.strippingRanges()
    } catch {
        Issue.record("parse failed: \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The WHERE expression of `SELECT * FROM m WHERE <condition>`.
func condition(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> Expression? {
    select("SELECT * FROM m WHERE \(text)", sourceLocation: sourceLocation)?.filter
}

/// Canonical print of a parsed statement, or the error description.
func canonical(_ text: String) -> String {
    do {
        return try QueryParser.parse(text).sql
    } catch {
        return "error: \(error)"
    }
}

/// The error a malformed query raises; records an issue if it parses.
func parseError(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> QueryError? {
    do {
        let statement = try QueryParser.parse(text)
        Issue.record("expected an error, parsed \(statement.sql)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}
