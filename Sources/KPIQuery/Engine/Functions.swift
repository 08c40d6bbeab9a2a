import Foundation
import KPICore

extension Compiler {
    static let aggregateNames: Set<String> = [
        "count", "sum", "avg", "min", "max", "first", "last", "stddev", "stddev_samp", "stddev_pop", "variance",
        "quantile", "median", "approx_quantile", "approx_median", "count_if", "sum_if", "rate", "increase", "time_in_state",
    ]

    static let scalarNames: [String] = [
        "now", "time_bucket", "date_trunc", "date_part", "abs", "ceil", "floor", "round", "sqrt", "ln", "log10", "exp",
        "power", "coalesce", "nullif", "greatest", "least", "lower", "upper", "length", "concat", "epoch", "epoch_ms",
        "to_timestamp",
    ]

    func compileFunction(_ call: FunctionCall, _ range: SourceRange) throws(QueryError) -> Compiled {
        let name = call.name.lowercased()
        if Compiler.aggregateNames.contains(name) {
            return try compileAggregate(name, call, range)
        }
        if call.distinct { throw Compiler.semantic("DISTINCT is only allowed in count(DISTINCT x)", range) }
        let args = call.arguments
        func arity(_ allowed: ClosedRange<Int>) throws(QueryError) {
            guard allowed.contains(args.count) else {
                let expected =
                    allowed.lowerBound == allowed.upperBound
                    ? "\(allowed.lowerBound)" : "\(allowed.lowerBound) to \(allowed.upperBound)"
                throw Compiler.semantic(
                    "\(name)() takes \(expected) argument\(allowed.upperBound == 1 ? "" : "s"), got \(args.count)", range)
            }
        }
        var compiled: [Compiled] = []
        for a in args { compiled.append(try compile(a)) }
        let readsRow = compiled.contains { $0.readsRow }
        let evals = compiled.map(\.eval)
        func numeric(_ f: @escaping (Double) -> Double, keepInteger: Bool = false) throws(QueryError) -> Compiled {
            try arity(1...1)
            try expectType(compiled[0], [.integer, .double], "\(name)()", args[0].range)
            let e = evals[0]
            let integer = keepInteger && compiled[0].type == .integer
            return Compiled(
                type: integer ? .integer : .double,
                eval: { row in
                    let v = e(row)
                    if integer, case .int(let i) = v {
                        let r = f(Double(i))
                        return abs(r) < 9.2e18 ? .int(Int64(r)) : .double(r)
                    }
                    guard let x = v.number else { return .null }
                    return .double(f(x))
                }, constant: nil, readsRow: readsRow)
        }
        switch name {
        case "now":
            try arity(0...0)
            return .constant(.timestamp(options.now))
        case "time_bucket":
            try arity(2...3)
            let width = try bucketWidth(compiled[0], args[0])
            try expectType(compiled[1], [.timestamp], "time_bucket()", args[1].range)
            var origin: Int64 = 0
            if args.count == 3 {
                let o = try coerce(compiled[2], to: .timestamp, range: args[2].range)
                guard case .timestamp(let t)? = o.constant else {
                    throw Compiler.semantic("the origin of time_bucket() must be a constant timestamp", args[2].range)
                }
                origin = t
            }
            let e = evals[1]
            return Compiled(
                type: .timestamp,
                eval: { row in
                    guard case .timestamp(let t) = e(row) else { return .null }
                    return .timestamp(TimeBucket.start(t, width: width, origin: origin))
                }, constant: nil, readsRow: readsRow)
        case "date_trunc":
            try arity(2...3)
            guard case .string(let unitText)? = compiled[0].constant, let unit = CalendarUnit(rawValue: unitText.lowercased())
            else {
                throw Compiler.semantic(
                    "the first argument of date_trunc() must be one of "
                        + CalendarUnit.allCases.map { "'\($0.rawValue)'" }.joined(
                            separator: ", "), args[0].range)
            }
            try expectType(compiled[1], [.timestamp], "date_trunc()", args[1].range)
            let zone = try timeZone(compiled, args, index: 2)
            let e = evals[1]
            return Compiled(
                type: .timestamp,
                eval: { row in
                    guard case .timestamp(let t) = e(row) else { return .null }
                    return .timestamp(LocalTime.truncate(t, to: unit, in: zone))
                }, constant: nil, readsRow: readsRow)
        case "date_part":
            try arity(2...3)
            guard case .string(let fieldText)? = compiled[0].constant, let field = DateField(rawValue: fieldText.lowercased()) else {
                throw Compiler.semantic(
                    "the first argument of date_part() must be one of "
                        + DateField.allCases.map { "'\($0.rawValue)'" }.joined(
                            separator: ", "), args[0].range)
            }
            try expectType(compiled[1], [.timestamp], "date_part()", args[1].range)
            let zone = try timeZone(compiled, args, index: 2)
            let e = evals[1]
            return Compiled(
                type: field == .epoch ? .double : .integer,
                eval: { row in
                    guard case .timestamp(let t) = e(row) else { return .null }
                    return LocalTime.part(field, of: t, in: zone)
                }, constant: nil, readsRow: readsRow)
        case "abs": return try numeric({ abs($0) }, keepInteger: true)
        case "ceil": return try numeric({ $0.rounded(.up) }, keepInteger: true)
        case "floor": return try numeric({ $0.rounded(.down) }, keepInteger: true)
        case "sqrt": return try numeric({ $0 < 0 ? .nan : $0.squareRoot() })
        case "ln": return try numeric({ Foundation.log($0) })
        case "log10": return try numeric({ Foundation.log10($0) })
        case "exp": return try numeric({ Foundation.exp($0) })
        case "round":
            try arity(1...2)
            try expectType(compiled[0], [.integer, .double], "round()", args[0].range)
            var digits = 0
            if args.count == 2 {
                guard case .int(let d)? = compiled[1].constant, abs(d) <= 15 else {
                    throw Compiler.semantic("the digits of round() must be a constant integer", args[1].range)
                }
                digits = Int(d)
            }
            let scale = Foundation.pow(10.0, Double(digits))
            let e = evals[0]
            let integer = compiled[0].type == .integer && digits >= 0
            return Compiled(
                type: integer ? .integer : .double,
                eval: { row in
                    let v = e(row)
                    if integer { return v }
                    guard let x = v.number else { return .null }
                    // Half away from zero, as PostgreSQL and DuckDB round.
                    return .double((x * scale).rounded(.toNearestOrAwayFromZero) / scale)
                }, constant: nil, readsRow: readsRow)
        case "power":
            try arity(2...2)
            try expectType(compiled[0], [.integer, .double], "power()", args[0].range)
            try expectType(compiled[1], [.integer, .double], "power()", args[1].range)
            let (a, b) = (evals[0], evals[1])
            return Compiled(
                type: .double,
                eval: { row in
                    guard let x = a(row).number, let y = b(row).number else { return .null }
                    return .double(Foundation.pow(x, y))
                }, constant: nil, readsRow: readsRow)
        case "coalesce", "greatest", "least":
            try arity(1...64)
            let type = try unify(compiled.map(\.type), range)
            let widened = compiled.map { widen($0, to: type) }
            if name == "coalesce" {
                return Compiled(
                    type: type,
                    eval: { row in
                        for e in widened {
                            let v = e(row)
                            if !v.isNull { return v }
                        }
                        return .null
                    }, constant: nil, readsRow: readsRow)
            }
            let greatest = name == "greatest"
            return Compiled(
                type: type,
                eval: { row in
                    // NULLs are ignored, as in PostgreSQL and DuckDB.
                    var best: Value = .null
                    for e in widened {
                        let v = e(row)
                        if v.isNull { continue }
                        if best.isNull { best = v; continue }
                        if let c = Value.compare(v, best), greatest ? c > 0 : c < 0 { best = v }
                    }
                    return best
                }, constant: nil, readsRow: readsRow)
        case "nullif":
            try arity(2...2)
            try checkComparable(compiled[0], compiled[1], range)
            let (a, b) = (evals[0], evals[1])
            return Compiled(
                type: compiled[0].type,
                eval: { row in
                    let x = a(row)
                    return Value.compare(x, b(row)) == 0 ? .null : x
                }, constant: nil, readsRow: readsRow)
        case "lower", "upper", "length":
            try arity(1...1)
            try expectType(compiled[0], [.string], "\(name)()", args[0].range)
            let e = evals[0]
            return Compiled(
                type: name == "length" ? .integer : .string,
                eval: { row in
                    guard case .string(let s) = e(row) else { return .null }
                    switch name {
                    case "lower": return .string(s.lowercased())
                    case "upper": return .string(s.uppercased())
                    default: return .int(Int64(s.count))
                    }
                }, constant: nil, readsRow: readsRow)
        case "concat":
            try arity(1...64)
            return Compiled(
                type: .string,
                eval: { row in .string(evals.map { $0(row).description }.joined()) }, constant: nil, readsRow: readsRow)
        case "epoch", "epoch_ms":
            try arity(1...1)
            try expectType(compiled[0], [.timestamp, .interval], "\(name)()", args[0].range)
            let e = evals[0]
            let seconds = name == "epoch"
            return Compiled(
                type: seconds ? .double : .integer,
                eval: { row in
                    guard let ms = e(row).milliseconds else { return .null }
                    return seconds ? .double(Double(ms) / 1000) : .int(ms)
                }, constant: nil, readsRow: readsRow)
        case "to_timestamp":
            try arity(1...1)
            try expectType(compiled[0], [.integer, .double], "to_timestamp()", args[0].range)
            let e = evals[0]
            return Compiled(
                type: .timestamp,
                eval: { row in
                    guard let s = e(row).number, s.isFinite, abs(s) < 9e15 else { return .null }
                    return .timestamp(Int64((s * 1000).rounded(.down)))
                }, constant: nil, readsRow: readsRow)
        default:
            let known = (Array(Compiler.aggregateNames) + Compiler.scalarNames).sorted()
            let close = known.filter { Compiler.editDistance($0, name) <= 2 }
            throw Compiler.semantic(
                "unknown function \(call.name)()", range,
                hint: close.isEmpty ? "see the README for the functions kpid knows" : "did you mean \(close.joined(separator: " or "))()?")
        }
    }

    /// The width of `time_bucket`: a duration string ('15m', '1 hour') or an INTERVAL.
    private func bucketWidth(_ c: Compiled, _ e: Expression) throws(QueryError) -> Int64 {
        let width: Int64
        switch c.constant {
        case .interval(let ms)?: width = ms
        case .string(let text)?:
            do {
                width = try IntervalLiteral.milliseconds(text)
            } catch {
                throw Compiler.semantic("invalid bucket width \"\(text)\": \(error.message)", e.range, hint: error.hint)
            }
        default:
            throw Compiler.semantic("the width of time_bucket() must be a constant such as '1h' or INTERVAL '15 minutes'", e.range)
        }
        guard width > 0 else { throw Compiler.semantic("the width of time_bucket() must be positive", e.range) }
        return width
    }

    private func timeZone(_ compiled: [Compiled], _ args: [Expression], index: Int) throws(QueryError) -> TimeZone {
        guard index < compiled.count else { return options.timeZone }
        guard case .string(let name)? = compiled[index].constant else {
            throw Compiler.semantic("the time zone must be a constant string such as 'Europe/Paris'", args[index].range)
        }
        guard let zone = TimeZone(identifier: name) else {
            throw Compiler.semantic("unknown time zone \"\(name)\"", args[index].range, hint: "use an IANA name such as 'America/New_York'")
        }
        return zone
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a)
        let y = Array(b)
        var previous = Array(0...y.count)
        for i in 1...max(x.count, 1) where !x.isEmpty {
            var current = [i] + [Int](repeating: 0, count: y.count)
            for j in 1...max(y.count, 1) where !y.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return x.isEmpty ? y.count : previous[y.count]
    }

    // MARK: Aggregates

    private func compileAggregate(_ name: String, _ call: FunctionCall, _ range: SourceRange) throws(QueryError) -> Compiled {
        guard let group, allowAggregates else {
            throw Compiler.semantic(
                "aggregate function \(name)() is not allowed here", range,
                hint: "aggregates go in the select list, HAVING and ORDER BY, not in WHERE or GROUP BY")
        }
        var inner = Compiler(scope: scope, options: options)
        inner.allowAggregates = false
        let args = call.arguments
        func arity(_ n: Int) throws(QueryError) {
            guard args.count == n else {
                throw Compiler.semantic("\(name)() takes \(n) argument\(n == 1 ? "" : "s"), got \(args.count)", range)
            }
        }
        func argument(_ i: Int) throws(QueryError) -> Compiled {
            do {
                return try inner.compile(args[i])
            } catch {
                if error.message.hasPrefix("aggregate function") {
                    throw Compiler.semantic("aggregate functions cannot be nested", args[i].range)
                }
                throw error
            }
        }
        let text = SQLPrinter.expression(.function(call, range: range))
        var spec: AggregateSpec
        let ts = scope.timestampSlot
        switch name {
        case "count":
            try arity(1)
            if case .star = args[0] {
                spec = AggregateSpec(function: .countStar, arguments: [], resultType: .integer, text: text)
            } else {
                spec = AggregateSpec(
                    function: call.distinct ? .countDistinct : .count, arguments: [try argument(0)], resultType: .integer, text: text)
            }
        case "sum", "avg", "stddev", "stddev_samp", "stddev_pop", "variance", "rate", "increase":
            try arity(1)
            let a = try argument(0)
            try expectType(a, [.integer, .double, .interval], "\(name)()", args[0].range)
            let function: AggregateSpec.Function
            switch name {
            case "sum": function = .sum
            case "avg": function = .avg
            case "stddev", "stddev_samp": function = .stddev
            case "stddev_pop": function = .stddevPop
            case "variance": function = .variance
            case "rate": function = .rate
            default: function = .increase
            }
            if (function == .rate || function == .increase) && ts == nil {
                throw Compiler.semantic("\(name)() needs a ts column in its source", range)
            }
            var type: ValueType = .double
            if function == .sum { type = a.type == .integer ? .integer : (a.type == .interval ? .interval : .double) }
            if function == .avg && a.type == .interval { type = .interval }
            spec = AggregateSpec(function: function, arguments: [a], resultType: type, timestampSlot: ts, text: text)
        case "min", "max", "first", "last":
            try arity(1)
            let a = try argument(0)
            let function: AggregateSpec.Function =
                name == "min" ? .min : name == "max" ? .max : name == "first" ? .first : .last
            spec = AggregateSpec(function: function, arguments: [a], resultType: a.type, timestampSlot: ts, text: text)
        case "quantile", "median", "approx_quantile", "approx_median":
            let approximate = name.hasPrefix("approx_")
            let q: Double
            let a: Compiled
            if name.hasSuffix("median") {
                try arity(1)
                q = 0.5
                a = try argument(0)
            } else {
                try arity(2)
                // q first, as in quantile(0.95, x); approx_quantile also takes DuckDB's (x, q).
                let qIndex = approximate && (try? inner.compile(args[0]))?.constant?.number == nil ? 1 : 0
                guard let qv = try inner.compile(args[qIndex]).constant?.number, qv >= 0, qv <= 1 else {
                    throw Compiler.semantic(
                        approximate
                            ? "approx_quantile() needs a constant q between 0 and 1, as approx_quantile(0.95, value) or "
                                + "approx_quantile(value, 0.95)"
                            : "the first argument of quantile() must be a constant between 0 and 1", args[qIndex].range)
                }
                q = qv
                a = try argument(1 - qIndex)
            }
            try expectType(a, [.integer, .double, .interval], "\(name)()", range)
            spec = AggregateSpec(
                function: approximate ? .approxQuantile : .quantile, arguments: [a], q: q,
                resultType: a.type == .interval ? .interval : .double, text: text)
        case "count_if":
            try arity(1)
            let c = try argument(0)
            try expectType(c, [.boolean], "count_if()", args[0].range)
            spec = AggregateSpec(function: .countIf, arguments: [c], resultType: .integer, text: text)
        case "sum_if":
            try arity(2)
            let a = try argument(0)
            let c = try argument(1)
            try expectType(a, [.integer, .double], "sum_if()", args[0].range)
            try expectType(c, [.boolean], "sum_if()", args[1].range)
            spec = AggregateSpec(function: .sumIf, arguments: [a, c], resultType: .double, text: text)
        case "time_in_state":
            guard args.count == 1 || args.count == 2 else {
                throw Compiler.semantic("time_in_state() takes (value, condition) or (condition), got \(args.count) arguments", range)
            }
            let c = try argument(args.count - 1)
            try expectType(c, [.boolean], "time_in_state()", args[args.count - 1].range)
            guard ts != nil else { throw Compiler.semantic("time_in_state() needs a ts column in its source", range) }
            spec = AggregateSpec(function: .timeInState, arguments: [c], resultType: .interval, timestampSlot: ts, text: text)
        default:
            throw Compiler.semantic("unknown aggregate \(name)()", range)
        }
        var valueIndex = name == "quantile" ? 1 : 0
        if name == "approx_quantile", args.count == 2, (try? inner.compile(args[0]))?.constant?.number != nil { valueIndex = 1 }
        spec.valueArgument = args.count > valueIndex && isValueColumn(args[valueIndex])
        if spec.function == .countIf || spec.function == .sumIf || spec.function == .timeInState, let condition = args.last {
            spec.valuePredicate = try valuePredicate(condition)
        }
        if call.distinct && spec.function != .countDistinct {
            throw Compiler.semantic("DISTINCT is only supported in count(DISTINCT x)", range)
        }
        let slot = group.add(spec, for: .function(call, range: range))
        return Compiled(type: spec.resultType, eval: { $0.slots[slot] }, constant: nil, readsRow: true)
    }
}

extension Compiler {
    /// Whether `e` is the `value` column of a metric scan.
    func isValueColumn(_ e: Expression) -> Bool {
        guard case .column(let ref, let range) = e, ref.name == "value",
            let column = try? scope.resolve(ref, range: range)
        else { return false }
        return column.slot == 1 && column.type == .double && scope.labelsOnDemand
    }

    /// `value <op> constant` (or mirrored) as a test on the double alone, with SQL's result for
    /// non-NULL values; nil for any other shape.
    func valuePredicate(_ e: Expression) throws(QueryError) -> ((Double) -> Bool)? {
        guard case .binary(var op, let a, let b, _) = e else { return nil }
        var constantSide = b
        if isValueColumn(a) {
            constantSide = b
        } else if isValueColumn(b) {
            constantSide = a
            switch op {
            case .less: op = .greater
            case .lessEqual: op = .greaterEqual
            case .greater: op = .less
            case .greaterEqual: op = .lessEqual
            default: break
            }
        } else {
            return nil
        }
        var plain = Compiler(scope: scope, options: options)
        plain.allowAggregates = false
        guard let k = try plain.compile(constantSide).constant?.number else { return nil }
        switch op {
        case .equal: return { Value.compareDoubles($0, k) == 0 }
        case .notEqual: return { Value.compareDoubles($0, k) != 0 }
        case .less: return { Value.compareDoubles($0, k) < 0 }
        case .lessEqual: return { Value.compareDoubles($0, k) <= 0 }
        case .greater: return { Value.compareDoubles($0, k) > 0 }
        case .greaterEqual: return { Value.compareDoubles($0, k) >= 0 }
        default: return nil
        }
    }
}

/// Fixed-width buckets aligned on an origin (Unix epoch by default), as TimescaleDB's
/// `time_bucket` and QuestDB's `SAMPLE BY`.
enum TimeBucket {
    @inline(__always)
    static func start(_ t: Int64, width: Int64, origin: Int64) -> Int64 {
        let (q, _) = (t &- origin).floorDivMod(width)
        return origin &+ q &* width
    }
}

/// Calendar units of `date_trunc`.
enum CalendarUnit: String, CaseIterable {
    case second, minute, hour, day, week, month, quarter, year
}

/// Fields of `date_part`. `dow` is 0 (Sunday) to 6, `isodow` 1 (Monday) to 7.
enum DateField: String, CaseIterable {
    case year, quarter, month, week, day, doy, dow, isodow, hour, minute, second, epoch
}

/// Local-time arithmetic in a time zone (offsets from Foundation's zone database).
enum LocalTime {
    static func offsetMs(_ t: Int64, _ zone: TimeZone) -> Int64 {
        if zone.identifier == "UTC" || zone.identifier == "GMT" { return 0 }
        return Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t) / 1000))) * 1000
    }

    static func truncate(_ t: Int64, to unit: CalendarUnit, in zone: TimeZone) -> Int64 {
        let local = t &+ offsetMs(t, zone)
        let (days, msOfDay) = local.floorDivMod(86_400_000)
        var truncated: Int64
        switch unit {
        case .second: truncated = local - msOfDay % 1000
        case .minute: truncated = local - msOfDay % 60_000
        case .hour: truncated = local - msOfDay % 3_600_000
        case .day: truncated = days * 86_400_000
        case .week:
            // 1970-01-01 was a Thursday; weeks start on Monday (ISO 8601).
            let (_, weekday) = (days + 3).floorDivMod(7)
            truncated = (days - weekday) * 86_400_000
        case .month, .quarter, .year:
            let (y, m, _) = CivilCalendar.date(fromDays: days)
            let month = unit == .month ? m : (unit == .quarter ? (m - 1) / 3 * 3 + 1 : 1)
            truncated = CivilCalendar.days(year: y, month: month, day: 1) * 86_400_000
        }
        // Back to UTC with the offset in force at the truncated local time.
        let guess = truncated &- offsetMs(truncated, zone)
        return truncated &- offsetMs(guess, zone)
    }

    static func part(_ field: DateField, of t: Int64, in zone: TimeZone) -> Value {
        if field == .epoch { return .double(Double(t) / 1000) }
        let local = t &+ offsetMs(t, zone)
        let (days, msOfDay) = local.floorDivMod(86_400_000)
        let (y, m, d) = CivilCalendar.date(fromDays: days)
        let (_, mondayBased) = (days + 3).floorDivMod(7)
        switch field {
        case .year: return .int(y)
        case .quarter: return .int(Int64((m - 1) / 3 + 1))
        case .month: return .int(Int64(m))
        case .day: return .int(Int64(d))
        case .doy: return .int(days - CivilCalendar.days(year: y, month: 1, day: 1) + 1)
        case .dow: return .int((mondayBased + 1) % 7)
        case .isodow: return .int(mondayBased + 1)
        case .hour: return .int(msOfDay / 3_600_000)
        case .minute: return .int(msOfDay / 60_000 % 60)
        case .second: return .int(msOfDay / 1000 % 60)
        case .week:
            // ISO week number: the week containing the year's first Thursday is week 1.
            let thursday = days - mondayBased + 3
            let (ty, _, _) = CivilCalendar.date(fromDays: thursday)
            let firstDay = CivilCalendar.days(year: ty, month: 1, day: 1)
            return .int((thursday - firstDay) / 7 + 1)
        case .epoch: return .double(Double(t) / 1000)
        }
    }
}
