import Foundation
import KPICore

extension Execution {
    /// `[start, end]` (inclusive ms) implied by a conjunct comparing `ts` with a constant, or nil.
    func timeBound(_ e: Expression, _ compiler: Compiler) throws(QueryError) -> (start: Int64, end: Int64)? {
        func isTs(_ x: Expression) -> Bool {
            if case .column(let ref, _) = x, ref.name == "ts" { return true }
            return false
        }
        func constant(_ x: Expression) throws(QueryError) -> Int64? {
            guard !isTs(x) else { return nil }
            let c = try compiler.coerce(try compiler.compile(x), to: .timestamp, range: x.range)
            if case .timestamp(let t)? = c.constant { return t }
            return nil
        }
        switch e {
        case .binary(let op, let a, let b, _):
            var op = op
            var t: Int64
            if isTs(a), let k = try constant(b) {
                t = k
            } else if isTs(b), let k = try constant(a) {
                t = k
                switch op {  // mirror: k < ts  is  ts > k
                case .less: op = .greater
                case .lessEqual: op = .greaterEqual
                case .greater: op = .less
                case .greaterEqual: op = .lessEqual
                default: break
                }
            } else {
                return nil
            }
            switch op {
            case .greaterEqual: return (t, .max)
            case .greater: return t == .max ? (.max, .min) : (t + 1, .max)
            case .lessEqual: return (.min, t)
            case .less: return t == .min ? (.max, .min) : (.min, t - 1)
            case .equal: return (t, t)
            default: return nil
            }
        case .between(let x, let lower, let upper, false, _) where isTs(x):
            guard let lo = try constant(lower), let hi = try constant(upper) else { return nil }
            return (lo, hi)
        default:
            return nil
        }
    }

    /// A label matcher selecting (a superset of) the series a label-only conjunct accepts, for
    /// the label index; the conjunct itself is still checked per series.
    func labelMatcher(_ e: Expression, _ scope: Scope) throws(QueryError) -> LabelMatcher? {
        func label(_ x: Expression) throws(QueryError) -> String? {
            guard case .column(let ref, let range) = x, let column = try scope.resolve(ref, range: range), column.perSeries
            else { return nil }
            return column.name
        }
        func string(_ x: Expression) -> String? {
            switch x {
            case .literal(.string(let s), _): return s
            case .parameter(let name, _):
                if case .string(let s)? = options.parameters[name] { return s }
                return nil
            default: return nil
            }
        }
        func make(_ name: String, _ op: LabelMatcher.Operator, _ value: String) -> LabelMatcher? {
            try? LabelMatcher(name, op, value)
        }
        switch e {
        case .binary(.equal, let a, let b, _):
            if let name = try label(a), let v = string(b), !v.isEmpty { return make(name, .equal, v) }
            if let name = try label(b), let v = string(a), !v.isEmpty { return make(name, .equal, v) }
        case .inList(let a, let list, false, _):
            guard let name = try label(a) else { return nil }
            var values: [String] = []
            for item in list {
                guard let v = string(item) else { return nil }
                values.append(NSRegularExpression.escapedPattern(for: v))
            }
            return make(name, .regexMatch, values.joined(separator: "|"))
        case .like(let a, let pattern, false, _):
            guard let name = try label(a), let p = string(pattern) else { return nil }
            return make(name, .regexMatch, LikePattern(p).regex)
        case .isNull(let a, true, _):
            guard let name = try label(a) else { return nil }
            return make(name, .regexMatch, ".+")
        default:
            break
        }
        return nil
    }
}
