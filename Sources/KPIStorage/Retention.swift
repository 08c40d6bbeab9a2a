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
