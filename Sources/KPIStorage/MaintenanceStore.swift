import Foundation
import Synchronization

/// One maintenance window as stored.
public struct MaintenanceRecord: Sendable, Equatable {
    public var id: Int64
    /// The series selector of the alerts it covers, e.g. `{site="JFK",device="cam-7"}`.
    public var matchers: String
    public var startsMs: Int64
    public var endsMs: Int64
    public var reason: String
    public var author: String
    public var createdMs: Int64

    public init(id: Int64, matchers: String, startsMs: Int64, endsMs: Int64, reason: String, author: String, createdMs: Int64) {
        self.id = id
        self.matchers = matchers
        self.startsMs = startsMs
        self.endsMs = endsMs
        self.reason = reason
        self.author = author
        self.createdMs = createdMs
    }
}

/// The `maintenance` table (schema version 6): planned maintenance windows, on a connection of
/// its own (synchronous = FULL, like the sites table).
public final class MaintenanceStore: Sendable {
    /// The migration step that creates the table (version 5 to 6).
    static let migration: [String] = [
        """
        CREATE TABLE maintenance(
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            matchers TEXT NOT NULL,
            starts_ms INTEGER NOT NULL,
            ends_ms INTEGER NOT NULL CHECK (ends_ms > starts_ms),
            reason TEXT NOT NULL,
            author TEXT NOT NULL,
            created_ms INTEGER NOT NULL
        )
        """
    ]

    public static let schemaVersion = 6

    private let connection: Mutex<SQLiteConnection>

    public init(path: String) throws {
        connection = Mutex(
            try SQLiteConnection.forTable(
                path: path, synchronous: "FULL", schemaVersion: Self.schemaVersion, what: "maintenance windows"))
    }

    /// Stores a window and returns it with its id.
    public func add(_ record: MaintenanceRecord) throws -> MaintenanceRecord {
        try connection.withLock { connection in
            let statement = try connection.prepare(
                """
                INSERT INTO maintenance(matchers, starts_ms, ends_ms, reason, author, created_ms)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                """)
            try statement.bind(record.matchers, at: 1)
            try statement.bind(record.startsMs, at: 2)
            try statement.bind(record.endsMs, at: 3)
            try statement.bind(record.reason, at: 4)
            try statement.bind(record.author, at: 5)
            try statement.bind(record.createdMs, at: 6)
            _ = try statement.step()
            var out = record
            out.id = connection.lastInsertRowID
            return out
        }
    }

    /// Every window, by id.
    public func all() throws -> [MaintenanceRecord] {
        try connection.withLock { connection in
            let statement = try connection.prepare(
                "SELECT id, matchers, starts_ms, ends_ms, reason, author, created_ms FROM maintenance ORDER BY id")
            var out: [MaintenanceRecord] = []
            while try statement.step() {
                out.append(
                    MaintenanceRecord(
                        id: statement.int64(at: 0), matchers: statement.string(at: 1) ?? "", startsMs: statement.int64(at: 2),
                        endsMs: statement.int64(at: 3), reason: statement.string(at: 4) ?? "", author: statement.string(at: 5) ?? "",
                        createdMs: statement.int64(at: 6)))
            }
            return out
        }
    }

    /// Sets a window's end (ending it early); false when there is no such window.
    public func setEnd(_ id: Int64, endsMs: Int64) throws -> Bool {
        try connection.withLock { connection in
            let statement = try connection.prepare(
                "UPDATE maintenance SET ends_ms = max(starts_ms + 1, ?2) WHERE id = ?1")
            try statement.bind(id, at: 1)
            try statement.bind(endsMs, at: 2)
            _ = try statement.step()
            return connection.changes == 1
        }
    }

    /// Deletes a window; false when there is no such window.
    public func delete(_ id: Int64) throws -> Bool {
        try connection.withLock { connection in
            let statement = try connection.prepare("DELETE FROM maintenance WHERE id = ?1")
            try statement.bind(id, at: 1)
            _ = try statement.step()
            return connection.changes == 1
        }
    }

    public func close() {
        connection.withLock { $0.close() }
    }
}
