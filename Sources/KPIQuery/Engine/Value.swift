import Foundation
import KPICore

/// The type of a column or expression. `null` is the type of the `NULL` literal and of
/// parameters whose value is null; it unifies with every other type.
public enum ValueType: String, Sendable, Equatable {
    case boolean
    case integer
    case double
    case string
    /// Unix milliseconds, printed as RFC 3339 in UTC.
    case timestamp
    /// A duration in milliseconds (`INTERVAL '15 minutes'`, `end - start`).
    case interval
    case null

    var isNumeric: Bool { self == .integer || self == .double }
}

/// One SQL value. Timestamps and intervals are milliseconds.
public enum Value: Sendable, Hashable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case timestamp(Int64)
    case interval(Int64)

    public var type: ValueType {
        switch self {
        case .null: return .null
        case .bool: return .boolean
        case .int: return .integer
        case .double: return .double
        case .string: return .string
        case .timestamp: return .timestamp
        case .interval: return .interval
        }
    }

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// Integers and doubles as a Double; nil for everything else.
    var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// The millisecond count of a timestamp or interval.
    var milliseconds: Int64? {
        switch self {
        case .timestamp(let t), .interval(let t): return t
        default: return nil
        }
    }

    /// `true`, `false`, or nil for NULL (three-valued logic).
    var truth: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// Text for tables and CSV: timestamps in RFC 3339 (UTC, milliseconds when not whole
    /// seconds), intervals as milliseconds, doubles in the shortest round-trip form.
    public var description: String {
        switch self {
        case .null: return ""
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return Value.format(d)
        case .string(let s): return s
        case .timestamp(let t): return TimestampLiteral.format(t)
        case .interval(let i): return String(i)
        }
    }

    static func format(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Inf" : "+Inf" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }

    /// A millisecond count as an interval, or NULL when it is not finite or out of range.
    static func intervalOrNull(_ ms: Double) -> Value {
        guard ms.isFinite, abs(ms) < 9.2e18 else { return .null }
        return .interval(Int64(ms.rounded()))
    }

    /// The interval of checked integer arithmetic; NULL on overflow.
    static func intervalOrNull(_ result: (partialValue: Int64, overflow: Bool)) -> Value {
        result.overflow ? .null : .interval(result.partialValue)
    }

    /// The integer of checked arithmetic; NULL on overflow (never a wrapped value).
    static func intOrNull(_ result: (partialValue: Int64, overflow: Bool)) -> Value {
        result.overflow ? .null : .int(result.partialValue)
    }

    /// The timestamp of checked arithmetic; NULL on overflow or outside `SampleTime` (years
    /// 0001-9999), so no later time arithmetic on it can overflow.
    static func timestampOrNull(_ result: (partialValue: Int64, overflow: Bool)) -> Value {
        result.overflow || !SampleTime.contains(result.partialValue) ? .null : .timestamp(result.partialValue)
    }

    /// SQL comparison: nil when either side is NULL or the types cannot be compared.
    /// Integers and doubles compare numerically; NaN sorts above every number (as in
    /// PostgreSQL and DuckDB), so ORDER BY and min/max stay total.
    static func compare(_ a: Value, _ b: Value) -> Int? {
        switch (a, b) {
        case (.null, _), (_, .null): return nil
        case (.int(let x), .int(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.timestamp(let x), .timestamp(let y)), (.interval(let x), .interval(let y)):
            return x < y ? -1 : (x > y ? 1 : 0)
        case (.string(let x), .string(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.bool(let x), .bool(let y)): return x == y ? 0 : (!x ? -1 : 1)
        default:
            guard let x = a.number, let y = b.number else { return nil }
            return compareDoubles(x, y)
        }
    }

    @inline(__always)
    static func compareDoubles(_ x: Double, _ y: Double) -> Int {
        if x.isNaN { return y.isNaN ? 0 : 1 }
        if y.isNaN { return -1 }
        return x < y ? -1 : (x > y ? 1 : 0)
    }
}

extension Int64 {
    /// Floor division and the matching non-negative remainder.
    @inline(__always)
    func floorDivMod(_ d: Int64) -> (Int64, Int64) {
        var q = self / d
        var r = self % d
        if r < 0 {
            q -= 1
            r += d
        }
        return (q, r)
    }
}
