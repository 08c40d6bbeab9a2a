import Foundation
import KPICore
import Logging

/// Rebuilds the in-memory store from the database: series, sealed chunks, heads as of the last
/// checkpoint, then every write-ahead record committed after it, in order.
public enum StoreRecovery {
    public struct Summary: Sendable {
        public var series: Int
        public var chunks: Int
        public var heads: Int
        public var replayedRecords: Int
        public var seconds: Double
        /// Chunk and head rows that failed their checks and were left out (see `load`).
        public var corrupt: [StorageError] = []
    }

    public static func load(_ database: KPIDatabase, into store: ColumnarStore, logger: Logger) throws -> Summary {
        let started = Date()
        let series = try database.loadSeries()
        for (id, labels) in series { store.addSeries(labels, id: id) }
        var chunks = 0
        // A chunk or head that fails its checksum or checks is isolated: left out of memory, so
        // it is never served, logged, counted, and kept in the file for `kpid check` and repair.
        // Start-up goes on with everything else.
        final class Found {
            var rows: [StorageError] = []
        }
        let found = Found()
        let isolate: (StorageError) -> Void = { error in
            logger.error(
                "corrupt row left out of the store (never served); run kpid check",
                metadata: ["table": "\(error.table ?? "?")", "row": "\(error.key ?? "?")", "reason": "\(error.message)"])
            found.rows.append(error)
        }
        try database.forEachChunk(skipCorrupt: isolate, sketches: store.configuration.rollupSketches) { id, chunk in
            store.restore(id, chunk: chunk, isHead: false)
            chunks += 1
        }
        var heads = 0
        try database.forEachHead(skipCorrupt: isolate) { id, chunk in
            store.restore(id, chunk: chunk, isHead: true)
            heads += 1
        }
        var replayed = 0
        try database.forEachWALRecord(after: try database.checkpointSequence, skipCorrupt: isolate) { _, record in
            store.apply(newSeries: [], series: record.series, timestamps: record.timestamps, values: record.values)
            replayed += 1
        }
        let summary = Summary(
            series: series.count, chunks: chunks, heads: heads, replayedRecords: replayed,
            seconds: Date().timeIntervalSince(started), corrupt: found.rows)
        logger.info(
            "store recovered",
            metadata: [
                "series": "\(summary.series)", "chunks": "\(chunks)", "heads": "\(heads)",
                "replayed_records": "\(replayed)", "corrupt_rows": "\(found.rows.count)",
                "seconds": "\(String(format: "%.3f", summary.seconds))",
            ])
        return summary
    }
}
