// Structural comparison: the parser records real ranges, while hand-built expectations and
// re-parsed printer output have different ones. These copies replace every range with
// `SourceRange.unknown` so `==` compares meaning only.

extension Expression {
    /// This tree with every source range replaced by `SourceRange.unknown`.
    public func strippingRanges() -> Expression {
        let none = SourceRange.unknown
        switch self {
        case .literal(let value, _): return .literal(value, range: none)
        case .column(let column, _): return .column(column, range: none)
        case .parameter(let name, _): return .parameter(name, range: none)
        case .star: return .star(range: none)
        case .unary(let op, let operand, _):
            return .unary(op, operand.strippingRanges(), range: none)
        case .binary(let op, let lhs, let rhs, _):
            return .binary(op, lhs.strippingRanges(), rhs.strippingRanges(), range: none)
        case .like(let value, let pattern, let negated, _):
            return .like(value.strippingRanges(), pattern: pattern.strippingRanges(), negated: negated, range: none)
        case .inList(let value, let list, let negated, _):
            return .inList(value.strippingRanges(), list.map { $0.strippingRanges() }, negated: negated, range: none)
        case .isNull(let value, let negated, _):
            return .isNull(value.strippingRanges(), negated: negated, range: none)
        case .between(let value, let lower, let upper, let negated, _):
            return .between(
                value.strippingRanges(), lower: lower.strippingRanges(), upper: upper.strippingRanges(),
                negated: negated, range: none)
        case .function(var call, _):
            call.arguments = call.arguments.map { $0.strippingRanges() }
            return .function(call, range: none)
        case .caseWhen(var caseExpression, _):
            caseExpression.operand = caseExpression.operand?.strippingRanges()
            caseExpression.branches = caseExpression.branches.map {
                CaseExpression.Branch(when: $0.condition.strippingRanges(), then: $0.result.strippingRanges())
            }
            caseExpression.elseResult = caseExpression.elseResult?.strippingRanges()
            return .caseWhen(caseExpression, range: none)
        case .cast(let value, let type, _):
            return .cast(value.strippingRanges(), type: type, range: none)
        }
    }
}

extension Source {
    /// This source with every expression range replaced by `SourceRange.unknown`.
    public func strippingRanges() -> Source {
        switch self {
        case .metric: return self
        case .subquery(let select, let alias): return .subquery(select.strippingRanges(), alias: alias)
        case .function(let name, let arguments, let alias):
            return .function(name: name, arguments: arguments.map { $0.strippingRanges() }, alias: alias)
        case .join(var join):
            join.left = join.left.strippingRanges()
            join.right = join.right.strippingRanges()
            if case .on(let condition) = join.condition { join.condition = .on(condition.strippingRanges()) }
            return .join(join)
        }
    }
}

extension SelectStatement {
    /// This statement with every expression range replaced by `SourceRange.unknown`.
    public func strippingRanges() -> SelectStatement {
        var copy = self
        copy.items = items.map {
            switch $0 {
            case .wildcard: return .wildcard
            case .expression(let e, let alias): return .expression(e.strippingRanges(), alias: alias)
            }
        }
        copy.from = from.strippingRanges()
        copy.filter = filter?.strippingRanges()
        copy.groupBy = groupBy.map { $0.strippingRanges() }
        copy.having = having?.strippingRanges()
        copy.orderBy = orderBy.map {
            OrderItem($0.expression.strippingRanges(), descending: $0.descending, nulls: $0.nulls)
        }
        return copy
    }
}

extension Statement {
    /// This statement with every expression range replaced by `SourceRange.unknown`.
    public func strippingRanges() -> Statement {
        switch self {
        case .select(let s): return .select(s.strippingRanges())
        case .explain(let s): return .explain(s.strippingRanges())
        }
    }
}
