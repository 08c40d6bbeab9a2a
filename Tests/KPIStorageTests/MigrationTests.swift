import Foundation
import KPICore
import Testing

@testable import KPIStorage

/// Schema v1 -> v2 (tokens, audit), chunk checksums, the append-only audit table, `check`,
/// backup and restore at the storage level.
@Suite struct MigrationTests {
    /// A version-1 file made the way kpid made them: the v1 migration step, then one series,
    /// one chunk in encoding 1 (no checksum) and one write-ahead row.
    func makeV1File(_ path: String) throws -> (Labels, Chunk) {
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA journal_mode = WAL")
        try connection.transaction {
            for sql in KPIDatabase.migrations[0] { try connection.execute(sql) }
            try connection.execute("PRAGMA user_version = 1")
        }
        let series = labels("occupancy_people", ["site": "JFK", "zone": "B22"])
        let insert = try connection.prepare(
            "INSERT INTO series(id, metric, labels, labels_text, created_ms) VALUES (0, 'occupancy_people', ?1, ?2, 0)")
        try insert.bind(LabelsCodec.encode(series), at: 1)
        try insert.bind(series.description, at: 2)
        _ = try insert.step()
        let chunk = Chunk(timestamps: [1000, 2000, 3000], values: [41, 43, 40])
        let (encoding, bytes) = ChunkCodec.encode(chunk)
        #expect(encoding == 1)
        let chunkRow = try connection.prepare(
            "INSERT INTO chunks(series_id, min_ts, max_ts, sample_count, encoding, data) VALUES (0, 1000, 3000, 3, 1, ?1)")
        try chunkRow.bind(bytes, at: 1)
        _ = try chunkRow.step()
        let record = WALRecord(series: [SeriesID(0)], timestamps: [[4000]], values: [[44]])
        let walRow = try connection.prepare("INSERT INTO wal(created_ms, sample_count, payload) VALUES (0, 1, ?1)")
        try walRow.bind(record.encoded(), at: 1)
        _ = try walRow.step()
        connection.close()
        return (series, chunk)
    }

    @Test func version1FileMigratesAndKeepsItsData() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let (series, chunk) = try makeV1File(path)
            #expect(throws: StorageError.self) { try TokenStore(path: path) }

            let db = try KPIDatabase(path: path, durability: .process, logger: testLogger)
            #expect(db.schemaVersion == KPIDatabase.currentSchemaVersion)
            #expect(try db.loadSeries().map(\.1) == [series])
            var chunks: [Chunk] = []
            try db.forEachChunk { _, c in chunks.append(c) }
            #expect(chunks.map(\.columns.timestamps) == [chunk.columns.timestamps])
            #expect(bits(chunks[0].columns.values) == bits([41, 43, 40]))
            var wal: [WALRecord] = []
            try db.forEachWALRecord(after: 0) { _, r in wal.append(r) }
            #expect(wal.count == 1 && wal[0].sampleCount == 1)
            db.close()

            // The new tables work on the migrated file.
            let tokens = try TokenStore(path: path)
            let record = try tokens.insert(
                name: "n", role: "read", sites: ["JFK", "LAX"], digest: Array(repeating: 7, count: 32), nowMs: 5)
            #expect(try tokens.all() == [record])
            #expect(try tokens.revoke(id: record.id, nowMs: 6))
            #expect(try !tokens.revoke(id: record.id, nowMs: 7))
            #expect(try tokens.all()[0].revokedMs == 6)
            // The table itself refuses a role it does not know and a digest of the wrong size.
            #expect(throws: (any Error).self) {
                try tokens.insert(name: "n", role: "root", sites: [], digest: Array(repeating: 1, count: 32), nowMs: 1)
            }
            #expect(throws: (any Error).self) { try tokens.insert(name: "n", role: "read", sites: [], digest: [1, 2], nowMs: 1) }
            tokens.close()
            // Opening again changes nothing.
            let again = try KPIDatabase(path: path, durability: .process, logger: testLogger)
            #expect(again.schemaVersion == KPIDatabase.currentSchemaVersion)
            again.close()
        }
    }

    @Test func aVersion1BackupRestoresAndMigratesOnOpen() throws {
        try withTemporaryDirectory { dir in
            let (series, _) = try makeV1File(dir + "/old.sqlite")
            #expect(try KPIDatabase.check(path: dir + "/old.sqlite").isClean)
            _ = try KPIDatabase.restore(from: dir + "/old.sqlite", to: dir + "/kpid.sqlite", replace: false)
            let db = try KPIDatabase(path: dir + "/kpid.sqlite", durability: .process, logger: testLogger)
            #expect(db.schemaVersion == KPIDatabase.currentSchemaVersion)
            #expect(try db.loadSeries().map(\.1) == [series])
            db.close()
        }
    }

    @Test func chunksAreWrittenWithAChecksumThatCatchesDamage() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let db = try KPIDatabase(path: path, durability: .process, logger: testLogger)
            let series = labels("queue_wait_seconds", ["site": "JFK"])
            let seq = try db.commit(newSeries: [(SeriesID(0), series)], records: [])
            #expect(seq.isEmpty)
            let chunk = Chunk(timestamps: [1, 2, 3, 4], values: [312.5, 280, 1.25, -3])
            try db.checkpoint(sealed: [(SeriesID(0), chunk)], heads: [(SeriesID(0), chunk)], throughSequence: 0)
            // Encoding 2: the encoding-1 bytes plus their CRC-32 (as zlib computes it).
            let row = try db.connection.prepare("SELECT encoding, data FROM chunks")
            #expect(try row.step())
            #expect(row.int64(at: 0) == 2)
            let data = row.blob(at: 1)
            #expect(Array(data.dropLast(4)) == chunk.encoded)
            #expect(Array(data.suffix(4)) == littleEndianCRC(chunk.encoded))
            var read: [Chunk] = []
            try db.forEachChunk { _, c in read.append(c) }
            #expect(read.map(\.columns.timestamps) == [[1, 2, 3, 4]])

            // Flip one bit in the middle of the stored chunk: reading it fails with the checksum.
            var flipped = data
            flipped[data.count / 2] ^= 0x10
            let damage = try db.connection.prepare("UPDATE chunks SET data = ?1")
            try damage.bind(flipped, at: 1)
            _ = try damage.step()
            do {
                try db.forEachChunk { _, _ in }
                Issue.record("a damaged chunk was read")
            } catch let error as StorageError {
                #expect(error.kind == .corrupt)
                #expect("\(error)".contains("checksum"))
            }
            db.close()
        }
    }

    /// zlib's CRC-32, computed bit by bit (independent of kpid's table-driven one).
    func littleEndianCRC(_ bytes: [UInt8]) -> [UInt8] {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc = ~crc
        return [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)]
    }

    @Test func checkReportsEveryBadItemAndGoesOn() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let db = try KPIDatabase(path: path, durability: .process, logger: testLogger)
            let a = labels("m", ["site": "A"])
            let b = labels("m", ["site": "B"])
            let records = [
                WALRecord(series: [SeriesID(0)], timestamps: [[10]], values: [[1]]),
                WALRecord(series: [SeriesID(1)], timestamps: [[10]], values: [[2]]),
                WALRecord(series: [SeriesID(1)], timestamps: [[20]], values: [[3]]),
            ]
            let seqs = try db.commit(newSeries: [(SeriesID(0), a), (SeriesID(1), b)], records: records)
            let chunkA = Chunk(timestamps: [1, 2], values: [1, 2])
            let chunkB = Chunk(timestamps: [1, 2, 3], values: [1, 2, 3])
            try db.checkpoint(sealed: [(SeriesID(0), chunkA), (SeriesID(1), chunkB)], heads: [], throughSequence: 0)
            db.close()

            let clean = try KPIDatabase.check(path: path)
            #expect(clean.isClean)
            #expect(clean.checked == ["series": 2, "chunks": 2, "heads": 0, "wal": 3])

            // Damage: one chunk's bytes, one write-ahead payload, one row count that lies.
            let raw = try SQLiteConnection(path: path)
            try raw.execute("UPDATE chunks SET data = zeroblob(length(data)) WHERE series_id = 1")
            try raw.execute("UPDATE wal SET payload = substr(payload, 1, length(payload) - 1) || x'00' WHERE seq = \(seqs[0])")
            try raw.execute("UPDATE wal SET sample_count = 9 WHERE seq = \(seqs[2])")
            raw.close()
            let report = try KPIDatabase.check(path: path)
            #expect(
                report.findings.map { "\($0.table) \($0.key)" } == ["chunks series=1 min_ts=1", "wal seq=\(seqs[0])", "wal seq=\(seqs[2])"])
            #expect(report.findings[1].problem.contains("checksum"))
            #expect(report.findings[2].problem.contains("row says 9"))
        }
    }

    @Test func auditTableIsAppendOnlyAndKeepsItsRetention() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            try KPIDatabase(path: path, durability: .process, logger: testLogger).close()
            let day: Int64 = 86_400_000
            let now = KPIDatabase.nowMs()
            let log = try AuditLog(path: path, retentionMs: 30 * day, logger: testLogger)
            func entry(_ ageDays: Int64, _ who: String) -> AuditEntry {
                AuditEntry(
                    timestampMs: now - ageDays * day, principal: who, tokenID: 1, action: "GET /api/v1/series", detail: "match=up",
                    status: 200, rows: 3, elapsedMs: 1.5, remote: "127.0.0.1")
            }
            log.record(entry(40, "old"))
            log.record(entry(29, "kept"))
            log.record(entry(0, "new"))
            let all = try log.entries(fromMs: 0, toMs: .max, principal: nil, limit: 100)
            #expect(all.map(\.principal) == ["old", "kept", "new"])
            #expect(all[2].rows == 3 && all[2].detail == "match=up" && all[2].remote == "127.0.0.1")
            #expect(try log.entries(fromMs: 0, toMs: .max, principal: "kept", limit: 100).map(\.principal) == ["kept"])
            #expect(try log.entries(fromMs: now - day, toMs: .max, principal: nil, limit: 100).map(\.principal) == ["new"])
            #expect(try log.prune(nowMs: now) == 1)
            #expect(try log.entries(fromMs: 0, toMs: .max, principal: nil, limit: 100).map(\.principal) == ["kept", "new"])
            log.close()

            // The table refuses changes and the deletion of recent entries, whoever asks.
            let raw = try SQLiteConnection(path: path)
            #expect(throws: SQLiteError.self) { try raw.execute("UPDATE audit SET principal = 'someone else'") }
            #expect(throws: SQLiteError.self) { try raw.execute("DELETE FROM audit WHERE principal = 'new'") }
            let count = try raw.prepare("SELECT count(*) FROM audit WHERE principal = 'new'")
            _ = try count.step()
            #expect(count.int64(at: 0) == 1)
            raw.close()
            // A retention under a day is refused.
            #expect(throws: StorageError.self) { try AuditLog(path: path, retentionMs: 3_600_000, logger: testLogger) }
        }
    }

    @Test func longAuditDetailsAreCutAtACharacterBoundary() {
        let text = String(repeating: "é", count: 5000)
        let entry = AuditEntry(
            timestampMs: 0, principal: "p", tokenID: nil, action: "a", detail: text, status: 200, rows: nil, elapsedMs: 0, remote: nil)
        #expect(entry.detail.utf8.count <= AuditLog.maxDetailBytes)
        #expect(entry.detail.hasSuffix("..."))
        #expect(entry.detail.dropLast(3).allSatisfy { $0 == "é" })
    }

    @Test func restoreRefusesForeignAndExistingFilesAndReplacesWithForce() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let db = try KPIDatabase(path: path, durability: .process, logger: testLogger)
            _ = try db.commit(newSeries: [(SeriesID(0), labels("m", ["site": "A"]))], records: [])
            db.close()
            try KPIDatabase.backup(from: path, to: dir + "/backup.sqlite")
            #expect(throws: (any Error).self) { try KPIDatabase.backup(from: path, to: dir + "/backup.sqlite") }

            let foreign = try SQLiteConnection(path: dir + "/foreign.sqlite")
            try foreign.execute("CREATE TABLE t(x)")
            foreign.close()
            #expect(throws: StorageError.self) {
                _ = try KPIDatabase.restore(from: dir + "/foreign.sqlite", to: dir + "/r.sqlite", replace: true)
            }

            let target = dir + "/restored.sqlite"
            let other = try KPIDatabase(path: target, durability: .process, logger: testLogger)
            _ = try other.commit(newSeries: [(SeriesID(0), labels("other"))], records: [])
            other.close()
            #expect(throws: StorageError.self) { _ = try KPIDatabase.restore(from: dir + "/backup.sqlite", to: target, replace: false) }
            let summary = try KPIDatabase.restore(from: dir + "/backup.sqlite", to: target, replace: true)
            #expect(summary.contains("1 series"))
            let restored = try KPIDatabase(path: target, durability: .process, logger: testLogger)
            #expect(try restored.loadSeries().map(\.1) == [labels("m", ["site": "A"])])
            restored.close()
        }
    }
}
