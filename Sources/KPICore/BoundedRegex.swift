import Foundation

/// A regular expression whose matching stops at a deadline.
///
/// kpid matches client-supplied patterns (PromQL `=~`, SQL `~`, `label_replace`) with ICU's
/// backtracking engine, where a pattern such as `(a+)+b` takes exponential time. Matching runs
/// with progress reporting, and every progress callback checks the deadline, so a match gives up
/// within about a millisecond of it and throws `DeadlineExceeded`.
public final class BoundedRegex: @unchecked Sendable {
    // @unchecked: `expression` is an immutable NSRegularExpression, documented thread-safe for
    // matching; nothing else is stored.

    /// The compiled expression (for capture groups and `$1` expansion).
    public let expression: NSRegularExpression
    /// Whether a match must cover the whole string (PromQL) or may be anywhere (SQL `~`).
    public let anchored: Bool

    /// Compiles `pattern`; with `anchored`, as `^(?:pattern)$` with `.` matching newlines
    /// (Prometheus' RE2 semantics). Throws the compiler's error for an invalid pattern.
    public init(_ pattern: String, anchored: Bool) throws {
        self.anchored = anchored
        if anchored {
            expression = try NSRegularExpression(pattern: "^(?:" + pattern + ")$", options: [.dotMatchesLineSeparators])
        } else {
            expression = try NSRegularExpression(pattern: pattern)
        }
    }

    /// The first match in `candidate`, nil when there is none; throws when `deadline` passes
    /// before the engine has decided.
    public func firstMatch(in candidate: String, deadline: QueryDeadline) throws(DeadlineExceeded) -> NSTextCheckingResult? {
        let range = NSRange(candidate.startIndex..<candidate.endIndex, in: candidate)
        var found: NSTextCheckingResult?
        var expired = false
        let options: NSRegularExpression.MatchingOptions = anchored ? [.reportProgress, .anchored] : [.reportProgress]
        expression.enumerateMatches(in: candidate, options: options, range: range) { result, _, stop in
            if let result {
                found = result
                stop.pointee = true
            } else if deadline.hasPassed {
                expired = true
                stop.pointee = true
            }
        }
        if found == nil && expired { throw DeadlineExceeded() }
        return found
    }

    /// Whether `candidate` matches; throws when `deadline` passes first.
    public func matches(_ candidate: String, deadline: QueryDeadline) throws(DeadlineExceeded) -> Bool {
        try firstMatch(in: candidate, deadline: deadline) != nil
    }
}
