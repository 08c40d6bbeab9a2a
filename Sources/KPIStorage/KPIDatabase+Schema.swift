extension KPIDatabase {
    /// Schema migrations, in order: step `k` takes `PRAGMA user_version` from `k` to `k + 1`.
    /// Each runs in one transaction together with the version bump, so a crash mid-migration
    /// leaves the previous version intact. Never edit a released step; append a new one.
    static let migrations: [[String]] = [
        // v1
        [
            """
            CREATE TABLE series(
                id INTEGER PRIMARY KEY,
                metric TEXT NOT NULL,
                labels BLOB NOT NULL UNIQUE,
                labels_text TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                CHECK (id BETWEEN 0 AND 4294967295)
            )
            """,
            // AUTOINCREMENT: a sequence number is never handed out twice, even after the rows
            // holding the highest ones were deleted by a checkpoint.
            """
            CREATE TABLE wal(
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                created_ms INTEGER NOT NULL,
                sample_count INTEGER NOT NULL,
                payload BLOB NOT NULL
            )
            """,
            """
            CREATE TABLE chunks(
                series_id INTEGER NOT NULL REFERENCES series(id),
                min_ts INTEGER NOT NULL,
                max_ts INTEGER NOT NULL,
                sample_count INTEGER NOT NULL,
                encoding INTEGER NOT NULL,
                data BLOB NOT NULL,
                PRIMARY KEY(series_id, min_ts),
                CHECK (min_ts <= max_ts AND sample_count > 0)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE heads(
                series_id INTEGER PRIMARY KEY REFERENCES series(id),
                encoding INTEGER NOT NULL,
                data BLOB NOT NULL
            )
            """,
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """
            INSERT INTO meta(key, value) VALUES
                ('checkpoint_seq', '0'),
                ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
            """,
            // Marks the file as kpid's, so opening some other application's database fails
            // clearly instead of migrating it.
            "PRAGMA application_id = \(KPIDatabase.applicationID)",
        ],
        // v2: API tokens and the audit log (see TokenStore and AuditLog).
        [
            // Only a SHA-256 digest of each token is kept; the token itself is shown once.
            // `sites` holds the site names a token is limited to, one per line ('' = all sites).
            """
            CREATE TABLE tokens(
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('ingest', 'read', 'admin')),
                sites TEXT NOT NULL DEFAULT '',
                digest BLOB NOT NULL UNIQUE CHECK (length(digest) = 32),
                created_ms INTEGER NOT NULL,
                revoked_ms INTEGER
            )
            """,
            """
            CREATE TABLE audit(
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                ts_ms INTEGER NOT NULL,
                principal TEXT NOT NULL,
                token_id INTEGER,
                action TEXT NOT NULL,
                detail TEXT NOT NULL,
                status INTEGER NOT NULL,
                rows INTEGER,
                elapsed_ms REAL NOT NULL,
                remote TEXT
            )
            """,
            "CREATE INDEX audit_by_time ON audit(ts_ms)",
            // Append-only: no entry is ever changed, and none younger than a day is deleted
            // (retention deletes old ones; the minimum retention is one day).
            """
            CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
            """,
            """
            CREATE TRIGGER audit_no_recent_delete BEFORE DELETE ON audit
            WHEN old.ts_ms > CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) - 86400000
            BEGIN SELECT RAISE(ABORT, 'audit entries younger than one day cannot be deleted'); END
            """,
        ],
        // v3: sites registered over the API (see SiteStore).
        SiteStore.migration,
        // v4: each sealed chunk's rollups (`ChunkRollup`), written with it. NULL in rows of
        // older files: those chunks get their rollups computed when loaded, and written with
        // the chunk's next rewrite.
        ["ALTER TABLE chunks ADD COLUMN rollup BLOB"],
        // v5: the webhook notification outbox (see OutboxStore).
        OutboxStore.migration,
        // v6: maintenance windows (see MaintenanceStore).
        MaintenanceStore.migration,
        // v7: chunk rows written from now on use encoding 3 (zstd, see ChunkCodec), which an
        // older kpid cannot read: the version makes it refuse the file instead of reporting
        // those rows corrupt. Rows already stored keep their encoding.
        [
            """
            INSERT INTO meta(key, value) VALUES ('chunk_encoding', '3')
            ON CONFLICT(key) DO UPDATE SET value = excluded.value
            """
        ],
        // v8: notes on a KPI of a week (see KPINoteStore).
        KPINoteStore.migration,
    ]

    /// kpid's `PRAGMA application_id`: "kpid" in ASCII.
    static let applicationID: Int32 = 0x6B70_6964

    /// Refuses files that are not kpid's or are newer than this build, before anything is
    /// written to them.
    func checkCompatibility(_ connection: SQLiteConnection) throws {
        let version = try Self.readUserVersion(connection)
        if version > Self.currentSchemaVersion {
            throw StorageError(
                .schemaTooNew,
                "\(path) has schema version \(version), newer than \(Self.currentSchemaVersion) known to this build of kpid; "
                    + "use a newer kpid (refusing to downgrade)")
        }
        let application = Int32(try connection.pragma("application_id").flatMap { Int32($0) } ?? 0)
        if version > 0 && application != Self.applicationID {
            throw StorageError(.notKPIDatabase, "\(path) is not a kpid database (application_id \(application))")
        }
        if version == 0 {
            let statement = try connection.prepare("SELECT count(*) FROM sqlite_schema")
            _ = try statement.step()
            if statement.int64(at: 0) > 0 {
                throw StorageError(.notKPIDatabase, "\(path) holds tables but no kpid schema version")
            }
        }
    }

    /// Applies every migration above the version on disk. The version is re-read under the
    /// write lock, so two processes opening a new file at once cannot both run a step.
    func migrate(_ connection: SQLiteConnection) throws -> Int {
        while true {
            let applied: Int? = try connection.transaction {
                let version = try Self.readUserVersion(connection)
                if version > Self.currentSchemaVersion {
                    throw StorageError(.schemaTooNew, "\(path) has schema version \(version), newer than \(Self.currentSchemaVersion)")
                }
                guard version < Self.currentSchemaVersion else { return nil }
                for sql in Self.migrations[version] { try connection.execute(sql) }
                try connection.execute("PRAGMA user_version = \(version + 1)")
                return version + 1
            }
            guard let applied else { return Self.currentSchemaVersion }
            logger.info("migrated database schema", metadata: ["path": "\(path)", "version": "\(applied)"])
        }
    }

    static func readUserVersion(_ connection: SQLiteConnection) throws -> Int {
        guard let text = try connection.pragma("user_version"), let version = Int(text) else {
            throw StorageError(.corrupt, "unreadable PRAGMA user_version")
        }
        // A negative version was not written by kpid; never index migrations with it.
        guard version >= 0 else {
            throw StorageError(.notKPIDatabase, "schema version \(version) was not written by kpid")
        }
        return version
    }
}

extension SQLiteConnection {
    /// A connection of its own to the kpid database at `path` for the owner of one table
    /// (tokens, audit, sites, outbox, maintenance): the busy timeout, `synchronous` as given,
    /// and the schema at least `schemaVersion` (the file must have been opened, and so
    /// migrated, by a ``KPIDatabase`` first), else an error naming `what` needs it.
    static func forTable(path: String, synchronous: String, schemaVersion: Int, what: String) throws -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path)
        try connection.busyTimeout(KPIDatabase.busyTimeoutMs)
        try connection.pragma("synchronous = \(synchronous)")
        let version = try KPIDatabase.readUserVersion(connection)
        guard version >= schemaVersion else {
            throw StorageError(
                .unsupported, "\(path) has schema version \(version); \(what) need version \(schemaVersion) (open it with kpid first)")
        }
        return connection
    }
}
