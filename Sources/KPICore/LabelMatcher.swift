import Foundation

/// A condition on one label, as in a Prometheus selector: `=`, `!=`, `=~`, `!~`.
///
/// A series without the label is treated as having the empty value, so `zone!="A"` selects
/// series that lack `zone`, and `zone=""` selects exactly those (Prometheus semantics).
/// Regular expressions are anchored at both ends and matched under a deadline
/// (`BoundedRegex`): the store resolves a regex matcher against the values its label has
/// (`resolved(against:deadline:)`, once per query, outside its lock) before selecting series.
public struct LabelMatcher: Sendable, Equatable, CustomStringConvertible {
    public enum Operator: String, Sendable {
        case equal = "="
        case notEqual = "!="
        case regexMatch = "=~"
        case regexNoMatch = "!~"
    }

    public let name: String
    public let op: Operator
    public let value: String
    private let regex: BoundedRegex?
    /// Whether the regular expression matches the empty string.
    private let regexMatchesEmpty: Bool
    /// Once resolved: the label values the regular expression matches (others do not).
    private var accepted: Set<String>?

    /// Builds a matcher; throws when a regular expression does not compile, or is so complex
    /// that matching it against the empty string takes longer than a second.
    public init(_ name: String, _ op: Operator, _ value: String) throws(SelectorError) {
        self.name = name
        self.op = op
        self.value = value
        switch op {
        case .equal, .notEqual:
            regex = nil
            regexMatchesEmpty = false
        case .regexMatch, .regexNoMatch:
            let compiled: BoundedRegex
            do {
                compiled = try BoundedRegex(value, anchored: true)
            } catch {
                throw SelectorError(message: "invalid regular expression \"\(value)\" for label \(name)", offset: 0)
            }
            regex = compiled
            do {
                regexMatchesEmpty = try compiled.matches("", deadline: .after(.seconds(1)))
            } catch {
                throw SelectorError(message: "regular expression \"\(value)\" for label \(name) is too complex", offset: 0)
            }
        }
    }

    /// Whether the matcher uses a regular expression.
    public var isRegex: Bool { regex != nil }

    /// Whether a label value (empty for "absent") satisfies the matcher. A regex matcher that
    /// has been resolved answers from its set (a value it was not resolved against does not
    /// match the expression); one that has not is matched under `QueryDeadline.ceiling`, and a
    /// match that runs past it counts as no match. Queries resolve first and never get here
    /// unresolved.
    public func matches(_ candidate: String) -> Bool {
        switch op {
        case .equal: return candidate == value
        case .notEqual: return candidate != value
        case .regexMatch: return regexMatches(candidate)
        case .regexNoMatch: return !regexMatches(candidate)
        }
    }

    private func regexMatches(_ candidate: String) -> Bool {
        if candidate.isEmpty { return regexMatchesEmpty }
        if let accepted { return accepted.contains(candidate) }
        guard let regex else { return false }
        return (try? regex.matches(candidate, deadline: .ceiling)) ?? false
    }

    /// This matcher with its regular expression decided for every value in `values`, so that
    /// selecting series afterwards is set lookups; throws when `deadline` passes first. An
    /// equality matcher is returned unchanged.
    public func resolved<Values: Sequence<String>>(
        against values: Values, deadline: QueryDeadline
    ) throws(DeadlineExceeded) -> LabelMatcher {
        guard let regex else { return self }
        var set = Set<String>()
        for candidate in values where !candidate.isEmpty {
            if try regex.matches(candidate, deadline: deadline) { set.insert(candidate) }
        }
        var copy = self
        copy.accepted = set
        return copy
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
