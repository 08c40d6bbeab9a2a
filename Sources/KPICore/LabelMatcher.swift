import Foundation

/// A condition on one label, as in a Prometheus selector: `=`, `!=`, `=~`, `!~`.
///
/// A series without the label is treated as having the empty value, so `zone!="A"` selects
/// series that lack `zone`, and `zone=""` selects exactly those (Prometheus semantics).
/// Regular expressions are anchored at both ends.
public struct LabelMatcher: @unchecked Sendable, Equatable, CustomStringConvertible {
    // @unchecked: `regex` is an immutable NSRegularExpression, which is documented thread-safe
    // for matching; every other stored property is a value type.

    public enum Operator: String, Sendable {
        case equal = "="
        case notEqual = "!="
        case regexMatch = "=~"
        case regexNoMatch = "!~"
    }

    public let name: String
    public let op: Operator
    public let value: String
    private let regex: NSRegularExpression?

    /// Builds a matcher; throws when a regular expression does not compile.
    public init(_ name: String, _ op: Operator, _ value: String) throws(SelectorError) {
        self.name = name
        self.op = op
        self.value = value
        switch op {
        case .equal, .notEqual:
            regex = nil
        case .regexMatch, .regexNoMatch:
            do {
                regex = try NSRegularExpression(pattern: "^(?:" + value + ")$", options: [.dotMatchesLineSeparators])
            } catch {
                throw SelectorError(message: "invalid regular expression \"\(value)\" for label \(name)", offset: 0)
            }
        }
    }

    /// Whether a label value (empty for "absent") satisfies the matcher.
    public func matches(_ candidate: String) -> Bool {
        switch op {
        case .equal: return candidate == value
        case .notEqual: return candidate != value
        case .regexMatch: return regexMatches(candidate)
        case .regexNoMatch: return !regexMatches(candidate)
        }
    }

    private func regexMatches(_ candidate: String) -> Bool {
        guard let regex else { return false }
        let range = NSRange(candidate.startIndex..<candidate.endIndex, in: candidate)
        return regex.firstMatch(in: candidate, options: [.anchored], range: range) != nil
    }

    /// True when the matcher selects series that lack the label.
    public var matchesEmpty: Bool { matches("") }

    public static func == (lhs: LabelMatcher, rhs: LabelMatcher) -> Bool {
        lhs.name == rhs.name && lhs.op == rhs.op && lhs.value == rhs.value
    }

    public var description: String { "\(name)\(op.rawValue)\"\(Labels.escape(value))\"" }
}

/// A selector that could not be parsed or compiled; `offset` is the 0-based character offset.
public struct SelectorError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int

    public init(message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }

    public var description: String { "\(message) (at offset \(offset))" }
}
