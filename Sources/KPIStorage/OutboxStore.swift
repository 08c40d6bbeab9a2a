import Foundation
import Synchronization

/// One notification waiting to be delivered.
public struct OutboxEntry: Sendable, Equatable {
    public var id: Int64
    /// Which receiver it goes to (the webhook's URL).
    public var receiver: String
    public var groupKey: String
    public var body: [UInt8]
    /// The same for every attempt of this notification (and after a restart).
    public var idempotencyKey: String
    public var createdMs: Int64
    public var attempts: Int
    public var nextAttemptMs: Int64

    public init(
        id: Int64, receiver: String, groupKey: String, body: [UInt8], idempotencyKey: String, createdMs: Int64, attempts: Int,
        nextAttemptMs: Int64
    ) {
        self.id = id
        self.receiver = receiver
        self.groupKey = groupKey
        self.body = body
        self.idempotencyKey = idempotencyKey
        self.createdMs = createdMs
        self.attempts = attempts
        self.nextAttemptMs = nextAttemptMs
    }
}

/// The notification outbox (schema version 5): webhook notifications written durably before
/// they are sent, deleted once delivered or refused for good, on a connection of its own
/// (synchronous = FULL: a notification written survives a crash of kpid or of the machine).
public final class OutboxStore: Sendable {
    /// The migration step that creates the table (version 4 to 5).
    static let migration: [String] = [
        """
        CREATE TABLE outbox(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            receiver TEXT NOT NULL,
            group_key TEXT NOT NULL,
            body BLOB NOT NULL,
            idempotency_key TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_ms INTEGER NOT NULL
        )
        """,
        "CREATE INDEX outbox_due ON outbox(next_attempt_ms)",
    ]

    /// The schema version that holds the table.
    public static let schemaVersion = 5

    private let connection: Mutex<SQLiteConnection>

    /// Opens the outbox of the kpid database at `path` (migrated already).
    public init(path: String) throws {
        connection = Mutex(
            try SQLiteConnection.forTable(path: path, synchronous: "FULL", schemaVersion: Self.schemaVersion, what: "the outbox"))
    }

    /// Writes notifications (committed, synced) and returns their ids.
    @discardableResult
    public func add(_ entries: [OutboxEntry]) throws -> [Int64] {
        try connection.withLock { connection in
            try connection.transaction { () throws -> [Int64] in
                let statement = try connection.prepare(
                    """
                    INSERT INTO outbox(receiver, group_key, body, idempotency_key, created_ms, attempts, next_attempt_ms)
                    VALUES (?1, ?2, ?3, ?4, ?5, 0, ?5)
                    """)
                var ids: [Int64] = []
                for e in entries {
                    statement.reset()
                    try statement.bind(e.receiver, at: 1)
                    try statement.bind(e.groupKey, at: 2)
                    try statement.bind(e.body, at: 3)
                    try statement.bind(e.idempotencyKey, at: 4)
                    try statement.bind(e.createdMs, at: 5)
                    _ = try statement.step()
                    ids.append(connection.lastInsertRowID)
                }
                return ids
            }
        }
    }

    /// How many notifications wait.
    public func count() throws -> Int {
        try connection.withLock { connection in
            let statement = try connection.prepare("SELECT count(*) FROM outbox")
            _ = try statement.step()
            return Int(statement.int64(at: 0))
        }
    }

    /// The oldest waiting notifications, at most `limit`, oldest first.
    public func oldest(limit: Int) throws -> [OutboxEntry] {
        try connection.withLock { connection in
            let statement = try connection.prepare(
                "SELECT id, receiver, group_key, body, idempotency_key, created_ms, attempts, next_attempt_ms FROM outbox ORDER BY id LIMIT ?1"
            )
            try statement.bind(Int64(limit), at: 1)
            var out: [OutboxEntry] = []
            while try statement.step() {
                out.append(
                    OutboxEntry(
                        id: statement.int64(at: 0), receiver: statement.string(at: 1) ?? "", groupKey: statement.string(at: 2) ?? "",
                        body: statement.blob(at: 3), idempotencyKey: statement.string(at: 4) ?? "", createdMs: statement.int64(at: 5),
                        attempts: Int(statement.int64(at: 6)), nextAttemptMs: statement.int64(at: 7)))
            }
            return out
        }
    }

    /// Removes a notification (delivered, or refused for good).
    public func remove(_ id: Int64) throws {
        try connection.withLock { connection in
            let statement = try connection.prepare("DELETE FROM outbox WHERE id = ?1")
            try statement.bind(id, at: 1)
            _ = try statement.step()
        }
    }

    /// Records a failed attempt: the next one not before `nextAttemptMs`.
    public func retryLater(_ id: Int64, nextAttemptMs: Int64) throws {
        try connection.withLock { connection in
            let statement = try connection.prepare("UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?2 WHERE id = ?1")
            try statement.bind(id, at: 1)
            try statement.bind(nextAttemptMs, at: 2)
            _ = try statement.step()
        }
    }

    public func close() {
        connection.withLock { $0.close() }
    }
}
