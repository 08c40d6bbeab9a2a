import Foundation
import Synchronization

/// A short note on one KPI of one site for one ISO week ("lane 3 closed for repairs"), as
/// stored.
public struct KPINote: Sendable, Equatable {
    public var site: String
    public var template: String
    public var kpi: String
    /// The ISO week, e.g. `2026-W49`.
    public var week: String
    public var text: String
    /// Who wrote it (the token's name).
    public var author: String
    public var updatedMs: Int64

    public init(site: String, template: String, kpi: String, week: String, text: String, author: String, updatedMs: Int64) {
        self.site = site
        self.template = template
        self.kpi = kpi
        self.week = week
        self.text = text
        self.author = author
        self.updatedMs = updatedMs
    }
}

/// The `kpi_notes` table (schema version 8): at most one note per site, template, KPI and week,
/// on a connection of its own (synchronous = FULL, like the sites table).
public final class KPINoteStore: Sendable {
    /// The migration step that creates the table (version 7 to 8).
    static let migration: [String] = [
        """
        CREATE TABLE kpi_notes(
            site TEXT NOT NULL,
            template TEXT NOT NULL,
            kpi TEXT NOT NULL,
            week TEXT NOT NULL,
            text TEXT NOT NULL CHECK (length(text) > 0),
            author TEXT NOT NULL,
            updated_ms INTEGER NOT NULL,
            PRIMARY KEY (site, template, kpi, week)
        ) WITHOUT ROWID
        """
    ]

    public static let schemaVersion = 8

    private let connection: Mutex<SQLiteConnection>

    public init(path: String) throws {
        connection = Mutex(
            try SQLiteConnection.forTable(path: path, synchronous: "FULL", schemaVersion: Self.schemaVersion, what: "KPI notes"))
    }

    /// Stores `note`, replacing the note of the same site, template, KPI and week; returns the
    /// one it replaced.
    @discardableResult
    public func put(_ note: KPINote) throws -> KPINote? {
        try connection.withLock { connection in
            let previous = try Self.find(connection, note.site, note.template, note.kpi, note.week)
            let statement = try connection.prepare(
                """
                INSERT INTO kpi_notes(site, template, kpi, week, text, author, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                ON CONFLICT(site, template, kpi, week) DO UPDATE SET
                    text = excluded.text, author = excluded.author, updated_ms = excluded.updated_ms
                """)
            for (k, value) in [note.site, note.template, note.kpi, note.week, note.text, note.author].enumerated() {
                try statement.bind(value, at: k + 1)
            }
            try statement.bind(note.updatedMs, at: 7)
            _ = try statement.step()
            return previous
        }
    }

    /// Deletes a note; false when there was none.
    public func delete(site: String, template: String, kpi: String, week: String) throws -> Bool {
        try connection.withLock { connection in
            let statement = try connection.prepare(
                "DELETE FROM kpi_notes WHERE site = ?1 AND template = ?2 AND kpi = ?3 AND week = ?4")
            for (k, value) in [site, template, kpi, week].enumerated() { try statement.bind(value, at: k + 1) }
            _ = try statement.step()
            return connection.changes == 1
        }
    }

    /// The notes of `site`, of one `week` when given, by week, template and KPI.
    public func notes(site: String, week: String? = nil) throws -> [KPINote] {
        try connection.withLock { connection in
            let statement = try connection.prepare(
                """
                SELECT site, template, kpi, week, text, author, updated_ms FROM kpi_notes
                WHERE site = ?1 AND (?2 IS NULL OR week = ?2) ORDER BY week, template, kpi
                """)
            try statement.bind(site, at: 1)
            if let week { try statement.bind(week, at: 2) } else { try statement.bindNull(at: 2) }
            var out: [KPINote] = []
            while try statement.step() { out.append(Self.note(statement)) }
            return out
        }
    }

    private static func find(_ connection: SQLiteConnection, _ site: String, _ template: String, _ kpi: String, _ week: String)
        throws -> KPINote?
    {
        let statement = try connection.prepare(
            """
            SELECT site, template, kpi, week, text, author, updated_ms FROM kpi_notes
            WHERE site = ?1 AND template = ?2 AND kpi = ?3 AND week = ?4
            """)
        for (k, value) in [site, template, kpi, week].enumerated() { try statement.bind(value, at: k + 1) }
        return try statement.step() ? note(statement) : nil
    }

    private static func note(_ s: SQLiteStatement) -> KPINote {
        KPINote(
            site: s.string(at: 0) ?? "", template: s.string(at: 1) ?? "", kpi: s.string(at: 2) ?? "", week: s.string(at: 3) ?? "",
            text: s.string(at: 4) ?? "", author: s.string(at: 5) ?? "", updatedMs: s.int64(at: 6))
    }

    public func close() {
        connection.withLock { $0.close() }
    }
}
