import Foundation
import KPICore
import KPIStorage
import KPITemplates
import KPIWire
import Logging
import Synchronization

/// Runs retention every `interval` on its own thread (the work itself runs on the writer
/// thread, between group commits, see `GroupCommitWriter.exclusive`).
final class RetentionScheduler: Sendable {
    private let writer: GroupCommitWriter
    private let policy: RetentionPolicy
    private let interval: TimeInterval
    private let metrics: RetentionMetrics
    private let logger: Logger
    private let clock: WallClock
    private let thread = BackgroundThread()

    init(
        writer: GroupCommitWriter, policy: RetentionPolicy, interval: TimeInterval, metrics: RetentionMetrics,
        logger: Logger, clock: WallClock
    ) {
        self.clock = clock
        self.writer = writer
        self.policy = policy
        self.interval = interval
        self.metrics = metrics
        self.logger = logger
    }

    /// One run now, on the calling thread (waits for the writer).
    @discardableResult
    func runOnce() -> Result<DeletionSummary, WriteError> {
        let started = DispatchTime.now()
        let nowMs = clock.nowMilliseconds()
        let result = writer.enforceRetention(policy, nowMs: nowMs)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        metrics.retentionRan(result, seconds: seconds)
        switch result {
        case .success(let s):
            if s.samples > 0 || s.seriesRemoved > 0 {
                logger.info(
                    "retention",
                    metadata: [
                        "samples": "\(s.samples)", "chunks": "\(s.chunks)", "series_removed": "\(s.seriesRemoved)",
                        "pages_reclaimed": "\(s.pagesReclaimed)", "seconds": "\(String(format: "%.3f", seconds))",
                    ])
            }
        case .failure(.unavailable):
            break
        case .failure(let error):
            logger.error("retention run failed; will retry", metadata: ["error": "\(error)"])
        }
        return result
    }

    func start() {
        thread.every(interval, name: "kpid-retention", immediately: false) { [self] in runOnce() }
    }

    /// Stops the thread and waits for a run in progress.
    func stop() { thread.stop() }
}
