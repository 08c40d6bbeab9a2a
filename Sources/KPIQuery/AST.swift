/// A parsed query: a plain `SELECT`, or `EXPLAIN` of one.
public enum Statement: Sendable, Equatable {
    case select(SelectStatement)
    case explain(SelectStatement)
}

/// `SELECT ... FROM ... [WHERE] [GROUP BY] [HAVING] [FILL] [ORDER BY] [LIMIT [OFFSET]]`.
public struct SelectStatement: Sendable, Equatable {
    /// `SELECT DISTINCT`.
    public var distinct: Bool
    public var items: [SelectItem]
    public var from: Source
    /// The `WHERE` condition (named `filter` because `where` is a Swift keyword).
    public var filter: Expression?
    /// `GROUP BY` keys; empty when absent.
    public var groupBy: [Expression]
    public var having: Expression?
    public var fill: FillStrategy?
    /// `ORDER BY` keys; empty when absent.
    public var orderBy: [OrderItem]
    public var limit: Int64?
    /// `OFFSET`; only valid after `LIMIT`.
    public var offset: Int64?

    public init(
        distinct: Bool = false, items: [SelectItem], from: Source, filter: Expression? = nil,
        groupBy: [Expression] = [], having: Expression? = nil, fill: FillStrategy? = nil,
        orderBy: [OrderItem] = [], limit: Int64? = nil, offset: Int64? = nil
    ) {
        self.distinct = distinct
        self.items = items
        self.from = from
        self.filter = filter
        self.groupBy = groupBy
        self.having = having
        self.fill = fill
        self.orderBy = orderBy
        self.limit = limit
        self.offset = offset
    }
}

/// One entry of the select list.
public enum SelectItem: Sendable, Equatable {
    /// `*`: every column of the source.
    case wildcard
    case expression(Expression, alias: String?)
}

/// How empty time buckets are filled: `FILL(null|previous|linear|<number>)`.
public enum FillStrategy: Sendable, Equatable {
    case null
    case previous
    case linear
    case value(Double)
}

/// `NULLS FIRST` / `NULLS LAST`.
public enum NullsOrder: Sendable, Equatable {
    case first
    case last
}

/// One `ORDER BY` key.
public struct OrderItem: Sendable, Equatable {
    public var expression: Expression
    /// `DESC`; `ASC` and no direction both mean ascending.
    public var descending: Bool
    /// nil when the query does not say, leaving the default to the executor.
    public var nulls: NullsOrder?

    public init(_ expression: Expression, descending: Bool = false, nulls: NullsOrder? = nil) {
        self.expression = expression
        self.descending = descending
        self.nulls = nulls
    }
}

/// What a query reads from.
public indirect enum Source: Sendable, Equatable {
    /// A metric by name (`queue_wait_seconds`, `job:rate5m`, `"odd name"`).
    case metric(String, alias: String?)
    /// `(SELECT ...) AS alias`.
    case subquery(SelectStatement, alias: String)
    /// A table function such as `intervals(metric, condition) AS x`.
    case function(name: String, arguments: [Expression], alias: String?)
    case join(Join)
}

/// `left [INNER|LEFT] JOIN right (USING (...) | ON ...)`.
public struct Join: Sendable, Equatable {
    /// `JOIN`/`INNER JOIN`, or `LEFT [OUTER] JOIN`.
    public enum Kind: Sendable, Equatable {
        case inner
        case left
    }

    /// `USING (columns)` or `ON condition`.
    public enum Condition: Sendable, Equatable {
        case using([String])
        case on(Expression)
    }

    public var kind: Kind
    public var left: Source
    public var right: Source
    public var condition: Condition

    public init(kind: Kind, left: Source, right: Source, condition: Condition) {
        self.kind = kind
        self.left = left
        self.right = right
        self.condition = condition
    }
}

/// Constant values. Intervals and timestamps are resolved to milliseconds by the parser.
public enum Literal: Sendable, Equatable {
    case integer(Int64)
    case decimal(Double)
    case string(String)
    case boolean(Bool)
    case null
    /// `INTERVAL '...'` as a millisecond count.
    case interval(milliseconds: Int64)
    /// `TIMESTAMP '...'` as Unix milliseconds (UTC).
    case timestamp(milliseconds: Int64)
}

/// A possibly qualified column: `zone`, `a.zone`, `"quoted col"`.
public struct ColumnReference: Sendable, Equatable {
    /// The source alias or metric before the dot, if qualified.
    public var table: String?
    public var name: String

    public init(table: String? = nil, _ name: String) {
        self.table = table
        self.name = name
    }
}

/// Prefix operators: `NOT`, `-`, `+`.
public enum UnaryOperator: Sendable, Equatable {
    case not
    case negate
    case plus
}

/// Infix operators; `<>` parses to `.notEqual` like `!=`.
public enum BinaryOperator: Sendable, Equatable {
    case or, and
    case equal, notEqual, less, lessEqual, greater, greaterEqual
    /// `~`: regular expression match.
    case matches
    /// `!~`: regular expression non-match.
    case notMatches
    case add, subtract, multiply, divide, modulo
}

/// `name([DISTINCT] args)`; `count(*)` has the single argument `.star`.
public struct FunctionCall: Sendable, Equatable {
    public var name: String
    public var arguments: [Expression]
    public var distinct: Bool

    public init(_ name: String, _ arguments: [Expression], distinct: Bool = false) {
        self.name = name
        self.arguments = arguments
        self.distinct = distinct
    }
}

/// `CASE [operand] WHEN ... THEN ... [ELSE ...] END`.
public struct CaseExpression: Sendable, Equatable {
    public struct Branch: Sendable, Equatable {
        public var condition: Expression
        public var result: Expression

        public init(when condition: Expression, then result: Expression) {
            self.condition = condition
            self.result = result
        }
    }

    /// Set for the simple form `CASE x WHEN 1 THEN ...`, nil for `CASE WHEN cond THEN ...`.
    public var operand: Expression?
    public var branches: [Branch]
    public var elseResult: Expression?

    public init(operand: Expression? = nil, branches: [Branch], elseResult: Expression? = nil) {
        self.operand = operand
        self.branches = branches
        self.elseResult = elseResult
    }
}

/// An expression node. Every case carries the source range it was parsed from, so later
/// phases can report errors at the right place; use `strippingRanges()` to compare trees by
/// structure only.
public indirect enum Expression: Sendable, Equatable {
    case literal(Literal, range: SourceRange)
    case column(ColumnReference, range: SourceRange)
    /// A named parameter `:name`, bound at execution time.
    case parameter(String, range: SourceRange)
    /// The `*` of `count(*)`.
    case star(range: SourceRange)
    case unary(UnaryOperator, Expression, range: SourceRange)
    case binary(BinaryOperator, Expression, Expression, range: SourceRange)
    case like(Expression, pattern: Expression, negated: Bool, range: SourceRange)
    case inList(Expression, [Expression], negated: Bool, range: SourceRange)
    case isNull(Expression, negated: Bool, range: SourceRange)
    case between(Expression, lower: Expression, upper: Expression, negated: Bool, range: SourceRange)
    case function(FunctionCall, range: SourceRange)
    case caseWhen(CaseExpression, range: SourceRange)
    /// `CAST(x AS type)`; the type name is lowercased.
    case cast(Expression, type: String, range: SourceRange)

    /// Where this node was written.
    public var range: SourceRange {
        switch self {
        case .literal(_, let r), .column(_, let r), .parameter(_, let r), .star(let r),
            .unary(_, _, let r), .binary(_, _, _, let r), .like(_, _, _, let r),
            .inList(_, _, _, let r), .isNull(_, _, let r), .between(_, _, _, _, let r),
            .function(_, let r), .caseWhen(_, let r), .cast(_, _, let r):
            return r
        }
    }
}
