import CSQLite

/// A prepared SQL statement. Parameter and column indices follow SQLite: parameters are
/// 1-based, columns 0-based.
///
/// Not Sendable: it belongs to its connection's thread. A statement may outlive its
/// connection's `close()`; SQLite then keeps the connection as a zombie until the statement
/// is released (cached statements are finalized by `close()` and refuse further use).
public final class SQLiteStatement {
    /// Nil once finalized.
    private var handle: OpaquePointer?
    /// The SQL text as prepared.
    public let sql: String

    init(handle: OpaquePointer, sql: String) {
        self.handle = handle
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Releases the statement now rather than at deinit (used by `close()` for cached statements).
    func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    private func live() throws(SQLiteError) -> OpaquePointer {
        guard let handle else { throw .misuse("statement used after its connection was closed", sql: sql) }
        return handle
    }

    private func check(_ rc: Int32, _ h: OpaquePointer) throws(SQLiteError) {
        if rc != SQLITE_OK { throw SQLiteError(connection: sqlite3_db_handle(h), code: rc, sql: sql) }
    }

    private func parameter(_ index: Int) -> Int32 {
        // Out-of-range indices still reach SQLite, which answers SQLITE_RANGE.
        Int32(clamping: index)
    }

    // MARK: Binding

    /// Binds an integer to the 1-based parameter `index`.
    public func bind(_ value: Int64, at index: Int) throws(SQLiteError) {
        let h = try live()
        try check(sqlite3_bind_int64(h, parameter(index), value), h)
    }

    /// Binds a double to the 1-based parameter `index`.
    public func bind(_ value: Double, at index: Int) throws(SQLiteError) {
        let h = try live()
        try check(sqlite3_bind_double(h, parameter(index), value), h)
    }

    /// Binds UTF-8 text (copied by SQLite). An empty string binds as '' rather than NULL.
    public func bind(_ value: String, at index: Int) throws(SQLiteError) {
        let h = try live()
        var text = value
        let rc = text.withUTF8 { utf8 -> Int32 in
            // A nil base address would make SQLite bind NULL instead of ''.
            guard let base = utf8.baseAddress, !utf8.isEmpty else {
                return sqlite3_bind_text(h, parameter(index), "", 0, nil)
            }
            return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                kpid_sqlite3_bind_text64_transient(h, parameter(index), $0, sqlite3_uint64(utf8.count))
            }
        }
        try check(rc, h)
    }

    /// Binds bytes as a BLOB (copied by SQLite). An empty buffer binds a zero-length BLOB, not NULL.
    public func bind(_ bytes: UnsafeRawBufferPointer, at index: Int) throws(SQLiteError) {
        let h = try live()
        let rc: Int32
        if let base = bytes.baseAddress, !bytes.isEmpty {
            rc = kpid_sqlite3_bind_blob64_transient(h, parameter(index), base, sqlite3_uint64(bytes.count))
        } else {
            rc = sqlite3_bind_zeroblob(h, parameter(index), 0)
        }
        try check(rc, h)
    }

    /// Binds bytes as a BLOB (copied by SQLite).
    public func bind(_ bytes: [UInt8], at index: Int) throws(SQLiteError) {
        // withUnsafeBytes is untyped-rethrows; carry the typed error out through a Result.
        try bytes.withUnsafeBytes { raw in
            Result { () throws(SQLiteError) in try bind(raw, at: index) }
        }.get()
    }

    /// Binds NULL to the 1-based parameter `index`.
    public func bindNull(at index: Int) throws(SQLiteError) {
        let h = try live()
        try check(sqlite3_bind_null(h, parameter(index)), h)
    }

    /// Number of parameters the statement takes.
    public var parameterCount: Int { Int(sqlite3_bind_parameter_count(handle)) }

    // MARK: Running

    /// Runs to the next row. Returns true when a row is available, false when done.
    /// On error the statement is reset, so it can be bound and stepped again.
    @discardableResult
    public func step() throws(SQLiteError) -> Bool {
        let h = try live()
        switch sqlite3_step(h) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc:
            let error = SQLiteError(connection: sqlite3_db_handle(h), code: rc, sql: sql)
            sqlite3_reset(h)
            throw error
        }
    }

    /// Rewinds to before the first row, keeping the bindings. Ends the statement's read
    /// transaction, which a half-read SELECT would otherwise hold open.
    public func reset() {
        // The return value repeats the last step's error, which `step` already threw.
        if let handle { sqlite3_reset(handle) }
    }

    /// Sets every parameter back to NULL.
    public func clearBindings() {
        if let handle { sqlite3_clear_bindings(handle) }
    }

    // MARK: Columns (valid after `step()` returned true)

    /// Number of result columns.
    public var columnCount: Int { Int(sqlite3_column_count(handle)) }

    /// Name of the 0-based column `index`.
    public func columnName(at index: Int) -> String? {
        guard let handle, let name = sqlite3_column_name(handle, Int32(clamping: index)) else { return nil }
        return String(cString: name)
    }

    /// True when the column's value is NULL.
    public func isNull(at index: Int) -> Bool {
        sqlite3_column_type(handle, Int32(clamping: index)) == SQLITE_NULL
    }

    /// The column as an integer (SQLite's conversions apply; NULL reads 0).
    public func int64(at index: Int) -> Int64 {
        sqlite3_column_int64(handle, Int32(clamping: index))
    }

    /// The column as a double (NULL reads 0.0).
    public func double(at index: Int) -> Double {
        sqlite3_column_double(handle, Int32(clamping: index))
    }

    /// The column as text, nil when NULL. Invalid UTF-8 is repaired, not trapped on.
    public func string(at index: Int) -> String? {
        let i = Int32(clamping: index)
        guard let text = sqlite3_column_text(handle, i) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, i))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    /// A copy of the column's bytes (empty for NULL or a zero-length BLOB).
    public func blob(at index: Int) -> [UInt8] {
        withBlob(at: index) { Array($0) }
    }

    /// Lends the column's bytes without copying. The buffer is valid only inside `body` and
    /// only until the statement steps, resets or is finalized.
    public func withBlob<R, E: Error>(at index: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let i = Int32(clamping: index)
        // sqlite3_column_bytes must come after sqlite3_column_blob (it may convert the value).
        let base = sqlite3_column_blob(handle, i)
        let count = Int(sqlite3_column_bytes(handle, i))
        return try body(UnsafeRawBufferPointer(start: count > 0 ? base : nil, count: base == nil ? 0 : count))
    }
}
