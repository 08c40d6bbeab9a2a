import Foundation
import KPICore
import Logging
import Synchronization

/// Limits the writer enforces per request and in total.
public struct WriteLimits: Sendable {
    /// New series one request may create (the rest of the request is refused with it).
    public var maxNewSeriesPerRequest: Int = 100_000
    /// Series the store may hold in total.
    public var maxSeries: Int = 5_000_000
    /// Samples one group commit gathers before it commits (more requests wait for the next).
    public var maxGroupSamples: Int = 2_000_000

    public init(maxNewSeriesPerRequest: Int = 100_000, maxSeries: Int = 5_000_000, maxGroupSamples: Int = 2_000_000) {
        self.maxNewSeriesPerRequest = maxNewSeriesPerRequest
        self.maxSeries = maxSeries
        self.maxGroupSamples = maxGroupSamples
    }
}

/// What an accepted request stored.
public struct WriteResult: Sendable, Equatable {
    public var samples: Int
    public var seriesCreated: Int
}

/// Why a write was not acknowledged.
public enum WriteError: Error, Sendable, CustomStringConvertible {
    /// The request was invalid or over a limit; nothing of it was stored.
    case rejected(IngestError)
    /// The database refused the commit (I/O error, ...); nothing of the group was stored.
    case storage(String)
    /// The disk, or the database's size limit (`max-database-size`), is full; nothing of the
    /// group was stored. Writes succeed again once there is room.
    case full(String)
    /// The writer is shutting down and took no new work.
    case unavailable

    public var description: String {
        switch self {
        case .rejected(let e): return e.description
        case .storage(let m): return "storage error: \(m)"
        case .full(let m): return "storage full: \(m)"
        case .unavailable: return "writer is shutting down"
        }
    }
}

/// Observations the writer reports, so the service can export them as metrics.
public protocol WriterObserver: AnyObject, Sendable {
    func writerCommitted(samples: Int, requests: Int, seconds: Double)
    func writerCheckpointed(chunks: Int, heads: Int, seconds: Double)
    func writerFailed(_ message: String)
}

/// How far the remote-write forwarder has sent the write-ahead rows; the writer's checkpoints
/// keep the rows after it (the durable forwarding queue) and store it.
public final class ForwardProgress: Sendable {
    private let value: Mutex<Int64>

    public init(sequence: Int64) { value = Mutex(sequence) }

    /// Rows with `seq <= sequence` were sent (or dropped).
    public var sequence: Int64 { value.withLock { $0 } }

    /// Moves forward only.
    public func advance(to sequence: Int64) { value.withLock { $0 = max($0, sequence) } }
}

/// The single writer of kpid: requests from any thread queue here; one thread takes every
/// request waiting, validates them against the store, writes them in ONE SQLite transaction
/// (group commit), applies them to the in-memory store, and only then wakes the requesters.
/// So an acknowledged sample is on disk, and a request is stored whole or not at all.
///
/// In the background it checkpoints: sealed chunks and heads go to their tables and the
/// write-ahead rows they cover are deleted, all in one transaction.
public final class GroupCommitWriter: @unchecked Sendable {
    // @unchecked: `queue`, `stopping` and `running` are guarded by `condition`; `database`,
    // `pendingDelta`, `lastSequence` and `checkpointedSequence` are touched only by the writer
    // thread (and by `init` before it starts).

    private final class Pending: @unchecked Sendable {
        // @unchecked: `result` is written only by the writer thread, which then calls
        // `completion` once with it.
        let batch: SampleBatch
        var result: Result<WriteResult, WriteError> = .failure(.unavailable)
        let completion: @Sendable (Result<WriteResult, WriteError>) -> Void
        init(_ batch: SampleBatch, completion: @escaping @Sendable (Result<WriteResult, WriteError>) -> Void) {
            self.batch = batch
            self.completion = completion
        }
    }

    public let store: ColumnarStore
    private let database: KPIDatabase
    private let limits: WriteLimits
    private let logger: Logger
    private let checkpointInterval: TimeInterval
    private let checkpointEveryRecords: Int64
    private weak var observer: (any WriterObserver)?

    private let condition = NSCondition()
    private var queue: [Pending] = []
    /// Work queued by `exclusive(_:)`, run between groups; nil database = refused.
    private var exclusiveWork: [(KPIDatabase?) -> Void] = []
    private var stopping = false
    private var running = false
    private let finished = DispatchSemaphore(value: 0)

    private var lastSequence: Int64
    private var checkpointedSequence: Int64
    /// When samples are forwarded (remote write out): how far; checkpoints keep the rows after it.
    private let forwardProgress: ForwardProgress?
    /// The forward position the last checkpoint stored.
    private var persistedForward: Int64?

    /// Whether the forwarder got further than the last checkpoint stored (so an idle writer
    /// still checkpoints, and a restart does not send those rows again).
    private var forwardMoved: Bool {
        guard let forwardProgress else { return false }
        return forwardProgress.sequence != persistedForward
    }
    private var pendingDelta = CheckpointDelta()
    private var lastCheckpoint = Date()

    /// `database` must already be recovered into `store` (see `StoreRecovery`).
    public init(
        store: ColumnarStore, database: KPIDatabase, limits: WriteLimits, logger: Logger,
        checkpointInterval: TimeInterval = 30, checkpointEveryRecords: Int64 = 2_000,
        observer: (any WriterObserver)? = nil, forwardProgress: ForwardProgress? = nil
    ) throws {
        self.forwardProgress = forwardProgress
        self.store = store
        self.database = database
        self.limits = limits
        self.logger = logger
        self.checkpointInterval = checkpointInterval
        self.checkpointEveryRecords = checkpointEveryRecords
        self.observer = observer
        let mark = try database.checkpointSequence
        self.checkpointedSequence = mark
        self.lastSequence = mark
    }

    /// Starts the writer thread.
    public func start() {
        condition.lock()
        precondition(!running, "writer started twice")
        running = true
        condition.unlock()
        let thread = Thread { [self] in self.run() }
        thread.name = "kpid-writer"
        thread.start()
    }

    /// Queues a batch; `completion` runs on the writer thread once the batch is committed (or
    /// refused). It must not block: it delays every request of the next group.
    public func submit(_ batch: SampleBatch, completion: @escaping @Sendable (Result<WriteResult, WriteError>) -> Void) {
        if batch.isEmpty {
            completion(.success(WriteResult(samples: 0, seriesCreated: 0)))
            return
        }
        let pending = Pending(batch, completion: completion)
        condition.lock()
        if stopping || !running {
            condition.unlock()
            completion(.failure(.unavailable))
            return
        }
        queue.append(pending)
        condition.signal()
        condition.unlock()
    }

    /// Queues a batch and blocks until it is committed (or refused).
    public func submit(_ batch: SampleBatch) -> Result<WriteResult, WriteError> {
        final class Box: @unchecked Sendable {
            // @unchecked: written by the completion before `done.signal()`, read after `wait()`.
            var result: Result<WriteResult, WriteError> = .failure(.unavailable)
            let done = DispatchSemaphore(value: 0)
        }
        let box = Box()
        submit(batch) { result in
            box.result = result
            box.done.signal()
        }
        box.done.wait()
        return box.result
    }

    /// Finishes every queued request, writes a final checkpoint, closes the database. Requests
    /// submitted after this get `.unavailable`.
    public func shutdown() {
        condition.lock()
        let wasRunning = running
        stopping = true
        condition.signal()
        condition.unlock()
        if wasRunning { finished.wait() } else { database.close() }
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && exclusiveWork.isEmpty && !stopping {
                if !condition.wait(until: Date().addingTimeInterval(min(checkpointInterval, 1))) { break }
            }
            var group: [Pending] = []
            var samples = 0
            while let first = queue.first, group.isEmpty || samples + first.batch.sampleCount <= limits.maxGroupSamples {
                group.append(queue.removeFirst())
                samples += first.batch.sampleCount
            }
            let stop = stopping && queue.isEmpty
            let work = exclusiveWork
            exclusiveWork.removeAll()
            condition.unlock()

            if !group.isEmpty { commit(group) }
            for body in work { runExclusive(body) }
            if stop {
                checkpoint()
                database.close()
                finished.signal()
                return
            }
            if lastSequence - checkpointedSequence >= checkpointEveryRecords
                || ((lastSequence > checkpointedSequence || forwardMoved)
                    && Date().timeIntervalSince(lastCheckpoint) >= checkpointInterval)
            {
                checkpoint()
            }
        }
    }

    /// Per accepted request: its new series and its record, in commit order.
    private struct Accepted {
        var pending: Pending
        var newSeries: [(SeriesID, Labels)]
        var record: WALRecord
    }

    /// The first (series index, timestamp) of `batch` outside `SampleTime`, or nil.
    static func firstOutsideTimeContract(_ batch: SampleBatch) -> (Int, Int64)? {
        for (k, column) in batch.timestamps.enumerated() {
            for t in column where !SampleTime.contains(t) { return (k, t) }
        }
        return nil
    }

    private func commit(_ group: [Pending]) {
        let started = DispatchTime.now()
        let window = store.configuration.outOfOrderWindowMs
        var nextID = store.nextSeriesID.rawValue
        var created: [Labels: SeriesID] = [:]
        var newestInGroup: [SeriesID: Int64] = [:]
        var accepted: [Accepted] = []
        var totalSeries = store.seriesCount

        for pending in group {
            let batch = pending.batch
            // The time contract, for every caller (the decoders check it per line already).
            if let (k, t) = Self.firstOutsideTimeContract(batch) {
                pending.result = .failure(
                    .rejected(
                        IngestError(
                            kind: .invalidInput, message: "a timestamp is outside the time contract",
                            details: [IngestIssue(line: 0, field: "ts", reason: "\(batch.series[k]): " + SampleTime.problem(t)!)])))
                continue
            }
            // Resolve series; new ones get ids only if the request is accepted.
            var ids: [SeriesID?] = []
            ids.reserveCapacity(batch.series.count)
            var fresh: [Int] = []
            for (k, labels) in batch.series.enumerated() {
                if let id = store.seriesID(for: labels) ?? created[labels] {
                    ids.append(id)
                } else {
                    ids.append(nil)
                    fresh.append(k)
                }
            }
            if fresh.count > limits.maxNewSeriesPerRequest {
                pending.result = .failure(
                    .rejected(
                        IngestError(
                            kind: .limitExceeded,
                            message:
                                "request would create \(fresh.count) new series, over the limit of \(limits.maxNewSeriesPerRequest) per request",
                            details: [IngestIssue(line: 0, field: "series", reason: "too many new series in one request")])))
                continue
            }
            if totalSeries + fresh.count > limits.maxSeries {
                pending.result = .failure(
                    .rejected(
                        IngestError(
                            kind: .limitExceeded,
                            message: "store holds \(totalSeries) series; \(fresh.count) more would pass the limit of \(limits.maxSeries)",
                            details: [IngestIssue(line: 0, field: "series", reason: "series limit reached")])))
                continue
            }
            // Out-of-order bound: against the newest sample stored or accepted earlier in this group.
            var error: IngestError? = nil
            for (k, maybeID) in ids.enumerated() {
                guard let id = maybeID, let newest = newestInGroup[id] ?? store.maxTime(of: id) else { continue }
                let cutoff = newest &- window
                for t in batch.timestamps[k] where t < cutoff {
                    if error == nil {
                        error = IngestError(kind: .outOfBounds, message: "samples older than the out-of-order window")
                    }
                    error!.add(
                        IngestIssue(
                            line: 0, field: "ts",
                            reason: "\(batch.series[k]) at \(t) is more than \(window) ms behind the newest sample \(newest) of the series")
                    )
                    if error!.detailsTruncated { break }
                }
            }
            if let error {
                pending.result = .failure(.rejected(error))
                continue
            }
            var newSeries: [(SeriesID, Labels)] = []
            for k in fresh {
                let id = SeriesID(nextID)
                nextID += 1
                created[batch.series[k]] = id
                newSeries.append((id, batch.series[k]))
                ids[k] = id
            }
            totalSeries += fresh.count
            let resolved = ids.map { $0! }
            for (k, id) in resolved.enumerated() {
                if let m = batch.timestamps[k].max() { newestInGroup[id] = max(newestInGroup[id] ?? .min, m) }
            }
            accepted.append(
                Accepted(
                    pending: pending, newSeries: newSeries,
                    record: WALRecord(series: resolved, timestamps: batch.timestamps, values: batch.values)))
        }

        if !accepted.isEmpty {
            do {
                let sequences = try database.commit(
                    newSeries: accepted.flatMap(\.newSeries), records: accepted.map(\.record))
                if let last = sequences.last { lastSequence = last }
                for item in accepted {
                    store.apply(
                        newSeries: item.newSeries, series: item.record.series,
                        timestamps: item.record.timestamps, values: item.record.values)
                    item.pending.result = .success(
                        WriteResult(
                            samples: item.pending.batch.sampleCount, seriesCreated: item.newSeries.count))
                }
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
                observer?.writerCommitted(
                    samples: accepted.reduce(0) { $0 + $1.pending.batch.sampleCount }, requests: accepted.count,
                    seconds: seconds)
            } catch {
                logger.error("group commit failed", metadata: ["error": "\(error)", "requests": "\(accepted.count)"])
                observer?.writerFailed("commit")
                let failure: WriteError =
                    (error as? SQLiteError)?.isFull == true ? .full("\(error)") : .storage("\(error)")
                for item in accepted { item.pending.result = .failure(failure) }
            }
        }
        for pending in group { pending.completion(pending.result) }
    }

    /// Persists sealed chunks and changed heads and drops the write-ahead rows they cover. A
    /// failed checkpoint keeps its delta and retries later; the WAL rows stay until then.
    @discardableResult
    private func checkpoint() -> Bool {
        guard lastSequence > checkpointedSequence || !pendingDelta.isEmpty || forwardMoved else { return true }
        let forwarded = forwardProgress?.sequence
        let started = DispatchTime.now()
        let delta = store.drainCheckpoint()
        pendingDelta.sealed.append(contentsOf: delta.sealed)
        if !delta.heads.isEmpty {
            let replaced = Set(delta.heads.map(\.0))
            pendingDelta.heads.removeAll { replaced.contains($0.0) }
            pendingDelta.heads.append(contentsOf: delta.heads)
        }
        do {
            try database.checkpoint(
                sealed: pendingDelta.sealed, heads: pendingDelta.heads, throughSequence: lastSequence,
                forwardedThrough: forwarded)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
            observer?.writerCheckpointed(chunks: pendingDelta.sealed.count, heads: pendingDelta.heads.count, seconds: seconds)
            logger.debug(
                "checkpoint",
                metadata: [
                    "chunks": "\(pendingDelta.sealed.count)", "heads": "\(pendingDelta.heads.count)",
                    "through": "\(lastSequence)",
                ])
            checkpointedSequence = lastSequence
            persistedForward = forwarded
            pendingDelta = CheckpointDelta()
            lastCheckpoint = Date()
            return true
        } catch {
            logger.error("checkpoint failed; will retry", metadata: ["error": "\(error)"])
            observer?.writerFailed("checkpoint")
            lastCheckpoint = Date()
            return false
        }
    }

    // MARK: Exclusive work (deletions, retention)

    /// Runs `body` on the writer thread between two group commits and waits for it. Before it
    /// runs, a checkpoint writes every applied sample to the chunk and head tables and drops
    /// all write-ahead rows, so the store and the database hold the same samples, and no
    /// commit can run until `body` returns. `body` changes both (database first, see
    /// `KPIDatabase.applyRewrites` and `ColumnarStore.apply(_:)`).
    ///
    /// Fails with `.unavailable` when the writer is stopping and `.storage` when the
    /// checkpoint or `body` throws (then nothing of `body` may have been applied to the store).
    /// Never call it from the writer thread (a write completion): it would wait for itself.
    public func exclusive<T: Sendable>(_ body: @escaping (KPIDatabase) throws -> T) -> Result<T, WriteError> {
        let box = ExclusiveBox<T>()
        let work: (KPIDatabase?) -> Void = { database in
            defer { box.done.signal() }
            guard let database else {
                box.result = .failure(.storage("the checkpoint before it failed; nothing was changed"))
                return
            }
            do {
                box.result = .success(try body(database))
            } catch {
                box.result = .failure(.storage("\(error)"))
            }
        }
        condition.lock()
        if stopping || !running {
            condition.unlock()
            return .failure(.unavailable)
        }
        exclusiveWork.append(work)
        condition.signal()
        condition.unlock()
        box.done.wait()
        return box.result
    }

    private final class ExclusiveBox<T>: @unchecked Sendable {
        // @unchecked: written on the writer thread before `done.signal()`, read after `wait()`.
        var result: Result<T, WriteError> = .failure(.unavailable)
        let done = DispatchSemaphore(value: 0)
    }

    /// Checkpoints everything (write-ahead rows replayed at start included), then runs `body`;
    /// refuses it (nil) when the checkpoint fails.
    private func runExclusive(_ body: (KPIDatabase?) -> Void) {
        do {
            // Records replayed at start are in the store but after the checkpoint mark: cover them.
            let assigned = try database.highestAssignedSequence()
            if assigned > lastSequence { lastSequence = assigned }
        } catch {
            logger.error("reading the write-ahead sequence failed", metadata: ["error": "\(error)"])
            body(nil)
            return
        }
        guard checkpoint() else {
            body(nil)
            return
        }
        body(database)
    }
}
