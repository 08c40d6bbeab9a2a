/// The samples of one series: sealed chunks (sorted, non-overlapping) followed by the open head,
/// whose timestamp and value columns grow by appending.
///
/// Invariants: every sealed chunk ends before the next begins; the head starts after the last
/// chunk ends; within each, timestamps strictly increase.
struct SeriesColumns: Sendable {
    var chunks: [Chunk] = []
    var headTimestamps: [Int64] = []
    var headValues: [Double] = []
    /// Most samples a head holds; well under `ChunkEncoding.maxSampleCount`, since a checkpoint
    /// writes the head as one chunk.
    static let maxHeadSamples = 1 << 20

    /// Newest timestamp ever stored (the out-of-order window is measured from it).
    var maxTime: Int64 = .min

    /// Retention cutoff: samples before it are hidden from reads (they sit in a sealed chunk
    /// that also holds newer samples, and go when the whole chunk expires). `.min` = none.
    var floor: Int64 = .min

    /// Sealed chunks not yet handed to a checkpoint, and whether the head changed since.
    var unpersistedChunks: [Chunk] = []
    var headDirty = false

    var sampleCount: Int { chunks.reduce(0) { $0 + $1.count } + headTimestamps.count }
    var memoryBytes: Int { chunks.reduce(0) { $0 + $1.memoryBytes } + headTimestamps.capacity * 8 + headValues.capacity * 8 }
    var rollupBytes: Int { chunks.reduce(0) { $0 + $1.rollupBytes } }

    /// Merges samples in (any order; on equal timestamps the later one wins, including over a
    /// stored sample), then seals what fell out of the out-of-order window.
    mutating func insert(timestamps: [Int64], values: [Double], window: Int64, chunkSize: Int, sketches: Bool = true) {
        guard !timestamps.isEmpty else { return }
        headDirty = true
        if let batchMax = timestamps.max(), batchMax > maxTime { maxTime = batchMax }

        // Fast path: strictly increasing and after everything stored (the common, in-order case).
        let storedMax = headTimestamps.last ?? chunks.last?.maxTime ?? .min
        if timestamps[0] > storedMax && SeriesColumns.isStrictlyIncreasing(timestamps) {
            headTimestamps.append(contentsOf: timestamps)
            headValues.append(contentsOf: values)
        } else {
            let (ts, vs) = SeriesColumns.sortedLastWins(timestamps, values)
            // Samples before the head's start belong in sealed chunks (rare: only when replaying
            // or within the window right after a seal); the rest merge into the head.
            let headStart = headTimestamps.first ?? ((chunks.last?.maxTime ?? .min) &+ 1)
            let split = SeriesColumns.lowerBound(ts, headStart)
            if split > 0 {
                mergeIntoChunks(Array(ts[..<split]), Array(vs[..<split]), sketches: sketches)
            }
            if split < ts.count {
                (headTimestamps, headValues) = SeriesColumns.merge(
                    headTimestamps, headValues, Array(ts[split...]), Array(vs[split...]))
            }
        }
        seal(window: window, chunkSize: chunkSize, sketches: sketches)
    }

    /// Seals full chunks out of head samples older than the out-of-order window: those can no
    /// longer change, so they are safe to encode and persist.
    mutating func seal(window: Int64, chunkSize: Int, sketches: Bool = true) {
        let cutoff = maxTime &- window
        let old = SeriesColumns.lowerBound(headTimestamps, cutoff)
        var sealable = (old / chunkSize) * chunkSize
        // A very fast series could pile more samples into its window than one chunk may hold
        // (the head is written as one chunk at checkpoints): past the cap, the oldest full chunks
        // are sealed even inside the window. A late sample into them takes the merge path.
        let excess = headTimestamps.count - SeriesColumns.maxHeadSamples
        if excess > 0 { sealable = max(sealable, (excess + chunkSize - 1) / chunkSize * chunkSize) }
        sealable = min(sealable, headTimestamps.count / chunkSize * chunkSize)
        guard sealable > 0 else { return }
        var start = 0
        while start < sealable {
            let chunk = Chunk.sealed(
                timestamps: Array(headTimestamps[start..<start + chunkSize]),
                values: Array(headValues[start..<start + chunkSize]), sketches: sketches)
            chunks.append(chunk)
            unpersistedChunks.append(chunk)
            start += chunkSize
        }
        headTimestamps.removeFirst(sealable)
        headValues.removeFirst(sealable)
        headDirty = true
    }

    /// Merges sorted samples (all before the head) into the sealed chunks they fall into; a
    /// sample in a gap goes into the chunk before it (or the first chunk).
    private mutating func mergeIntoChunks(_ ts: [Int64], _ vs: [Double], sketches: Bool) {
        if chunks.isEmpty {
            let chunk = Chunk.sealed(timestamps: ts, values: vs, sketches: sketches)
            chunks.append(chunk)
            unpersistedChunks.append(chunk)
            return
        }
        var i = 0
        while i < ts.count {
            // Last chunk whose minTime <= ts[i], else the first.
            var target = 0
            var low = 0
            var high = chunks.count
            while low < high {
                let mid = (low + high) / 2
                if chunks[mid].minTime <= ts[i] { target = mid; low = mid + 1 } else { high = mid }
            }
            let limit = target + 1 < chunks.count ? chunks[target + 1].minTime : (headTimestamps.first ?? .max)
            var j = i
            while j < ts.count && ts[j] < limit { j += 1 }
            let old = chunks[target].columns
            let merged = SeriesColumns.merge(old.timestamps, old.values, Array(ts[i..<j]), Array(vs[i..<j]))
            let chunk = Chunk.sealed(timestamps: merged.0, values: merged.1, sketches: sketches)
            chunks[target] = chunk
            unpersistedChunks.append(chunk)
            i = j
        }
    }

    static func isStrictlyIncreasing(_ ts: [Int64]) -> Bool {
        var previous = Int64.min
        for t in ts {
            if t <= previous { return false }
            previous = t
        }
        return true
    }

    /// Sorts by timestamp; of equal timestamps keeps the one that came last.
    static func sortedLastWins(_ ts: [Int64], _ vs: [Double]) -> ([Int64], [Double]) {
        var order = Array(ts.indices)
        order.sort { ts[$0] != ts[$1] ? ts[$0] < ts[$1] : $0 < $1 }
        var outT: [Int64] = []
        var outV: [Double] = []
        outT.reserveCapacity(ts.count)
        outV.reserveCapacity(ts.count)
        for index in order {
            if let last = outT.last, last == ts[index] {
                outV[outV.count - 1] = vs[index]
            } else {
                outT.append(ts[index])
                outV.append(vs[index])
            }
        }
        return (outT, outV)
    }

    /// Merges two sorted runs; on equal timestamps `new` wins.
    static func merge(_ oldT: [Int64], _ oldV: [Double], _ newT: [Int64], _ newV: [Double]) -> ([Int64], [Double]) {
        if oldT.isEmpty { return (newT, newV) }
        if let last = oldT.last, let first = newT.first, first > last { return (oldT + newT, oldV + newV) }
        var outT: [Int64] = []
        var outV: [Double] = []
        outT.reserveCapacity(oldT.count + newT.count)
        outV.reserveCapacity(oldT.count + newT.count)
        var i = 0
        var j = 0
        while i < oldT.count || j < newT.count {
            if j == newT.count || (i < oldT.count && oldT[i] < newT[j]) {
                outT.append(oldT[i]); outV.append(oldV[i]); i += 1
            } else if i == oldT.count || newT[j] < oldT[i] {
                outT.append(newT[j]); outV.append(newV[j]); j += 1
            } else {
                outT.append(newT[j]); outV.append(newV[j]); i += 1; j += 1
            }
        }
        return (outT, outV)
    }

    /// First index whose timestamp is >= `t`, among the first `count` (default all).
    static func lowerBound(_ ts: [Int64], _ t: Int64, count: Int? = nil) -> Int {
        var low = 0
        var high = count ?? ts.count
        while low < high {
            let mid = (low + high) / 2
            if ts[mid] < t { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Like `forEachSlice`, but a sealed chunk that lies wholly inside `[start, end]` (and above
    /// the retention floor) and keeps rollups at `level` is passed to `rollup` instead of being
    /// decoded (its `rollup` is set). Oldest first; `rollup` and `slice` calls interleave in
    /// time order. `slice` returns false to stop early. A nil `level` reads samples only.
    func forEachSegment(
        start: Int64, end: Int64, level: RollupLevel?, sketches: Bool = false,
        rollup: (Chunk) throws -> Void,
        slice: (ArraySlice<Int64>, ArraySlice<Double>) throws -> Bool
    ) rethrows {
        let start = max(start, floor)
        guard start <= end else { return }
        var ts: [Int64] = []
        var vs: [Double] = []
        for chunk in chunks where chunk.maxTime >= start && chunk.minTime <= end {
            if let level, chunk.minTime >= start && chunk.maxTime <= end, let r = chunk.rollup, r.hasLevel(level),
                !sketches || r.hasSketches
            {
                try rollup(chunk)
                continue
            }
            if ts.count < chunk.count {
                ts = [Int64](repeating: 0, count: chunk.count)
                vs = [Double](repeating: 0, count: chunk.count)
            }
            ts.withUnsafeMutableBufferPointer { t in
                vs.withUnsafeMutableBufferPointer { v in _ = chunk.decode(into: t, v) }
            }
            let n = chunk.count
            let lo = start <= chunk.minTime ? 0 : SeriesColumns.lowerBound(ts, start, count: n)
            let hi = end >= chunk.maxTime ? n : SeriesColumns.lowerBound(ts, end + 1, count: n)
            if lo < hi, try !slice(ts[lo..<hi], vs[lo..<hi]) { return }
        }
        if let first = headTimestamps.first, let last = headTimestamps.last, last >= start && first <= end {
            let lo = SeriesColumns.lowerBound(headTimestamps, start)
            let hi = end == .max ? headTimestamps.count : SeriesColumns.lowerBound(headTimestamps, end + 1)
            if lo < hi { _ = try slice(headTimestamps[lo..<hi], headValues[lo..<hi]) }
        }
    }

    /// Calls `body` with each contiguous run of samples in `[start, end]` (inclusive), oldest
    /// first. Head samples are passed without copying; each overlapping sealed chunk is
    /// decoded once into a pair of arrays reused across the chunks of this call (if `body`
    /// keeps a slice, copy-on-write gives the next chunk fresh storage).
    /// `body` returns false to stop early (a full page needs no more chunks decoded).
    func forEachSlice(start: Int64, end: Int64, _ body: (ArraySlice<Int64>, ArraySlice<Double>) throws -> Bool) rethrows {
        try forEachSegment(start: start, end: end, level: nil, rollup: { _ in }, slice: body)
    }
}
