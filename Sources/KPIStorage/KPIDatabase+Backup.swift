import Foundation

extension KPIDatabase {
    /// Copies the kpid database at `source` into a new file `destination` while other
    /// processes (a running server) go on writing it.
    ///
    /// Uses SQLite's online backup API in a single step: the copy is one read transaction, so
    /// it is the database as of one commit (every request acknowledged before the backup began
    /// is in it, no request is in it partly), and in WAL mode the server's writer is not
    /// blocked meanwhile. (Copying in several steps would restart whenever the server commits
    /// in between, possibly for ever under steady ingest.) The copy is checked with
    /// `PRAGMA quick_check` before it gets its final name. Refuses an existing destination.
    public static func backup(from source: String, to destination: String) throws {
        guard FileManager.default.fileExists(atPath: source) else {
            throw StorageError(.invalidArgument, "\(source) does not exist")
        }
        let connection = try SQLiteConnection(path: source)
        defer { connection.close() }
        try connection.busyTimeout(busyTimeoutMs)
        let application = try connection.pragma("application_id").flatMap { Int32($0) } ?? 0
        guard application == applicationID else {
            throw StorageError(.notKPIDatabase, "\(source) is not a kpid database (application_id \(application))")
        }
        let partial = destination + ".checking"
        // What an interrupted earlier try at this destination left (the unchecked copy, its
        // half-written `.partial`, their SQLite side files) must not block this one.
        removeLeftovers(of: destination)
        try connection.backup(to: partial, pagesPerStep: -1)
        do {
            let copy = try SQLiteConnection(path: partial, readOnly: true)
            let result = try copy.pragma("quick_check")
            copy.close()
            guard result == "ok" else { throw StorageError(.corrupt, "the backup copy fails quick_check: \(result ?? "no answer")") }
            guard !FileManager.default.fileExists(atPath: destination) else {
                throw StorageError(.invalidArgument, "backup destination \(destination) already exists")
            }
            try FileManager.default.moveItem(atPath: partial, toPath: destination)
            // Checking the copy (a closed, read-only connection) left its empty SQLite side files.
            removeLeftovers(of: destination)
        } catch {
            try? FileManager.default.removeItem(atPath: partial)
            throw error
        }
    }

    /// The files a backup to `destination` writes before its copy gets the final name, which a
    /// crash or kill can leave behind: `<destination>.checking` (the copy being checked) and
    /// `.checking.partial` (the copy being written), with SQLite's `-journal`, `-wal`, `-shm`.
    public static func leftoverPaths(of destination: String) -> [String] {
        [".checking", ".checking.partial", ".partial"].flatMap { suffix in
            ["", "-journal", "-wal", "-shm"].map { destination + suffix + $0 }
        }
    }

    /// Deletes ``leftoverPaths(of:)`` that exist.
    public static func removeLeftovers(of destination: String) {
        for path in leftoverPaths(of: destination) where FileManager.default.fileExists(atPath: path) {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// Writes the backup `source` as the database file `destination` (a data directory's
    /// `kpid.sqlite`). The backup must be a kpid database this build can open and must pass
    /// `PRAGMA integrity_check`. With `replace`, an existing database there (and its SQLite
    /// `-wal`/`-shm` files, which belong to the old file) is deleted first; without, an
    /// existing one is refused. The caller must make sure no kpid uses the directory
    /// (``DataDirectoryLock``). Returns a one-line summary.
    public static func restore(from source: String, to destination: String, replace: Bool) throws -> String {
        guard FileManager.default.fileExists(atPath: source) else {
            throw StorageError(.invalidArgument, "\(source) does not exist")
        }
        let connection = try SQLiteConnection(path: source, readOnly: true)
        defer { connection.close() }
        let application = try connection.pragma("application_id").flatMap { Int32($0) } ?? 0
        guard application == applicationID else {
            throw StorageError(.notKPIDatabase, "\(source) is not a kpid database (application_id \(application))")
        }
        let version = try readUserVersion(connection)
        guard version <= currentSchemaVersion else {
            throw StorageError(.schemaTooNew, "\(source) has schema version \(version), newer than this kpid (\(currentSchemaVersion))")
        }
        let findings = try connection.integrityCheck()
        guard findings == ["ok"] else {
            throw StorageError(.corrupt, "\(source) fails integrity_check: \(findings.prefix(5).joined(separator: "; "))")
        }
        let count = try connection.prepare("SELECT count(*) FROM series")
        _ = try count.step()
        let series = count.int64(at: 0)

        let files = FileManager.default
        if files.fileExists(atPath: destination) {
            guard replace else {
                throw StorageError(.invalidArgument, "\(destination) exists; pass --force to replace it")
            }
        }
        // The old file's SQLite WAL and shared memory must go with it: replayed onto the
        // restored file they would corrupt it.
        for suffix in ["", "-wal", "-shm", "-journal"] where files.fileExists(atPath: destination + suffix) {
            try files.removeItem(atPath: destination + suffix)
        }
        try connection.backup(to: destination, pagesPerStep: -1)
        return "schema version \(version), \(series) series"
    }
}
