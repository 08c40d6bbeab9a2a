import Foundation
import KPICore

/// How long samples are kept: a default for every metric, and overrides per metric name.
/// A duration of 0 keeps samples for ever.
public struct RetentionPolicy: Sendable, Equatable {
    /// Default retention in milliseconds (0 = keep for ever).
    public var defaultMs: Int64
    /// Per metric name (`__name__`), in milliseconds (0 = keep that metric for ever).
    public var rules: [String: Int64]

    public init(defaultMs: Int64 = 0, rules: [String: Int64] = [:]) {
        self.defaultMs = defaultMs
        self.rules = rules
    }

    /// Whether any sample can ever expire.
    public var isEnabled: Bool { defaultMs > 0 || rules.values.contains { $0 > 0 } }

    /// The retention of a series' metric, 0 = for ever.
    public func retentionMs(of labels: Labels) -> Int64 {
        if let name = labels.metricName, let rule = rules[name] { return rule }
        return defaultMs
    }

    /// The oldest timestamp a series keeps at time `nowMs`, nil when it keeps everything.
    public func cutoff(for labels: Labels, nowMs: Int64) -> Int64? {
        let ms = retentionMs(of: labels)
        return ms > 0 ? nowMs &- ms : nil
    }

    /// Why a rules text was refused: the entry and the reason.
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        /// The `metric=duration` entry refused.
        public var entry: String
        /// Why it was refused.
        public var reason: String
        public var description: String { "\"\(entry)\": \(reason)" }
    }

    /// Parses per-metric rules: `metric=duration` entries separated by commas, semicolons or
    /// new lines (a file's content works too); `#` starts a comment; a duration is `0` (keep for
    /// ever) or like `35d`, `400d`, `12h`, `2w` (``DurationParser``'s settings syntax); `minimumMs`
    /// is the shortest non-zero retention accepted. A key that is not a metric name is accepted
    /// when `otherKey` returns nil for it (the runtime's `template/<name>` rules), else refused
    /// with the reason it returns.
    public static func parseRules(
        _ text: String, minimumMs: Int64, otherKey: (String) -> String? = { _ in "is not a metric name" }
    ) throws(ParseError) -> [String: Int64] {
        var rules: [String: Int64] = [:]
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            for rawEntry in content.split(whereSeparator: { $0 == "," || $0 == ";" }) {
                let entry = rawEntry.trimmingCharacters(in: .whitespaces)
                if entry.isEmpty { continue }
                guard let eq = entry.firstIndex(of: "=") else {
                    throw ParseError(entry: entry, reason: "expected metric=duration, e.g. queue_wait_seconds=35d")
                }
                let metric = entry[..<eq].trimmingCharacters(in: .whitespaces)
                let value = entry[entry.index(after: eq)...].trimmingCharacters(in: .whitespaces)
                if !LabelValidator.isValidMetricName(metric), let reason = otherKey(metric) {
                    throw ParseError(entry: entry, reason: "\"\(metric)\" \(reason)")
                }
                guard rules[metric] == nil else { throw ParseError(entry: entry, reason: "metric \(metric) is listed twice") }
                let ms: Int64
                if value == "0" {
                    ms = 0
                } else {
                    guard let parsed = DurationParser.milliseconds(value), parsed >= minimumMs else {
                        throw ParseError(
                            entry: entry, reason: "\"\(value)\" is not 0 or a duration of at least \(minimumMs / 3_600_000)h, like 35d")
                    }
                    ms = parsed
                }
                rules[metric] = ms
            }
        }
        return rules
    }
}

/// What one retention run or deletion removed.
public struct DeletionSummary: Sendable, Equatable {
    /// Series the request selected (deletion) or that held expired samples (retention).
    public var seriesTouched = 0
    /// Samples deleted (retention: not counting those only hidden by a floor).
    public var samples = 0
    /// Sealed chunks dropped or rewritten.
    public var chunks = 0
    /// Series that were left empty and removed.
    public var seriesRemoved = 0
    /// Free pages given back to the file system afterwards.
    public var pagesReclaimed = 0

    /// Nothing removed.
    public init() {}
}

extension GroupCommitWriter {
    /// Deletes the samples of `ids` in `[start, end]` durably: on the writer thread, after a
    /// checkpoint (so no write-ahead row still holds them), in one SQLite transaction, then in
    /// memory. When this returns success the deletion is on disk and no read returns them.
    public func deleteSamples(_ ids: [SeriesID], start: Int64, end: Int64) -> Result<DeletionSummary, WriteError> {
        let store = self.store
        return exclusive { database in
            let rewrites = store.planDeletion(ids, start: start, end: end)
            try database.applyRewrites(rewrites)
            store.apply(rewrites)
            var summary = GroupCommitWriter.summary(rewrites)
            summary.pagesReclaimed = (try? database.reclaimSpace()) ?? 0
            return summary
        }
    }

    /// One retention run at `nowMs`: drops sealed chunks older than each series' cutoff and
    /// trims heads, in one transaction, then in memory; hides older samples of partly expired
    /// chunks from reads; removes series left empty; reclaims free pages.
    public func enforceRetention(_ policy: RetentionPolicy, nowMs: Int64) -> Result<DeletionSummary, WriteError> {
        guard policy.isEnabled else { return .success(DeletionSummary()) }
        let store = self.store
        return exclusive { database in
            let rewrites = store.planRetention { policy.cutoff(for: $0, nowMs: nowMs) }
            try database.applyRewrites(rewrites)
            store.apply(rewrites)
            var summary = GroupCommitWriter.summary(rewrites.filter(\.changesStorage))
            summary.pagesReclaimed = (try? database.reclaimSpace()) ?? 0
            return summary
        }
    }

    static func summary(_ rewrites: [SeriesRewrite]) -> DeletionSummary {
        let counts = RewriteCounts(rewrites)
        var summary = DeletionSummary()
        summary.seriesTouched = rewrites.count
        summary.samples = counts.samples
        summary.chunks = counts.chunks
        summary.seriesRemoved = counts.series
        return summary
    }
}
