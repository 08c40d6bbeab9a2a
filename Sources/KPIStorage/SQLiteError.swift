import CSQLite

/// An error reported by SQLite, with the statement that caused it when there was one.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// Primary result code (`SQLITE_BUSY`, `SQLITE_CONSTRAINT`, ...).
    public var code: Int32
    /// Extended result code (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_IOERR_FSYNC`, ...).
    public var extendedCode: Int32
    /// SQLite's message, or ours when the wrapper itself refused the call.
    public var message: String
    /// The SQL being run, if any.
    public var sql: String?

    public init(code: Int32, extendedCode: Int32? = nil, message: String, sql: String? = nil) {
        self.code = code & 0xFF
        self.extendedCode = extendedCode ?? code
        self.message = message
        self.sql = sql
    }

    /// The last error of a connection.
    init(connection db: OpaquePointer?, code fallback: Int32, sql: String? = nil) {
        guard let db else {
            self.init(code: fallback, message: String(cString: sqlite3_errstr(fallback)), sql: sql)
            return
        }
        let extended = sqlite3_extended_errcode(db)
        // sqlite3_errmsg describes the most recent call on the connection; when that was not the
        // failing one (e.g. a later reset succeeded) fall back to the code's generic text.
        let message =
            extended & 0xFF == fallback & 0xFF
            ? String(cString: sqlite3_errmsg(db)) : String(cString: sqlite3_errstr(fallback))
        self.init(
            code: fallback, extendedCode: extended & 0xFF == fallback & 0xFF ? extended : fallback,
            message: message, sql: sql)
    }

    /// The wrapper's refusal of a call on a closed connection or finalized statement.
    static func misuse(_ message: String, sql: String? = nil) -> SQLiteError {
        SQLiteError(code: SQLITE_MISUSE, message: message, sql: sql)
    }

    /// SQLITE_FULL: the disk, or the database's `max_page_count`, has no room.
    public var isFull: Bool { code == SQLITE_FULL }

    public var description: String {
        var out = "SQLite error \(code)"
        if extendedCode != code { out += " (extended \(extendedCode))" }
        out += ": \(message)"
        if let sql { out += " — in: \(sql)" }
        return out
    }
}

/// A problem with kpid's stored data or schema, as opposed to an SQLite failure.
public struct StorageError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        /// Bytes read back do not decode (bad length, checksum, invariant).
        case corrupt
        /// The file was written by a newer kpid (schema version above ours).
        case schemaTooNew
        /// The file is an SQLite database of some other application.
        case notKPIDatabase
        /// A caller passed something the storage layer refuses (a bug in the caller).
        case invalidArgument
        /// The database could not be put into the mode kpid's guarantees rely on.
        case unsupported
    }

    public var kind: Kind
    public var message: String
    /// The table holding the bad row, when known, so recovery can decide what to skip.
    public var table: String?
    /// The row's key within `table` (`seq=42`, `series=7 min_ts=1000`).
    public var key: String?

    public init(_ kind: Kind, _ message: String, table: String? = nil, key: String? = nil) {
        self.kind = kind
        self.message = message
        self.table = table
        self.key = key
    }

    /// The same error, tagged with the row it was found in.
    func located(table: String, key: String) -> StorageError {
        StorageError(kind, message, table: table, key: key)
    }

    public var description: String {
        var out = "storage error (\(kind.rawValue))"
        if let table {
            out += " in table \(table)"
            if let key { out += " at \(key)" }
        }
        return out + ": \(message)"
    }
}
