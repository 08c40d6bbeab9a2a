import Foundation
import KPICore
import Synchronization

/// The row an expression is evaluated against: one value per slot. A scan reuses one row for
/// every sample (it overwrites the `ts` and `value` slots), so evaluation allocates nothing.
final class Row {
    var slots: [Value]
    /// The timestamp of the series' next sample (for `time_in_state`), or nil at its end.
    var nextTimestamp: Int64?
    /// Which series the row came from (counters are tracked per series by `rate`).
    var series: Int = 0
    /// The series' previous sample (for `rate`/`increase`), or nil at its start.
    var previousTimestamp: Int64?
    var previousValue: Double = 0
    /// Set on the row that carries a series' state into a range from the sample before it
    /// (`ts` = the range's start): only `time_in_state` reads it, every other aggregate skips it.
    var isHeldState = false

    init(count: Int) {
        slots = [Value](repeating: .null, count: count)
    }
}

typealias Evaluator = (Row) -> Value

/// A compiled expression: its type, how to evaluate it, and what it reads.
struct Compiled {
    var type: ValueType
    var eval: Evaluator
    /// Set when the expression reads no column: it was evaluated once, at compile time.
    var constant: Value?
    /// Whether it reads a per-sample column (`ts`, `value`, ...), not only series labels.
    var readsRow: Bool

    static func constant(_ value: Value) -> Compiled {
        Compiled(type: value.type, eval: { _ in value }, constant: value, readsRow: false)
    }
}

/// Name resolution for one FROM source.
final class Scope {
    struct Column {
        var table: String?
        var name: String
        var type: ValueType
        var slot: Int
        /// Constant per series (a label): predicates on it are checked once per series.
        var perSeries: Bool
    }

    private(set) var columns: [Column]
    /// Names that may qualify a column (`a.zone`): the source's alias or metric name.
    let qualifiers: Set<String>
    /// Metric scans: an unknown name is a label (NULL where a series lacks it).
    let labelsOnDemand: Bool
    /// Label names the source's series have (metric scans), to tell typos from absent labels.
    var knownLabels: Set<String>?
    /// Label columns added on demand, in slot order.
    private(set) var labels: [String] = []
    /// The slot of the `ts` column, for first/last/time_in_state/rate ordering.
    var timestampSlot: Int? { columns.first { $0.name == "ts" && $0.type == .timestamp }?.slot }

    init(columns: [Column], qualifiers: Set<String>, labelsOnDemand: Bool) {
        self.columns = columns
        self.qualifiers = qualifiers
        self.labelsOnDemand = labelsOnDemand
    }

    var slotCount: Int { columns.count }

    /// The column a reference names; nil when unknown.
    func resolve(_ ref: ColumnReference, range: SourceRange) throws(QueryError) -> Column? {
        if let table = ref.table, !qualifiers.contains(table) {
            let candidates = columns.filter { $0.table == table && $0.name == ref.name }
            if candidates.count == 1 { return candidates[0] }
            // `JOIN ... USING (room)` merges both sides' `room` into one column without a
            // qualifier; `o.room` and `c.room` name it (as in PostgreSQL, for the inner join).
            let merged = columns.filter { $0.table == nil && $0.name == ref.name }
            if candidates.isEmpty, merged.count == 1, columns.contains(where: { $0.table == table }) { return merged[0] }
            if candidates.isEmpty && !columns.contains(where: { $0.table == table }) {
                throw QueryError(
                    message: "unknown table or alias \"\(table)\"", position: range.start, kind: .semantic)
            }
            return nil
        }
        let matches = columns.filter { $0.name == ref.name && (ref.table == nil || $0.table == nil || $0.table == ref.table) }
        if matches.count > 1 {
            throw QueryError(
                message: "column \"\(ref.name)\" is ambiguous", position: range.start,
                hint: "qualify it with its source alias, e.g. a.\(ref.name)", kind: .semantic)
        }
        if let column = matches.first { return column }
        if labelsOnDemand {
            if let known = knownLabels, !known.contains(ref.name) {
                // Not a label of any series: NULL everywhere. A near miss is a typo, not a label.
                let candidates = (known.union(columns.map(\.name))).filter {
                    Compiler.editDistance($0, ref.name) <= (ref.name.count <= 4 ? 1 : 2)
                }.sorted()
                if !candidates.isEmpty {
                    throw QueryError(
                        message: "unknown column \"\(ref.name)\"", position: range.start,
                        hint: "did you mean \(candidates.joined(separator: " or "))?", kind: .semantic)
                }
            }
            let column = Column(table: nil, name: ref.name, type: .string, slot: columns.count, perSeries: true)
            columns.append(column)
            labels.append(ref.name)
            return column
        }
        return nil
    }

    /// The scope of a metric: `ts`, `value`, then labels as they are referenced.
    static func metric(_ name: String, alias: String?) -> Scope {
        var qualifiers: Set<String> = [name]
        if let alias { qualifiers.insert(alias) }
        return Scope(
            columns: [
                Column(table: nil, name: "ts", type: .timestamp, slot: 0, perSeries: false),
                Column(table: nil, name: "value", type: .double, slot: 1, perSeries: false),
            ], qualifiers: qualifiers, labelsOnDemand: true)
    }
}

/// One aggregate call of a grouped query: which function, its compiled arguments, and the
/// slot of the input row's timestamp (first/last/rate/time_in_state order by it).
struct AggregateSpec {
    enum Function: String {
        case countStar, count, countDistinct, sum, avg, min, max, first, last, stddev, stddevPop, variance
        case quantile, approxQuantile, countIf, sumIf, rate, increase, timeInState
    }

    var function: Function
    var arguments: [Compiled]
    /// For quantile and approx_quantile: the constant q.
    var q: Double = 0
    var resultType: ValueType
    var timestampSlot: Int?
    var text: String
    /// Whether the (first) argument is the metric's `value` column itself.
    var valueArgument = false
    /// The condition of count_if / sum_if / time_in_state as a test on `value` alone
    /// (`value = 0`, `value > 108`), when it has that shape.
    var valuePredicate: ((Double) -> Bool)? = nil
}

/// How the group row is laid out, and what the grouped query's expressions are compiled into.
final class GroupLayout {
    /// GROUP BY keys as written (ranges stripped, for matching select expressions).
    var keys: [Expression] = []
    var keyCompiled: [Compiled] = []
    var aggregates: [AggregateSpec] = []
    private var aggregateIndex: [Expression: Int] = [:]

    var slotCount: Int { keys.count + aggregates.count }

    func slot(forKey e: Expression) -> Int? {
        let stripped = e.strippingRanges()
        return keys.firstIndex(of: stripped)
    }

    func add(_ spec: AggregateSpec, for e: Expression) -> Int {
        let stripped = e.strippingRanges()
        if let i = aggregateIndex[stripped] { return keys.count + i }
        aggregates.append(spec)
        aggregateIndex[stripped] = aggregates.count - 1
        return keys.count + aggregates.count - 1
    }
}

extension Expression: Hashable {
    public func hash(into hasher: inout Hasher) {
        hasher.combine(SQLPrinter.expression(self))
    }
}

/// Turns expressions into evaluators: resolves names, checks types, folds constants.
struct Compiler {
    let scope: Scope
    let options: QueryOptions
    /// Set for the select list, HAVING and ORDER BY of a grouped query.
    var group: GroupLayout?
    /// Whether aggregate calls are allowed (not in WHERE, GROUP BY or inside an aggregate).
    var allowAggregates: Bool

    init(scope: Scope, options: QueryOptions, group: GroupLayout? = nil) {
        self.scope = scope
        self.options = options
        self.group = group
        self.allowAggregates = group != nil
    }

    static func semantic(_ message: String, _ range: SourceRange, hint: String? = nil) -> QueryError {
        QueryError(message: message, position: range.start, hint: hint, kind: .semantic)
    }

    func compile(_ e: Expression) throws(QueryError) -> Compiled {
        if let group {
            if let slot = group.slot(forKey: e) {
                let type = group.keyCompiled[slot].type
                return Compiled(type: type, eval: { $0.slots[slot] }, constant: nil, readsRow: true)
            }
        }
        let compiled = try compileNode(e)
        // Fold expressions that read nothing into constants (now() - INTERVAL '7 days', :site).
        if compiled.constant == nil && !compiled.readsRow && !references(e) {
            let value = compiled.eval(Row(count: 0))
            return Compiled(
                type: compiled.type == .null ? value.type : compiled.type, eval: { _ in value }, constant: value, readsRow: false)
        }
        return compiled
    }

    /// Whether `e` reads any column or aggregate (so cannot be folded).
    private func references(_ e: Expression) -> Bool {
        switch e {
        case .literal, .parameter: return false
        case .column, .star: return true
        case .unary(_, let x, _), .isNull(let x, _, _), .cast(let x, _, _): return references(x)
        case .binary(_, let a, let b, _): return references(a) || references(b)
        case .like(let a, let b, _, _): return references(a) || references(b)
        case .inList(let a, let list, _, _): return references(a) || list.contains(where: references)
        case .between(let a, let b, let c, _, _): return references(a) || references(b) || references(c)
        case .function(let call, _):
            if Compiler.aggregateNames.contains(call.name.lowercased()) { return true }
            return call.arguments.contains(where: references)
        case .caseWhen(let c, _):
            return (c.operand.map(references) ?? false)
                || c.branches.contains { references($0.condition) || references($0.result) }
                || (c.elseResult.map(references) ?? false)
        }
    }

    private func compileNode(_ e: Expression) throws(QueryError) -> Compiled {
        switch e {
        case .literal(let literal, _):
            return .constant(Compiler.value(of: literal))
        case .parameter(let name, let range):
            guard let value = options.parameters[name] else {
                throw Compiler.semantic(
                    "missing value for parameter :\(name)", range,
                    hint: "pass it in \"params\" (HTTP) or --param \(name)=... (kpid query)")
            }
            return .constant(value)
        case .star(let range):
            throw Compiler.semantic("'*' is only allowed in count(*) and SELECT *", range)
        case .column(let ref, let range):
            if group != nil {
                // Not a GROUP BY key (checked in compile): only aggregates may read it.
                throw Compiler.semantic(
                    "column \"\(ref.name)\" must appear in GROUP BY or be used in an aggregate function", range)
            }
            guard let column = try scope.resolve(ref, range: range) else {
                throw Compiler.semantic("unknown column \"\(ref.name)\"", range, hint: hintForColumn(ref.name))
            }
            let slot = column.slot
            return Compiled(type: column.type, eval: { $0.slots[slot] }, constant: nil, readsRow: !column.perSeries)
        case .unary(let op, let operand, let range):
            return try compileUnary(op, operand, range)
        case .binary(let op, let lhs, let rhs, let range):
            return try compileBinary(op, lhs, rhs, range)
        case .like(let value, let pattern, let negated, let range):
            let v = try compile(value)
            let p = try compile(pattern)
            try expectType(v, [.string], "LIKE", range)
            try expectType(p, [.string], "LIKE pattern", pattern.range)
            if case .string(let text)? = p.constant {
                let matcher = LikePattern(text)
                let ev = v.eval
                return Compiled(
                    type: .boolean,
                    eval: { row in
                        guard case .string(let s) = ev(row) else { return .null }
                        return .bool(matcher.matches(s) != negated)
                    }, constant: nil, readsRow: v.readsRow)
            }
            let ev = v.eval
            let pv = p.eval
            return Compiled(
                type: .boolean,
                eval: { row in
                    guard case .string(let s) = ev(row), case .string(let pattern) = pv(row) else { return .null }
                    return .bool(LikePattern(pattern).matches(s) != negated)
                }, constant: nil, readsRow: v.readsRow || p.readsRow)
        case .inList(let value, let list, let negated, let range):
            let v = try compile(value)
            var items: [Compiled] = []
            for item in list {
                let c = try compile(item)
                try checkComparable(v, c, range)
                items.append(try coerce(c, to: v.type, range: item.range))
            }
            let ev = v.eval
            let evals = items.map(\.eval)
            return Compiled(
                type: .boolean,
                eval: { row in
                    let x = ev(row)
                    if x.isNull { return .null }
                    var sawNull = false
                    for item in evals {
                        let y = item(row)
                        guard let c = Value.compare(x, y) else {
                            sawNull = true
                            continue
                        }
                        if c == 0 { return .bool(!negated) }
                    }
                    return sawNull ? .null : .bool(negated)
                }, constant: nil, readsRow: v.readsRow || items.contains { $0.readsRow })
        case .isNull(let value, let negated, _):
            let v = try compile(value)
            let ev = v.eval
            return Compiled(
                type: .boolean, eval: { row in .bool(ev(row).isNull != negated) }, constant: nil, readsRow: v.readsRow)
        case .between(let value, let lower, let upper, let negated, let range):
            let v = try compile(value)
            let lo = try coerce(try compile(lower), to: v.type, range: lower.range)
            let hi = try coerce(try compile(upper), to: v.type, range: upper.range)
            try checkComparable(v, lo, range)
            try checkComparable(v, hi, range)
            let (ev, el, eh) = (v.eval, lo.eval, hi.eval)
            return Compiled(
                type: .boolean,
                eval: { row in
                    let x = ev(row)
                    guard let a = Value.compare(x, el(row)), let b = Value.compare(x, eh(row)) else { return .null }
                    return .bool((a >= 0 && b <= 0) != negated)
                }, constant: nil, readsRow: v.readsRow || lo.readsRow || hi.readsRow)
        case .function(let call, let range):
            return try compileFunction(call, range)
        case .caseWhen(let c, let range):
            return try compileCase(c, range)
        case .cast(let value, let type, let range):
            return try compileCast(try compile(value), to: type, range)
        }
    }

    private func hintForColumn(_ name: String) -> String? {
        let known = scope.columns.map(\.name)
        guard !known.isEmpty else { return nil }
        return "columns here are: " + known.joined(separator: ", ")
    }

    static func value(of literal: Literal) -> Value {
        switch literal {
        case .integer(let i): return .int(i)
        case .decimal(let d): return .double(d)
        case .string(let s): return .string(s)
        case .boolean(let b): return .bool(b)
        case .null: return .null
        case .interval(let ms): return .interval(ms)
        case .timestamp(let ms): return .timestamp(ms)
        }
    }

    func expectType(_ c: Compiled, _ types: [ValueType], _ what: String, _ range: SourceRange) throws(QueryError) {
        guard c.type == .null || types.contains(c.type) else {
            throw Compiler.semantic(
                "\(what) expects \(types.map(\.rawValue).joined(separator: " or ")), got \(c.type.rawValue)", range)
        }
    }

    /// A string constant compared with a timestamp is read as RFC 3339 (`ts >= '2026-11-16'`).
    func coerce(_ c: Compiled, to type: ValueType, range: SourceRange) throws(QueryError) -> Compiled {
        guard type == .timestamp, c.type == .string else { return c }
        guard case .string(let text)? = c.constant else { return c }
        do {
            return .constant(.timestamp(try TimestampLiteral.milliseconds(text)))
        } catch {
            throw Compiler.semantic("\"\(text)\" is not an RFC 3339 timestamp: \(error.message)", range)
        }
    }

    func checkComparable(_ a: Compiled, _ b: Compiled, _ range: SourceRange) throws(QueryError) {
        if a.type == .null || b.type == .null || a.type == b.type { return }
        if a.type.isNumeric && b.type.isNumeric { return }
        throw Compiler.semantic("cannot compare \(a.type.rawValue) with \(b.type.rawValue)", range)
    }

    private func compileUnary(_ op: UnaryOperator, _ operand: Expression, _ range: SourceRange) throws(QueryError) -> Compiled {
        let v = try compile(operand)
        let ev = v.eval
        switch op {
        case .not:
            try expectType(v, [.boolean], "NOT", range)
            return Compiled(
                type: .boolean,
                eval: { row in
                    guard let b = ev(row).truth else { return .null }
                    return .bool(!b)
                }, constant: nil, readsRow: v.readsRow)
        case .plus:
            try expectType(v, [.integer, .double, .interval], "unary +", range)
            return v
        case .negate:
            try expectType(v, [.integer, .double, .interval], "unary -", range)
            let faults = options.arithmeticFaults
            return Compiled(
                type: v.type,
                eval: { row in
                    switch ev(row) {
                    case .int(let i):
                        let r = (0 as Int64).subtractingReportingOverflow(i)
                        if r.overflow { faults.record("integer out of range: -(\(i))") }
                        return Value.intOrNull(r)
                    case .double(let d): return .double(-d)
                    case .interval(let i): return .interval(-i)
                    default: return .null
                    }
                }, constant: nil, readsRow: v.readsRow)
        }
    }

    private func compileBinary(_ op: BinaryOperator, _ lhs: Expression, _ rhs: Expression, _ range: SourceRange) throws(QueryError)
        -> Compiled
    {
        var a = try compile(lhs)
        var b = try compile(rhs)
        let readsRow = a.readsRow || b.readsRow
        switch op {
        case .and, .or:
            try expectType(a, [.boolean], op == .and ? "AND" : "OR", lhs.range)
            try expectType(b, [.boolean], op == .and ? "AND" : "OR", rhs.range)
            let (ea, eb) = (a.eval, b.eval)
            if op == .and {
                return Compiled(
                    type: .boolean,
                    eval: { row in
                        let x = ea(row).truth
                        if x == false { return .bool(false) }
                        let y = eb(row).truth
                        if y == false { return .bool(false) }
                        if x == nil || y == nil { return .null }
                        return .bool(true)
                    }, constant: nil, readsRow: readsRow)
            }
            return Compiled(
                type: .boolean,
                eval: { row in
                    let x = ea(row).truth
                    if x == true { return .bool(true) }
                    let y = eb(row).truth
                    if y == true { return .bool(true) }
                    if x == nil || y == nil { return .null }
                    return .bool(false)
                }, constant: nil, readsRow: readsRow)
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual:
            a = try coerce(a, to: b.type, range: lhs.range)
            b = try coerce(b, to: a.type, range: rhs.range)
            try checkComparable(a, b, range)
            let (ea, eb) = (a.eval, b.eval)
            let test: (Int) -> Bool
            switch op {
            case .equal: test = { $0 == 0 }
            case .notEqual: test = { $0 != 0 }
            case .less: test = { $0 < 0 }
            case .lessEqual: test = { $0 <= 0 }
            case .greater: test = { $0 > 0 }
            default: test = { $0 >= 0 }
            }
            // Fast path: double column against a number constant (value > 0.9 * 100).
            if a.type == .double, let k = b.constant?.number {
                return Compiled(
                    type: .boolean,
                    eval: { row in
                        guard case .double(let x) = ea(row) else { return ea(row).isNull ? .null : .bool(false) }
                        if x.isNaN || k.isNaN { return .bool(test(Value.compareDoubles(x, k))) }
                        return .bool(test(x < k ? -1 : (x > k ? 1 : 0)))
                    }, constant: nil, readsRow: readsRow)
            }
            return Compiled(
                type: .boolean,
                eval: { row in
                    guard let c = Value.compare(ea(row), eb(row)) else { return .null }
                    return .bool(test(c))
                }, constant: nil, readsRow: readsRow)
        case .matches, .notMatches:
            try expectType(a, [.string], "~", lhs.range)
            try expectType(b, [.string], "~", rhs.range)
            guard case .string(let pattern)? = b.constant else {
                throw Compiler.semantic("the pattern of ~ must be a constant string", rhs.range)
            }
            let regex: BoundedRegex
            do {
                regex = try BoundedRegex(pattern, anchored: false)
            } catch {
                throw Compiler.semantic("invalid regular expression \"\(pattern)\"", rhs.range)
            }
            let negated = op == .notMatches
            let ea = a.eval
            let box = RegexBox(regex, deadline: options.deadline)
            return Compiled(
                type: .boolean,
                eval: { row in
                    guard case .string(let s) = ea(row) else { return .null }
                    return .bool(box.matches(s) != negated)
                }, constant: nil, readsRow: readsRow)
        case .add, .subtract, .multiply, .divide, .modulo:
            return try compileArithmetic(op, a, b, range, readsRow: readsRow)
        }
    }

    private func compileArithmetic(_ op: BinaryOperator, _ a: Compiled, _ b: Compiled, _ range: SourceRange, readsRow: Bool)
        throws(QueryError) -> Compiled
    {
        let (ta, tb) = (a.type, b.type)
        let (ea, eb) = (a.eval, b.eval)
        let symbol = SQLPrinter.symbol(op)
        func mismatch() -> QueryError {
            Compiler.semantic("cannot apply \(symbol) to \(ta.rawValue) and \(tb.rawValue)", range)
        }
        // Time arithmetic.
        if ta == .timestamp || tb == .timestamp || ta == .interval || tb == .interval {
            let resultType: ValueType
            switch (op, ta, tb) {
            case (.add, .timestamp, .interval), (.add, .interval, .timestamp), (.subtract, .timestamp, .interval):
                resultType = .timestamp
            case (.subtract, .timestamp, .timestamp), (.add, .interval, .interval), (.subtract, .interval, .interval):
                resultType = .interval
            case (.multiply, .interval, .integer), (.multiply, .interval, .double), (.multiply, .integer, .interval),
                (.multiply, .double, .interval), (.divide, .interval, .integer), (.divide, .interval, .double):
                resultType = .interval
            case (.divide, .interval, .interval):
                resultType = .double
            case (_, .null, _), (_, _, .null):
                resultType = ta == .null ? tb : ta
            default:
                throw mismatch()
            }
            return Compiled(
                type: resultType,
                eval: { row in
                    let x = ea(row)
                    let y = eb(row)
                    if x.isNull || y.isNull { return .null }
                    switch (op, x, y) {
                    // Past Int64, or a timestamp outside SampleTime's years 0001-9999: NULL, as an
                    // interval that cannot be represented (never a wrapped value).
                    case (.add, .timestamp(let t), .interval(let i)), (.add, .interval(let i), .timestamp(let t)):
                        return Value.timestampOrNull(t.addingReportingOverflow(i))
                    case (.subtract, .timestamp(let t), .interval(let i)): return Value.timestampOrNull(t.subtractingReportingOverflow(i))
                    case (.subtract, .timestamp(let t), .timestamp(let u)): return Value.intervalOrNull(t.subtractingReportingOverflow(u))
                    case (.add, .interval(let i), .interval(let j)): return Value.intervalOrNull(i.addingReportingOverflow(j))
                    case (.subtract, .interval(let i), .interval(let j)): return Value.intervalOrNull(i.subtractingReportingOverflow(j))
                    case (.multiply, .interval(let i), let n), (.multiply, let n, .interval(let i)):
                        guard let k = n.number else { return .null }
                        return Value.intervalOrNull(Double(i) * k)
                    case (.divide, .interval(let i), .interval(let j)):
                        return j == 0 ? .null : .double(Double(i) / Double(j))
                    case (.divide, .interval(let i), let n):
                        guard let k = n.number, k != 0 else { return .null }
                        return Value.intervalOrNull(Double(i) / k)
                    default: return .null
                    }
                }, constant: nil, readsRow: readsRow)
        }
        guard (ta.isNumeric || ta == .null) && (tb.isNumeric || tb == .null) else { throw mismatch() }
        let integers = ta == .integer && tb == .integer && op != .divide
        let resultType: ValueType = integers ? .integer : .double
        if integers {
            let faults = options.arithmeticFaults
            return Compiled(
                type: .integer,
                eval: { row in
                    guard case .int(let x) = ea(row), case .int(let y) = eb(row) else { return .null }
                    // An integer result past Int64 is an error of the run (recorded; NULL until
                    // the run ends), never a wrapped value.
                    let r: (partialValue: Int64, overflow: Bool)
                    let symbol: String
                    switch op {
                    case .add: (r, symbol) = (x.addingReportingOverflow(y), "+")
                    case .subtract: (r, symbol) = (x.subtractingReportingOverflow(y), "-")
                    case .multiply: (r, symbol) = (x.multipliedReportingOverflow(by: y), "*")
                    default:
                        guard y != 0 else { return .null }
                        return .int(x.remainderReportingOverflow(dividingBy: y).partialValue)
                    }
                    if r.overflow { faults.record("integer out of range: \(x) \(symbol) \(y)") }
                    return Value.intOrNull(r)
                }, constant: nil, readsRow: readsRow)
        }
        return Compiled(
            type: resultType,
            eval: { row in
                guard let x = ea(row).number, let y = eb(row).number else { return .null }
                switch op {
                case .add: return .double(x + y)
                case .subtract: return .double(x - y)
                case .multiply: return .double(x * y)
                case .divide: return y == 0 ? .null : .double(x / y)
                default: return y == 0 ? .null : .double(x.truncatingRemainder(dividingBy: y))
                }
            }, constant: nil, readsRow: readsRow)
    }

    private func compileCase(_ c: CaseExpression, _ range: SourceRange) throws(QueryError) -> Compiled {
        let operand = try c.operand.map { e throws(QueryError) in try compile(e) }
        var conditions: [Evaluator] = []
        var results: [Compiled] = []
        var readsRow = operand?.readsRow ?? false
        for branch in c.branches {
            let cond = try compile(branch.condition)
            if let operand {
                try checkComparable(operand, cond, branch.condition.range)
                let (eo, ec) = (operand.eval, cond.eval)
                conditions.append { row in
                    guard let r = Value.compare(eo(row), ec(row)) else { return .null }
                    return .bool(r == 0)
                }
            } else {
                try expectType(cond, [.boolean], "WHEN", branch.condition.range)
                conditions.append(cond.eval)
            }
            let result = try compile(branch.result)
            results.append(result)
            readsRow = readsRow || cond.readsRow || result.readsRow
        }
        let elseResult = try c.elseResult.map { e throws(QueryError) in try compile(e) }
        if let elseResult { results.append(elseResult) }
        let type = try unify(results.map(\.type), range)
        readsRow = readsRow || (elseResult?.readsRow ?? false)
        let thenEvals = results.prefix(c.branches.count).map { widen($0, to: type) }
        let elseEval = elseResult.map { widen($0, to: type) }
        return Compiled(
            type: type,
            eval: { row in
                for (i, cond) in conditions.enumerated() where cond(row).truth == true {
                    return thenEvals[i](row)
                }
                return elseEval?(row) ?? .null
            }, constant: nil, readsRow: readsRow)
    }

    /// The common type of CASE branches or COALESCE arguments: integers widen to doubles.
    func unify(_ types: [ValueType], _ range: SourceRange) throws(QueryError) -> ValueType {
        var result = ValueType.null
        for t in types where t != .null {
            if result == .null || result == t {
                result = t
            } else if result.isNumeric && t.isNumeric {
                result = .double
            } else {
                throw Compiler.semantic("mixed types \(result.rawValue) and \(t.rawValue)", range)
            }
        }
        return result
    }

    func widen(_ c: Compiled, to type: ValueType) -> Evaluator {
        guard type == .double, c.type == .integer else { return c.eval }
        let e = c.eval
        return { row in
            if case .int(let i) = e(row) { return .double(Double(i)) }
            return e(row)
        }
    }

    private func compileCast(_ v: Compiled, to type: String, _ range: SourceRange) throws(QueryError) -> Compiled {
        let ev = v.eval
        let target: ValueType
        let convert: (Value) -> Value
        switch type {
        case "double", "float", "real", "float8", "numeric", "decimal":
            target = .double
            convert = { x in
                switch x {
                case .int(let i): return .double(Double(i))
                case .double: return x
                case .bool(let b): return .double(b ? 1 : 0)
                case .string(let s): return Double(s.trimmingCharacters(in: .whitespaces)).map { .double($0) } ?? .null
                case .timestamp(let t), .interval(let t): return .double(Double(t))
                default: return .null
                }
            }
        case "integer", "int", "bigint", "int8", "int4":
            target = .integer
            convert = { x in
                switch x {
                case .int: return x
                case .double(let d): return d.isFinite && abs(d) < 9e18 ? .int(Int64(d.rounded())) : .null
                case .bool(let b): return .int(b ? 1 : 0)
                case .string(let s): return Int64(s.trimmingCharacters(in: .whitespaces)).map { .int($0) } ?? .null
                case .timestamp(let t), .interval(let t): return .int(t)
                default: return .null
                }
            }
        case "string", "text", "varchar":
            target = .string
            convert = { x in x.isNull ? .null : .string(x.description) }
        case "timestamp":
            target = .timestamp
            convert = { x in
                switch x {
                case .timestamp: return x
                case .int(let i): return .timestamp(i)
                case .string(let s): return (try? TimestampLiteral.milliseconds(s)).map { .timestamp($0) } ?? .null
                default: return .null
                }
            }
        case "interval":
            target = .interval
            convert = { x in
                switch x {
                case .interval: return x
                case .int(let i): return .interval(i)
                case .string(let s): return (try? IntervalLiteral.milliseconds(s)).map { .interval($0) } ?? .null
                default: return .null
                }
            }
        case "boolean", "bool":
            target = .boolean
            convert = { x in
                switch x {
                case .bool: return x
                case .int(let i): return .bool(i != 0)
                case .double(let d): return .bool(d != 0)
                case .string(let s): return s.lowercased() == "true" ? .bool(true) : (s.lowercased() == "false" ? .bool(false) : .null)
                default: return .null
                }
            }
        default:
            throw Compiler.semantic(
                "unknown type \"\(type)\" in CAST", range, hint: "types are double, integer, string, timestamp, interval, boolean")
        }
        return Compiled(type: target, eval: { convert(ev($0)) }, constant: nil, readsRow: v.readsRow)
    }
}

/// The `~` operator's pattern (unanchored, as in PostgreSQL), matched under the query's
/// deadline and at most once per distinct string: the answers are kept (up to
/// `memoLimit` strings), so a scan over millions of rows matches each label value once.
/// A match cut off by the deadline answers false and is not kept; the scan's next deadline
/// check then ends the query with a timeout.
final class RegexBox: Sendable {
    let regex: BoundedRegex
    let deadline: QueryDeadline
    private let memo = Mutex<[String: Bool]>([:])
    static let memoLimit = 65_536

    init(_ regex: BoundedRegex, deadline: QueryDeadline) {
        self.regex = regex
        self.deadline = deadline
    }

    func matches(_ s: String) -> Bool {
        if let known = memo.withLock({ $0[s] }) { return known }
        guard let answer = try? regex.matches(s, deadline: deadline) else { return false }
        memo.withLock { if $0.count < RegexBox.memoLimit { $0[s] = answer } }
        return answer
    }
}

/// SQL `LIKE`: `%` any run, `_` one character, `\` escapes; case-sensitive. Matched on
/// Unicode scalars with backtracking only at `%`.
struct LikePattern {
    enum Token: Equatable {
        case literal(Unicode.Scalar)
        case one
        case any
    }

    let tokens: [Token]

    init(_ pattern: String) {
        var out: [Token] = []
        var escaped = false
        for scalar in pattern.unicodeScalars {
            if escaped {
                out.append(.literal(scalar))
                escaped = false
            } else if scalar == "\\" {
                escaped = true
            } else if scalar == "%" {
                if out.last != .any { out.append(.any) }
            } else if scalar == "_" {
                out.append(.one)
            } else {
                out.append(.literal(scalar))
            }
        }
        if escaped { out.append(.literal("\\")) }
        tokens = out
    }

    /// A prefix that every match starts with (for pushing `LIKE 'T4-%'` down as a regex).
    var regex: String {
        var text = ""
        for token in tokens {
            switch token {
            case .literal(let s): text += NSRegularExpression.escapedPattern(for: String(s))
            case .one: text += "."
            case .any: text += ".*"
            }
        }
        return text
    }

    func matches(_ s: String) -> Bool {
        let text = Array(s.unicodeScalars)
        var t = 0
        var p = 0
        var starP = -1
        var starT = 0
        while t < text.count {
            if p < tokens.count {
                switch tokens[p] {
                case .any:
                    starP = p
                    starT = t
                    p += 1
                    continue
                case .one:
                    t += 1
                    p += 1
                    continue
                case .literal(let c) where c == text[t]:
                    t += 1
                    p += 1
                    continue
                default: break
                }
            }
            guard starP >= 0 else { return false }
            p = starP + 1
            starT += 1
            t = starT
        }
        while p < tokens.count, tokens[p] == .any { p += 1 }
        return p == tokens.count
    }
}
