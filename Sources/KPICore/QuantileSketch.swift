import Foundation

/// A mergeable quantile sketch with relative error (DDSketch, Masson et al., VLDB 2019).
///
/// Values fall into logarithmic bins: bin `i` holds magnitudes in `(γ^(i-1), γ^i]` with
/// `γ = (1 + α) / (1 − α)` and `α = relativeAccuracy` (1 %). The estimate of a value is the
/// bin's midpoint `2γ^i / (γ + 1)`, within α of every value of the bin; so the estimate of the
/// k-th smallest value is within 1 % of it, and `quantile(q)` interpolates between the two ranks
/// around `q·(n−1)` as the exact `quantile` does, which keeps it within 1 % of the exact
/// answer when both neighbours have the same sign.
///
/// Magnitudes below `minIndexable` (1e-9) count as zero. Negative values use a mirrored store.
/// NaN sorts above every number and ±∞ at the ends, as in the exact quantile, and are counted
/// apart. Merging two sketches adds their bins, so a merged sketch equals the sketch of all
/// the values (exactly: no error compounds).
///
/// Bins live in dense arrays of counts with an offset (data of one metric spans a few hundred
/// bins), so adding and merging are array walks without hashing.
public struct QuantileSketch: Sendable, Equatable {
    /// The guaranteed relative error of every estimate.
    public static let relativeAccuracy = 0.01
    /// Magnitudes below this count as zero.
    public static let minIndexable = 1e-9
    static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    static let inverseLogGamma = 1 / Foundation.log(gamma)

    /// Counts of positive magnitudes, bin `positiveOffset + k` at index `k`.
    private(set) var positive: [UInt64] = []
    private(set) var positiveOffset: Int32 = 0
    /// Counts of negative values by magnitude.
    private(set) var negative: [UInt64] = []
    private(set) var negativeOffset: Int32 = 0
    /// Values with magnitude below `minIndexable`.
    private(set) var zeroCount: UInt64 = 0
    private(set) var nanCount: UInt64 = 0
    private(set) var positiveInfinityCount: UInt64 = 0
    private(set) var negativeInfinityCount: UInt64 = 0

    public init() {}

    /// Values added (NaN and infinities included).
    public var count: UInt64 {
        positive.reduce(0, +) + negative.reduce(0, +) + zeroCount + nanCount + positiveInfinityCount + negativeInfinityCount
    }

    /// True when nothing was added.
    public var isEmpty: Bool { count == 0 }

    /// The bin of a finite magnitude at or above `minIndexable`.
    @inline(__always)
    static func index(_ magnitude: Double) -> Int32 {
        Int32((Foundation.log(magnitude) * inverseLogGamma).rounded(.up))
    }

    /// The estimate for bin `i`: the point within α of both ends of the bin.
    @inline(__always)
    static func value(ofBin i: Int32) -> Double {
        2 * Foundation.pow(gamma, Double(i)) / (gamma + 1)
    }

    /// Adds `value` `times` times.
    @inline(__always)
    public mutating func add(_ value: Double, times: UInt64 = 1) {
        if value.isNaN {
            nanCount &+= times
        } else if value.isInfinite {
            if value > 0 { positiveInfinityCount &+= times } else { negativeInfinityCount &+= times }
        } else if value > Self.minIndexable {
            Self.increment(&positive, &positiveOffset, Self.index(value), by: times)
        } else if value < -Self.minIndexable {
            Self.increment(&negative, &negativeOffset, Self.index(-value), by: times)
        } else {
            zeroCount &+= times
        }
    }

    /// Adds every value of a column slice.
    public mutating func add(_ values: UnsafeBufferPointer<Double>) {
        for v in values { add(v) }
    }

    @inline(__always)
    private static func increment(_ bins: inout [UInt64], _ offset: inout Int32, _ index: Int32, by times: UInt64) {
        if bins.isEmpty {
            offset = index
            bins.append(times)
            return
        }
        if index < offset {
            bins.insert(contentsOf: repeatElement(0, count: Int(offset - index)), at: 0)
            offset = index
        } else if Int(index - offset) >= bins.count {
            bins.append(contentsOf: repeatElement(0, count: Int(index - offset) - bins.count + 1))
        }
        bins[Int(index - offset)] &+= times
    }

    /// Adds every value of `other`.
    public mutating func merge(_ other: QuantileSketch) {
        Self.mergeBins(&positive, &positiveOffset, other.positive, other.positiveOffset)
        Self.mergeBins(&negative, &negativeOffset, other.negative, other.negativeOffset)
        zeroCount &+= other.zeroCount
        nanCount &+= other.nanCount
        positiveInfinityCount &+= other.positiveInfinityCount
        negativeInfinityCount &+= other.negativeInfinityCount
    }

    private static func mergeBins(_ bins: inout [UInt64], _ offset: inout Int32, _ other: [UInt64], _ otherOffset: Int32) {
        guard !other.isEmpty else { return }
        if bins.isEmpty {
            bins = other
            offset = otherOffset
            return
        }
        if otherOffset < offset {
            bins.insert(contentsOf: repeatElement(0, count: Int(offset - otherOffset)), at: 0)
            offset = otherOffset
        }
        let end = Int(otherOffset - offset) + other.count
        if end > bins.count { bins.append(contentsOf: repeatElement(0, count: end - bins.count)) }
        let base = Int(otherOffset - offset)
        for k in other.indices { bins[base + k] &+= other[k] }
    }

    /// The estimate of the value of rank `rank` (0-based, ascending; NaN above all numbers).
    private func value(atRank rank: UInt64) -> Double {
        var seen = negativeInfinityCount
        if rank < seen { return -.infinity }
        // Negative values: largest magnitude first.
        for k in negative.indices.reversed() where negative[k] > 0 {
            seen += negative[k]
            if rank < seen { return -Self.value(ofBin: negativeOffset + Int32(k)) }
        }
        seen += zeroCount
        if rank < seen { return 0 }
        for k in positive.indices where positive[k] > 0 {
            seen += positive[k]
            if rank < seen { return Self.value(ofBin: positiveOffset + Int32(k)) }
        }
        seen += positiveInfinityCount
        if rank < seen { return .infinity }
        return .nan
    }

    /// The estimated `q`-quantile (0...1) with the exact quantile's interpolation between the
    /// ranks around `q·(n−1)`; nil for an empty sketch.
    public func quantile(_ q: Double) -> Double? {
        let n = count
        guard n > 0 else { return nil }
        let position = min(max(q, 0), 1) * Double(n - 1)
        let lower = UInt64(position.rounded(.down))
        let fraction = position - Double(lower)
        let a = value(atRank: lower)
        if fraction == 0 || lower + 1 >= n { return a }
        let b = value(atRank: lower + 1)
        return a + (b - a) * fraction
    }

    /// Bytes held by the bins.
    public var memoryBytes: Int { (positive.capacity + negative.capacity) * 8 }

    // MARK: Encoding

    /// Appends the compact form: a flag byte, then only what is present. A store is written
    /// dense (zigzag(first bin), bin count, each bin's count, 0 for gaps) or, when fewer than
    /// half its bins are used, sparse (zigzag(first bin), bin count, used bins, then per used
    /// bin the index step from the previous one and its count); all varints.
    public func encode(into out: inout [UInt8]) {
        /// First and last used bin, and how many are used.
        func shape(_ bins: [UInt64]) -> (first: Int, last: Int, used: Int)? {
            guard let first = bins.firstIndex(where: { $0 > 0 }), let last = bins.lastIndex(where: { $0 > 0 }) else { return nil }
            var used = 0
            for k in first...last where bins[k] > 0 { used += 1 }
            return (first, last, used)
        }
        let positiveShape = shape(positive)
        let negativeShape = shape(negative)
        func sparse(_ s: (first: Int, last: Int, used: Int)?) -> Bool { s.map { 2 * $0.used < $0.last - $0.first + 1 } ?? false }
        var flags: UInt8 = 0
        if positiveShape != nil { flags |= 1 }
        if negativeShape != nil { flags |= 2 }
        if zeroCount > 0 { flags |= 4 }
        if nanCount > 0 || positiveInfinityCount > 0 || negativeInfinityCount > 0 { flags |= 8 }
        if sparse(positiveShape) { flags |= 16 }
        if sparse(negativeShape) { flags |= 32 }
        out.append(flags)
        func store(_ bins: [UInt64], _ offset: Int32, _ s: (first: Int, last: Int, used: Int), sparse: Bool) {
            ByteCoding.appendVarint(&out, ByteCoding.zigzag(Int64(offset) + Int64(s.first)))
            ByteCoding.appendVarint(&out, UInt64(s.last - s.first + 1))
            if sparse {
                ByteCoding.appendVarint(&out, UInt64(s.used))
                var previous = s.first
                for k in s.first...s.last where bins[k] > 0 {
                    ByteCoding.appendVarint(&out, UInt64(k - previous))
                    ByteCoding.appendVarint(&out, bins[k])
                    previous = k
                }
            } else {
                for k in s.first...s.last { ByteCoding.appendVarint(&out, bins[k]) }
            }
        }
        if let s = positiveShape { store(positive, positiveOffset, s, sparse: flags & 16 != 0) }
        if let s = negativeShape { store(negative, negativeOffset, s, sparse: flags & 32 != 0) }
        if flags & 4 != 0 { ByteCoding.appendVarint(&out, zeroCount) }
        if flags & 8 != 0 {
            ByteCoding.appendVarint(&out, nanCount)
            ByteCoding.appendVarint(&out, positiveInfinityCount)
            ByteCoding.appendVarint(&out, negativeInfinityCount)
        }
    }

    /// Adds an encoded sketch (from `encode(into:)`) read at `reader`'s position, without
    /// building a second sketch.
    public mutating func merge(encoded reader: inout VarintReader) throws(ChunkDecodingError) {
        let flags = try reader.byte()
        guard flags & 0xC0 == 0 else { throw ChunkDecodingError("sketch flags \(flags) out of range") }
        func store(_ bins: inout [UInt64], _ offset: inout Int32, _ reader: inout VarintReader, sparse: Bool)
            throws(ChunkDecodingError)
        {
            let first = ByteCoding.unzigzag(try reader.varint())
            let length = try reader.varint()
            guard length > 0, length <= 1 << 20, first >= Int64(Int32.min) / 2, first + Int64(length) <= Int64(Int32.max) / 2 else {
                throw ChunkDecodingError("sketch store of \(length) bins at \(first) out of range")
            }
            let start = Int32(first)
            let end = Int(length)
            // Grow once to cover [start, start + length).
            if bins.isEmpty {
                offset = start
                bins = [UInt64](repeating: 0, count: end)
            } else {
                if start < offset {
                    bins.insert(contentsOf: repeatElement(0, count: Int(offset - start)), at: 0)
                    offset = start
                }
                let needed = Int(start - offset) + end
                if needed > bins.count { bins.append(contentsOf: repeatElement(0, count: needed - bins.count)) }
            }
            let base = Int(start - offset)
            if sparse {
                let used = try reader.varint()
                guard used <= length else { throw ChunkDecodingError("sketch store uses more bins than it spans") }
                var k: UInt64 = 0
                for _ in 0..<used {
                    k &+= try reader.varint()
                    guard k < length else { throw ChunkDecodingError("sketch bin outside its store") }
                    bins[base + Int(k)] &+= try reader.varint()
                }
            } else {
                for k in 0..<end { bins[base + k] &+= try reader.varint() }
            }
        }
        if flags & 1 != 0 { try store(&positive, &positiveOffset, &reader, sparse: flags & 16 != 0) }
        if flags & 2 != 0 { try store(&negative, &negativeOffset, &reader, sparse: flags & 32 != 0) }
        if flags & 4 != 0 { zeroCount &+= try reader.varint() }
        if flags & 8 != 0 {
            nanCount &+= try reader.varint()
            positiveInfinityCount &+= try reader.varint()
            negativeInfinityCount &+= try reader.varint()
        }
    }

    /// Decodes a sketch written by `encode(into:)`.
    public init(encoded bytes: [UInt8]) throws(ChunkDecodingError) {
        self.init()
        var sketch = QuantileSketch()
        var failure: ChunkDecodingError? = nil
        bytes.withUnsafeBytes { raw in
            var reader = VarintReader(raw)
            do throws(ChunkDecodingError) {
                try sketch.merge(encoded: &reader)
                if !reader.isAtEnd { failure = ChunkDecodingError("trailing bytes after a sketch") }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        self = sketch
    }

    /// Equal when the same values were added (bins compared without their zero ends).
    public static func == (a: QuantileSketch, b: QuantileSketch) -> Bool {
        var x: [UInt8] = []
        var y: [UInt8] = []
        a.encode(into: &x)
        b.encode(into: &y)
        return x == y
    }
}

/// LEB128 varints and zigzag, for the byte-aligned rollup and sketch formats.
public enum ByteCoding {
    @inline(__always)
    public static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    @inline(__always)
    public static func unzigzag(_ u: UInt64) -> Int64 { Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1) }

    @inline(__always)
    public static func appendVarint(_ out: inout [UInt8], _ value: UInt64) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Appends the 8 bytes of a double, little-endian.
    @inline(__always)
    public static func appendDouble(_ out: inout [UInt8], _ value: Double) {
        var bits = value.bitPattern
        for _ in 0..<8 {
            out.append(UInt8(truncatingIfNeeded: bits))
            bits >>= 8
        }
    }
}

/// Reads bytes, varints and doubles from a buffer, throwing on truncation.
public struct VarintReader {
    private let bytes: UnsafeRawBufferPointer
    /// The next byte to read.
    public private(set) var position: Int

    public init(_ bytes: UnsafeRawBufferPointer, at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    public var isAtEnd: Bool { position >= bytes.count }

    @inline(__always)
    public mutating func byte() throws(ChunkDecodingError) -> UInt8 {
        guard position < bytes.count else { throw ChunkDecodingError("truncated") }
        defer { position += 1 }
        return bytes[position]
    }

    @inline(__always)
    public mutating func varint() throws(ChunkDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count else { throw ChunkDecodingError("truncated varint") }
            let b = bytes[position]
            position += 1
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            guard shift < 64 else { throw ChunkDecodingError("varint longer than 64 bits") }
        }
    }

    /// Skips `count` bytes.
    public mutating func skip(_ count: UInt64) throws(ChunkDecodingError) {
        guard count <= UInt64(bytes.count - position) else { throw ChunkDecodingError("truncated") }
        position += Int(count)
    }

    @inline(__always)
    public mutating func double() throws(ChunkDecodingError) -> Double {
        guard position + 8 <= bytes.count else { throw ChunkDecodingError("truncated double") }
        var bits: UInt64 = 0
        for k in 0..<8 { bits |= UInt64(bytes[position + k]) << UInt64(8 * k) }
        position += 8
        return Double(bitPattern: bits)
    }
}
