import Foundation
import KPICore
import Testing

@testable import KPIStorage

/// `KPIDatabase.applyRewrites` and the writer's deletions on real SQLite files.
@Suite struct DeletionStorageTests {
    @Test func rewritesAreRefusedWhileWriteAheadRowsRemain() throws {
        try withTemporaryDirectory { dir in
            let db = try KPIDatabase(path: dir + "/kpid.sqlite", durability: .process, logger: testLogger)
            defer { db.close() }
            #expect(try db.autoVacuumMode() == 2)
            let id = SeriesID(0)
            let sequences = try db.commit(
                newSeries: [(id, labels("m", ["site": "JFK"]))],
                records: [WALRecord(series: [id], timestamps: [[10, 20, 30]], values: [[1, 2, 3]])])
            var rewrite = SeriesRewrite(id: id)
            rewrite.removesSeries = true
            // A write-ahead row holds samples of the series: deleting now could be undone by replay.
            #expect(throws: StorageError.self) { try db.applyRewrites([rewrite]) }
            #expect(try db.loadSeries().count == 1)
            try db.checkpoint(
                sealed: [], heads: [(id, Chunk(timestamps: [10, 20, 30], values: [1, 2, 3]))], throughSequence: sequences[0])
            try db.applyRewrites([rewrite])
            #expect(try db.loadSeries().isEmpty)
            var heads = 0
            try db.forEachHead { _, _ in heads += 1 }
            #expect(heads == 0)
        }
    }

    /// Through the writer: samples still only in write-ahead rows are checkpointed first, so
    /// a reopened database (recovery) holds exactly what is left.
    @Test func writerDeletionIsWhatRecoverySees() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let config = StoreConfiguration(outOfOrderWindowMs: 10, chunkSize: 16)
            let store = ColumnarStore(configuration: config)
            let db = try KPIDatabase(path: path, durability: .process, logger: testLogger)
            // A long checkpoint interval: every sample is still in write-ahead rows at the delete.
            let writer = try GroupCommitWriter(
                store: store, database: db, limits: WriteLimits(), logger: testLogger, checkpointInterval: 3600,
                checkpointEveryRecords: 1_000_000)
            writer.start()
            let ts = (0..<100).map { Int64($0) * 100 }
            var batch = SampleBatch()
            batch.append(labels("m", ["site": "JFK"]), timestamps: ts, values: ts.map { Double($0) })
            batch.append(labels("m", ["site": "LHR"]), timestamps: ts, values: ts.map { -Double($0) })
            #expect((try? writer.submit(batch).get())?.samples == 200)
            let result = try writer.deleteSamples([SeriesID(0)], start: 1000, end: 4950).get()
            #expect(result.samples == 40)
            #expect(try writer.deleteSamples([SeriesID(1)], start: .min, end: .max).get().seriesRemoved == 1)
            let expected = ts.filter { $0 < 1000 || $0 > 4950 }
            #expect(store.read(SeriesID(0)).timestamps == expected)
            // Crash-like: no final checkpoint; reopen a second connection and recover from it.
            let reopened = try KPIDatabase(path: path, durability: .process, logger: testLogger)
            let recovered = ColumnarStore(configuration: config)
            _ = try StoreRecovery.load(reopened, into: recovered, logger: testLogger)
            reopened.close()
            #expect(recovered.read(SeriesID(0)).timestamps == expected)
            #expect(recovered.read(SeriesID(0)).values == expected.map { Double($0) })
            #expect(recovered.seriesCount == 1)
            #expect(recovered.labelValues("site") == ["JFK"])
            writer.shutdown()
        }
    }
}
