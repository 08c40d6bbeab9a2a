import Foundation
import Synchronization

/// One API token as stored: never the token itself, only its SHA-256 digest.
public struct TokenRecord: Sendable, Equatable {
    /// Row id; what `kpid token revoke ID` and `DELETE /api/v1/tokens/:id` name.
    public var id: Int64
    /// A label for people (who or what holds it).
    public var name: String
    /// `ingest`, `read` or `admin`.
    public var role: String
    /// Sites the token is limited to; empty means every site.
    public var sites: [String]
    /// SHA-256 of the token's text (32 bytes).
    public var digest: [UInt8]
    /// Creation time, ms since the epoch.
    public var createdMs: Int64
    /// Revocation time, nil while the token is valid.
    public var revokedMs: Int64?

    /// A record with every field given (rows read back, tests).
    public init(
        id: Int64, name: String, role: String, sites: [String], digest: [UInt8], createdMs: Int64, revokedMs: Int64?
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.sites = sites
        self.digest = digest
        self.createdMs = createdMs
        self.revokedMs = revokedMs
    }
}

/// The `tokens` table, on a connection of its own, so the CLI (`kpid token ...`) and a running
/// server can both use it: SQLite in WAL mode lets one process write while another reads, and
/// the server re-reads the table every few seconds and on an unknown token (see
/// `KPIService`'s authenticator).
///
/// The database must already be at schema version 2 or later: open a ``KPIDatabase`` on the
/// file first (it migrates).
public final class TokenStore: Sendable {
    private let connection: Mutex<SQLiteConnection>

    /// Opens the token table of the kpid database at `path`.
    public init(path: String) throws {
        // Token changes are rare and must not be lost: sync them fully.
        connection = Mutex(try SQLiteConnection.forTable(path: path, synchronous: "FULL", schemaVersion: 2, what: "tokens"))
    }

    /// Inserts a token and returns its record (with the assigned id).
    public func insert(name: String, role: String, sites: [String], digest: [UInt8], nowMs: Int64) throws -> TokenRecord {
        guard digest.count == 32 else { throw StorageError(.invalidArgument, "a token digest has 32 bytes, not \(digest.count)") }
        guard !sites.contains(where: { $0.isEmpty || $0.contains("\n") }) else {
            throw StorageError(.invalidArgument, "a site name must be non-empty and on one line")
        }
        return try connection.withLock { connection in
            let statement = try connection.prepare(
                "INSERT INTO tokens(name, role, sites, digest, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)")
            try statement.bind(name, at: 1)
            try statement.bind(role, at: 2)
            try statement.bind(sites.joined(separator: "\n"), at: 3)
            try statement.bind(digest, at: 4)
            try statement.bind(nowMs, at: 5)
            _ = try statement.step()
            return TokenRecord(
                id: connection.lastInsertRowID, name: name, role: role, sites: sites, digest: digest, createdMs: nowMs,
                revokedMs: nil)
        }
    }

    /// Every token, revoked ones included, ascending by id.
    public func all() throws -> [TokenRecord] {
        try connection.withLock { connection in
            let statement = try connection.cachedStatement(
                "SELECT id, name, role, sites, digest, created_ms, revoked_ms FROM tokens ORDER BY id")
            defer { statement.reset() }
            var out: [TokenRecord] = []
            while try statement.step() {
                let sites = statement.string(at: 3) ?? ""
                out.append(
                    TokenRecord(
                        id: statement.int64(at: 0), name: statement.string(at: 1) ?? "", role: statement.string(at: 2) ?? "",
                        sites: sites.isEmpty ? [] : sites.split(separator: "\n").map(String.init),
                        digest: statement.blob(at: 4), createdMs: statement.int64(at: 5),
                        revokedMs: statement.isNull(at: 6) ? nil : statement.int64(at: 6)))
            }
            return out
        }
    }

    /// Marks a token revoked. Returns false when no unrevoked token has that id.
    public func revoke(id: Int64, nowMs: Int64) throws -> Bool {
        try connection.withLock { connection in
            let statement = try connection.prepare("UPDATE tokens SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL")
            try statement.bind(id, at: 1)
            try statement.bind(nowMs, at: 2)
            _ = try statement.step()
            return connection.changes == 1
        }
    }

    /// The highest token id ever assigned (0 before the first): one indexed read, so a server
    /// can tell cheaply whether tokens were added since it last read the table.
    public func latestID() throws -> Int64 {
        try connection.withLock { connection in
            let statement = try connection.cachedStatement("SELECT max(id) FROM tokens")
            defer { statement.reset() }
            return try statement.step() && !statement.isNull(at: 0) ? statement.int64(at: 0) : 0
        }
    }

    /// Closes the connection.
    public func close() {
        connection.withLock { $0.close() }
    }
}
