extension Expression {
    /// This tree with column references replaced where `replace` returns an expression.
    func replacingColumns(_ replace: (ColumnReference, SourceRange) -> Expression?) -> Expression {
        func r(_ e: Expression) -> Expression { e.replacingColumns(replace) }
        switch self {
        case .literal, .parameter, .star: return self
        case .column(let ref, let range): return replace(ref, range) ?? self
        case .unary(let op, let x, let range): return .unary(op, r(x), range: range)
        case .binary(let op, let a, let b, let range): return .binary(op, r(a), r(b), range: range)
        case .like(let a, let p, let negated, let range): return .like(r(a), pattern: r(p), negated: negated, range: range)
        case .inList(let a, let list, let negated, let range): return .inList(r(a), list.map(r), negated: negated, range: range)
        case .isNull(let a, let negated, let range): return .isNull(r(a), negated: negated, range: range)
        case .between(let a, let lo, let hi, let negated, let range):
            return .between(r(a), lower: r(lo), upper: r(hi), negated: negated, range: range)
        case .function(var call, let range):
            call.arguments = call.arguments.map(r)
            return .function(call, range: range)
        case .caseWhen(var c, let range):
            c.operand = c.operand.map(r)
            c.branches = c.branches.map { CaseExpression.Branch(when: r($0.condition), then: r($0.result)) }
            c.elseResult = c.elseResult.map(r)
            return .caseWhen(c, range: range)
        case .cast(let x, let type, let range): return .cast(r(x), type: type, range: range)
        }
    }
}

extension Execution {
    /// HAVING and ORDER BY of a grouped query may name select-list aliases (as DuckDB allows):
    /// an unqualified name that is an alias and not a GROUP BY key stands for the aliased
    /// expression.
    static func expandingAliases(
        _ e: Expression, _ items: [(expression: Expression, name: String)], keys: [Expression]
    ) -> Expression {
        e.replacingColumns { ref, range in
            guard ref.table == nil,
                !keys.contains(Expression.column(ref, range: range).strippingRanges()),
                let item = items.first(where: { $0.name == ref.name }),
                item.expression.strippingRanges() != Expression.column(ref, range: range).strippingRanges()
            else { return nil }
            return item.expression
        }
    }
}
