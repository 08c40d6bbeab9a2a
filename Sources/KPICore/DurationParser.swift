/// kpid's one duration parser: `1h30m`, `500ms`, `7d`, `2w` (settings, API parameters, PromQL)
/// and `7 days`, `1 hour 15 min` (SQL `INTERVAL '...'`). Each language chooses its
/// ``Syntax`` (units, spaces, order, maximum) and words its own error from a ``Failure``.
///
/// A duration is one or more parts, each an unsigned integer and a unit; the result is their
/// sum in milliseconds, checked for overflow.
public enum DurationParser {
    /// The units and rules of one place durations are written.
    public struct Syntax: Sendable {
        /// Unit names (lowercase ASCII) and their milliseconds.
        public var units: [String: Int64]
        /// Whether spaces may separate parts, and an amount from its unit (`7 days`).
        public var allowsSpaces: Bool
        /// Whether units must go from the largest to the smallest (Prometheus: `1h30m`, not `30m1h`).
        public var requiresDescendingUnits: Bool
        /// The largest duration accepted, in milliseconds.
        public var maximumMilliseconds: Int64

        public init(units: [String: Int64], allowsSpaces: Bool, requiresDescendingUnits: Bool, maximumMilliseconds: Int64) {
            self.units = units
            self.allowsSpaces = allowsSpaces
            self.requiresDescendingUnits = requiresDescendingUnits
            self.maximumMilliseconds = maximumMilliseconds
        }

        static let shortUnits: [String: Int64] = [
            "ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
        ]

        /// Settings and API parameters (`timeout`, `step`, `query-timeout`): `ms s m h d w`,
        /// glued, in any order.
        public static let settings = Syntax(
            units: shortUnits, allowsSpaces: false, requiresDescendingUnits: false, maximumMilliseconds: .max)

        /// PromQL, as Prometheus parses durations: `ms s m h d w y`, glued, largest unit first,
        /// at most what Int64 nanoseconds hold (about 292 years).
        public static let promQL = Syntax(
            units: shortUnits.merging(["y": 31_536_000_000]) { a, _ in a }, allowsSpaces: false,
            requiresDescendingUnits: true, maximumMilliseconds: Int64.max / 1_000_000)

        /// SQL `INTERVAL '...'`: short and long unit names in any letter case (`7 days`,
        /// `1 hour 15 min`, `90 seconds`), spaces allowed.
        public static let sql: Syntax = {
            var units: [String: Int64] = [:]
            let names: [(Int64, [String])] = [
                (1, ["ms", "msec", "msecs", "millisecond", "milliseconds"]),
                (1_000, ["s", "sec", "secs", "second", "seconds"]),
                (60_000, ["m", "min", "mins", "minute", "minutes"]),
                (3_600_000, ["h", "hr", "hrs", "hour", "hours"]),
                (86_400_000, ["d", "day", "days"]),
                (604_800_000, ["w", "week", "weeks"]),
            ]
            for (ms, list) in names { for name in list { units[name] = ms } }
            return Syntax(units: units, allowsSpaces: true, requiresDescendingUnits: false, maximumMilliseconds: .max)
        }()
    }

    /// Why a duration does not parse, and where (byte offset into the scanned bytes).
    public struct Failure: Error, Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// No part at all.
            case empty
            /// A part does not start with a digit (e.g. a minus sign).
            case expectedNumber
            /// A decimal point in an amount (`1.5h`).
            case fractional
            /// An amount with no unit after it.
            case missingUnit(amount: Int64)
            /// A unit name the syntax does not know.
            case unknownUnit(String)
            /// A unit larger than the one before it, where the syntax wants them descending.
            case unitOrder
            /// The sum overflows or exceeds the syntax's maximum.
            case outOfRange
        }

        public var kind: Kind
        /// Where the offending part or unit starts.
        public var offset: Int
    }

    /// Scans a duration in `b` from `start` (up to `limit`, the end by default) to the first
    /// byte that cannot continue it; returns the milliseconds and that end index.
    public static func scan(
        _ b: [UInt8], from start: Int, to limit: Int? = nil, syntax: Syntax
    ) throws(Failure) -> (milliseconds: Int64, end: Int) {
        let count = min(limit ?? b.count, b.count)
        var i = start
        var total: Int64 = 0
        var parts = 0
        var previousUnit = Int64.max
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
        func skipSpaces() {
            guard syntax.allowsSpaces else { return }
            while i < count, b[i] == 0x20 || b[i] == 0x09 { i += 1 }
        }
        skipSpaces()
        while i < count {
            let numberStart = i
            guard isDigit(b[i]) else {
                if parts > 0 && !syntax.allowsSpaces { break }
                throw Failure(kind: .expectedNumber, offset: i)
            }
            var amount: Int64 = 0
            while i < count, isDigit(b[i]) {
                let (scaled, o1) = amount.multipliedReportingOverflow(by: 10)
                let (sum, o2) = scaled.addingReportingOverflow(Int64(b[i] - 0x30))
                if o1 || o2 { throw Failure(kind: .outOfRange, offset: numberStart) }
                amount = sum
                i += 1
            }
            if i < count, b[i] == UInt8(ascii: ".") { throw Failure(kind: .fractional, offset: i) }
            skipSpaces()
            let unitStart = i
            while i < count, isLetter(b[i]) { i += 1 }
            guard i > unitStart else { throw Failure(kind: .missingUnit(amount: amount), offset: unitStart) }
            let name = String(decoding: b[unitStart..<i], as: UTF8.self)
            guard let scale = syntax.units[name.lowercased()] else {
                throw Failure(kind: .unknownUnit(name), offset: unitStart)
            }
            if syntax.requiresDescendingUnits {
                guard scale < previousUnit else { throw Failure(kind: .unitOrder, offset: unitStart) }
                previousUnit = scale
            }
            let (part, o1) = amount.multipliedReportingOverflow(by: scale)
            let (sum, o2) = total.addingReportingOverflow(part)
            if o1 || o2 || sum > syntax.maximumMilliseconds { throw Failure(kind: .outOfRange, offset: numberStart) }
            total = sum
            parts += 1
            skipSpaces()
        }
        guard parts > 0 else { throw Failure(kind: .empty, offset: start) }
        return (total, i)
    }

    /// The whole of `text` (surrounding spaces ignored) as a duration in milliseconds, or nil.
    public static func milliseconds(_ text: String, syntax: Syntax = .settings) -> Int64? {
        let bytes = Array(text.utf8)
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        guard let (ms, stop) = try? scan(bytes, from: start, to: end, syntax: syntax), stop == end else { return nil }
        return ms
    }
}
