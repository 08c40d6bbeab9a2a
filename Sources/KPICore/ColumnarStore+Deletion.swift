/// The change a deletion or a retention run makes to one series, planned from the store's
/// current state, written to the database, then applied to the store (in that order, by the
/// single writer, so the two never disagree).
public struct SeriesRewrite: Sendable {
    /// The series.
    public let id: SeriesID
    /// Start times (`minTime`) of the sealed chunks that are dropped or replaced.
    public var removedChunks: [Int64] = []
    /// Chunks replacing partly deleted ones (ascending, never overlapping a kept chunk).
    public var addedChunks: [Chunk] = []
    /// Whether the open head changes; `head` is its new content (nil when it becomes empty).
    public var headChanged = false
    /// The new head when `headChanged` (nil: the head becomes empty).
    public var head: Chunk? = nil
    /// Samples no longer stored.
    public var removedSamples = 0
    /// The series holds no sample afterwards: it leaves the index (and the series table).
    public var removesSeries = false
    /// New retention floor (samples before it are hidden from reads), if it rises.
    public var floor: Int64? = nil

    /// A rewrite of `id` that changes nothing yet.
    public init(id: SeriesID) { self.id = id }

    /// Whether the database must change (a floor alone lives only in memory).
    public var changesStorage: Bool { !removedChunks.isEmpty || !addedChunks.isEmpty || headChanged || removesSeries }
}

/// Counts of what a set of rewrites removes.
public struct RewriteCounts: Sendable, Equatable {
    /// Samples removed.
    public var samples = 0
    /// Sealed chunks dropped whole or rewritten.
    public var chunks = 0
    /// Series removed (left empty).
    public var series = 0

    /// Totals over `rewrites`.
    public init(_ rewrites: [SeriesRewrite]) {
        for r in rewrites {
            samples += r.removedSamples
            chunks += r.removedChunks.count
            if r.removesSeries { series += 1 }
        }
    }
}

extension ColumnarStore {
    /// Plans deleting the samples of `ids` with timestamps in `[start, end]` (inclusive): sealed
    /// chunks inside the range are dropped, chunks straddling it are rebuilt without those
    /// samples, and the head is trimmed. Series that end up empty are removed. Ids no longer
    /// in the index are skipped. Reads only; apply with ``apply(_:)``.
    public func planDeletion(_ ids: [SeriesID], start: Int64, end: Int64) -> [SeriesRewrite] {
        guard start <= end else { return [] }
        return lock.withReadLock {
            var out: [SeriesRewrite] = []
            for id in ids {
                let i = Int(id.rawValue)
                guard i < columns.count, index.labels(of: id) != nil else { continue }
                let c = columns[i]
                var rewrite = SeriesRewrite(id: id)
                var keptChunks = c.chunks.count
                for chunk in c.chunks where chunk.maxTime >= start && chunk.minTime <= end {
                    rewrite.removedChunks.append(chunk.minTime)
                    keptChunks -= 1
                    if chunk.minTime >= start && chunk.maxTime <= end {
                        rewrite.removedSamples += chunk.count
                        continue
                    }
                    let (ts, vs) = chunk.columns
                    let (keptT, keptV) = Self.outside(ts, vs, start: start, end: end)
                    rewrite.removedSamples += ts.count - keptT.count
                    // The kept samples on each side of the range stay one chunk: ordering with
                    // the neighbours is unchanged, since they come from this chunk's span.
                    if !keptT.isEmpty {
                        rewrite.addedChunks.append(
                            Chunk.sealed(timestamps: keptT, values: keptV, sketches: configuration.rollupSketches))
                        keptChunks += 1
                    }
                }
                var headCount = c.headTimestamps.count
                if let first = c.headTimestamps.first, let last = c.headTimestamps.last, last >= start && first <= end {
                    let (keptT, keptV) = Self.outside(c.headTimestamps, c.headValues, start: start, end: end)
                    rewrite.removedSamples += headCount - keptT.count
                    rewrite.headChanged = true
                    rewrite.head = keptT.isEmpty ? nil : Chunk(timestamps: keptT, values: keptV)
                    headCount = keptT.count
                }
                rewrite.removesSeries = keptChunks == 0 && headCount == 0
                if rewrite.changesStorage { out.append(rewrite) }
            }
            return out
        }
    }

    /// Plans one retention run: for each series `cutoff` gives a time (nil = keep forever);
    /// sealed chunks ending before it are dropped, head samples before it are trimmed, and
    /// samples before it in a chunk that also holds newer ones are hidden from reads (floor)
    /// until that chunk expires whole. Series left without samples are removed.
    public func planRetention(cutoff: (Labels) -> Int64?) -> [SeriesRewrite] {
        lock.withReadLock {
            var out: [SeriesRewrite] = []
            for i in columns.indices {
                let id = SeriesID(UInt32(i))
                guard let labels = index.labels(of: id), let limit = cutoff(labels) else { continue }
                let c = columns[i]
                var rewrite = SeriesRewrite(id: id)
                var keptChunks = c.chunks.count
                for chunk in c.chunks {
                    guard chunk.maxTime < limit else { break }  // chunks are in time order
                    rewrite.removedChunks.append(chunk.minTime)
                    rewrite.removedSamples += chunk.count
                    keptChunks -= 1
                }
                var headCount = c.headTimestamps.count
                if let first = c.headTimestamps.first, first < limit {
                    let k = SeriesColumns.lowerBound(c.headTimestamps, limit)
                    rewrite.removedSamples += k
                    rewrite.headChanged = true
                    headCount -= k
                    rewrite.head =
                        headCount == 0
                        ? nil : Chunk(timestamps: Array(c.headTimestamps[k...]), values: Array(c.headValues[k...]))
                }
                rewrite.removesSeries = keptChunks == 0 && headCount == 0
                if limit > c.floor && !rewrite.removesSeries { rewrite.floor = limit }
                if rewrite.changesStorage || rewrite.floor != nil { out.append(rewrite) }
            }
            return out
        }
    }

    /// Applies planned rewrites under one write-lock acquisition (readers see all or none).
    /// Call it on the writer, after the same rewrites were written to the database and with no
    /// batch applied since they were planned.
    public func apply(_ rewrites: [SeriesRewrite]) {
        guard !rewrites.isEmpty else { return }
        lock.withWriteLock {
            var removed = Set<SeriesID>()
            for r in rewrites {
                let i = Int(r.id.rawValue)
                guard i < columns.count else { continue }
                if r.removesSeries {
                    removed.insert(r.id)
                    columns[i] = SeriesColumns()
                    continue
                }
                if !r.removedChunks.isEmpty || !r.addedChunks.isEmpty {
                    let gone = Set(r.removedChunks)
                    var chunks = columns[i].chunks.filter { !gone.contains($0.minTime) }
                    chunks.append(contentsOf: r.addedChunks)
                    chunks.sort { $0.minTime < $1.minTime }
                    columns[i].chunks = chunks
                    // A checkpoint must not write back a chunk that was just dropped.
                    columns[i].unpersistedChunks.removeAll { gone.contains($0.minTime) }
                }
                if r.headChanged {
                    (columns[i].headTimestamps, columns[i].headValues) = r.head?.columns ?? ([], [])
                }
                if let floor = r.floor { columns[i].floor = max(columns[i].floor, floor) }
                // The newest sample may be gone: measure the out-of-order window from the newest
                // one left, as a restart would.
                columns[i].maxTime = columns[i].headTimestamps.last ?? columns[i].chunks.last?.maxTime ?? .min
            }
            if !removed.isEmpty { index.remove(removed) }
        }
    }

    /// The samples of sorted columns outside `[start, end]`.
    static func outside(_ ts: [Int64], _ vs: [Double], start: Int64, end: Int64) -> ([Int64], [Double]) {
        let lo = SeriesColumns.lowerBound(ts, start)
        let hi = end == .max ? ts.count : SeriesColumns.lowerBound(ts, end + 1)
        return (Array(ts[..<lo]) + Array(ts[hi...]), Array(vs[..<lo]) + Array(vs[hi...]))
    }
}
