import KPICore

extension KPIDatabase {
    /// Writes planned rewrites (a deletion or a retention run) in ONE transaction: drops and
    /// replaces chunk rows, replaces or deletes head rows, and deletes the rows of series left
    /// empty. A crash keeps all of it or none of it.
    ///
    /// Refuses (`.invalidArgument`) while write-ahead rows remain: replaying them after a
    /// crash could bring deleted samples back. The writer checkpoints first (see
    /// ``GroupCommitWriter/exclusive(_:)``), which leaves none.
    public func applyRewrites(_ rewrites: [SeriesRewrite]) throws {
        let changing = rewrites.filter(\.changesStorage)
        guard !changing.isEmpty else { return }
        try connection.transaction {
            // Rows at or below the checkpoint mark are only kept for forwarding, never replayed.
            let pending = try connection.cachedStatement(
                "SELECT count(*) FROM wal WHERE seq > (SELECT coalesce(max(CAST(value AS INTEGER)), 0) FROM meta WHERE key = 'checkpoint_seq')"
            )
            defer { pending.reset() }
            guard try pending.step(), pending.int64(at: 0) == 0 else {
                throw StorageError(.invalidArgument, "write-ahead rows remain; checkpoint before deleting samples")
            }
            let deleteChunk = try connection.cachedStatement("DELETE FROM chunks WHERE series_id = ?1 AND min_ts = ?2")
            let insertChunk = try connection.cachedStatement(
                """
                INSERT INTO chunks(series_id, min_ts, max_ts, sample_count, encoding, data, rollup)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                """)
            let upsertHead = try connection.cachedStatement(
                """
                INSERT INTO heads(series_id, encoding, data) VALUES (?1, ?2, ?3)
                ON CONFLICT(series_id) DO UPDATE SET encoding = excluded.encoding, data = excluded.data
                """)
            let deleteHead = try connection.cachedStatement("DELETE FROM heads WHERE series_id = ?1")
            let deleteAllChunks = try connection.cachedStatement("DELETE FROM chunks WHERE series_id = ?1")
            let deleteSeries = try connection.cachedStatement("DELETE FROM series WHERE id = ?1")
            for rewrite in changing {
                let series = Int64(rewrite.id.rawValue)
                if rewrite.removesSeries {
                    for statement in [deleteAllChunks, deleteHead, deleteSeries] {
                        try statement.bind(series, at: 1)
                        try statement.step()
                        statement.reset()
                    }
                    continue
                }
                for minTime in rewrite.removedChunks {
                    try deleteChunk.bind(series, at: 1)
                    try deleteChunk.bind(minTime, at: 2)
                    try deleteChunk.step()
                    deleteChunk.reset()
                }
                for chunk in rewrite.addedChunks where !chunk.isEmpty {
                    try KPIDatabase.insert(chunk, series: series, with: insertChunk)
                }
                guard rewrite.headChanged else { continue }
                if let head = rewrite.head, !head.isEmpty {
                    let (encoding, bytes) = ChunkCodec.encodeChecksummed(head)
                    try upsertHead.bind(series, at: 1)
                    try upsertHead.bind(Int64(encoding), at: 2)
                    try upsertHead.bind(bytes, at: 3)
                    try upsertHead.step()
                    upsertHead.reset()
                } else {
                    try deleteHead.bind(series, at: 1)
                    try deleteHead.step()
                    deleteHead.reset()
                }
            }
        }
    }

    /// Space reclamation after deletions: with `auto_vacuum = INCREMENTAL` (every database kpid
    /// creates), returns up to `maxPages` free pages to the file system and answers how many;
    /// otherwise (a file created before kpid set it) does nothing and answers 0 — SQLite then
    /// reuses the free pages for new data, and an offline `VACUUM` shrinks the file.
    @discardableResult
    public func reclaimSpace(maxPages: Int = 65_536) throws -> Int {
        guard try connection.pragma("auto_vacuum") == "2" else { return 0 }
        let before = try freePages()
        guard before > 0 else { return 0 }
        try connection.execute("PRAGMA incremental_vacuum(\(maxPages))")
        return before - (try freePages())
    }

    /// `PRAGMA freelist_count`: pages of the file holding no data.
    public func freePages() throws -> Int {
        Int(try connection.pragma("freelist_count") ?? "0") ?? 0
    }

    /// `PRAGMA page_count`: pages of the database (including those still in SQLite's WAL).
    public func pageCount() throws -> Int {
        Int(try connection.pragma("page_count") ?? "0") ?? 0
    }

    /// `PRAGMA auto_vacuum`: 0 none, 1 full, 2 incremental.
    public func autoVacuumMode() throws -> Int {
        Int(try connection.pragma("auto_vacuum") ?? "0") ?? 0
    }
}
