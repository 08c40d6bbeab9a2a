import KPICore

/// A read-only connection of its own to a kpid database, for the remote-write forwarder: it reads
/// the write-ahead rows the writer has committed but the forwarder has not sent yet, on its own
/// thread, while the writer keeps writing (SQLite's WAL mode lets a reader run beside the writer).
public final class WALReader {
    private let connection: SQLiteConnection

    /// One committed write-ahead row.
    public struct Row: Sendable {
        public var sequence: Int64
        /// When it was committed (unix ms).
        public var createdMs: Int64
        public var record: WALRecord
    }

    public init(path: String) throws {
        connection = try SQLiteConnection(path: path, readOnly: true)
        try connection.busyTimeout(5000)
    }

    /// Up to `limit` rows with `seq > sequence`, ascending. A row that does not decode throws
    /// `.corrupt` naming it.
    public func rows(after sequence: Int64, limit: Int) throws -> [Row] {
        let statement = try connection.cachedStatement(
            "SELECT seq, created_ms, sample_count, payload FROM wal WHERE seq > ?1 ORDER BY seq LIMIT ?2")
        defer { statement.reset() }
        try statement.bind(sequence, at: 1)
        try statement.bind(Int64(limit), at: 2)
        var out: [Row] = []
        while try statement.step() {
            let seq = statement.int64(at: 0)
            let record: WALRecord
            do throws(StorageError) {
                record = try statement.withBlob(at: 3) { (bytes) throws(StorageError) in try WALRecord(decoding: bytes) }
            } catch {
                throw error.located(table: "wal", key: "seq=\(seq)")
            }
            out.append(Row(sequence: seq, createdMs: statement.int64(at: 1), record: record))
        }
        return out
    }

    /// Rows and samples with `seq > sequence`, and when the oldest of them was committed.
    public func backlog(after sequence: Int64) throws -> (rows: Int, samples: Int, oldestMs: Int64?) {
        let statement = try connection.cachedStatement(
            "SELECT count(*), coalesce(sum(sample_count), 0), min(created_ms) FROM wal WHERE seq > ?1")
        defer { statement.reset() }
        try statement.bind(sequence, at: 1)
        guard try statement.step() else { return (0, 0, nil) }
        let rows = Int(statement.int64(at: 0))
        return (rows, Int(statement.int64(at: 1)), rows > 0 ? statement.int64(at: 2) : nil)
    }

    /// Sequence and sample count of the rows after `sequence`, oldest first, until their
    /// samples reach `samples` (the rows to drop from a full queue); payloads are not read.
    public func oldestRows(after sequence: Int64, coveringSamples samples: Int) throws -> [(sequence: Int64, samples: Int)] {
        let statement = try connection.cachedStatement("SELECT seq, sample_count FROM wal WHERE seq > ?1 ORDER BY seq")
        defer { statement.reset() }
        try statement.bind(sequence, at: 1)
        var out: [(Int64, Int)] = []
        var total = 0
        while total < samples, try statement.step() {
            let n = Int(statement.int64(at: 1))
            out.append((statement.int64(at: 0), n))
            total += n
        }
        return out
    }

    /// The highest sequence ever assigned (0 before the first write).
    public func highestAssignedSequence() throws -> Int64 {
        let statement = try connection.cachedStatement("SELECT seq FROM sqlite_sequence WHERE name = 'wal'")
        defer { statement.reset() }
        return try statement.step() ? statement.int64(at: 0) : 0
    }

    public func close() { connection.close() }
}
