/// A planned maintenance window as the query engines see it: the series its selector covers
/// and its time span `[startMs, endMs)`. `intervals()` marks the parts of runs inside one as
/// `planned` (planned downtime, apart from unknown downtime).
public struct MaintenanceSpan: Sendable, Equatable {
    public var matchers: [LabelMatcher]
    public var startMs: Int64
    public var endMs: Int64

    public init(matchers: [LabelMatcher], startMs: Int64, endMs: Int64) {
        self.matchers = matchers
        self.startMs = startMs
        self.endMs = endMs
    }

    /// Whether the window's selector covers a series with these labels.
    public func covers(_ labels: Labels) -> Bool {
        matchers.allSatisfy { $0.matches(labels[$0.name] ?? "") }
    }
}
