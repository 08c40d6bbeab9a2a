/// Settings of the in-memory store.
public struct StoreConfiguration: Sendable {
    /// How far behind the newest sample of a series a new sample may be and still be merged;
    /// older samples are rejected. Default one hour.
    public var outOfOrderWindowMs: Int64 = 3_600_000
    /// Samples per sealed chunk.
    public var chunkSize: Int = 512
    /// Whether sealed chunks' rollups carry quantile sketches (for `approx_quantile` from
    /// rollups); without, rollups cost a fraction of the memory and `approx_quantile` reads
    /// samples.
    public var rollupSketches = true

    public init(outOfOrderWindowMs: Int64 = 3_600_000, chunkSize: Int = 512, rollupSketches: Bool = true) {
        precondition(outOfOrderWindowMs >= 0 && chunkSize > 0)
        self.outOfOrderWindowMs = outOfOrderWindowMs
        self.chunkSize = chunkSize
        self.rollupSketches = rollupSketches
    }
}

/// Counts describing the store, for /metrics and benchmarks.
public struct StoreStats: Sendable, Equatable {
    public var seriesCount: Int
    public var sampleCount: Int
    public var chunkCount: Int
    /// Samples: sealed compressed chunks plus the open heads.
    public var memoryBytes: Int
    /// Rollups of the sealed chunks, on top of `memoryBytes`.
    public var rollupBytes: Int = 0
}

/// What changed since the last checkpoint: chunks sealed or re-sealed, and the current head of
/// every series whose head changed (nil when it became empty).
public struct CheckpointDelta: Sendable {
    public var sealed: [(SeriesID, Chunk)] = []
    public var heads: [(SeriesID, Chunk?)] = []
    public var isEmpty: Bool { sealed.isEmpty && heads.isEmpty }

    public init() {}
}

/// The columnar in-memory store: the series index plus, per series, timestamp and value
/// columns (sealed chunks and an open head).
///
/// Concurrency: many readers or one writer at a time, through a readers-writer lock. Only the
/// ingest writer mutates, so a batch is applied under one write-lock acquisition and readers
/// never see half of it.
public final class ColumnarStore: @unchecked Sendable {
    // @unchecked: `index` and `columns` are only touched while holding `lock` (read or write).

    public let configuration: StoreConfiguration
    // Internal (not private) so that deletion and retention (ColumnarStore+Deletion.swift)
    // can work under the same lock.
    let lock = ReadWriteLock()
    var index = SeriesIndex()
    /// `columns[id.rawValue]`.
    var columns: [SeriesColumns] = []

    public init(configuration: StoreConfiguration = StoreConfiguration()) {
        self.configuration = configuration
    }

    // MARK: Reading

    public func seriesID(for labels: Labels) -> SeriesID? {
        lock.withReadLock { index.id(for: labels) }
    }

    public func labels(of id: SeriesID) -> Labels? {
        lock.withReadLock { index.labels(of: id) }
    }

    /// The next id the writer should assign to a new series.
    public var nextSeriesID: SeriesID { lock.withReadLock { index.nextID } }

    /// Series matching every matcher, ascending by id, with their labels.
    ///
    /// Regular expressions are matched first, against a copy of their label's values taken
    /// under the lock and outside it (a slow pattern never blocks writers), each value once,
    /// under `deadline`; throws when it passes. A series created meanwhile with a value not
    /// seen then counts as not matching the expression.
    public func select(
        _ matchers: [LabelMatcher], deadline: QueryDeadline = .ceiling
    ) throws(DeadlineExceeded) -> [(id: SeriesID, labels: Labels)] {
        var resolved = matchers
        for k in resolved.indices where resolved[k].isRegex {
            let name = resolved[k].name
            let values = lock.withReadLock { index.unsortedValues(of: name) }
            resolved[k] = try resolved[k].resolved(against: values, deadline: deadline)
        }
        return lock.withReadLock {
            index.select(resolved).compactMap { id in index.labels(of: id).map { (id, $0) } }
        }
    }

    /// The series whose label `name` is `value` (every series with `name` nil), ascending by
    /// id: an equality selection, which has no regular expression to time out.
    public func series(withLabel name: String? = nil, equalTo value: String = "") -> [(id: SeriesID, labels: Labels)] {
        let matchers = name.flatMap { try? LabelMatcher($0, .equal, value) }.map { [$0] } ?? []
        return lock.withReadLock {
            index.select(matchers).compactMap { id in index.labels(of: id).map { (id, $0) } }
        }
    }

    /// Label names in use, sorted.
    public var labelNames: [String] { lock.withReadLock { index.labelNames } }

    /// Values of one label in use, sorted.
    public func labelValues(_ name: String) -> [String] { lock.withReadLock { index.values(of: name) } }

    /// The newest timestamp stored for a series, or nil for an unknown or empty series.
    public func maxTime(of id: SeriesID) -> Int64? {
        lock.withReadLock {
            let i = Int(id.rawValue)
            guard i < columns.count, columns[i].maxTime != .min else { return nil }
            return columns[i].maxTime
        }
    }

    /// Copies the samples of a series with timestamps in `[start, end]` (inclusive).
    public func read(_ id: SeriesID, start: Int64 = .min, end: Int64 = .max) -> (timestamps: [Int64], values: [Double]) {
        var ts: [Int64] = []
        var vs: [Double] = []
        withSlices(id, start: start, end: end) { t, v in
            ts.append(contentsOf: t)
            vs.append(contentsOf: v)
        }
        return (ts, vs)
    }

    /// Copies at most `limit` samples of a series with timestamps in `[start, end]`, oldest
    /// first; a caller pages through a long range by starting again after the last timestamp.
    public func read(_ id: SeriesID, start: Int64, end: Int64, limit: Int) -> (timestamps: [Int64], values: [Double]) {
        var ts: [Int64] = []
        var vs: [Double] = []
        lock.withReadLock {
            let i = Int(id.rawValue)
            guard i < columns.count else { return }
            columns[i].forEachSlice(start: start, end: end) { t, v in
                let room = limit - ts.count
                ts.append(contentsOf: t.prefix(room))
                vs.append(contentsOf: v.prefix(room))
                return ts.count < limit
            }
        }
        return (ts, vs)
    }

    /// Calls `body` with contiguous column slices of the series in `[start, end]`, oldest first,
    /// under the read lock (no copy). `body` must not call back into the store's writer API.
    public func withSlices(
        _ id: SeriesID, start: Int64 = .min, end: Int64 = .max,
        _ body: (ArraySlice<Int64>, ArraySlice<Double>) throws -> Void
    ) rethrows {
        try lock.withReadLock {
            let i = Int(id.rawValue)
            guard i < columns.count else { return }
            try columns[i].forEachSlice(start: start, end: end) { t, v in
                try body(t, v)
                return true
            }
        }
    }

    /// Calls `rollup` with each sealed chunk of the series wholly inside `[start, end]` that
    /// keeps rollups at `level` (with sketches when `sketches`; its `rollup` is set), and `slice` with the column slices of the other samples in the
    /// range, oldest first, under the read lock. Neither may call the store's writer API.
    public func withSegments(
        _ id: SeriesID, start: Int64, end: Int64, level: RollupLevel, sketches: Bool = false,
        rollup: (Chunk) throws -> Void,
        slice: (ArraySlice<Int64>, ArraySlice<Double>) throws -> Void
    ) rethrows {
        try lock.withReadLock {
            let i = Int(id.rawValue)
            guard i < columns.count else { return }
            try columns[i].forEachSegment(start: start, end: end, level: level, sketches: sketches, rollup: rollup) { t, v in
                try slice(t, v)
                return true
            }
        }
    }

    public var stats: StoreStats {
        lock.withReadLock {
            var samples = 0
            var chunks = 0
            var bytes = 0
            var rollups = 0
            for c in columns {
                samples += c.sampleCount
                chunks += c.chunks.count
                bytes += c.memoryBytes
                rollups += c.rollupBytes
            }
            return StoreStats(
                seriesCount: index.count, sampleCount: samples, chunkCount: chunks, memoryBytes: bytes, rollupBytes: rollups)
        }
    }

    public var seriesCount: Int { lock.withReadLock { index.count } }

    // MARK: Writing (the single writer only)

    /// Applies one committed batch atomically: registers the new series, then merges every
    /// series' samples. `newSeries` ids must be ascending and start at `nextSeriesID`.
    public func apply(newSeries: [(SeriesID, Labels)], series: [SeriesID], timestamps: [[Int64]], values: [[Double]]) {
        precondition(series.count == timestamps.count && series.count == values.count)
        lock.withWriteLock {
            for (id, labels) in newSeries { addSeriesLocked(labels, id: id) }
            for k in series.indices {
                let i = Int(series[k].rawValue)
                precondition(i < columns.count && index.labels(of: series[k]) != nil, "unknown series \(series[k])")
                columns[i].insert(
                    timestamps: timestamps[k], values: values[k],
                    window: configuration.outOfOrderWindowMs, chunkSize: configuration.chunkSize,
                    sketches: configuration.rollupSketches)
            }
        }
    }

    /// Registers a series without samples (recovery).
    public func addSeries(_ labels: Labels, id: SeriesID) {
        lock.withWriteLock { addSeriesLocked(labels, id: id) }
    }

    private func addSeriesLocked(_ labels: Labels, id: SeriesID) {
        index.insert(labels, id: id)
        while columns.count <= Int(id.rawValue) { columns.append(SeriesColumns()) }
    }

    /// Restores persisted state of a series (recovery): sealed chunks in time order, then its
    /// head. Restored data counts as persisted.
    public func restore(_ id: SeriesID, chunk: Chunk, isHead: Bool) {
        lock.withWriteLock {
            let i = Int(id.rawValue)
            precondition(i < columns.count, "restore of unknown series \(id)")
            if chunk.isEmpty { return }
            if isHead {
                (columns[i].headTimestamps, columns[i].headValues) = chunk.columns
            } else {
                columns[i].chunks.append(chunk)
            }
            columns[i].maxTime = max(columns[i].maxTime, chunk.maxTime)
        }
    }

    /// Hands over what changed since the last call, for a checkpoint, and marks it persisted.
    /// Call it on the writer after the last applied batch that the checkpoint covers.
    public func drainCheckpoint() -> CheckpointDelta {
        lock.withWriteLock {
            var delta = CheckpointDelta()
            for i in columns.indices where columns[i].headDirty || !columns[i].unpersistedChunks.isEmpty {
                let id = SeriesID(UInt32(i))
                for chunk in columns[i].unpersistedChunks { delta.sealed.append((id, chunk)) }
                columns[i].unpersistedChunks.removeAll()
                if columns[i].headDirty {
                    let head =
                        columns[i].headTimestamps.isEmpty
                        ? nil : Chunk(timestamps: columns[i].headTimestamps, values: columns[i].headValues)
                    delta.heads.append((id, head))
                    columns[i].headDirty = false
                }
            }
            return delta
        }
    }
}
