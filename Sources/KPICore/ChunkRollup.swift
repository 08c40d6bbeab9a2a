/// A resolution of pre-aggregated buckets.
public enum RollupLevel: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// One-minute buckets (kept for series sampled every 15 s or faster).
    case minute = 0
    /// One-hour buckets (kept for series sampled every 15 min or faster).
    case hour = 1

    /// Bucket width.
    public var milliseconds: Int64 {
        switch self {
        case .minute: return 60_000
        case .hour: return 3_600_000
        }
    }

    public var description: String { self == .minute ? "1m" : "1h" }

    /// A level is kept for a chunk only when its buckets hold at least this many samples on
    /// average: below that, the raw samples are as cheap to scan as the buckets.
    public static let minimumSamplesPerBucket = 4
}

/// The aggregates of one series' samples in one bucket of one chunk. A bucket that straddles
/// two chunks has a partial bucket in each; they combine like any other partial aggregates.
public struct RollupBucket: Sendable, Equatable {
    /// Start of the bucket (a multiple of the level's width since the epoch).
    public var start: Int64
    /// Samples (Prometheus staleness markers are not samples and are left out).
    public var count: Int64
    /// Timestamps of the first and last sample.
    public var firstTime: Int64
    public var lastTime: Int64
    /// Sum in time order, and the extremes in the order of `Value.compareDoubles` (NaN above
    /// every number).
    public var sum: Double
    public var min: Double
    public var max: Double
    /// Values of the first and last sample.
    public var first: Double
    public var last: Double
    /// Where the bucket's encoded quantile sketch starts in `ChunkRollup.encoded`.
    public var sketchOffset: Int
}

/// Per-chunk rollups: for each kept level, the buckets of the chunk's samples with count, sum,
/// min, max, first, last and a `QuantileSketch`. Computed when a chunk is sealed, persisted
/// beside it, dropped with it; so rollups can never disagree with the samples they stand for,
/// and retention, deletion and out-of-order re-seals need no bookkeeping of their own.
///
/// Encoding (varints LEB128, zigzag for signed):
///
///     byte     version (1)
///     byte     levels present (bit k = `RollupLevel(rawValue: k)`); bit 7 set: no sketches
///     per level, ascending:
///       varint   bucket count, varint byte length of the buckets that follow
///       per bucket:
///         varint zigzag(bucket index − previous bucket index) (index = start / width)
///         varint count, varint first − start, varint last − start
///         byte   0: sum, min, max, first, last as 5 little-endian doubles
///                1: the same 5 as zigzag varints (all integers of magnitude below 2^53)
///         varint sketch length, then the sketch (`QuantileSketch.encode`); length 0 without sketches
///     4 bytes  FNV-1a of everything before, little-endian
public struct ChunkRollup: Sendable, Equatable {
    /// The encoded rollups (see the type's documentation).
    public let encoded: [UInt8]
    /// Timestamps of the first and last sample the buckets hold.
    private(set) var firstTime: Int64 = .min
    private(set) var lastTime: Int64 = .min

    static let version: UInt8 = 1

    /// Bytes held.
    public var memoryBytes: Int { encoded.count }

    /// Adopts encoded bytes (e.g. read from disk) after checking the checksum and walking every
    /// bucket; throws for anything that does not decode.
    public init(encoded: [UInt8]) throws(ChunkDecodingError) {
        guard encoded.count >= 6 else { throw ChunkDecodingError("rollup of \(encoded.count) bytes is truncated") }
        let body = encoded.count - 4
        var stored: UInt32 = 0
        for k in 0..<4 { stored |= UInt32(encoded[body + k]) << UInt32(8 * k) }
        guard stored == Self.checksum(encoded[..<body]) else { throw ChunkDecodingError("rollup checksum mismatch") }
        guard encoded[0] == Self.version else { throw ChunkDecodingError("rollup version \(encoded[0]) unknown") }
        guard encoded[1] & ~(UInt8((1 << RollupLevel.allCases.count) - 1) | Self.noSketches) == 0 else {
            throw ChunkDecodingError("rollup levels \(encoded[1]) out of range")
        }
        self.encoded = encoded
        (firstTime, lastTime) = try validate()
    }

    private init(checked bytes: [UInt8], firstTime: Int64, lastTime: Int64) {
        encoded = bytes
        self.firstTime = firstTime
        self.lastTime = lastTime
    }

    /// Whether every bucket lies within `[minTime, maxTime]` (a cheap check that a stored
    /// rollup belongs to the chunk it was stored with).
    public func covers(minTime: Int64, maxTime: Int64) -> Bool {
        firstTime >= minTime && lastTime <= maxTime
    }

    /// Header bit: the buckets carry no sketches.
    static let noSketches: UInt8 = 0x80

    /// Whether the buckets carry quantile sketches (`mergeSketch(of:into:)`).
    public var hasSketches: Bool { encoded[1] & Self.noSketches == 0 }

    /// The levels kept.
    public var levels: [RollupLevel] { RollupLevel.allCases.filter(hasLevel) }

    /// Whether buckets of `level` are kept.
    public func hasLevel(_ level: RollupLevel) -> Bool { encoded[1] & (1 << level.rawValue) != 0 }

    /// Computes the rollups of a chunk's columns (sorted, strictly increasing timestamps); nil
    /// when no level would hold `RollupLevel.minimumSamplesPerBucket` samples per bucket.
    /// Without `sketches` the buckets carry no quantile sketch (a fraction of the bytes).
    /// A chunk with a timestamp outside `SampleTime` (never accepted, but possibly stored by an
    /// older kpid) gets none: its bucket arithmetic is only defined inside the contract.
    public static func compute(
        timestamps: UnsafeBufferPointer<Int64>, values: UnsafeBufferPointer<Double>, sketches: Bool = true
    ) -> ChunkRollup? {
        let n = timestamps.count
        guard n > 0, SampleTime.contains(timestamps[0]), SampleTime.contains(timestamps[n - 1]) else { return nil }
        var out: [UInt8] = [version, 0]
        var levelMask: UInt8 = 0
        var section: [UInt8] = []
        var sketchBytes: [UInt8] = []
        for level in RollupLevel.allCases {
            // One pass builds the level; it is kept when its buckets average enough samples.
            let width = level.milliseconds
            section.removeAll(keepingCapacity: true)
            var buckets = 0
            var samples = 0
            var previousIndex: Int64 = 0
            var k = 0
            while k < n {
                if StaleMarker.isMarker(values[k]) {
                    k += 1
                    continue
                }
                let index = Self.bucketIndex(timestamps[k], width)
                let start = index &* width
                let end = start &+ width
                var count: Int64 = 0
                var sum = 0.0
                var lo = values[k]
                var hi = values[k]
                let first = values[k]
                let firstTime = timestamps[k]
                var last = first
                var lastTime = firstTime
                var sketch = QuantileSketch()
                while k < n && timestamps[k] < end {
                    let v = values[k]
                    if !StaleMarker.isMarker(v) {
                        count += 1
                        sum += v
                        if compareDoubles(v, lo) < 0 { lo = v }
                        if compareDoubles(v, hi) > 0 { hi = v }
                        last = v
                        lastTime = timestamps[k]
                        if sketches { sketch.add(v) }
                    }
                    k += 1
                }
                buckets += 1
                samples += Int(count)
                ByteCoding.appendVarint(&section, ByteCoding.zigzag(index &- previousIndex))
                previousIndex = index
                ByteCoding.appendVarint(&section, UInt64(count))
                ByteCoding.appendVarint(&section, UInt64(firstTime - start))
                ByteCoding.appendVarint(&section, UInt64(lastTime - start))
                if isSmallInteger(sum) && isSmallInteger(lo) && isSmallInteger(hi) && isSmallInteger(first) && isSmallInteger(last) {
                    section.append(1)
                    for x in [sum, lo, hi, first, last] { ByteCoding.appendVarint(&section, ByteCoding.zigzag(Int64(x))) }
                } else {
                    section.append(0)
                    for x in [sum, lo, hi, first, last] { ByteCoding.appendDouble(&section, x) }
                }
                sketchBytes.removeAll(keepingCapacity: true)
                if sketches { sketch.encode(into: &sketchBytes) }
                ByteCoding.appendVarint(&section, UInt64(sketchBytes.count))
                section.append(contentsOf: sketchBytes)
            }
            guard buckets > 0, samples >= buckets * RollupLevel.minimumSamplesPerBucket else { continue }
            levelMask |= 1 << level.rawValue
            ByteCoding.appendVarint(&out, UInt64(buckets))
            ByteCoding.appendVarint(&out, UInt64(section.count))
            out.append(contentsOf: section)
        }
        guard levelMask != 0 else { return nil }
        out[1] = levelMask | (sketches ? 0 : noSketches)
        let sum = checksum(out[...])
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: sum >> UInt32(8 * k))) }
        // The first and last samples that are not staleness markers (some exist: a level was kept).
        guard let firstKept = (0..<n).first(where: { !StaleMarker.isMarker(values[$0]) }),
            let lastKept = (0..<n).last(where: { !StaleMarker.isMarker(values[$0]) })
        else { return nil }
        return ChunkRollup(checked: out, firstTime: timestamps[firstKept], lastTime: timestamps[lastKept])
    }

    /// Computes the rollups of arrays (see `compute(timestamps:values:)` on buffers).
    public static func compute(timestamps: [Int64], values: [Double], sketches: Bool = true) -> ChunkRollup? {
        timestamps.withUnsafeBufferPointer { t in
            values.withUnsafeBufferPointer { v in compute(timestamps: t, values: v, sketches: sketches) }
        }
    }

    /// Calls `body` with every bucket of `level`, oldest first (nothing when the level is not
    /// kept). A bucket's sketch is read with `mergeSketch(of:into:)`.
    public func forEachBucket<E: Error>(_ level: RollupLevel, _ body: (RollupBucket) throws(E) -> Void) throws(E) {
        guard hasLevel(level) else { return }
        var failure: E? = nil
        encoded.withUnsafeBytes { raw in
            // The bytes were checked when this value was made, so decoding cannot fail here.
            do throws(ChunkDecodingError) {
                var reader = VarintReader(UnsafeRawBufferPointer(rebasing: raw[..<(raw.count - 4)]), at: 2)
                guard let count = try Self.seek(level, in: self, &reader) else { return }
                var index: Int64 = 0
                for _ in 0..<count {
                    let bucket = try Self.decodeBucket(&reader, level, &index)
                    do throws(E) {
                        try body(bucket)
                    } catch {
                        failure = error
                        return
                    }
                }
            } catch {
                preconditionFailure("checked rollup failed to decode: \(error)")
            }
        }
        if let failure { throw failure }
    }

    /// How many buckets `level` holds (0 when the level is not kept), without decoding them.
    public func bucketCount(_ level: RollupLevel) -> Int {
        guard hasLevel(level) else { return 0 }
        return encoded.withUnsafeBytes { raw in
            do throws(ChunkDecodingError) {
                var reader = VarintReader(UnsafeRawBufferPointer(rebasing: raw[..<(raw.count - 4)]), at: 2)
                return Int(clamping: try Self.seek(level, in: self, &reader) ?? 0)
            } catch {
                preconditionFailure("checked rollup failed to decode: \(error)")
            }
        }
    }

    /// Adds the sketch of `bucket` (from `forEachBucket` on this rollup, which `hasSketches`)
    /// to `sketch`.
    public func mergeSketch(of bucket: RollupBucket, into sketch: inout QuantileSketch) {
        precondition(hasSketches, "rollup kept without sketches")
        encoded.withUnsafeBytes { raw in
            var reader = VarintReader(raw, at: bucket.sketchOffset)
            do throws(ChunkDecodingError) {
                try sketch.merge(encoded: &reader)
            } catch {
                preconditionFailure("checked rollup sketch failed to decode: \(error)")
            }
        }
    }

    /// The buckets of `level`, decoded (tests and `kpid check`).
    public func buckets(_ level: RollupLevel) -> [RollupBucket] {
        var all: [RollupBucket] = []
        forEachBucket(level) { all.append($0) }
        return all
    }

    /// Moves `reader` (after the two header bytes) to the first bucket of `level`; returns the
    /// level's bucket count, nil when it is not kept.
    private static func seek(_ level: RollupLevel, in rollup: ChunkRollup, _ reader: inout VarintReader) throws(ChunkDecodingError)
        -> UInt64?
    {
        for candidate in RollupLevel.allCases where rollup.hasLevel(candidate) {
            let count = try reader.varint()
            let length = try reader.varint()
            if candidate == level { return count }
            try reader.skip(length)
        }
        return nil
    }

    /// Decodes one bucket (the sketch is skipped; its offset is recorded).
    @inline(__always)
    private static func decodeBucket(_ reader: inout VarintReader, _ level: RollupLevel, _ index: inout Int64) throws(ChunkDecodingError)
        -> RollupBucket
    {
        let width = level.milliseconds
        index = index &+ ByteCoding.unzigzag(try reader.varint())
        let start = index &* width
        let n = try reader.varint()
        let firstOffset = try reader.varint()
        let lastOffset = try reader.varint()
        guard n > 0, n < 1 << 40, firstOffset <= lastOffset, lastOffset < UInt64(width) else {
            throw ChunkDecodingError("rollup bucket fields out of range")
        }
        var five: (Double, Double, Double, Double, Double)
        switch try reader.byte() {
        case 0:
            five = (try reader.double(), try reader.double(), try reader.double(), try reader.double(), try reader.double())
        case 1:
            five = (
                Double(ByteCoding.unzigzag(try reader.varint())), Double(ByteCoding.unzigzag(try reader.varint())),
                Double(ByteCoding.unzigzag(try reader.varint())), Double(ByteCoding.unzigzag(try reader.varint())),
                Double(ByteCoding.unzigzag(try reader.varint()))
            )
        default:
            throw ChunkDecodingError("rollup value mode out of range")
        }
        let sketchLength = try reader.varint()
        let sketchOffset = reader.position
        try reader.skip(sketchLength)
        return RollupBucket(
            start: start, count: Int64(n), firstTime: start &+ Int64(firstOffset), lastTime: start &+ Int64(lastOffset),
            sum: five.0, min: five.1, max: five.2, first: five.3, last: five.4, sketchOffset: sketchOffset)
    }

    /// Decodes every level, sketches included, checking lengths and counts; returns the first
    /// and last sample time of the buckets.
    private func validate() throws(ChunkDecodingError) -> (Int64, Int64) {
        var failure: ChunkDecodingError? = nil
        var range: (Int64, Int64) = (.max, .min)
        encoded.withUnsafeBytes { raw in
            do throws(ChunkDecodingError) { range = try validate(raw) } catch { failure = error }
        }
        if let failure { throw failure }
        return range
    }

    private func validate(_ raw: UnsafeRawBufferPointer) throws(ChunkDecodingError) -> (Int64, Int64) {
        var range: (Int64, Int64) = (.max, .min)
        do {
            var reader = VarintReader(UnsafeRawBufferPointer(rebasing: raw[..<(raw.count - 4)]), at: 2)
            for level in RollupLevel.allCases where self.hasLevel(level) {
                let count = try reader.varint()
                let length = try reader.varint()
                guard length <= UInt64(raw.count) else { throw ChunkDecodingError("rollup level longer than the rollup") }
                let sectionEnd = reader.position + Int(length)
                var index: Int64 = 0
                var previousEnd = Int64.min
                for _ in 0..<count {
                    let bucket = try Self.decodeBucket(&reader, level, &index)
                    guard bucket.start >= previousEnd else { throw ChunkDecodingError("rollup buckets out of order") }
                    range = (min(range.0, bucket.firstTime), max(range.1, bucket.lastTime))
                    previousEnd = bucket.start &+ level.milliseconds
                    if !hasSketches {
                        guard bucket.sketchOffset == reader.position else {
                            throw ChunkDecodingError("sketch in a rollup without sketches")
                        }
                        continue
                    }
                    var probe = VarintReader(raw, at: bucket.sketchOffset)
                    var sketch = QuantileSketch()
                    try sketch.merge(encoded: &probe)
                    guard probe.position == reader.position, sketch.count == UInt64(bucket.count) else {
                        throw ChunkDecodingError("rollup sketch does not match its bucket")
                    }
                }
                guard reader.position == sectionEnd else { throw ChunkDecodingError("rollup level length mismatch") }
            }
            guard reader.isAtEnd else { throw ChunkDecodingError("trailing bytes after the rollup levels") }
        }
        return range
    }

    @inline(__always)
    static func bucketIndex(_ t: Int64, _ width: Int64) -> Int64 {
        let q = t / width
        return (t % width < 0) ? q - 1 : q
    }

    static func isSmallInteger(_ x: Double) -> Bool {
        guard x.isFinite, abs(x) < 9_007_199_254_740_992, x == x.rounded() else { return false }
        // -0.0 must come back as -0.0.
        return x != 0 || x.sign == .plus
    }

    @inline(__always)
    static func compareDoubles(_ x: Double, _ y: Double) -> Int {
        if x.isNaN { return y.isNaN ? 0 : 1 }
        if y.isNaN { return -1 }
        return x < y ? -1 : (x > y ? 1 : 0)
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for b in bytes {
            h ^= UInt32(b)
            h = h &* 16_777_619
        }
        return h
    }
}
