import Foundation
import KPICore

/// What `kpid check` found in a database file.
public struct DatabaseCheckReport: Sendable {
    /// One damaged item: where and what.
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        /// `sqlite` for SQLite's own checks, else the table (`series`, `chunks`, `heads`, `wal`).
        public var table: String
        /// The row (`series=3 min_ts=...`, `seq=17`), empty for file-level findings.
        public var key: String
        /// What is wrong.
        public var problem: String
        /// `table key: problem`.
        public var description: String { key.isEmpty ? "\(table): \(problem)" : "\(table) \(key): \(problem)" }
    }

    /// Every problem found, in the order checked.
    public var findings: [Finding] = []
    /// Rows checked per table.
    public var checked: [String: Int] = [:]
    /// True when nothing is wrong.
    public var isClean: Bool { findings.isEmpty }
}

extension KPIDatabase {
    /// Checks the database at `path` without changing it: `PRAGMA integrity_check` and
    /// `foreign_key_check`, then every series row, chunk (checksum, decoding, its row's
    /// min_ts/max_ts/sample_count), head and write-ahead record (checksum, decoding, sample
    /// count). Every bad item is reported; the check goes on past it. Safe while a server
    /// runs on the file: it reads one consistent snapshot.
    public static func check(path: String) throws -> DatabaseCheckReport {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StorageError(.invalidArgument, "\(path) does not exist")
        }
        let connection = try SQLiteConnection(path: path, readOnly: true)
        defer { connection.close() }
        try connection.busyTimeout(busyTimeoutMs)
        var report = DatabaseCheckReport()
        func finding(_ table: String, _ key: String, _ problem: String) {
            report.findings.append(.init(table: table, key: key, problem: problem))
        }
        let application = try connection.pragma("application_id").flatMap { Int32($0) } ?? 0
        guard application == applicationID else {
            throw StorageError(.notKPIDatabase, "\(path) is not a kpid database (application_id \(application))")
        }
        // One read transaction: every table is seen as of the same commit.
        try connection.execute("BEGIN")
        defer { try? connection.execute("COMMIT") }

        for line in try connection.integrityCheck() where line != "ok" { finding("sqlite", "", line) }
        let foreign = try connection.prepare("PRAGMA foreign_key_check")
        while try foreign.step() {
            finding(
                "sqlite", "",
                "foreign key violation: \(foreign.string(at: 0) ?? "?") rowid \(foreign.string(at: 1) ?? "-") "
                    + "references missing \(foreign.string(at: 2) ?? "?")")
        }

        let series = try connection.prepare("SELECT id, labels FROM series ORDER BY id")
        var count = 0
        while try series.step() {
            count += 1
            let id = series.int64(at: 0)
            do throws(StorageError) {
                _ = try series.withBlob(at: 1) { (bytes) throws(StorageError) in try LabelsCodec.decode(bytes) }
            } catch {
                finding("series", "id=\(id)", error.message)
            }
        }
        report.checked["series"] = count

        // Files older than schema v4 (e.g. a backup being checked before a restore) have no
        // rollup column.
        let probe = try connection.prepare("SELECT count(*) FROM pragma_table_info('chunks') WHERE name = 'rollup'")
        let hasRollups = try probe.step() && probe.int64(at: 0) > 0
        let chunks = try connection.prepare(
            "SELECT series_id, min_ts, max_ts, sample_count, encoding, data, \(hasRollups ? "rollup" : "NULL") FROM chunks "
                + "ORDER BY series_id, min_ts")
        count = 0
        while try chunks.step() {
            count += 1
            let key = "series=\(chunks.int64(at: 0)) min_ts=\(chunks.int64(at: 1))"
            do throws(StorageError) {
                let chunk = try decodeChunk(chunks, encodingColumn: 4, table: "chunks", key: key)
                // A stored rollup must be exactly what the samples give (a NULL one, from
                // before schema v4, is recomputed on load and is fine).
                if !chunks.isNull(at: 6) {
                    let plain = ChunkCodec.plainRollup(chunks.blob(at: 6), encoding: Int(chunks.int64(at: 4)))
                    if plain == nil { finding("chunks", key, "stored rollup is not a zstd frame") }
                    let stored = plain ?? []
                    let columns = chunk.columns
                    let sketches = (try? ChunkRollup(encoded: stored))?.hasSketches ?? true
                    let expected = ChunkRollup.compute(timestamps: columns.timestamps, values: columns.values, sketches: sketches)
                    if plain != nil, expected?.encoded != stored {
                        finding("chunks", key, "stored rollup differs from the rollup of the chunk's samples")
                    }
                }
                if chunk.minTime != chunks.int64(at: 1) || chunk.maxTime != chunks.int64(at: 2)
                    || Int64(chunk.count) != chunks.int64(at: 3)
                {
                    finding(
                        "chunks", key,
                        "chunk holds \(chunk.count) samples over [\(chunk.minTime), \(chunk.maxTime)] but its row says "
                            + "\(chunks.int64(at: 3)) over [\(chunks.int64(at: 1)), \(chunks.int64(at: 2))]")
                }
            } catch {
                finding("chunks", key, error.message)
            }
        }
        report.checked["chunks"] = count

        let heads = try connection.prepare("SELECT series_id, encoding, data FROM heads ORDER BY series_id")
        count = 0
        while try heads.step() {
            count += 1
            let key = "series=\(heads.int64(at: 0))"
            do throws(StorageError) {
                _ = try decodeChunk(heads, encodingColumn: 1, table: "heads", key: key)
            } catch {
                finding("heads", key, error.message)
            }
        }
        report.checked["heads"] = count

        let wal = try connection.prepare("SELECT seq, sample_count, payload FROM wal ORDER BY seq")
        count = 0
        while try wal.step() {
            count += 1
            let key = "seq=\(wal.int64(at: 0))"
            do throws(StorageError) {
                let record = try wal.withBlob(at: 2) { (bytes) throws(StorageError) in try WALRecord(decoding: bytes) }
                if Int64(record.sampleCount) != wal.int64(at: 1) {
                    finding("wal", key, "payload holds \(record.sampleCount) samples, row says \(wal.int64(at: 1))")
                } else if let outside = record.timestamps.lazy.flatMap({ $0 }).first(where: { !SampleTime.contains($0) }) {
                    finding("wal", key, SampleTime.problem(outside)! + "; recovery leaves this record out")
                }
            } catch {
                finding("wal", key, error.message)
            }
        }
        report.checked["wal"] = count
        return report
    }
}
