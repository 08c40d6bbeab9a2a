import CSQLite
import Foundation

/// One SQLite database connection.
///
/// Not Sendable, and opened with `SQLITE_OPEN_NOMUTEX`: a connection is owned by one thread at
/// a time, so SQLite's per-call mutex would only cost time. Swift's concurrency checking keeps
/// it from being shared by accident; code that hands it between threads must order the hand-off.
public final class SQLiteConnection {
    /// Nil once closed.
    private var db: OpaquePointer?
    /// The file path as given.
    public let path: String
    private var statementCache: [String: SQLiteStatement] = [:]
    private var savepointDepth = 0

    /// Opens (and unless `readOnly`, creates) the database at `path`.
    public init(path: String, readOnly: Bool = false) throws(SQLiteError) {
        self.path = path
        var handle: OpaquePointer?
        let flags =
            (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
            | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        if rc != SQLITE_OK {
            // SQLite allocates a handle even on most failures; it carries the message.
            let error = SQLiteError(connection: handle, code: rc)
            sqlite3_close_v2(handle)
            throw SQLiteError(
                code: error.code, extendedCode: error.extendedCode,
                message: "cannot open \(path): \(error.message)")
        }
        db = handle
        sqlite3_extended_result_codes(handle, 1)
    }

    deinit {
        close()
    }

    /// Finalizes cached statements and closes. Statements prepared with `prepare` that are still
    /// alive keep SQLite's side open until they are released (`sqlite3_close_v2` semantics).
    /// Further calls on this connection throw `SQLITE_MISUSE`.
    public func close() {
        guard let handle = db else { return }
        for statement in statementCache.values { statement.finalize() }
        statementCache.removeAll()
        sqlite3_close_v2(handle)
        db = nil
    }

    /// True until `close()`.
    public var isOpen: Bool { db != nil }

    private func live() throws(SQLiteError) -> OpaquePointer {
        guard let db else { throw .misuse("connection to \(path) is closed") }
        return db
    }

    // MARK: Statements

    /// Runs one or more `;`-separated statements, discarding any rows.
    public func execute(_ sql: String) throws(SQLiteError) {
        let handle = try live()
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            var error = SQLiteError(connection: handle, code: rc, sql: sql)
            if let errorMessage {
                error.message = String(cString: errorMessage)
                sqlite3_free(errorMessage)
            }
            throw error
        }
    }

    /// Compiles one statement. Refuses SQL with more than one statement, which `prepare` would
    /// otherwise silently cut at the first.
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        try prepare(sql, persistent: false)
    }

    private func prepare(_ sql: String, persistent: Bool) throws(SQLiteError) -> SQLiteStatement {
        let handle = try live()
        var statement: OpaquePointer?
        var trailing = false
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let rc = sql.withCString { text -> Int32 in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v3(handle, text, -1, flags, &statement, &tail)
            if rc == SQLITE_OK, let tail {
                trailing = SQLiteConnection.hasStatement(tail)
            }
            return rc
        }
        if rc != SQLITE_OK { throw SQLiteError(connection: handle, code: rc, sql: sql) }
        guard let statement else { throw .misuse("no SQL statement in the text", sql: sql) }
        if trailing {
            sqlite3_finalize(statement)
            throw .misuse("more than one SQL statement; use execute(_:) for scripts", sql: sql)
        }
        return SQLiteStatement(handle: statement, sql: sql)
    }

    /// True when `text` holds anything but whitespace and comments.
    private static func hasStatement(_ text: UnsafePointer<CChar>) -> Bool {
        var p = text
        while p.pointee != 0 {
            switch UInt8(bitPattern: p.pointee) {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: ";"):
                p += 1
            case UInt8(ascii: "-") where p[1] == CChar(UInt8(ascii: "-")):
                while p.pointee != 0 && p.pointee != CChar(UInt8(ascii: "\n")) { p += 1 }
            default:
                // Block comments and everything else: let the caller see it as a statement.
                return true
            }
        }
        return false
    }

    /// A statement compiled once per connection and reused; returned reset with its bindings
    /// cleared. The hot write path uses these so each commit skips SQL parsing.
    public func cachedStatement(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let statement = statementCache[sql] {
            statement.reset()
            statement.clearBindings()
            return statement
        }
        let statement = try prepare(sql, persistent: true)
        statementCache[sql] = statement
        return statement
    }

    // MARK: Transactions

    /// Runs `body` in a transaction: `BEGIN IMMEDIATE` (takes the write lock up front, so a
    /// busy database fails at the start and not at COMMIT), `COMMIT` on return, `ROLLBACK` when
    /// `body` or the commit throws. Nested calls become savepoints.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        let handle = try live()
        if sqlite3_get_autocommit(handle) == 0 {
            return try savepoint(body)
        }
        try cachedStatement("BEGIN IMMEDIATE").step()
        let result: T
        do {
            result = try body()
            try cachedStatement("COMMIT").step()
        } catch {
            rollbackQuietly()
            throw error
        }
        return result
    }

    private func savepoint<T>(_ body: () throws -> T) throws -> T {
        savepointDepth += 1
        defer { savepointDepth -= 1 }
        let name = "kpid_sp\(savepointDepth)"
        try execute("SAVEPOINT \(name)")
        let result: T
        do {
            result = try body()
        } catch {
            try? execute("ROLLBACK TO \(name); RELEASE \(name)")
            throw error
        }
        try execute("RELEASE \(name)")
        return result
    }

    private func rollbackQuietly() {
        // Some errors (SQLITE_FULL, IOERR) already rolled SQLite back; then ROLLBACK itself fails
        // with "no transaction is active", which is not news.
        guard let db, sqlite3_get_autocommit(db) == 0 else { return }
        _ = try? cachedStatement("ROLLBACK").step()
    }

    /// True while a transaction is open.
    public var isInTransaction: Bool {
        guard let db else { return false }
        return sqlite3_get_autocommit(db) == 0
    }

    // MARK: Small queries and settings

    /// Rowid of the last successful INSERT on this connection.
    public var lastInsertRowID: Int64 { db.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    public var changes: Int64 { db.map { sqlite3_changes64($0) } ?? 0 }

    /// How long a statement waits for another connection's lock before `SQLITE_BUSY`.
    public func busyTimeout(_ milliseconds: Int32) throws(SQLiteError) {
        let handle = try live()
        let rc = sqlite3_busy_timeout(handle, milliseconds)
        if rc != SQLITE_OK { throw SQLiteError(connection: handle, code: rc) }
    }

    /// Runs `PRAGMA <text>` (e.g. `"journal_mode"` or `"synchronous = FULL"`) and returns the
    /// first column of the first row as text, nil when it returns no row.
    @discardableResult
    public func pragma(_ text: String) throws(SQLiteError) -> String? {
        let statement = try prepare("PRAGMA \(text)")
        return try statement.step() ? statement.string(at: 0) : nil
    }

    /// `PRAGMA integrity_check`: `["ok"]` when the file is sound, else SQLite's findings.
    public func integrityCheck() throws(SQLiteError) -> [String] {
        let statement = try prepare("PRAGMA integrity_check")
        var lines: [String] = []
        while try statement.step() { lines.append(statement.string(at: 0) ?? "") }
        return lines
    }

    // MARK: Backup

    /// Copies the database into a new file at `destination` with SQLite's online backup API,
    /// `pagesPerStep` pages at a time so other connections are locked out only briefly.
    ///
    /// The copy is written to `<destination>.partial` and renamed when complete, so a crash
    /// never leaves a half-written file under the final name. Refuses an existing destination.
    public func backup(to destination: String, pagesPerStep: Int32 = 1024) throws(SQLiteError) {
        let source = try live()
        let files = FileManager.default
        if files.fileExists(atPath: destination) {
            throw SQLiteError(code: SQLITE_CANTOPEN, message: "backup destination \(destination) already exists")
        }
        let partial = destination + ".partial"
        for suffix in ["", "-journal", "-wal", "-shm"] { try? files.removeItem(atPath: partial + suffix) }

        let target = try SQLiteConnection(path: partial)
        do throws(SQLiteError) {
            let targetHandle = try target.live()
            guard let backup = sqlite3_backup_init(targetHandle, "main", source, "main") else {
                throw SQLiteError(connection: targetHandle, code: sqlite3_errcode(targetHandle))
            }
            var rc: Int32
            repeat {
                rc = sqlite3_backup_step(backup, pagesPerStep)
                // BUSY/LOCKED: another connection holds a lock; back off and retry the step.
                if rc == SQLITE_BUSY || rc == SQLITE_LOCKED { sqlite3_sleep(5) }
            } while rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED
            let finish = sqlite3_backup_finish(backup)
            if rc != SQLITE_DONE || finish != SQLITE_OK {
                throw SQLiteError(connection: targetHandle, code: rc != SQLITE_DONE ? rc : finish)
            }
            target.close()
        } catch {
            target.close()
            try? files.removeItem(atPath: partial)
            throw error
        }
        if rename(partial, destination) != 0 {
            let reason = String(cString: strerror(errno))
            try? files.removeItem(atPath: partial)
            throw SQLiteError(code: SQLITE_IOERR, message: "cannot rename backup into \(destination): \(reason)")
        }
    }
}
