import Foundation
import KPICore
import Testing

@testable import KPIStorage

/// Rollups are written with their chunk, read back as written, recomputed when a row has none
/// (files from before schema v4) or a damaged one, and `kpid check` flags a stored rollup that
/// disagrees with its samples.
@Suite struct RollupStorageTests {
    static let labels = Labels(metric: "queue_length_people", ["site": "JFK"])

    /// A sealed 10 s chunk (minute and hour levels) of integer values.
    static func sealedChunk(start: Int64) -> Chunk {
        let ts = (0..<512).map { start + Int64($0) * 10_000 }
        return Chunk.sealed(timestamps: ts, values: ts.map { Double(($0 / 10_000) % 37) })
    }

    static func write(_ path: String, _ chunks: [Chunk]) throws {
        let db = try KPIDatabase(path: path, durability: .process, logger: testLogger, softwareVersion: "test")
        defer { db.close() }
        _ = try db.commit(newSeries: [(SeriesID(0), labels)], records: [])
        try db.checkpoint(sealed: chunks.map { (SeriesID(0), $0) }, heads: [], throughSequence: 0)
    }

    static func load(_ path: String) throws -> [Chunk] {
        let db = try KPIDatabase(path: path, durability: .process, logger: testLogger, softwareVersion: "test")
        defer { db.close() }
        var out: [Chunk] = []
        try db.forEachChunk { _, chunk in out.append(chunk) }
        return out
    }

    static func sql(_ path: String, _ text: String) throws {
        let connection = try SQLiteConnection(path: path)
        try connection.execute(text)
    }

    @Test func rollupsRoundTripThroughTheFile() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let written = [Self.sealedChunk(start: 1_794_787_200_000), Self.sealedChunk(start: 1_794_787_200_000 + 5_120_000)]
            #expect(written.allSatisfy { $0.rollup?.levels == [.minute, .hour] })
            try Self.write(path, written)
            // Stored as written: the exact bytes, in a zstd frame (encoding 3).
            let stored = try SQLiteConnection(path: path).prepare("SELECT rollup, encoding FROM chunks ORDER BY min_ts")
            var blobs: [[UInt8]] = []
            while try stored.step() {
                #expect(stored.int64(at: 1) == Int64(ChunkCodec.zstdEncoding))
                blobs.append(try Zstd.decompress(stored.blob(at: 0)))
            }
            #expect(blobs == written.map { $0.rollup!.encoded })
            let loaded = try Self.load(path)
            #expect(loaded.map(\.rollup) == written.map(\.rollup))
            #expect(try KPIDatabase.check(path: path).isClean)
        }
    }

    /// A NULL rollup (rows of a v3 file) and a damaged one are recomputed from the samples.
    @Test func missingOrDamagedRollupsAreRecomputed() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let written = [Self.sealedChunk(start: 1_794_787_200_000), Self.sealedChunk(start: 1_794_787_200_000 + 5_120_000)]
            try Self.write(path, written)
            try Self.sql(path, "UPDATE chunks SET rollup = NULL WHERE min_ts = \(written[0].minTime)")
            try Self.sql(path, "UPDATE chunks SET rollup = substr(rollup, 1, 20) WHERE min_ts = \(written[1].minTime)")
            #expect(try Self.load(path).map(\.rollup) == written.map(\.rollup))
        }
    }

    /// Loading with sketches off (the `rollup-sketches` setting changed) recomputes the rollups
    /// without them, and `kpid check` accepts rows of either kind.
    @Test func loadingWithoutSketchesRecomputes() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let a = Self.sealedChunk(start: 1_794_787_200_000)
            try Self.write(
                path,
                [
                    a,
                    Chunk.sealed(
                        timestamps: [1_794_800_000_000] + (1...9).map { 1_794_800_000_000 + $0 * 1_000 },
                        values: Array(repeating: 1, count: 10), sketches: false),
                ])
            #expect(try KPIDatabase.check(path: path).isClean)
            let db = try KPIDatabase(path: path, durability: .process, logger: testLogger, softwareVersion: "test")
            defer { db.close() }
            var loaded: [Chunk] = []
            try db.forEachChunk(sketches: false) { _, chunk in loaded.append(chunk) }
            let (ts, vs) = a.columns
            #expect(loaded[0].rollup == ChunkRollup.compute(timestamps: ts, values: vs, sketches: false))
            #expect(loaded.allSatisfy { $0.rollup?.hasSketches == false })
        }
    }

    /// `kpid check` recomputes every stored rollup: one of another chunk's samples (valid bytes,
    /// wrong content) is reported; a NULL one is fine.
    @Test func checkReportsARollupThatDisagreesWithItsSamples() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/kpid.sqlite"
            let a = Self.sealedChunk(start: 1_794_787_200_000)
            let b = Self.sealedChunk(start: 1_794_787_200_000 + 5_120_000)
            try Self.write(path, [a, b])
            try Self.sql(path, "UPDATE chunks SET rollup = NULL WHERE min_ts = \(a.minTime)")
            #expect(try KPIDatabase.check(path: path).isClean)
            // A rollup whose values differ: same timestamps, values + 1.
            let (ts, vs) = a.columns
            let shifted = ChunkRollup.compute(timestamps: ts, values: vs.map { $0 + 1 })!
            let shiftedHex = Zstd.compress(shifted.encoded).map { String(format: "%02X", $0) }.joined()
            try Self.sql(path, "UPDATE chunks SET rollup = X'\(shiftedHex)' WHERE min_ts = \(a.minTime)")
            let report = try KPIDatabase.check(path: path)
            #expect(report.findings.count == 1)
            #expect(report.findings.first?.problem.contains("rollup") == true)
        }
    }
}
