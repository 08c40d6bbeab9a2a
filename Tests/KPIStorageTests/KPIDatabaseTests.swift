import Foundation
import KPICore
import Testing

@testable import KPIStorage

private struct Boom: Error {}

private func open(_ path: String, _ durability: Durability = .process) throws -> KPIDatabase {
    try KPIDatabase(path: path, durability: durability, logger: testLogger, softwareVersion: "test")
}

private func walRecords(_ db: KPIDatabase, after: Int64 = 0) throws -> [(Int64, WALRecord)] {
    var out: [(Int64, WALRecord)] = []
    try db.forEachWALRecord(after: after) { out.append(($0, $1)) }
    return out
}

private func chunks(_ db: KPIDatabase) throws -> [(SeriesID, Chunk)] {
    var out: [(SeriesID, Chunk)] = []
    try db.forEachChunk { out.append(($0, $1)) }
    return out
}

private func heads(_ db: KPIDatabase) throws -> [(SeriesID, Chunk)] {
    var out: [(SeriesID, Chunk)] = []
    try db.forEachHead { out.append(($0, $1)) }
    return out
}

private func chunk(_ range: ClosedRange<Int64>, step: Int64 = 1, value: Double = 1) -> Chunk {
    let ts = Array(stride(from: range.lowerBound, through: range.upperBound, by: Int(step)))
    return Chunk(timestamps: ts, values: ts.map { Double($0) * value })
}

private func count(_ path: String, _ sql: String) throws -> Int64 {
    let db = try SQLiteConnection(path: path)
    let statement = try db.prepare(sql)
    _ = try statement.step()
    return statement.int64(at: 0)
}

private let seriesA = labels("cpu_seconds_total", ["host": "a", "mode": "idle"])
private let seriesB = labels("temperature_celsius", ["city": "Zürich"])
private let seriesC = labels("up")

@Suite struct KPIDatabaseTests {
    @Test func createCommitCloseReopenReadsBackIdentical() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let records = [
                WALRecord(series: [SeriesID(0), SeriesID(1)], timestamps: [[1, 2, 3], [5]], values: [awkwardValues.prefix(3).map { $0 }, [.nan]]),
                WALRecord(series: [SeriesID(2)], timestamps: [[10]], values: [[-0.0]]),
                WALRecord(series: [], timestamps: [], values: []),
            ]
            do {
                let db = try open(path)
                #expect(db.schemaVersion == KPIDatabase.currentSchemaVersion)
                #expect(try db.maxSeriesID == nil)
                #expect(try db.checkpointSequence == 0)
                let seqs = try db.commit(newSeries: [(SeriesID(0), seriesA), (SeriesID(1), seriesB)], records: Array(records[0...0]))
                let more = try db.commit(newSeries: [(SeriesID(2), seriesC)], records: Array(records[1...2]))
                #expect(seqs == [1])
                #expect(more == [2, 3])
                db.close()
                db.close()
                #expect(throws: SQLiteError.self) { try db.loadSeries() }
            }
            let db = try open(path)
            defer { db.close() }
            let series = try db.loadSeries()
            #expect(series.map(\.0) == [SeriesID(0), SeriesID(1), SeriesID(2)])
            #expect(series.map(\.1) == [seriesA, seriesB, seriesC])
            #expect(try db.maxSeriesID == 2)
            let read = try walRecords(db)
            #expect(read.map(\.0) == [1, 2, 3])
            #expect(read.map(\.1) == records)
            #expect(try walRecords(db, after: 2).map(\.0) == [3])
            #expect(try chunks(db).isEmpty)
            #expect(try heads(db).isEmpty)

            // The series table's readable columns, for people with an sqlite3 shell.
            let raw = try SQLiteConnection(path: path, readOnly: true)
            let row = try raw.prepare("SELECT metric, labels_text FROM series WHERE id = 1")
            _ = try row.step()
            #expect(row.string(at: 0) == "temperature_celsius")
            #expect(row.string(at: 1) == #"temperature_celsius{city="Zürich"}"#)
            let meta = try raw.prepare("SELECT value FROM meta WHERE key = 'kpid_version'")
            _ = try meta.step()
            #expect(meta.string(at: 0) == "test")
        }
    }

    @Test func checkpointMovesWALIntoChunksAndHeads() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let db = try open(path)
            let seqs = try db.commit(
                newSeries: [(SeriesID(0), seriesA), (SeriesID(1), seriesB)],
                records: (0..<4).map { i in WALRecord(series: [SeriesID(0)], timestamps: [[Int64(i)]], values: [[1]]) })
            #expect(seqs == [1, 2, 3, 4])

            try db.checkpoint(
                sealed: [(SeriesID(0), chunk(0...9)), (SeriesID(0), chunk(20...29)), (SeriesID(1), chunk(100...110))],
                heads: [(SeriesID(0), chunk(30...32)), (SeriesID(1), chunk(111...111))],
                throughSequence: 3)
            #expect(try db.checkpointSequence == 3)
            #expect(try walRecords(db).map(\.0) == [4])
            #expect(try walRecords(db, after: try db.checkpointSequence).map(\.0) == [4])
            let stored = try chunks(db)
            #expect(stored.map(\.0) == [SeriesID(0), SeriesID(0), SeriesID(1)])
            #expect(stored.map(\.1) == [chunk(0...9), chunk(20...29), chunk(100...110)])
            #expect(try heads(db).map(\.1) == [chunk(30...32), chunk(111...111)])

            // Out-of-order merge: [5, 24] re-seals over both earlier chunks of series 0.
            // [40, 49] overlaps nothing. Series 1's head becomes empty, series 0's changes.
            try db.checkpoint(
                sealed: [(SeriesID(0), chunk(5...24, value: 2)), (SeriesID(0), chunk(40...49))],
                heads: [(SeriesID(0), chunk(50...51)), (SeriesID(1), nil)],
                throughSequence: 4)
            db.close()

            let reopened = try open(path)
            defer { reopened.close() }
            #expect(try reopened.checkpointSequence == 4)
            #expect(try walRecords(reopened).isEmpty)
            #expect(try chunks(reopened).map(\.1) == [chunk(5...24, value: 2), chunk(40...49), chunk(100...110)])
            #expect(try heads(reopened).map(\.0) == [SeriesID(0)])
            #expect(try heads(reopened).map(\.1) == [chunk(50...51)])
            #expect(try reopened.integrityCheck() == ["ok"])
        }
    }

    /// The file holds what it stores: write-ahead rows a checkpoint covered do not stay behind
    /// as free pages (they went back to the file system), and a new file has 16 KB pages so a
    /// chunk row stays on its page.
    @Test func aCheckpointReturnsTheWriteAheadRowsPages() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let db = try open(path)
            defer { db.close() }
            #expect(try db.connection.pragma("page_size") == "16384")
            _ = try db.commit(newSeries: [(SeriesID(0), labels("occupancy_people", ["site": "JFK"]))], records: [])
            let empty = try db.pageCount()
            // 100 records of 2,000 samples (32 KB each): over 3 MB of write-ahead rows.
            var last: Int64 = 0
            for r in 0..<100 {
                let ts = (0..<2_000).map { Int64(r * 2_000 + $0) * 1_000 }
                last = try db.commit(newSeries: [], records: [WALRecord(series: [SeriesID(0)], timestamps: [ts], values: [ts.map { Double($0 % 7) }])]).last!
            }
            #expect(try db.pageCount() > empty + 190)
            let head = Chunk(timestamps: [1, 2], values: [3, 4])
            try db.checkpoint(sealed: [], heads: [(SeriesID(0), head)], throughSequence: last)
            #expect(try walRecords(db).isEmpty)
            #expect(try db.freePages() == 0)
            // Back to the empty file's pages plus at most the head row's page and the table
            // pages touched.
            #expect(try db.pageCount() <= empty + 2)
        }
    }

    @Test func overlapReplacementCoversEveryShape() throws {
        try withTemporaryDirectory { dir in
            let db = try open(dir + "/kpid.sqlite")
            defer { db.close() }
            _ = try db.commit(newSeries: [(SeriesID(0), seriesA), (SeriesID(1), seriesB)], records: [])
            let base = [chunk(0...99), chunk(200...299), chunk(400...499)]
            try db.checkpoint(sealed: base.map { (SeriesID(0), $0) } + [(SeriesID(1), chunk(0...1000))], heads: [], throughSequence: 0)
            let cases: [(Chunk, [ClosedRange<Int64>])] = [
                (chunk(50...60), [50...60, 200...299, 400...499]),  // inside the first
                (chunk(99...99), [99...99, 200...299, 400...499]),  // touches the first's last sample
                (chunk(100...199), [0...99, 100...199, 200...299, 400...499]),  // fills a gap: replaces nothing
                (chunk(150...250), [0...99, 150...250, 400...499]),  // reaches into the second from before
                (chunk(250...420), [0...99, 250...420]),  // from inside the second into the third
                (chunk(-10...450), [-10...450]),  // covers all three
                (chunk(-20...(-10)), [-20...(-10), 0...99, 200...299, 400...499]),  // before the first
                (chunk(500...510), [0...99, 200...299, 400...499, 500...510]),  // after the last
            ]
            for (replacement, expected) in cases {
                try db.connection.execute("DELETE FROM chunks WHERE series_id = 0")
                try db.checkpoint(sealed: base.map { (SeriesID(0), $0) }, heads: [], throughSequence: 0)
                try db.checkpoint(sealed: [(SeriesID(0), replacement)], heads: [], throughSequence: 0)
                let ranges = try chunks(db).filter { $0.0 == SeriesID(0) }.map { $0.1.minTime...$0.1.maxTime }
                #expect(ranges == expected, "replacing with \(replacement.minTime)...\(replacement.maxTime)")
                // The other series is never touched.
                #expect(try chunks(db).filter { $0.0 == SeriesID(1) }.map(\.1) == [chunk(0...1000)])
            }
        }
    }

    @Test func sequenceNumbersAreNeverReused() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let record = WALRecord(series: [], timestamps: [], values: [])
            do {
                let db = try open(path)
                #expect(try db.commit(newSeries: [], records: [record, record, record]) == [1, 2, 3])
                try db.checkpoint(sealed: [], heads: [], throughSequence: 3)
                #expect(try count(path, "SELECT count(*) FROM wal") == 0)
                #expect(try db.commit(newSeries: [], records: [record]) == [4])
                try db.checkpoint(sealed: [], heads: [], throughSequence: 4)
                db.close()
            }
            let db = try open(path)
            defer { db.close() }
            #expect(try db.commit(newSeries: [], records: [record]) == [5])
        }
    }

    @Test func checkpointRefusesAMarkThatWouldMisleadRecovery() throws {
        try withTemporaryDirectory { dir in
            let db = try open(dir + "/kpid.sqlite")
            defer { db.close() }
            let record = WALRecord(series: [], timestamps: [], values: [])
            _ = try db.commit(newSeries: [], records: [record, record])
            #expect { try db.checkpoint(sealed: [], heads: [], throughSequence: 3) } throws: {
                ($0 as? StorageError)?.kind == .invalidArgument
            }
            try db.checkpoint(sealed: [], heads: [], throughSequence: 2)
            #expect { try db.checkpoint(sealed: [], heads: [], throughSequence: 1) } throws: {
                ($0 as? StorageError)?.kind == .invalidArgument
            }
            #expect(try db.checkpointSequence == 2)
        }
    }

    @Test func failedCheckpointLeavesEverythingAsItWas() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let db = try open(path)
            defer { db.close() }
            _ = try db.commit(
                newSeries: [(SeriesID(0), seriesA)],
                records: [WALRecord(series: [SeriesID(0)], timestamps: [[1]], values: [[1]])])
            // Series 9 does not exist: its foreign key fails after series 0's chunk and head were written.
            #expect(throws: SQLiteError.self) {
                try db.checkpoint(
                    sealed: [(SeriesID(0), chunk(0...9))],
                    heads: [(SeriesID(0), chunk(10...11)), (SeriesID(9), chunk(10...11))], throughSequence: 1)
            }
            #expect(throws: SQLiteError.self) {
                try db.checkpoint(sealed: [(SeriesID(0), chunk(0...9)), (SeriesID(9), chunk(0...9))], heads: [], throughSequence: 1)
            }
            #expect(try chunks(db).isEmpty)
            #expect(try heads(db).isEmpty)
            #expect(try db.checkpointSequence == 0)
            #expect(try walRecords(db).map(\.0) == [1])
        }
    }

    @Test func failedCommitStoresNothing() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let db = try open(path)
            defer { db.close() }
            _ = try db.commit(newSeries: [(SeriesID(0), seriesA)], records: [])
            let record = WALRecord(series: [SeriesID(1)], timestamps: [[1]], values: [[1]])
            // Series 1 is new, series 2 repeats series 0's labels: UNIQUE fails on the second row.
            #expect(throws: SQLiteError.self) {
                _ = try db.commit(newSeries: [(SeriesID(1), seriesB), (SeriesID(2), seriesA)], records: [record])
            }
            #expect(try db.loadSeries().map(\.0) == [SeriesID(0)])
            #expect(try walRecords(db).isEmpty)
            // A body that throws half-way through a transaction: rolled back as a whole.
            #expect(throws: Boom.self) {
                try db.connection.transaction {
                    _ = try db.commit(newSeries: [(SeriesID(1), seriesB)], records: [record])
                    throw Boom()
                }
            }
            #expect(try db.loadSeries().map(\.0) == [SeriesID(0)])
            #expect(try walRecords(db).isEmpty)
            // And the database still works afterwards; the failed sequence numbers may be skipped but never repeat.
            let seqs = try db.commit(newSeries: [(SeriesID(1), seriesB)], records: [record])
            #expect(seqs.count == 1)
            #expect(try db.loadSeries().map(\.1) == [seriesA, seriesB])
        }
    }

    @Test(arguments: Durability.allCases)
    func pragmasFollowDurability(_ durability: Durability) throws {
        try withTemporaryDirectory { dir in
            let db = try open(dir + "/kpid.sqlite", durability)
            defer { db.close() }
            #expect(db.durability == durability)
            #expect(try db.connection.pragma("synchronous") == (durability == .process ? "1" : "2"))
            #expect(try db.connection.pragma("journal_mode") == "wal")
            #expect(try db.connection.pragma("foreign_keys") == "1")
            #expect(try db.connection.pragma("application_id") == String(KPIDatabase.applicationID))
            #expect(try db.integrityCheck() == ["ok"])
        }
    }

    @Test func integrityCheckReportsForeignKeyViolations() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let db = try open(path)
            defer { db.close() }
            #expect(try db.integrityCheck() == ["ok"])
            let raw = try SQLiteConnection(path: path)
            try raw.execute("INSERT INTO heads(series_id, encoding, data) VALUES (42, 0, x'')")
            let findings = try db.integrityCheck()
            #expect(findings.count == 1)
            #expect(findings.first?.contains("heads") == true)
        }
    }

    @Test func backupWhileAnotherConnectionHoldsTheDatabase() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let db = try open(path)
            defer { db.close() }
            let records: [WALRecord] = (0..<50).map { (i: Int) -> WALRecord in
                let start = Int64(i) * 100
                let timestamps: [Int64] = Array(start..<(start + 100))
                let values = [Double](repeating: Double(i), count: 100)
                return WALRecord(series: [SeriesID(0)], timestamps: [timestamps], values: [values])
            }
            _ = try db.commit(newSeries: [(SeriesID(0), seriesA), (SeriesID(1), seriesB)], records: records)
            try db.checkpoint(sealed: [(SeriesID(0), chunk(0...999))], heads: [(SeriesID(1), chunk(5...6))], throughSequence: 10)

            // Another connection holds an open read transaction and the write lock with an
            // uncommitted row; the backup must neither wait for it nor include the row.
            let other = try SQLiteConnection(path: path)
            try other.execute("BEGIN IMMEDIATE")
            try other.execute("INSERT INTO meta(key, value) VALUES ('uncommitted', 'x')")
            let reader = try SQLiteConnection(path: path)
            try reader.execute("BEGIN")
            #expect(try reader.prepare("SELECT count(*) FROM wal").step())

            try db.backup(to: dir + "/backup.sqlite")
            try other.execute("COMMIT")
            try reader.execute("COMMIT")
            #expect(throws: SQLiteError.self) { try db.backup(to: dir + "/backup.sqlite") }

            let copy = try open(dir + "/backup.sqlite")
            defer { copy.close() }
            #expect(try copy.integrityCheck() == ["ok"])
            #expect(try copy.loadSeries().map(\.1) == db.loadSeries().map(\.1))
            #expect(try walRecords(copy).map(\.0) == Array(11...50))
            #expect(try walRecords(copy).map(\.1) == Array(records[10...]))
            #expect(try chunks(copy).map(\.1) == [chunk(0...999)])
            #expect(try heads(copy).map(\.1) == [chunk(5...6)])
            #expect(try copy.checkpointSequence == 10)
            #expect(try count(dir + "/backup.sqlite", "SELECT count(*) FROM meta WHERE key = 'uncommitted'") == 0)
        }
    }

    @Test func newerSchemaOnDiskIsAClearError() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            try open(path).close()
            try SQLiteConnection(path: path).pragma("user_version = \(KPIDatabase.currentSchemaVersion + 1)")
            #expect {
                try open(path)
            } throws: { error in
                guard let error = error as? StorageError else { return false }
                return error.kind == .schemaTooNew && error.description.contains("newer")
            }
            // Nothing was downgraded.
            #expect(try SQLiteConnection(path: path).pragma("user_version") == String(KPIDatabase.currentSchemaVersion + 1))
        }
    }

    @Test func foreignDatabasesAreRefused() throws {
        try withTemporaryDirectory { dir in
            let other = dir + "/other.sqlite"
            try SQLiteConnection(path: other).execute("CREATE TABLE accounts(id)")
            #expect { try open(other) } throws: { ($0 as? StorageError)?.kind == .notKPIDatabase }
            let stamped = dir + "/stamped.sqlite"
            try SQLiteConnection(path: stamped).execute("PRAGMA user_version = 1; PRAGMA application_id = 7")
            #expect { try open(stamped) } throws: { ($0 as? StorageError)?.kind == .notKPIDatabase }
            let garbage = dir + "/garbage.sqlite"
            try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: garbage))
            #expect(throws: (any Error).self) { try open(garbage) }
        }
    }

    @Test func corruptRowsAreReportedWithTableAndKey() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let db = try open(path)
            defer { db.close() }
            _ = try db.commit(
                newSeries: [(SeriesID(0), seriesA), (SeriesID(1), seriesB)],
                records: [
                    WALRecord(series: [SeriesID(0)], timestamps: [[1]], values: [[1]]),
                    WALRecord(series: [SeriesID(1)], timestamps: [[2]], values: [[2]]),
                ])
            try db.checkpoint(sealed: [(SeriesID(1), chunk(0...9))], heads: [(SeriesID(0), chunk(3...4))], throughSequence: 0)
            let raw = try SQLiteConnection(path: path)

            // Flip one byte of WAL row 2's payload.
            try raw.execute("UPDATE wal SET payload = substr(payload, 1, 10) || x'FF' || substr(payload, 12) WHERE seq = 2")
            var seen: [Int64] = []
            #expect {
                try db.forEachWALRecord(after: 0) { seq, _ in seen.append(seq) }
            } throws: { error in
                guard let error = error as? StorageError else { return false }
                return error.kind == .corrupt && error.table == "wal" && error.key == "seq=2"
                    && error.description.contains("wal") && error.description.contains("seq=2")
            }
            #expect(seen == [1])
            // A sample count that disagrees with the payload.
            try raw.execute("UPDATE wal SET sample_count = 5 WHERE seq = 1")
            #expect { try db.forEachWALRecord(after: 0) { _, _ in } } throws: { ($0 as? StorageError)?.key == "seq=1" }

            // Drop the last byte (compressed chunks are shorter than the 17 bytes cut here before).
            try raw.execute("UPDATE chunks SET data = substr(data, 1, length(data) - 1)")
            #expect { try db.forEachChunk { _, _ in } } throws: {
                let e = $0 as? StorageError
                return e?.table == "chunks" && e?.key == "series=1 min_ts=0"
            }
            try raw.execute("UPDATE chunks SET data = x'', sample_count = 1")  // length 0 but the row says 1 sample
            #expect { try db.forEachChunk { _, _ in } } throws: { ($0 as? StorageError)?.table == "chunks" }

            try raw.execute("UPDATE heads SET encoding = 9")
            #expect { try db.forEachHead { _, _ in } } throws: {
                let e = $0 as? StorageError
                return e?.table == "heads" && e?.key == "series=0" && e?.message.contains("encoding") == true
            }

            try raw.execute("UPDATE series SET labels = x'05' WHERE id = 1")
            #expect { try db.loadSeries() } throws: {
                let e = $0 as? StorageError
                return e?.table == "series" && e?.key == "id=1"
            }
        }
    }

    @Test func fileSizeGrowsWithData() throws {
        try withTemporaryDirectory { dir in
            let db = try open(dir + "/kpid.sqlite")
            defer { db.close() }
            let before = try db.fileSizeBytes()
            #expect(before > 0)
            let big = WALRecord(series: [SeriesID(0)], timestamps: [Array(0..<20_000)], values: [Array(repeating: 1, count: 20_000)])
            _ = try db.commit(newSeries: [(SeriesID(0), seriesA)], records: [big])
            #expect(try db.fileSizeBytes() >= before + 320_000)
        }
    }

    @Test func storeRecoveryRebuildsTheStore() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            do {
                let db = try open(path)
                _ = try db.commit(
                    newSeries: [(SeriesID(0), seriesA), (SeriesID(1), seriesB)],
                    records: [WALRecord(series: [SeriesID(0), SeriesID(1)], timestamps: [[1, 2], [3]], values: [[1, 2], [3]])])
                try db.checkpoint(sealed: [], heads: [(SeriesID(0), chunk(1...2))], throughSequence: 1)
                _ = try db.commit(newSeries: [], records: [WALRecord(series: [SeriesID(1)], timestamps: [[4]], values: [[4]])])
                db.close()
            }
            let db = try open(path)
            defer { db.close() }
            let store = ColumnarStore()
            let summary = try StoreRecovery.load(db, into: store, logger: testLogger)
            #expect(summary.series == 2)
            #expect(summary.heads == 1)
            #expect(summary.replayedRecords == 1)
            #expect(store.seriesID(for: seriesB) == SeriesID(1))
            #expect(store.maxTime(of: SeriesID(1)) == 4)
        }
    }
}
