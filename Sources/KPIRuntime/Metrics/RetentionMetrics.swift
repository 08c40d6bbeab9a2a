import Foundation
import KPIStorage
import Synchronization

/// Counters of what retention and deletions removed, for /metrics.
public final class RetentionMetrics: Sendable {
    struct Counts: Sendable {
        var retentionSamples: UInt64 = 0
        var retentionChunks: UInt64 = 0
        var retentionSeries: UInt64 = 0
        var retentionRuns: [String: UInt64] = [:]  // by result
        var lastRunSeconds: Double? = nil
        var lastRunDurationSeconds = 0.0
        var deletedSamples: UInt64 = 0
        var deletedSeries: UInt64 = 0
        var deleteRequests: UInt64 = 0
        var pagesReclaimed: UInt64 = 0
    }

    let counts = Mutex(Counts())

    func retentionRan(_ result: Result<DeletionSummary, WriteError>, seconds: Double) {
        counts.withLock {
            $0.lastRunSeconds = Date().timeIntervalSince1970
            $0.lastRunDurationSeconds = seconds
            switch result {
            case .success(let s):
                $0.retentionRuns["success", default: 0] += 1
                $0.retentionSamples += UInt64(s.samples)
                $0.retentionChunks += UInt64(s.chunks)
                $0.retentionSeries += UInt64(s.seriesRemoved)
                $0.pagesReclaimed += UInt64(s.pagesReclaimed)
            case .failure:
                $0.retentionRuns["failure", default: 0] += 1
            }
        }
    }

    public func deleted(_ summary: DeletionSummary) {
        counts.withLock {
            $0.deleteRequests += 1
            $0.deletedSamples += UInt64(summary.samples)
            $0.deletedSeries += UInt64(summary.seriesRemoved)
            $0.pagesReclaimed += UInt64(summary.pagesReclaimed)
        }
    }

    /// Appends the families in the text format (before OpenMetrics' `# EOF`, if present).
    public func write(to out: inout ExpositionWriter) {
        let c = counts.withLock { $0 }
        out.single("kpid_retention_deleted_samples_total", "counter", "Samples removed by retention.", Double(c.retentionSamples))
        out.single("kpid_retention_deleted_chunks_total", "counter", "Sealed chunks dropped by retention.", Double(c.retentionChunks))
        out.single(
            "kpid_retention_deleted_series_total", "counter", "Series removed by retention (no sample left).", Double(c.retentionSeries))
        out.family("kpid_retention_runs_total", "counter", "Retention runs, by result.")
        for (result, n) in c.retentionRuns.sorted(by: { $0.key < $1.key }) {
            out.sample("kpid_retention_runs_total", [("result", result)], Double(n))
        }
        if let last = c.lastRunSeconds {
            out.single("kpid_retention_last_run_timestamp_seconds", "gauge", "Unix time of the last retention run.", last.rounded())
            out.single("kpid_retention_last_run_duration_seconds", "gauge", "Duration of the last retention run.", c.lastRunDurationSeconds)
        }
        out.single("kpid_series_delete_requests_total", "counter", "Series deletions through the admin API.", Double(c.deleteRequests))
        out.single("kpid_deleted_samples_total", "counter", "Samples removed through the admin delete API.", Double(c.deletedSamples))
        out.single("kpid_deleted_series_total", "counter", "Series removed through the admin delete API.", Double(c.deletedSeries))
        out.single(
            "kpid_sqlite_pages_reclaimed_total", "counter", "Free SQLite pages returned to the file system after deletions.",
            Double(c.pagesReclaimed))
    }
}
