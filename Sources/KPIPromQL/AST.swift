import KPICore

/// The type of a PromQL expression's value, as Prometheus names them in its API and errors.
public enum ValueType: String, Sendable, Equatable {
    case scalar
    case vector
    case matrix
    case string

    /// The name Prometheus uses in type errors ("instant vector", "range vector").
    var errorName: String {
        switch self {
        case .scalar: return "scalar"
        case .vector: return "instant vector"
        case .matrix: return "range vector"
        case .string: return "string"
        }
    }
}

/// The `@` modifier of a selector or subquery: a fixed time, or the query's start or end.
public enum AtModifier: Sendable, Equatable {
    /// Milliseconds since the epoch.
    case time(Int64)
    case start
    case end
}

/// An instant vector selector: matchers (the metric name is a `__name__` matcher), offset and
/// `@` in milliseconds.
public struct VectorSelector: Sendable, Equatable {
    /// The metric name written before the braces, if any.
    public var name: String?
    /// Every matcher, the metric name's included.
    public var matchers: [LabelMatcher]
    /// `offset` in milliseconds (may be negative).
    public var offset: Int64 = 0
    /// The `@` modifier, if any.
    public var at: AtModifier?

    /// A selector from its parts (the parser builds them from query text).
    public init(name: String?, matchers: [LabelMatcher], offset: Int64 = 0, at: AtModifier? = nil) {
        self.name = name
        self.matchers = matchers
        self.offset = offset
        self.at = at
    }
}

/// Binary operators, from the lowest precedence to the highest.
public enum BinaryOperator: String, Sendable, Equatable {
    case or, and, unless
    case equal = "==", notEqual = "!=", greater = ">", less = "<", greaterOrEqual = ">=", lessOrEqual = "<="
    case add = "+", subtract = "-"
    case multiply = "*", divide = "/", modulo = "%", atan2
    case power = "^"

    /// Prometheus' precedence levels: higher binds tighter.
    var precedence: Int {
        switch self {
        case .or: return 1
        case .and, .unless: return 2
        case .equal, .notEqual, .greater, .less, .greaterOrEqual, .lessOrEqual: return 3
        case .add, .subtract: return 4
        case .multiply, .divide, .modulo, .atan2: return 5
        case .power: return 6
        }
    }

    var isRightAssociative: Bool { self == .power }
    /// `== != > < >= <=`.
    public var isComparison: Bool { precedence == 3 }
    /// `and or unless`.
    public var isSetOperator: Bool { precedence <= 2 }
    /// `+ - * / % atan2 ^`.
    public var isArithmetic: Bool { precedence >= 4 }
    /// Whether the result loses the metric name: arithmetic except `atan2`, which keeps it
    /// in Prometheus 2.x (its `shouldDropMetricName` does not list it).
    public var dropsMetricName: Bool { isArithmetic && self != .atan2 }
}

/// `on`/`ignoring`, `group_left`/`group_right` and `bool` of a binary operation.
public struct VectorMatching: Sendable, Equatable {
    /// One-to-one, `group_left` (many-to-one), `group_right` (one-to-many), or set operators.
    public enum Cardinality: Sendable, Equatable {
        case oneToOne, manyToOne, oneToMany, manyToMany
    }
    /// How series of the two sides pair up.
    public var cardinality: Cardinality = .oneToOne
    /// `on(...)` when true, `ignoring(...)` (or nothing) when false.
    public var on = false
    /// The labels of `on`/`ignoring`.
    public var labels: [String] = []
    /// The labels of `group_left(...)`/`group_right(...)`, copied from the "one" side.
    public var include: [String] = []
    /// Whether `on`/`ignoring` was written (for printing).
    public var explicit = false

    /// One-to-one matching on all labels but the metric name.
    public init() {}
}

/// Aggregation operators.
public enum AggregateOperator: String, Sendable, Equatable, CaseIterable {
    case sum, avg, min, max, count, stddev, stdvar, topk, bottomk, quantile
    case countValues = "count_values"
    case group

    /// Whether the operator takes a parameter before the vector.
    var hasParameter: Bool { self == .topk || self == .bottomk || self == .quantile || self == .countValues }
}

/// A parsed PromQL expression. `position` fields are 0-based byte offsets into the query.
public indirect enum Expr: Sendable, Equatable {
    case number(Double)
    case string(String)
    case vectorSelector(VectorSelector)
    /// A range vector selector: the selector and the range in milliseconds.
    case matrixSelector(VectorSelector, range: Int64)
    /// `expr[range:step] offset @`; step 0 means the default evaluation interval.
    case subquery(Expr, range: Int64, step: Int64, offset: Int64, at: AtModifier?)
    case paren(Expr)
    /// Unary minus (plus is dropped by the parser).
    case negate(Expr)
    case binary(BinaryOperator, Expr, Expr, matching: VectorMatching, returnBool: Bool)
    case aggregate(AggregateOperator, Expr, parameter: Expr?, grouping: [String], without: Bool)
    case call(String, [Expr])

    /// The type of the value the expression evaluates to.
    public var type: ValueType {
        switch self {
        case .number: return .scalar
        case .string: return .string
        case .vectorSelector: return .vector
        case .matrixSelector, .subquery: return .matrix
        case .paren(let e), .negate(let e): return e.type
        case .binary(_, let l, let r, _, _): return l.type == .scalar && r.type == .scalar ? .scalar : .vector
        case .aggregate: return .vector
        case .call(let name, _): return PromQLFunction.table[name]?.returns ?? .vector
        }
    }

    /// The expression without enclosing parentheses.
    var unwrapped: Expr {
        if case .paren(let inner) = self { return inner.unwrapped }
        return self
    }
}

/// A PromQL function's signature.
struct PromQLFunction: Sendable {
    var arguments: [ValueType]
    /// How many trailing arguments may be left out.
    var optional = 0
    /// Whether the last argument type may repeat (label_join).
    var variadic = false
    var returns: ValueType = .vector

    static let table: [String: PromQLFunction] = {
        var t: [String: PromQLFunction] = [:]
        for name in ["rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets"] {
            t[name] = PromQLFunction(arguments: [.matrix])
        }
        for name in [
            "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "last_over_time",
            "stddev_over_time", "stdvar_over_time", "present_over_time", "absent_over_time",
        ] {
            t[name] = PromQLFunction(arguments: [.matrix])
        }
        t["quantile_over_time"] = PromQLFunction(arguments: [.scalar, .matrix])
        t["predict_linear"] = PromQLFunction(arguments: [.matrix, .scalar])
        t["holt_winters"] = PromQLFunction(arguments: [.matrix, .scalar, .scalar])
        for name in [
            "sgn", "deg", "rad", "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh",
        ] {
            t[name] = PromQLFunction(arguments: [.vector])
        }
        t["pi"] = PromQLFunction(arguments: [], returns: .scalar)
        for name in ["abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "absent", "sort", "sort_desc", "timestamp"] {
            t[name] = PromQLFunction(arguments: [.vector])
        }
        t["round"] = PromQLFunction(arguments: [.vector, .scalar], optional: 1)
        t["clamp"] = PromQLFunction(arguments: [.vector, .scalar, .scalar])
        t["clamp_min"] = PromQLFunction(arguments: [.vector, .scalar])
        t["clamp_max"] = PromQLFunction(arguments: [.vector, .scalar])
        t["time"] = PromQLFunction(arguments: [], returns: .scalar)
        t["vector"] = PromQLFunction(arguments: [.scalar])
        t["scalar"] = PromQLFunction(arguments: [.vector], returns: .scalar)
        t["label_replace"] = PromQLFunction(arguments: [.vector, .string, .string, .string, .string])
        t["label_join"] = PromQLFunction(arguments: [.vector, .string, .string, .string], optional: 1, variadic: true)
        t["histogram_quantile"] = PromQLFunction(arguments: [.scalar, .vector])
        for name in ["day_of_week", "day_of_month", "day_of_year", "hour", "minute", "month", "year", "days_in_month"] {
            t[name] = PromQLFunction(arguments: [.vector], optional: 1)
        }
        return t
    }()
}
