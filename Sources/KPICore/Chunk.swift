/// A sealed run of one series' samples: sorted by timestamp, no duplicate timestamps, never
/// changed in place (out-of-order merges build a new chunk).
///
/// The samples are held compressed (`ChunkEncoding`, typically 0.03-3 bytes per sample
/// instead of 16); `timestamps` and `values` decode on access, and `decode(into:_:)` decodes
/// into caller buffers without allocating.
///
/// Equality is bit-for-bit: `-0.0` differs from `0.0`, and a NaN equals the identical NaN.
public struct Chunk: Sendable, Equatable {
    /// The samples in `ChunkEncoding` format. Always valid: both initializers guarantee it.
    public let encoded: [UInt8]
    /// Number of samples.
    public let count: Int
    /// First timestamp, or `Int64.max` for an empty chunk.
    public let minTime: Int64
    /// Last timestamp, or `Int64.min` for an empty chunk.
    public let maxTime: Int64
    /// Pre-aggregated buckets of the samples (sealed chunks only; nil for heads and for
    /// chunks too sparse for any rollup level).
    public private(set) var rollup: ChunkRollup? = nil

    /// Encodes the columns. `timestamps` must be strictly increasing and as long as `values`
    /// (and at most `ChunkEncoding.maxSampleCount` long).
    public init(timestamps: [Int64], values: [Double]) {
        precondition(timestamps.count == values.count, "chunk columns differ in length")
        encoded = ChunkEncoding.encode(timestamps: timestamps, values: values)
        count = timestamps.count
        minTime = timestamps.first ?? .max
        maxTime = timestamps.last ?? .min
    }

    /// A sealed chunk: encodes the columns and computes their rollups (with quantile sketches
    /// unless `sketches` is false).
    public static func sealed(timestamps: [Int64], values: [Double], sketches: Bool = true) -> Chunk {
        var chunk = Chunk(timestamps: timestamps, values: values)
        chunk.rollup = ChunkRollup.compute(timestamps: timestamps, values: values, sketches: sketches)
        return chunk
    }

    /// Adopts encoded bytes (e.g. read from disk) after decoding them once to check them:
    /// throws for corrupt bytes, so a `Chunk` never holds bytes that fail to decode.
    ///
    /// For a sealed chunk (`sealed`), its stored `rollup` is adopted when it checks out, lies
    /// within these samples and has sketches as `sketches` asks, else recomputed from the
    /// decoded columns (a file from before rollups, a damaged rollup, a changed setting).
    public init(
        encoded: [UInt8], sealed: Bool = false, rollup stored: [UInt8]? = nil, sketches: Bool = true
    ) throws(ChunkDecodingError) {
        let columns = try ChunkEncoding.decode(encoded)
        self.encoded = encoded
        count = columns.timestamps.count
        minTime = columns.timestamps.first ?? .max
        maxTime = columns.timestamps.last ?? .min
        guard sealed else { return }
        if let stored, let adopted = try? ChunkRollup(encoded: stored), adopted.hasSketches == sketches,
            adopted.covers(minTime: minTime, maxTime: maxTime)
        {
            rollup = adopted
        } else {
            rollup = ChunkRollup.compute(timestamps: columns.timestamps, values: columns.values, sketches: sketches)
        }
    }

    /// True when the chunk holds no samples.
    public var isEmpty: Bool { count == 0 }

    /// Decodes into caller buffers, each at least `count` long; returns `count`. Allocates
    /// nothing, so scans can reuse one pair of buffers across chunks.
    @discardableResult
    public func decode(into timestamps: UnsafeMutableBufferPointer<Int64>, _ values: UnsafeMutableBufferPointer<Double>) -> Int {
        precondition(timestamps.count >= count && values.count >= count, "decode buffers shorter than the chunk")
        let decoded = encoded.withUnsafeBytes { raw in
            try? ChunkEncoding.decode(raw, timestamps: timestamps, values: values)
        }
        // Unreachable failure: the initializers only store bytes that decode.
        guard let decoded else { preconditionFailure("chunk bytes failed to decode") }
        return decoded
    }

    /// Both columns, decoded into new arrays (one decode for the pair).
    public var columns: (timestamps: [Int64], values: [Double]) {
        var ts = [Int64](repeating: 0, count: count)
        var vs = [Double](repeating: 0, count: count)
        ts.withUnsafeMutableBufferPointer { t in
            vs.withUnsafeMutableBufferPointer { v in _ = decode(into: t, v) }
        }
        return (ts, vs)
    }

    /// The timestamps, decoded into a new array.
    public var timestamps: [Int64] { columns.timestamps }

    /// The values, decoded into a new array.
    public var values: [Double] { columns.values }

    /// True when the timestamps are strictly increasing. Always true now: construction
    /// enforces it (encoding requires it and decoding checks it); kept for callers that
    /// check chunks read back from disk.
    public var isWellFormed: Bool { true }

    /// Bytes held by the encoded samples (rollups not included: see `rollupBytes`).
    public var memoryBytes: Int { encoded.count }

    /// Bytes held by the rollups.
    public var rollupBytes: Int { rollup?.memoryBytes ?? 0 }

    /// Bit-for-bit equality of the samples (rollups follow from them).
    public static func == (a: Chunk, b: Chunk) -> Bool {
        guard a.count == b.count, a.minTime == b.minTime, a.maxTime == b.maxTime else { return false }
        if a.encoded == b.encoded { return true }
        // Same samples can in principle arrive in different (valid) byte forms from disk.
        let (at, av) = a.columns
        let (bt, bv) = b.columns
        return at == bt && av.map(\.bitPattern) == bv.map(\.bitPattern)
    }
}
