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
    }

    public static func load(_ database: KPIDatabase, into store: ColumnarStore, logger: Logger) throws -> Summary {
        let started = Date()
        let series = try database.loadSeries()
        for (id, labels) in series { store.addSeries(labels, id: id) }
        var chunks = 0
        try database.forEachChunk { id, chunk in
            store.restore(id, chunk: chunk, isHead: false)
            chunks += 1
        }
        var heads = 0
        try database.forEachHead { id, chunk in
            store.restore(id, chunk: chunk, isHead: true)
            heads += 1
        }
        var replayed = 0
        try database.forEachWALRecord(after: try database.checkpointSequence) { _, record in
            store.apply(newSeries: [], series: record.series, timestamps: record.timestamps, values: record.values)
            replayed += 1
        }
        let summary = Summary(
            series: series.count, chunks: chunks, heads: heads, replayedRecords: replayed,
            seconds: Date().timeIntervalSince(started))
        logger.info(
            "store recovered",
            metadata: [
                "series": "\(summary.series)", "chunks": "\(chunks)", "heads": "\(heads)",
                "replayed_records": "\(replayed)", "seconds": "\(String(format: "%.3f", summary.seconds))",
            ])
        return summary
    }
}
