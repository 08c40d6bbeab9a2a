import Foundation
import Synchronization

/// One site registered over the API (`POST /api/v1/sites`), as stored: its id and the JSON
/// object it was registered with. Validation against the templates happens when it is read
/// (templates may change), in `SiteCatalog.parseOne`.
public struct SiteRecord: Sendable, Equatable {
    /// The site id (the `site` label).
    public var site: String
    /// The site's JSON object, shaped like one entry of `sites.json`.
    public var definition: String
    /// First registration, ms since the epoch.
    public var createdMs: Int64
    /// Last replacement (equal to ``createdMs`` until replaced), ms since the epoch.
    public var updatedMs: Int64

    /// A record with every field given.
    public init(site: String, definition: String, createdMs: Int64, updatedMs: Int64) {
        self.site = site
        self.definition = definition
        self.createdMs = createdMs
        self.updatedMs = updatedMs
    }
}

/// The `sites` table (schema version 3): sites registered over the HTTP API, durably, on a
/// connection of its own (like ``TokenStore``), so it can be read while the writer commits.
///
/// The database must already be at schema version 3 or later: open a ``KPIDatabase`` on the
/// file first (it migrates).
public final class SiteStore: Sendable {
    /// The migration step that creates the table (version 2 to 3); listed in
    /// `KPIDatabase.migrations`.
    static let migration: [String] = [
        """
        CREATE TABLE sites(
            site TEXT PRIMARY KEY CHECK (length(site) > 0),
            definition TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL
        )
        """
    ]

    /// The schema version that holds the table.
    public static let schemaVersion = 3

    private let connection: Mutex<SQLiteConnection>

    /// Opens the site table of the kpid database at `path`.
    public init(path: String) throws {
        // Site changes are rare and must not be lost: sync them fully.
        connection = Mutex(
            try SQLiteConnection.forTable(path: path, synchronous: "FULL", schemaVersion: Self.schemaVersion, what: "sites"))
    }

    /// Stores `definition` as site `site`, replacing a stored one of that id (keeping its
    /// creation time). Returns the previous record, nil when the site was new.
    @discardableResult
    public func put(site: String, definition: String, nowMs: Int64) throws -> SiteRecord? {
        guard !site.isEmpty else { throw StorageError(.invalidArgument, "a site id must not be empty") }
        return try connection.withLock { connection in
            try connection.transaction { () throws -> SiteRecord? in
                let previous = try Self.read(connection, site: site)
                let statement = try connection.prepare(
                    """
                    INSERT INTO sites(site, definition, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?3)
                    ON CONFLICT(site) DO UPDATE SET definition = excluded.definition, updated_ms = excluded.updated_ms
                    """)
                try statement.bind(site, at: 1)
                try statement.bind(definition, at: 2)
                try statement.bind(nowMs, at: 3)
                _ = try statement.step()
                return previous
            }
        }
    }

    /// Deletes a stored site. Returns false when none has that id.
    public func delete(site: String) throws -> Bool {
        try connection.withLock { connection in
            let statement = try connection.prepare("DELETE FROM sites WHERE site = ?1")
            try statement.bind(site, at: 1)
            _ = try statement.step()
            return connection.changes == 1
        }
    }

    /// The stored site with this id, nil when there is none.
    public func get(site: String) throws -> SiteRecord? {
        try connection.withLock { try Self.read($0, site: site) }
    }

    /// Every stored site, in the order they were first registered (then by id).
    public func all() throws -> [SiteRecord] {
        try connection.withLock { connection in
            let statement = try connection.cachedStatement(
                "SELECT site, definition, created_ms, updated_ms FROM sites ORDER BY created_ms, site")
            defer { statement.reset() }
            var out: [SiteRecord] = []
            while try statement.step() { out.append(Self.record(statement)) }
            return out
        }
    }

    /// Closes the connection.
    public func close() {
        connection.withLock { $0.close() }
    }

    private static func read(_ connection: SQLiteConnection, site: String) throws -> SiteRecord? {
        let statement = try connection.cachedStatement(
            "SELECT site, definition, created_ms, updated_ms FROM sites WHERE site = ?1")
        defer { statement.reset() }
        try statement.bind(site, at: 1)
        return try statement.step() ? record(statement) : nil
    }

    private static func record(_ statement: SQLiteStatement) -> SiteRecord {
        SiteRecord(
            site: statement.string(at: 0) ?? "", definition: statement.string(at: 1) ?? "",
            createdMs: statement.int64(at: 2), updatedMs: statement.int64(at: 3))
    }
}
