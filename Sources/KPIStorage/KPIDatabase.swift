import Foundation
import KPICore
import Logging

/// kpid's SQLite database: series, the write-ahead table of committed batches, sealed chunks,
/// open heads and a checkpoint mark.
///
/// Not Sendable: the single writer thread owns it, and recovery runs on it before serving.
/// All methods run on the one connection it holds.
public final class KPIDatabase {
    /// The database file.
    public let path: String
    /// How commits are synced.
    public let durability: Durability
    let connection: SQLiteConnection
    let logger: Logger
    /// `PRAGMA user_version` after migration.
    public private(set) var schemaVersion: Int = 0

    /// Schema version this build creates and understands.
    public static let currentSchemaVersion = migrations.count

    /// How long a statement waits on another connection's lock (a backup, an admin shell).
    static let busyTimeoutMs: Int32 = 5_000
    /// Once SQLite's own WAL file was checkpointed it is truncated back to this size, so one
    /// large burst does not keep the -wal file big for ever.
    static let journalSizeLimit = 64 << 20
    /// The page size of a new file. A chunk row (samples plus rollups, 1 to 2 KB) must fit in
    /// its page: with 4 KB pages a WITHOUT ROWID row keeps at most about 1 KB in place and puts
    /// the rest on an overflow page of its own, most of it empty (measured: 57 % of the chunk
    /// pages unused). Files created with another size keep it.
    static let pageSize = 16_384
    /// The most free pages a checkpoint returns to the file system (256 MiB at 16 KB pages).
    static let reclaimPagesPerCheckpoint = 16_384

    /// Opens or creates the database at `path` and migrates it to `currentSchemaVersion`.
    ///
    /// WAL journal mode, `synchronous` per `durability`, foreign keys on. Throws
    /// `StorageError` (`.schemaTooNew`, `.notKPIDatabase`, `.unsupported`) or `SQLiteError`.
    /// `softwareVersion` is recorded in the meta table (`kpid_version`) on every open.
    public init(path: String, durability: Durability, logger: Logger, softwareVersion: String = "unknown") throws {
        self.path = path
        self.durability = durability
        self.logger = logger
        connection = try SQLiteConnection(path: path)
        try connection.busyTimeout(Self.busyTimeoutMs)
        try checkCompatibility(connection)
        // A new file reclaims space in steps after deletions (`reclaimSpace`). The mode can
        // only be chosen before the first table exists, and before WAL mode writes the header.
        if try Self.readUserVersion(connection) == 0 {
            try connection.pragma("page_size = \(Self.pageSize)")
            try connection.pragma("auto_vacuum = INCREMENTAL")
        }

        let mode = try connection.pragma("journal_mode = WAL")
        guard mode?.lowercased() == "wal" else {
            throw StorageError(.unsupported, "\(path): cannot enable WAL journal mode (got \(mode ?? "nothing"))")
        }
        try connection.pragma("synchronous = \(durability.synchronousPragma)")
        try connection.pragma("foreign_keys = ON")
        try connection.pragma("journal_size_limit = \(Self.journalSizeLimit)")
        schemaVersion = try migrate(connection)

        let record = try connection.prepare(
            "INSERT INTO meta(key, value) VALUES ('kpid_version', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        try record.bind(softwareVersion, at: 1)
        try record.step()
        logger.info(
            "opened database",
            metadata: [
                "path": "\(path)", "durability": "\(durability.rawValue)", "schema_version": "\(schemaVersion)",
            ])
    }

    /// Caps the file this connection writes samples into at about `bytes` (SQLite's
    /// `max_page_count`; never below the pages already used). A commit that would pass it fails
    /// with SQLITE_FULL and stores nothing, like a full disk. Returns the cap in bytes.
    @discardableResult
    public func limitSize(bytes: Int64) throws -> Int64 {
        guard let pageText = try connection.pragma("page_size"), let pageSize = Int64(pageText), pageSize > 0 else {
            throw StorageError(.corrupt, "unreadable PRAGMA page_size")
        }
        let pages = try connection.pragma("max_page_count = \(max(1, bytes / pageSize))").flatMap { Int64($0) } ?? 0
        return pages * pageSize
    }

    /// Closes the connection; later calls throw. Safe to call twice.
    public func close() {
        connection.close()
    }

    // MARK: - Write path (single writer thread)

    /// In ONE transaction: inserts the new series rows, then one write-ahead row per record.
    /// Returns the sequence numbers assigned to the records, ascending, in record order. On any
    /// error nothing is stored (e.g. a series id or labels already present).
    public func commit(newSeries: [(SeriesID, Labels)], records: [WALRecord]) throws -> [Int64] {
        if newSeries.isEmpty && records.isEmpty { return [] }
        let now = Self.nowMs()
        return try connection.transaction {
            if !newSeries.isEmpty {
                let insert = try connection.cachedStatement(
                    "INSERT INTO series(id, metric, labels, labels_text, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)")
                for (id, labels) in newSeries {
                    try insert.bind(Int64(id.rawValue), at: 1)
                    try insert.bind(labels.metricName ?? "", at: 2)
                    try insert.bind(LabelsCodec.encode(labels), at: 3)
                    try insert.bind(labels.description, at: 4)
                    try insert.bind(now, at: 5)
                    try insert.step()
                    insert.reset()
                }
            }
            let insert = try connection.cachedStatement(
                "INSERT INTO wal(created_ms, sample_count, payload) VALUES (?1, ?2, ?3)")
            var sequences: [Int64] = []
            sequences.reserveCapacity(records.count)
            for record in records {
                try insert.bind(now, at: 1)
                try insert.bind(Int64(record.sampleCount), at: 2)
                try insert.bind(record.encoded(), at: 3)
                try insert.step()
                insert.reset()
                sequences.append(connection.lastInsertRowID)
            }
            return sequences
        }
    }

    /// In ONE transaction:
    /// - inserts each sealed chunk, first deleting every stored chunk of that series whose time
    ///   range overlaps it (an out-of-order merge re-seals a chunk under a new range); chunks
    ///   are applied in list order, so a later one of the same series wins;
    /// - replaces the head row of each listed series, deleting it for nil or an empty chunk;
    /// - deletes write-ahead rows with `seq <= throughSequence` and stores `throughSequence` as
    ///   the checkpoint mark;
    ///
    /// then (in a transaction of its own) returns the file's free pages to the file system.
    ///
    /// Refuses (`.invalidArgument`) a mark below the stored one or above any sequence ever
    /// assigned (either would make recovery skip or replay the wrong records), and malformed
    /// chunks.
    ///
    /// With `forwardedThrough` (remote-write forwarding on), write-ahead rows not yet forwarded
    /// are kept (only `seq <= min(throughSequence, forwardedThrough)` go) and the forward mark is
    /// stored in the same transaction: the write-ahead table is the durable forwarding queue.
    /// Rows at or below the checkpoint mark are never replayed, whatever their number.
    public func checkpoint(
        sealed: [(SeriesID, Chunk)], heads: [(SeriesID, Chunk?)], throughSequence: Int64, forwardedThrough: Int64? = nil
    ) throws {
        try connection.transaction {
            let mark = try readCheckpointSequence()
            guard throughSequence >= mark else {
                throw StorageError(.invalidArgument, "checkpoint through \(throughSequence) is below the stored mark \(mark)")
            }
            let assigned = try highestAssignedSequence()
            guard throughSequence <= assigned else {
                throw StorageError(
                    .invalidArgument, "checkpoint through \(throughSequence) is beyond the last assigned sequence \(assigned)")
            }

            // The write-ahead rows go first, so the chunks and heads written next reuse their pages
            // instead of growing the file.
            let deleteWAL = try connection.cachedStatement("DELETE FROM wal WHERE seq <= ?1")
            try deleteWAL.bind(min(throughSequence, forwardedThrough ?? .max), at: 1)
            try deleteWAL.step()
            deleteWAL.reset()

            // Chunks of a series never overlap (this method keeps it so), so the chunks overlapping
            // [a, b] are those starting in [a, b] plus at most the one starting last before a.
            // Two index range lookups instead of scanning every chunk of the series.
            let deleteStartingInside = try connection.cachedStatement(
                "DELETE FROM chunks WHERE series_id = ?1 AND min_ts BETWEEN ?2 AND ?3")
            let deleteReachingInto = try connection.cachedStatement(
                """
                DELETE FROM chunks WHERE series_id = ?1 AND max_ts >= ?2 AND min_ts =
                    (SELECT max(min_ts) FROM chunks WHERE series_id = ?1 AND min_ts < ?2)
                """)
            let insertChunk = try connection.cachedStatement(
                """
                INSERT INTO chunks(series_id, min_ts, max_ts, sample_count, encoding, data, rollup)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """)
            for (id, chunk) in sealed where !chunk.isEmpty {
                guard chunk.isWellFormed else {
                    throw StorageError(.invalidArgument, "sealed chunk of series \(id) has non-increasing timestamps")
                }
                let series = Int64(id.rawValue)
                try deleteStartingInside.bind(series, at: 1)
                try deleteStartingInside.bind(chunk.minTime, at: 2)
                try deleteStartingInside.bind(chunk.maxTime, at: 3)
                try deleteStartingInside.step()
                deleteStartingInside.reset()
                try deleteReachingInto.bind(series, at: 1)
                try deleteReachingInto.bind(chunk.minTime, at: 2)
                try deleteReachingInto.step()
                deleteReachingInto.reset()
                try KPIDatabase.insert(chunk, series: series, with: insertChunk)
            }

            let upsertHead = try connection.cachedStatement(
                """
                INSERT INTO heads(series_id, encoding, data) VALUES (?1, ?2, ?3)
                ON CONFLICT(series_id) DO UPDATE SET encoding = excluded.encoding, data = excluded.data
                """)
            let deleteHead = try connection.cachedStatement("DELETE FROM heads WHERE series_id = ?1")
            for (id, head) in heads {
                if let head, !head.isEmpty {
                    guard head.isWellFormed else {
                        throw StorageError(.invalidArgument, "head of series \(id) has non-increasing timestamps")
                    }
                    let (encoding, bytes) = ChunkCodec.encodeChecksummed(head)
                    try upsertHead.bind(Int64(id.rawValue), at: 1)
                    try upsertHead.bind(Int64(encoding), at: 2)
                    try upsertHead.bind(bytes, at: 3)
                    try upsertHead.step()
                    upsertHead.reset()
                } else {
                    try deleteHead.bind(Int64(id.rawValue), at: 1)
                    try deleteHead.step()
                    deleteHead.reset()
                }
            }

            if let forwardedThrough {
                let setForward = try connection.cachedStatement(
                    """
                    INSERT INTO meta(key, value) VALUES ('forward_seq', ?1)
                    ON CONFLICT(key) DO UPDATE SET value = excluded.value
                    """)
                try setForward.bind(String(forwardedThrough), at: 1)
                try setForward.step()
                setForward.reset()
            }
            let setMark = try connection.cachedStatement(
                """
                INSERT INTO meta(key, value) VALUES ('checkpoint_seq', ?1)
                ON CONFLICT(key) DO UPDATE SET value = excluded.value
                """)
            try setMark.bind(String(throughSequence), at: 1)
            try setMark.step()
            setMark.reset()
        }
        // What the write-ahead rows held beyond the chunks that reused it goes back to the file
        // system, so the file holds its live pages plus about one checkpoint interval of
        // write-ahead rows (not the largest backlog it ever had). Cheap for those rows: they
        // are the newest pages, near the end of the file, so the file is mostly truncated.
        // Bounded per checkpoint, as retention's reclaim is: free pages deep in the file (a
        // large deletion) are moved a bounded number at a time, so the writer never stalls on
        // them. A failure leaves free pages that the next rows reuse; the checkpoint itself is
        // committed.
        do {
            try reclaimSpace(maxPages: Self.reclaimPagesPerCheckpoint)
        } catch {
            logger.warning("could not return free pages after a checkpoint", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Recovery (once at start, before serving)

    /// Every series, ascending by id. A row that does not decode throws `.corrupt` naming it.
    public func loadSeries() throws -> [(SeriesID, Labels)] {
        let statement = try connection.cachedStatement("SELECT id, labels FROM series ORDER BY id")
        defer { statement.reset() }
        var result: [(SeriesID, Labels)] = []
        while try statement.step() {
            let raw = statement.int64(at: 0)
            let id = try Self.seriesID(raw, table: "series", key: "id=\(raw)")
            do throws(StorageError) {
                let labels = try statement.withBlob(at: 1) { (bytes) throws(StorageError) in try LabelsCodec.decode(bytes) }
                result.append((id, labels))
            } catch {
                throw error.located(table: "series", key: "id=\(raw)")
            }
        }
        return result
    }

    /// Every sealed chunk, ordered by series id then start time. A row that does not decode or
    /// disagrees with its min_ts/max_ts/sample_count columns throws `.corrupt` naming it, or,
    /// with `skipCorrupt`, is passed to it and left out (the row stays for `kpid check`).
    /// Rollups come with quantile sketches unless `sketches` is false (`StoreConfiguration`).
    public func forEachChunk(
        skipCorrupt: ((StorageError) -> Void)? = nil, sketches: Bool = true, _ body: (SeriesID, Chunk) throws -> Void
    ) throws {
        let statement = try connection.cachedStatement(
            """
            SELECT series_id, min_ts, max_ts, sample_count, encoding, data, rollup FROM chunks ORDER BY series_id, min_ts
            """)
        defer { statement.reset() }
        while try statement.step() {
            let raw = statement.int64(at: 0)
            let minTs = statement.int64(at: 1)
            let key = "series=\(raw) min_ts=\(minTs)"
            let id = try Self.seriesID(raw, table: "chunks", key: key)
            let chunk: Chunk
            do throws(StorageError) {
                chunk = try Self.decodeChunk(
                    statement, encodingColumn: 4, rollupColumn: 6, sketches: sketches, table: "chunks", key: key)
                guard chunk.minTime == minTs, chunk.maxTime == statement.int64(at: 2),
                    Int64(chunk.count) == statement.int64(at: 3)
                else {
                    throw StorageError(
                        .corrupt,
                        "chunk holds \(chunk.count) samples over [\(chunk.minTime), \(chunk.maxTime)] but its row says "
                            + "\(statement.int64(at: 3)) over [\(minTs), \(statement.int64(at: 2))]",
                        table: "chunks", key: key)
                }
            } catch {
                guard error.kind == .corrupt, let skipCorrupt else { throw error }
                skipCorrupt(error)
                continue
            }
            try body(id, chunk)
        }
    }

    /// Every stored head, ascending by series id. A row that does not decode throws `.corrupt`
    /// or, with `skipCorrupt`, is passed to it and left out.
    public func forEachHead(skipCorrupt: ((StorageError) -> Void)? = nil, _ body: (SeriesID, Chunk) throws -> Void) throws {
        let statement = try connection.cachedStatement("SELECT series_id, encoding, data FROM heads ORDER BY series_id")
        defer { statement.reset() }
        while try statement.step() {
            let raw = statement.int64(at: 0)
            let key = "series=\(raw)"
            let id = try Self.seriesID(raw, table: "heads", key: key)
            let head: Chunk
            do throws(StorageError) {
                head = try Self.decodeChunk(statement, encodingColumn: 1, table: "heads", key: key)
            } catch {
                guard error.kind == .corrupt, let skipCorrupt else { throw error }
                skipCorrupt(error)
                continue
            }
            try body(id, head)
        }
    }

    /// The sequence through which write-ahead records are reflected in chunks and heads.
    public var checkpointSequence: Int64 {
        get throws { try readCheckpointSequence() }
    }

    /// The write-ahead sequence through which samples were forwarded (remote write), nil when
    /// forwarding never ran on this database.
    public var forwardSequence: Int64? {
        get throws {
            let statement = try connection.cachedStatement("SELECT value FROM meta WHERE key = 'forward_seq'")
            defer { statement.reset() }
            guard try statement.step(), let text = statement.string(at: 0) else { return nil }
            guard let value = Int64(text) else {
                throw StorageError(.corrupt, "forward mark \"\(text)\" is not a number", table: "meta", key: "forward_seq")
            }
            return value
        }
    }

    /// Every write-ahead record with `seq > sequence`, ascending. A payload that fails its
    /// checks (or holds a timestamp outside `SampleTime`) throws `.corrupt` naming the table and
    /// seq, or, with `skipCorrupt`, is passed to it and left out (the row stays for `kpid check`).
    public func forEachWALRecord(
        after sequence: Int64, skipCorrupt: ((StorageError) -> Void)? = nil, _ body: (Int64, WALRecord) throws -> Void
    ) throws {
        let statement = try connection.cachedStatement(
            "SELECT seq, sample_count, payload FROM wal WHERE seq > ?1 ORDER BY seq")
        defer { statement.reset() }
        try statement.bind(sequence, at: 1)
        while try statement.step() {
            let seq = statement.int64(at: 0)
            let record: WALRecord
            do throws(StorageError) {
                do throws(StorageError) {
                    record = try statement.withBlob(at: 2) { (bytes) throws(StorageError) in try WALRecord(decoding: bytes) }
                } catch {
                    throw error.located(table: "wal", key: "seq=\(seq)")
                }
                let stated = statement.int64(at: 1)
                guard Int64(record.sampleCount) == stated else {
                    throw StorageError(
                        .corrupt, "payload holds \(record.sampleCount) samples, row says \(stated)", table: "wal", key: "seq=\(seq)")
                }
                for column in record.timestamps {
                    for t in column where !SampleTime.contains(t) {
                        throw StorageError(.corrupt, SampleTime.problem(t)!, table: "wal", key: "seq=\(seq)")
                    }
                }
            } catch {
                guard error.kind == .corrupt, let skipCorrupt else { throw error }
                skipCorrupt(error)
                continue
            }
            try body(seq, record)
        }
    }

    /// The highest series id stored, nil when there are none.
    public var maxSeriesID: UInt32? {
        get throws {
            let statement = try connection.cachedStatement("SELECT max(id) FROM series")
            defer { statement.reset() }
            guard try statement.step(), !statement.isNull(at: 0) else { return nil }
            let raw = statement.int64(at: 0)
            return try Self.seriesID(raw, table: "series", key: "id=\(raw)").rawValue
        }
    }

    // MARK: - Operations

    /// `PRAGMA integrity_check` plus `foreign_key_check`: `["ok"]` when both are clean.
    public func integrityCheck() throws -> [String] {
        var findings = try connection.integrityCheck()
        let foreign = try connection.prepare("PRAGMA foreign_key_check")
        var violations: [String] = []
        while try foreign.step() {
            violations.append(
                "foreign key violation: \(foreign.string(at: 0) ?? "?") rowid \(foreign.string(at: 1) ?? "-") "
                    + "references missing \(foreign.string(at: 2) ?? "?")")
        }
        if !violations.isEmpty {
            if findings == ["ok"] { findings = [] }
            findings += violations
        }
        return findings
    }

    /// Copies the live database into a new file at `path` (online backup API; the writer is
    /// blocked only while each step copies its pages). Refuses an existing file.
    public func backup(to path: String) throws {
        try connection.backup(to: path)
    }

    /// Size on disk: `page_count * page_size` of the main file plus the SQLite WAL file, if any.
    public func fileSizeBytes() throws -> Int64 {
        guard let pages = try connection.pragma("page_count").flatMap({ Int64($0) }),
            let pageSize = try connection.pragma("page_size").flatMap({ Int64($0) })
        else { throw StorageError(.corrupt, "unreadable page_count or page_size") }
        var size = pages * pageSize
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path + "-wal"),
            let walSize = attributes[.size] as? NSNumber
        {
            size += walSize.int64Value
        }
        return size
    }

    // MARK: - Helpers

    func readCheckpointSequence() throws -> Int64 {
        let statement = try connection.cachedStatement("SELECT value FROM meta WHERE key = 'checkpoint_seq'")
        defer { statement.reset() }
        guard try statement.step() else { return 0 }
        guard let text = statement.string(at: 0), let value = Int64(text), value >= 0 else {
            throw StorageError(.corrupt, "checkpoint mark is not a sequence number", table: "meta", key: "checkpoint_seq")
        }
        return value
    }

    /// The highest sequence AUTOINCREMENT has handed out (0 before the first).
    public func highestAssignedSequence() throws -> Int64 {
        let statement = try connection.cachedStatement("SELECT seq FROM sqlite_sequence WHERE name = 'wal'")
        defer { statement.reset() }
        return try statement.step() ? statement.int64(at: 0) : 0
    }

    static func seriesID(_ raw: Int64, table: String, key: String) throws(StorageError) -> SeriesID {
        guard let value = UInt32(exactly: raw) else {
            throw StorageError(.corrupt, "series id \(raw) is outside 0...\(UInt32.max)", table: table, key: key)
        }
        return SeriesID(value)
    }

    /// Decodes the chunk in columns `encodingColumn` (encoding) and `encodingColumn + 1`
    /// (data); with `rollupColumn`, a sealed chunk whose stored rollup (NULL before schema v4)
    /// is adopted or recomputed.
    static func decodeChunk(
        _ statement: SQLiteStatement, encodingColumn: Int, rollupColumn: Int? = nil, sketches: Bool = true, table: String,
        key: String
    ) throws(StorageError) -> Chunk {
        let encoding = statement.int64(at: encodingColumn)
        guard let encodingValue = Int(exactly: encoding) else {
            throw StorageError(.corrupt, "chunk encoding \(encoding) out of range", table: table, key: key)
        }
        do throws(StorageError) {
            return try statement.withBlob(at: encodingColumn + 1) { (bytes) throws(StorageError) in
                try ChunkCodec.decode(
                    encoding: encodingValue, bytes: bytes, sealed: rollupColumn != nil,
                    rollup: rollupColumn.flatMap { statement.isNull(at: $0) ? nil : statement.blob(at: $0) }, sketches: sketches)
            }
        } catch {
            throw error.located(table: table, key: key)
        }
    }

    static func nowMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}

extension KPIDatabase {
    /// Writes one sealed chunk (zstd encoding) and its rollup through the prepared chunk insert:
    /// `(series, min_time, max_time, count, encoding, data, rollup)`.
    static func insert(_ chunk: Chunk, series: Int64, with statement: SQLiteStatement) throws(SQLiteError) {
        let (encoding, bytes, rollup) = ChunkCodec.encodeForStorage(chunk)
        try statement.bind(series, at: 1)
        try statement.bind(chunk.minTime, at: 2)
        try statement.bind(chunk.maxTime, at: 3)
        try statement.bind(Int64(chunk.count), at: 4)
        try statement.bind(Int64(encoding), at: 5)
        try statement.bind(bytes, at: 6)
        if let rollup { try statement.bind(rollup, at: 7) } else { try statement.bindNull(at: 7) }
        _ = try statement.step()
        statement.reset()
    }
}
