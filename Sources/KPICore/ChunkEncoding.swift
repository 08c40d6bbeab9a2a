/// Why encoded chunk bytes could not be decoded (they are corrupt or truncated).
public struct ChunkDecodingError: Error, Sendable, CustomStringConvertible {
    /// What was wrong, for logs and `StorageError` messages.
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The compressed chunk format ("kpid compressed v1"): delta-of-delta timestamps and, per
/// chunk, the smallest of three value encodings that reproduces every value bit for bit.
///
/// Layout (bit fields are most-significant-bit first; varints are unsigned LEB128 and start
/// on a byte boundary, a bit section is padded with zero bits to the next byte):
///
///     byte 0   tag: bits 0-1 timestamp encoding (0 constant interval, 1 delta-of-delta),
///              bits 2-3 value encoding (0 XOR, 1 scaled integers, 2 runs),
///              bits 4-6 decimal scale k (0...4, only for scaled and runs), bit 7 zero
///     varint   n, the sample count (0 ends the chunk)
///     varint   zigzag(t0)
///     varint   d1 = t1 - t0 (two's-complement difference as UInt64), if n >= 2
///     [delta-of-delta only] n-2 bit fields, dod = d[i] - d[i-1] (wrapping), z = zigzag(dod):
///              0 -> dod 0 | 10 + 8 bits z | 110 + 13 bits z | 1110 + 20 bits z
///              | 11110 + 32 bits z | 11111 + 64 bits z
///     values, one of:
///     XOR      64 bits v0, then per value x = bits ^ previous bits:
///              0 -> same value | 10 + meaningful bits inside the previous window
///              | 11 + 6 bits leading zeros + 6 bits (length - 1) + length bits (new window)
///     scaled   every value is Double(s) / 10^k for an integer s (|s| <= 2^53) exactly;
///              varint zigzag(s0), then if n >= 2 a byte w (0...64) and n-1 fields of w bits
///              holding zigzag(s[i] - s[i-1])
///     runs     same integers as scaled; varint run count, then per run varint length (>= 1)
///              and varint zigzag(s - s of the previous run, 0 before the first)
///
/// The constant-interval case costs nothing per sample, so a regular gauge with a constant
/// or integer value stores a few bytes for the whole chunk. Values that are not exactly
/// decimal (NaN payloads, -0.0, infinities, subnormals, arbitrary doubles) make the scaled
/// and run encodings unavailable and the chunk falls back to XOR, which is lossless for any
/// bit pattern.
public enum ChunkEncoding {
    /// How the timestamp column is stored.
    public enum TimestampEncoding: UInt8, Sendable {
        /// Every interval equals the first one: only t0 and d1 are stored.
        case constantInterval = 0
        /// Bit-packed delta-of-deltas.
        case deltaOfDelta = 1
    }

    /// How the value column is stored.
    public enum ValueEncoding: UInt8, Sendable {
        /// Gorilla-style XOR against the previous value; works for any bit pattern.
        case xor = 0
        /// Scaled integers, delta + zigzag + fixed-width bit packing.
        case scaledInteger = 1
        /// Scaled integers as runs of equal values.
        case runLength = 2
    }

    /// What the first bytes of an encoded chunk say about it.
    public struct Header: Sendable, Equatable {
        /// Number of samples.
        public var count: Int
        /// How the timestamps are stored.
        public var timestampEncoding: TimestampEncoding
        /// How the values are stored.
        public var valueEncoding: ValueEncoding
        /// Decimal scale k: values are integers divided by 10^k (scaled and runs only).
        public var scale: Int
    }

    /// Upper bound on the sample count a decoder accepts. Some encodings spend zero bits per
    /// sample, so a corrupt count could otherwise request an arbitrarily large allocation.
    public static let maxSampleCount = 1 << 24

    /// Largest decimal scale tried (values with up to 4 decimals).
    public static let maxScale = 4

    static let powersOfTen: [Double] = [1, 10, 100, 1000, 10000]

    // MARK: - Encoding

    /// Encodes one chunk. `timestamps` must be strictly increasing and as long as `values`.
    public static func encode(timestamps: [Int64], values: [Double]) -> [UInt8] {
        precondition(timestamps.count == values.count, "chunk columns differ in length")
        return timestamps.withUnsafeBufferPointer { ts in
            values.withUnsafeBufferPointer { vs in encode(timestamps: ts, values: vs) }
        }
    }

    /// Encodes one chunk from borrowed columns. `timestamps` must be strictly increasing and
    /// as long as `values`.
    public static func encode(
        timestamps ts: UnsafeBufferPointer<Int64>, values vs: UnsafeBufferPointer<Double>
    ) -> [UInt8] {
        precondition(ts.count == vs.count, "chunk columns differ in length")
        precondition(ts.count <= maxSampleCount, "chunk of \(ts.count) samples exceeds \(maxSampleCount)")
        let n = ts.count
        for i in ts.indices.dropFirst() {
            precondition(ts[i] > ts[i - 1], "chunk timestamps must be strictly increasing")
        }
        var writer = BitWriter(capacity: 16 + n / 2)
        guard n > 0 else {
            writer.writeByte(0)
            writer.writeVarint(0)
            return writer.finish()
        }

        // Timestamps: constant interval when every delta equals the first.
        let d1 = n >= 2 ? UInt64(bitPattern: ts[1] &- ts[0]) : 0
        var constant = true
        if n >= 3 {
            for i in 2..<n where UInt64(bitPattern: ts[i] &- ts[i - 1]) != d1 {
                constant = false
                break
            }
        }
        let tsEncoding: TimestampEncoding = constant ? .constantInterval : .deltaOfDelta

        // Values: the smallest candidate wins; ties prefer the cheaper decoder.
        let plan = ValuePlan(vs)

        writer.writeByte(tsEncoding.rawValue | plan.encoding.rawValue << 2 | UInt8(plan.scale) << 4)
        writer.writeVarint(UInt64(n))
        writer.writeVarint(zigzag(ts[0]))
        if n >= 2 { writer.writeVarint(d1) }
        if tsEncoding == .deltaOfDelta {
            var previous = d1
            for i in 2..<n {
                let delta = UInt64(bitPattern: ts[i] &- ts[i - 1])
                writeDeltaOfDelta(&writer, zigzag(Int64(bitPattern: delta &- previous)))
                previous = delta
            }
            writer.alignToByte()
        }

        switch plan.encoding {
        case .xor: writeXOR(&writer, vs)
        case .scaledInteger: writeScaled(&writer, plan.integers, width: plan.width)
        case .runLength: writeRuns(&writer, plan.integers)
        }
        return writer.finish()
    }

    @inline(__always)
    static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    @inline(__always)
    static func unzigzag(_ z: UInt64) -> Int64 { Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1))) }

    /// Bucket payload widths after the unary prefixes 10, 110, 1110, 11110, 11111. 8 bits
    /// cover |dod| < 128 ms; 13 bits cover |dod| < 4096 ms, enough for scrapes jittered by
    /// ±1 s (dod = j[i] - 2·j[i-1] + j[i-2] stays within ±4 s).
    static let dodWidths = [8, 13, 20, 32, 64]

    static func writeDeltaOfDelta(_ writer: inout BitWriter, _ z: UInt64) {
        if z == 0 { writer.write(0, width: 1); return }
        let bits = 64 - z.leadingZeroBitCount
        for (bucket, width) in dodWidths.enumerated() where bits <= width {
            // Prefix: bucket+1 ones, then a zero unless this is the last bucket.
            let ones = bucket + 1
            if bucket < dodWidths.count - 1 {
                writer.write(((1 << UInt64(ones)) - 1) << 1, width: ones + 1)
            } else {
                writer.write((1 << UInt64(ones)) - 1, width: ones)
            }
            writer.write(z, width: width)
            return
        }
    }

    static func varintSize(_ v: UInt64) -> Int { max(1, (64 - v.leadingZeroBitCount + 6) / 7) }

    /// Which value encoding a chunk gets, and the scaled integers when they exist.
    struct ValuePlan {
        var encoding: ValueEncoding = .xor
        var scale = 0
        var width = 0
        var integers: [Int64] = []

        init(_ vs: UnsafeBufferPointer<Double>) {
            guard let (scale, integers) = ChunkEncoding.scaledIntegers(vs) else { return }
            let n = integers.count
            // Scaled: zigzag(s0), width byte, packed deltas.
            var maxZigzag: UInt64 = 0
            var runs = 1
            var runBytes = 0
            var runStart = 0
            var previousRunValue: Int64 = 0
            for i in 1..<max(n, 1) {
                let delta = integers[i] &- integers[i - 1]
                maxZigzag |= ChunkEncoding.zigzag(delta)
                if delta != 0 {
                    runBytes += ChunkEncoding.varintSize(UInt64(i - runStart))
                        + ChunkEncoding.varintSize(ChunkEncoding.zigzag(integers[runStart] &- previousRunValue))
                    previousRunValue = integers[runStart]
                    runStart = i
                    runs += 1
                }
            }
            runBytes += ChunkEncoding.varintSize(UInt64(n - runStart))
                + ChunkEncoding.varintSize(ChunkEncoding.zigzag(integers[runStart] &- previousRunValue))
            runBytes += ChunkEncoding.varintSize(UInt64(runs))
            let width = 64 - maxZigzag.leadingZeroBitCount
            let scaledBytes = ChunkEncoding.varintSize(ChunkEncoding.zigzag(integers[0]))
                + (n >= 2 ? 1 + ((n - 1) * width + 7) / 8 : 0)
            // XOR is at least 8 bytes plus one bit per further sample; only measure it when
            // that bound does not already lose.
            let best = min(scaledBytes, runBytes)
            if best > 8 + (n - 1 + 7) / 8 && ChunkEncoding.xorSize(vs) < best { return }
            self.scale = scale
            self.integers = integers
            self.width = width
            self.encoding = scaledBytes <= runBytes ? .scaledInteger : .runLength
        }
    }

    /// The integers s with Double(s) / 10^k == value bit for bit, for the smallest k in
    /// 0...maxScale that works for every value; nil when no k does (the chunk uses XOR).
    static func scaledIntegers(_ vs: UnsafeBufferPointer<Double>) -> (Int, [Int64])? {
        guard !vs.isEmpty else { return nil }
        var k = 0
        // Raise k until each value round-trips; the final pass re-checks all at that k.
        for v in vs {
            while k <= maxScale && scaled(v, k) == nil { k += 1 }
            if k > maxScale { return nil }
        }
        var integers = [Int64](repeating: 0, count: vs.count)
        for (i, v) in vs.enumerated() {
            guard let s = scaled(v, k) else { return nil }
            integers[i] = s
        }
        return (k, integers)
    }

    /// The integer s with Double(s) / 10^k bit-identical to `v`, if there is one.
    @inline(__always)
    static func scaled(_ v: Double, _ k: Int) -> Int64? {
        let p = powersOfTen[k]
        let r = (v * p).rounded()
        // 2^53 keeps s exactly representable and deltas far from Int64 overflow; NaN and
        // infinities fail this comparison.
        guard abs(r) <= 9_007_199_254_740_992 else { return nil }
        let s = Int64(r)
        // Division (correctly rounded) is what the decoder does; -0.0 fails here because
        // the integer 0 decodes to +0.0.
        guard (Double(s) / p).bitPattern == v.bitPattern else { return nil }
        return s
    }

    static func writeScaled(_ writer: inout BitWriter, _ integers: [Int64], width: Int) {
        writer.writeVarint(zigzag(integers[0]))
        guard integers.count >= 2 else { return }
        writer.writeByte(UInt8(width))
        for i in 1..<integers.count {
            writer.write(zigzag(integers[i] &- integers[i - 1]), width: width)
        }
    }

    static func writeRuns(_ writer: inout BitWriter, _ integers: [Int64]) {
        var runs = 1
        for i in 1..<integers.count where integers[i] != integers[i - 1] { runs += 1 }
        writer.writeVarint(UInt64(runs))
        var previous: Int64 = 0
        var start = 0
        for i in 1...integers.count where i == integers.count || integers[i] != integers[i - 1] {
            writer.writeVarint(UInt64(i - start))
            writer.writeVarint(zigzag(integers[start] &- previous))
            previous = integers[start]
            start = i
        }
    }

    static func writeXOR(_ writer: inout BitWriter, _ vs: UnsafeBufferPointer<Double>) {
        var previous = vs[0].bitPattern
        writer.write(previous, width: 64)
        var leading = -1  // no window yet
        var trailing = 0
        for v in vs.dropFirst() {
            let bits = v.bitPattern
            let x = bits ^ previous
            previous = bits
            if x == 0 { writer.write(0, width: 1); continue }
            let lz = x.leadingZeroBitCount
            let tz = x.trailingZeroBitCount
            if leading >= 0 && lz >= leading && tz >= trailing {
                writer.write(0b10, width: 2)
                writer.write(x >> UInt64(trailing), width: 64 - leading - trailing)
            } else {
                let length = 64 - lz - tz
                writer.write(0b11, width: 2)
                writer.write(UInt64(lz), width: 6)
                writer.write(UInt64(length - 1), width: 6)
                writer.write(x >> UInt64(tz), width: length)
                leading = lz
                trailing = tz
            }
        }
    }

    /// Bytes `writeXOR` would produce, without writing them.
    static func xorSize(_ vs: UnsafeBufferPointer<Double>) -> Int {
        var previous = vs[0].bitPattern
        var bits = 64
        var leading = -1
        var trailing = 0
        for v in vs.dropFirst() {
            let x = v.bitPattern ^ previous
            previous = v.bitPattern
            if x == 0 { bits += 1; continue }
            let lz = x.leadingZeroBitCount
            let tz = x.trailingZeroBitCount
            if leading >= 0 && lz >= leading && tz >= trailing {
                bits += 2 + 64 - leading - trailing
            } else {
                bits += 14 + 64 - lz - tz
                leading = lz
                trailing = tz
            }
        }
        return (bits + 7) / 8
    }

    // MARK: - Decoding

    /// Reads the tag and sample count.
    public static func header(_ bytes: UnsafeRawBufferPointer) throws(ChunkDecodingError) -> Header {
        var reader = BitReader(bytes)
        return try readHeader(&reader, byteCount: bytes.count)
    }

    static func readHeader(_ reader: inout BitReader, byteCount: Int) throws(ChunkDecodingError) -> Header {
        let tag = try reader.readByte()
        guard tag & 0x80 == 0,
              let tsEncoding = TimestampEncoding(rawValue: tag & 3),
              let valueEncoding = ValueEncoding(rawValue: (tag >> 2) & 3)
        else { throw ChunkDecodingError("unknown chunk tag \(tag)") }
        let scale = Int(tag >> 4)
        guard scale <= maxScale else { throw ChunkDecodingError("decimal scale \(scale) out of range") }
        let n = try reader.readVarint()
        guard n <= UInt64(maxSampleCount) else { throw ChunkDecodingError("sample count \(n) too large") }
        // Delta-of-delta timestamps and XOR values spend at least one bit per sample, so a
        // count the bytes cannot hold is corrupt; rejecting it here keeps callers from
        // allocating for it.
        if tsEncoding == .deltaOfDelta || valueEncoding == .xor {
            guard n <= UInt64(byteCount) * 8 else { throw ChunkDecodingError("sample count \(n) exceeds the data") }
        }
        return Header(count: Int(n), timestampEncoding: tsEncoding, valueEncoding: valueEncoding, scale: scale)
    }

    /// Decodes into caller-provided buffers (each at least `header(bytes).count` long) and
    /// returns the sample count. Allocates nothing. Throws for corrupt or truncated bytes,
    /// including timestamps that are not strictly increasing and trailing bytes.
    public static func decode(
        _ bytes: UnsafeRawBufferPointer,
        timestamps: UnsafeMutableBufferPointer<Int64>,
        values: UnsafeMutableBufferPointer<Double>
    ) throws(ChunkDecodingError) -> Int {
        var reader = BitReader(bytes)
        let header = try readHeader(&reader, byteCount: bytes.count)
        let n = header.count
        guard timestamps.count >= n && values.count >= n else {
            throw ChunkDecodingError("output buffers hold fewer than \(n) samples")
        }
        if n == 0 {
            guard reader.isAtEnd() else { throw ChunkDecodingError("trailing bytes") }
            return 0
        }
        try decodeTimestamps(&reader, header, timestamps)
        switch header.valueEncoding {
        case .xor: try decodeXOR(&reader, n, values)
        case .scaledInteger: try decodeScaled(&reader, n, powersOfTen[header.scale], values)
        case .runLength: try decodeRuns(&reader, n, powersOfTen[header.scale], values)
        }
        guard reader.isAtEnd() else { throw ChunkDecodingError("trailing bytes after \(n) samples") }
        return n
    }

    static func decodeTimestamps(
        _ reader: inout BitReader, _ header: Header, _ out: UnsafeMutableBufferPointer<Int64>
    ) throws(ChunkDecodingError) {
        let n = header.count
        var t = unzigzag(try reader.readVarint())
        out[0] = t
        guard n >= 2 else {
            guard header.timestampEncoding == .constantInterval else { throw ChunkDecodingError("bad timestamp encoding") }
            return
        }
        var delta = try reader.readVarint()
        switch header.timestampEncoding {
        case .constantInterval:
            // Strictly increasing without overflow: in the order-preserving unsigned view
            // (sign bit flipped), t0 + (n-1)·d1 must not pass UInt64.max. d1 may exceed
            // Int64.max (e.g. Int64.min then Int64.max), so the check is unsigned.
            let (span, overflow) = delta.multipliedReportingOverflow(by: UInt64(n - 1))
            let start = UInt64(bitPattern: t) ^ (1 << 63)
            guard delta > 0, !overflow, span <= UInt64.max - start else {
                throw ChunkDecodingError("constant interval \(delta) overflows or does not increase")
            }
            let step = Int64(bitPattern: delta)
            for i in 1..<n {
                t &+= step
                out[i] = t
            }
        case .deltaOfDelta:
            var next = t &+ Int64(bitPattern: delta)
            guard next > t else { throw ChunkDecodingError("timestamps not increasing") }
            t = next
            out[1] = t
            for i in 2..<n {
                let bucket = try reader.readUnary(limit: 5)
                if bucket > 0 {
                    let z = try reader.read(dodWidths[bucket - 1])
                    delta &+= UInt64(bitPattern: unzigzag(z))
                }
                next = t &+ Int64(bitPattern: delta)
                // Also rejects wrap-around: a positive delta that overflows lands below t.
                guard next > t else { throw ChunkDecodingError("timestamps not increasing") }
                t = next
                out[i] = t
            }
            // The encoder pads the delta-of-delta bits to a byte before the values.
            reader.alignToByte()
        }
    }

    static func decodeXOR(
        _ reader: inout BitReader, _ n: Int, _ out: UnsafeMutableBufferPointer<Double>
    ) throws(ChunkDecodingError) {
        var bits = try reader.read(64)
        out[0] = Double(bitPattern: bits)
        var leading = -1
        var trailing = 0
        for i in 1..<n {
            let control = try reader.readUnary(limit: 2)
            if control == 1 {
                guard leading >= 0 else { throw ChunkDecodingError("XOR window used before it was set") }
                bits ^= try reader.read(64 - leading - trailing) << UInt64(trailing)
            } else if control == 2 {
                let lz = Int(try reader.read(6))
                let length = Int(try reader.read(6)) + 1
                guard lz + length <= 64 else { throw ChunkDecodingError("XOR window exceeds 64 bits") }
                leading = lz
                trailing = 64 - lz - length
                bits ^= try reader.read(length) << UInt64(trailing)
            }
            out[i] = Double(bitPattern: bits)
        }
    }

    static func decodeScaled(
        _ reader: inout BitReader, _ n: Int, _ scale: Double, _ out: UnsafeMutableBufferPointer<Double>
    ) throws(ChunkDecodingError) {
        var s = unzigzag(try reader.readVarint())
        out[0] = Double(s) / scale
        guard n >= 2 else { return }
        let width = Int(try reader.readByte())
        guard width <= 64 else { throw ChunkDecodingError("bit width \(width) exceeds 64") }
        if width == 0 {
            // Constant value: the common case for flat gauges.
            let v = out[0]
            for i in 1..<n { out[i] = v }
            return
        }
        for i in 1..<n {
            s &+= unzigzag(try reader.read(width))
            out[i] = Double(s) / scale
        }
    }

    static func decodeRuns(
        _ reader: inout BitReader, _ n: Int, _ scale: Double, _ out: UnsafeMutableBufferPointer<Double>
    ) throws(ChunkDecodingError) {
        let runs = try reader.readVarint()
        guard runs >= 1 && runs <= UInt64(n) else { throw ChunkDecodingError("run count \(runs) out of range") }
        var s: Int64 = 0
        var filled = 0
        for _ in 0..<Int(runs) {
            let length = try reader.readVarint()
            guard length >= 1 && length <= UInt64(n - filled) else {
                throw ChunkDecodingError("run length \(length) out of range")
            }
            s &+= unzigzag(try reader.readVarint())
            let v = Double(s) / scale
            let end = filled + Int(length)
            for i in filled..<end { out[i] = v }
            filled = end
        }
        guard filled == n else { throw ChunkDecodingError("runs cover \(filled) of \(n) samples") }
    }

    /// Decodes into new arrays (convenience for tests and cold paths).
    public static func decode(_ bytes: [UInt8]) throws(ChunkDecodingError) -> (timestamps: [Int64], values: [Double]) {
        // withUnsafeBytes does not forward typed errors; carry the outcome out as a Result.
        let result = bytes.withUnsafeBytes { raw -> Result<([Int64], [Double]), ChunkDecodingError> in
            do throws(ChunkDecodingError) {
                let n = try header(raw).count
                var ts = [Int64](repeating: 0, count: n)
                var vs = [Double](repeating: 0, count: n)
                var failure: ChunkDecodingError?
                ts.withUnsafeMutableBufferPointer { t in
                    vs.withUnsafeMutableBufferPointer { v in
                        do throws(ChunkDecodingError) {
                            _ = try decode(raw, timestamps: t, values: v)
                        } catch {
                            failure = error
                        }
                    }
                }
                if let failure { throw failure }
                return .success((ts, vs))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
