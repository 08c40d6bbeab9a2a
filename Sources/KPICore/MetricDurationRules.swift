/// Rules that give a duration to each named metric: `metric=duration` entries separated by
/// commas, semicolons or new lines (a file's content works too), `#` starting a comment. The
/// one parser of `retention-rules` and `staleness-rules`.
public enum MetricDurationRules {
    /// Why a rules text was refused: the entry and the reason.
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        /// The `metric=duration` entry refused.
        public var entry: String
        /// Why it was refused.
        public var reason: String
        public var description: String { "\"\(entry)\": \(reason)" }
    }

    /// The rules of `text`, in milliseconds by key. A duration is ``DurationParser``'s settings
    /// syntax, at least `minimumMs`, or `0` when `allowsZero`; `valueHint` says what is accepted
    /// (after "is not") and `example` shows one entry. A key that is not a metric name is
    /// accepted when `otherKey` returns nil for it, else refused with the reason it returns.
    public static func parse(
        _ text: String, minimumMs: Int64, allowsZero: Bool, valueHint: String, example: String,
        otherKey: (String) -> String? = { _ in "is not a metric name" }
    ) throws(ParseError) -> [String: Int64] {
        var rules: [String: Int64] = [:]
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            for rawEntry in content.split(whereSeparator: { $0 == "," || $0 == ";" }) {
                let entry = rawEntry.trimmingCharacters(in: .whitespaces)
                if entry.isEmpty { continue }
                guard let eq = entry.firstIndex(of: "=") else {
                    throw ParseError(entry: entry, reason: "expected metric=duration, e.g. \(example)")
                }
                let metric = entry[..<eq].trimmingCharacters(in: .whitespaces)
                let value = entry[entry.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                if !LabelValidator.isValidMetricName(metric), let reason = otherKey(metric) {
                    throw ParseError(entry: entry, reason: "\"\(metric)\" \(reason)")
                }
                guard rules[metric] == nil else { throw ParseError(entry: entry, reason: "metric \(metric) is listed twice") }
                if allowsZero && value == "0" {
                    rules[metric] = 0
                    continue
                }
                guard let ms = DurationParser.milliseconds(value), ms >= minimumMs else {
                    throw ParseError(entry: entry, reason: "\"\(value)\" is not \(valueHint)")
                }
                rules[metric] = ms
            }
        }
        return rules
    }
}
