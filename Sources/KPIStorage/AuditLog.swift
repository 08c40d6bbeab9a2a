import Foundation
import Logging
import Synchronization

/// One audit entry: who did what, when, with what outcome.
public struct AuditEntry: Sendable, Equatable {
    /// Sequence number, assigned when the entry is written (0 before).
    public var seq: Int64
    /// When the request arrived, ms since the epoch.
    public var timestampMs: Int64
    /// The token's name (`anonymous` when authentication is off).
    public var principal: String
    /// The token's id, nil when authentication is off.
    public var tokenID: Int64?
    /// What was done: `METHOD route` for HTTP requests, e.g. `GET /api/v1/series`.
    public var action: String
    /// The request's parameters or statement (query text, token id), at most 4 KiB.
    public var detail: String
    /// HTTP status of the answer.
    public var status: Int
    /// Rows, series or items returned or changed, when the handler knows.
    public var rows: Int?
    /// Time to the answer, in milliseconds.
    public var elapsedMs: Double
    /// Client address.
    public var remote: String?

    /// An entry; `detail` longer than ``AuditLog/maxDetailBytes`` is cut (ending in `...`).
    public init(
        seq: Int64 = 0, timestampMs: Int64, principal: String, tokenID: Int64?, action: String, detail: String, status: Int,
        rows: Int?, elapsedMs: Double, remote: String?
    ) {
        self.seq = seq
        self.timestampMs = timestampMs
        self.principal = principal
        self.tokenID = tokenID
        self.action = action
        self.detail = detail.utf8.count > AuditLog.maxDetailBytes ? AuditLog.truncated(detail) : detail
        self.status = status
        self.rows = rows
        self.elapsedMs = elapsedMs
        self.remote = remote
    }
}

/// The append-only `audit` table (triggers refuse updates and the deletion of entries younger
/// than a day), written off the request path.
///
/// ``record(_:)`` only appends to a queue in memory; a background thread writes the queue in one
/// transaction every ``flushInterval`` (or sooner once ``batchSize`` entries wait), and deletes
/// entries older than the retention once an hour. ``flush()`` writes what waits at once (queries
/// of the log call it, so an admin sees their own latest requests). If the database stays
/// unwritable, at most ``maxQueued`` entries are held and later ones are counted in
/// ``droppedCount`` and logged.
public final class AuditLog: Sendable {
    /// Longest `detail` kept, in bytes; longer texts are cut at a character boundary.
    public static let maxDetailBytes = 4096
    /// Entries waiting that trigger an early write.
    public static let batchSize = 1000
    /// Most entries held in memory while the database cannot be written.
    public static let maxQueued = 100_000
    /// Shortest retention the table's trigger allows.
    public static let minimumRetentionMs: Int64 = 86_400_000

    /// How often waiting entries are written.
    public let flushInterval: Duration
    /// Entries older than this are deleted (hourly, and at start).
    public let retentionMs: Int64
    private let connection: Mutex<SQLiteConnection>
    private let queue = Mutex(Queue())
    private let wake = NSCondition()
    private let logger: Logger

    private struct Queue {
        var pending: [AuditEntry] = []
        var dropped = 0
        var stopping = false
        var running = false
        var lastPrune: ContinuousClock.Instant?
        var finished = false
    }

    /// Opens the audit table of the kpid database at `path` (schema version 2 or later: open a
    /// ``KPIDatabase`` on it first), deletes expired entries, and starts the writer thread.
    public init(path: String, retentionMs: Int64, flushInterval: Duration = .seconds(1), logger: Logger) throws {
        guard retentionMs >= Self.minimumRetentionMs else {
            throw StorageError(.invalidArgument, "audit retention must be at least one day")
        }
        connection = Mutex(try SQLiteConnection.forTable(path: path, synchronous: "NORMAL", schemaVersion: 2, what: "the audit log"))
        self.retentionMs = retentionMs
        self.flushInterval = flushInterval
        self.logger = logger
        try prune(nowMs: KPIDatabase.nowMs())
        let thread = Thread { [self] in run() }
        thread.name = "kpid-audit"
        queue.withLock {
            $0.running = true
            $0.lastPrune = .now
        }
        thread.start()
    }

    /// Queues an entry; returns at once. The entry is written within ``flushInterval``.
    public func record(_ entry: AuditEntry) {
        let wakeNow = queue.withLock { q -> Bool in
            guard q.pending.count < Self.maxQueued else {
                q.dropped += 1
                return false
            }
            q.pending.append(entry)
            return q.pending.count >= Self.batchSize
        }
        if wakeNow {
            wake.lock()
            wake.signal()
            wake.unlock()
        }
    }

    /// Entries dropped because the queue was full.
    public var droppedCount: Int { queue.withLock { $0.dropped } }

    /// Writes every waiting entry now, in one transaction.
    public func flush() throws {
        let batch = queue.withLock { q -> [AuditEntry] in
            defer { q.pending.removeAll(keepingCapacity: true) }
            return q.pending
        }
        guard !batch.isEmpty else { return }
        do {
            try write(batch)
        } catch {
            // Put them back in front, so a later flush retries in order.
            queue.withLock { q in
                let room = max(0, Self.maxQueued - q.pending.count)
                q.dropped += max(0, batch.count - room)
                q.pending.insert(contentsOf: batch.prefix(room), at: 0)
            }
            throw error
        }
    }

    /// Entries with `from <= ts_ms <= to`, optionally of one principal, oldest first, at most `limit`.
    public func entries(fromMs: Int64, toMs: Int64, principal: String?, limit: Int) throws -> [AuditEntry] {
        try flush()
        return try connection.withLock { connection in
            let statement = try connection.prepare(
                """
                SELECT seq, ts_ms, principal, token_id, action, detail, status, rows, elapsed_ms, remote FROM audit
                WHERE ts_ms BETWEEN ?1 AND ?2 AND (?3 IS NULL OR principal = ?3) ORDER BY seq LIMIT ?4
                """)
            try statement.bind(fromMs, at: 1)
            try statement.bind(toMs, at: 2)
            if let principal { try statement.bind(principal, at: 3) } else { try statement.bindNull(at: 3) }
            try statement.bind(Int64(limit), at: 4)
            var out: [AuditEntry] = []
            while try statement.step() {
                out.append(
                    AuditEntry(
                        seq: statement.int64(at: 0), timestampMs: statement.int64(at: 1), principal: statement.string(at: 2) ?? "",
                        tokenID: statement.isNull(at: 3) ? nil : statement.int64(at: 3), action: statement.string(at: 4) ?? "",
                        detail: statement.string(at: 5) ?? "", status: Int(statement.int64(at: 6)),
                        rows: statement.isNull(at: 7) ? nil : Int(statement.int64(at: 7)), elapsedMs: statement.double(at: 8),
                        remote: statement.string(at: 9)))
            }
            return out
        }
    }

    /// Deletes entries older than the retention; returns how many.
    @discardableResult
    public func prune(nowMs: Int64) throws -> Int {
        try connection.withLock { connection in
            let statement = try connection.prepare("DELETE FROM audit WHERE ts_ms < ?1")
            try statement.bind(nowMs - retentionMs, at: 1)
            _ = try statement.step()
            return Int(connection.changes)
        }
    }

    /// Writes what waits, stops the thread and closes the connection. Idempotent.
    public func close() {
        let running = queue.withLock { q -> Bool in
            q.stopping = true
            defer { q.running = false }
            return q.running
        }
        wake.lock()
        wake.signal()
        wake.unlock()
        if running {
            while !queue.withLock({ $0.finished }) { usleep(1_000) }
        }
        do {
            try flush()
        } catch {
            logger.error("audit entries could not be written at shutdown", metadata: ["error": "\(error)"])
        }
        connection.withLock { $0.close() }
    }

    // MARK: - Private

    private func write(_ batch: [AuditEntry]) throws {
        try connection.withLock { connection in
            try connection.transaction {
                let insert = try connection.cachedStatement(
                    """
                    INSERT INTO audit(ts_ms, principal, token_id, action, detail, status, rows, elapsed_ms, remote)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                    """)
                for entry in batch {
                    try insert.bind(entry.timestampMs, at: 1)
                    try insert.bind(entry.principal, at: 2)
                    if let id = entry.tokenID { try insert.bind(id, at: 3) } else { try insert.bindNull(at: 3) }
                    try insert.bind(entry.action, at: 4)
                    try insert.bind(entry.detail, at: 5)
                    try insert.bind(Int64(entry.status), at: 6)
                    if let rows = entry.rows { try insert.bind(Int64(rows), at: 7) } else { try insert.bindNull(at: 7) }
                    try insert.bind(entry.elapsedMs, at: 8)
                    if let remote = entry.remote { try insert.bind(remote, at: 9) } else { try insert.bindNull(at: 9) }
                    _ = try insert.step()
                    insert.reset()
                }
            }
        }
    }

    /// The writer thread: waits for the interval (or a full batch), writes, prunes hourly.
    private func run() {
        let seconds = Double(flushInterval.components.seconds) + Double(flushInterval.components.attoseconds) / 1e18
        while true {
            wake.lock()
            let stopping = queue.withLock { $0.stopping }
            if !stopping && queue.withLock({ $0.pending.count < Self.batchSize }) {
                _ = wake.wait(until: Date().addingTimeInterval(seconds))
            }
            wake.unlock()
            do {
                try flush()
            } catch {
                logger.error("audit entries could not be written; will retry", metadata: ["error": "\(error)"])
            }
            let (stop, due) = queue.withLock { q -> (Bool, Bool) in
                (q.stopping, q.lastPrune.map { $0.duration(to: .now) > .seconds(3600) } ?? true)
            }
            if due && !stop {
                do {
                    let removed = try prune(nowMs: KPIDatabase.nowMs())
                    if removed > 0 { logger.info("audit entries past retention deleted", metadata: ["entries": "\(removed)"]) }
                } catch {
                    logger.error("audit retention failed", metadata: ["error": "\(error)"])
                }
                queue.withLock { $0.lastPrune = .now }
            }
            if stop {
                queue.withLock { $0.finished = true }
                return
            }
        }
    }

    static func truncated(_ text: String) -> String {
        // Cut at a byte limit, then back off to the start of the cut character.
        var bytes = Array(text.utf8.prefix(maxDetailBytes - 3))
        while let last = bytes.last, last & 0xC0 == 0x80 { bytes.removeLast() }
        if let last = bytes.last, last >= 0xC0 { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self) + "..."
    }
}
