import KPITestSupport
import Testing

@testable import KPICore

private func bits(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }

private func header(_ bytes: [UInt8]) throws -> ChunkEncoding.Header {
    try bytes.withUnsafeBytes { try ChunkEncoding.header($0) }
}

/// Encodes, decodes, and checks bit-exactness; returns the encoded bytes.
@discardableResult
private func roundTrip(
    _ ts: [Int64], _ vs: [Double], sourceLocation: SourceLocation = #_sourceLocation
) throws -> [UInt8] {
    let bytes = ChunkEncoding.encode(timestamps: ts, values: vs)
    let decoded = try ChunkEncoding.decode(bytes)
    #expect(decoded.timestamps == ts, sourceLocation: sourceLocation)
    #expect(bits(decoded.values) == bits(vs), sourceLocation: sourceLocation)
    #expect(try header(bytes).count == ts.count, sourceLocation: sourceLocation)
    return bytes
}

private func regular(_ n: Int, start: Int64 = 1_700_000_000_000, step: Int64 = 60_000) -> [Int64] {
    (0..<n).map { start + Int64($0) * step }
}

@Suite struct ChunkEncodingTimestampTests {
    @Test func constantIntervalUsesTheFastPath() throws {
        let bytes = try roundTrip(regular(512), Array(repeating: 1.5, count: 512))
        #expect(try header(bytes).timestampEncoding == .constantInterval)
    }

    @Test func jitteredTimestampsRoundTrip() throws {
        var rng = SeededGenerator(seed: 1)
        let ts = (0..<512).map { Int64($0) * 60_000 + Int64.random(in: -1000...1000, using: &rng) + 1_700_000_000_000 }
        let bytes = try roundTrip(ts, Array(repeating: 0, count: 512))
        #expect(try header(bytes).timestampEncoding == .deltaOfDelta)
        // ±1000 ms jitter: delta-of-deltas (within ±4000) fit at worst the 13-bit bucket (16
        // bits with its prefix). Header: tag 1, count 2, t0 6, d1 3; values constant: 2.
        #expect(bytes.count <= 510 * 16 / 8 + 1 + 2 + 6 + 3 + 2)
    }

    @Test func gapsAndExtremes() throws {
        let cases: [[Int64]] = [
            [],
            [0],
            [Int64.min],
            [Int64.max],
            [Int64.min, Int64.max],  // delta overflows Int64: stored as two's complement UInt64
            [Int64.min, Int64.min + 1, Int64.max - 1, Int64.max],
            [-5, -4, -3, 1_000_000_000_000_000, 1_000_000_000_000_001],
            [1, 2],
            regular(100) + regular(100, start: 1_800_000_000_000),  // one gap
            regular(10, start: -1_000_000, step: 1),
            (0..<63).map { Int64(1) << $0 },  // doubling deltas hit every dod bucket
            [Int64.min, -1, 0, 1, Int64.max / 2, Int64.max],
        ]
        for ts in cases {
            try roundTrip(ts, ts.map { Double($0) })
        }
    }

    @Test func rejectsNonIncreasingConstantIntervalThatOverflows() throws {
        // tag 0 (constant, XOR), n = 3, t0 = Int64.max - 1, d1 = 1: t2 would overflow.
        var bytes: [UInt8] = [0, 3]
        bytes += varint(ChunkEncoding.zigzag(Int64.max - 1)) + varint(1)
        bytes += Array(repeating: 0, count: 9)
        #expect(throws: ChunkDecodingError.self) { try ChunkEncoding.decode(bytes) }
    }
}

private func varint(_ v: UInt64) -> [UInt8] {
    var out: [UInt8] = []
    var v = v
    while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
    out.append(UInt8(v))
    return out
}

@Suite struct ChunkEncodingValueTests {
    let ts = regular(512)

    @Test func integersUseScaledIntegers() throws {
        var rng = SeededGenerator(seed: 2)
        var occupancy = 40.0
        let vs = (0..<512).map { _ in
            occupancy = max(0, occupancy + Double(Int.random(in: -3...3, using: &rng)))
            return occupancy
        }
        let bytes = try roundTrip(ts, vs)
        let h = try header(bytes)
        #expect(h.valueEncoding == .scaledInteger)
        #expect(h.scale == 0)
    }

    @Test func rareStateFlipsUseRuns() throws {
        var vs = Array(repeating: 1.0, count: 512)
        for i in 200..<230 { vs[i] = 0 }
        let bytes = try roundTrip(ts, vs)
        #expect(try header(bytes).valueEncoding == .runLength)
    }

    @Test func threeDecimalWaitsUseScaleThree() throws {
        var rng = SeededGenerator(seed: 3)
        let vs = (0..<512).map { _ in Double(Int.random(in: 100_000...500_000, using: &rng)) / 1000 }
        let bytes = try roundTrip(ts, vs)
        let h = try header(bytes)
        #expect(h.valueEncoding == .scaledInteger)
        #expect(h.scale == 3)
        #expect(try roundTrip([1, 2, 3], [312.125, 0.001, -7.5]).count > 0)
    }

    @Test func randomDoublesUseXOR() throws {
        var rng = SeededGenerator(seed: 4)
        let vs = (0..<512).map { _ in Double.random(in: -1e6...1e6, using: &rng) }
        let bytes = try roundTrip(ts, vs)
        #expect(try header(bytes).valueEncoding == .xor)
    }

    @Test func specialValuesSurviveBitForBit() throws {
        let nanPayload = Double(bitPattern: 0x7FF8_0000_DEAD_BEEF)
        let signalling = Double(bitPattern: 0x7FF0_0000_0000_0001)
        let negativeNaN = Double(bitPattern: 0xFFF8_0000_0000_0042)
        let specials: [[Double]] = [
            [nanPayload, signalling, negativeNaN, .nan],
            [-0.0, 0.0, -0.0],
            [-0.0],
            [.infinity, -.infinity, 1],
            [.leastNonzeroMagnitude, -.leastNonzeroMagnitude, Double(bitPattern: 0x000F_FFFF_FFFF_FFFF)],
            [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .ulpOfOne],
            [1, 2, 3, nanPayload, 4, -0.0, 5.5, .infinity, 0.1, 0.3],
            [9_007_199_254_740_992, 1],  // 2^53, the largest scaled integer accepted
            [9_007_199_254_740_994, -9_007_199_254_740_994],
        ]
        for vs in specials {
            let bytes = try roundTrip(Array(Int64(0)..<Int64(vs.count)), vs)
            if vs.contains(where: { $0.isNaN || $0.isInfinite || $0.bitPattern == (-0.0).bitPattern }) {
                #expect(try header(bytes).valueEncoding == .xor, "\(vs)")
            }
        }
    }

    @Test func constantChunkHasHandComputedSize() throws {
        // tag 1 + count 512 (2-byte varint) + zigzag(1.7e12) = 3.4e12 < 2^42 (6 bytes)
        // + d1 60000 < 2^21 (3 bytes) + zigzag(42) = 84 (1 byte) + width 0 (1 byte) = 14.
        let bytes = try roundTrip(ts, Array(repeating: 42, count: 512))
        #expect(bytes.count == 14)
        #expect(bytes[0] == 0b0000_0100)  // constant interval, scaled integers, k = 0
        let h = try header(bytes)
        #expect(h.timestampEncoding == .constantInterval)
        #expect(h.valueEncoding == .scaledInteger)
    }

    @Test func singleAndEmptyChunks() throws {
        #expect(try roundTrip([], []) == [0, 0])
        try roundTrip([7], [.nan])
        try roundTrip([7], [-0.0])
        try roundTrip([7], [3])
        try roundTrip([Int64.min], [0.125])
    }
}

@Suite struct ChunkEncodingRobustnessTests {
    static func samples() -> [[UInt8]] {
        var rng = SeededGenerator(seed: 5)
        let jitter = (0..<64).map { Int64($0) * 1000 + Int64.random(in: -300...300, using: &rng) }
        var states = Array(repeating: 0.0, count: 64)
        states[10] = 1
        return [
            ChunkEncoding.encode(timestamps: regular(64), values: Array(repeating: 42, count: 64)),
            ChunkEncoding.encode(timestamps: jitter, values: (0..<64).map { Double($0 % 7) }),
            ChunkEncoding.encode(timestamps: jitter, values: states),
            ChunkEncoding.encode(timestamps: regular(64), values: (0..<64).map { Double($0) / 1000 + 0.125 }),
            ChunkEncoding.encode(
                timestamps: jitter, values: (0..<64).map { _ in Double.random(in: -1...1, using: &rng) }),
            ChunkEncoding.encode(timestamps: [Int64.min, Int64.max], values: [.nan, -0.0]),
        ]
    }

    /// A decode that succeeds must still honour the chunk invariant.
    static func checkValid(_ bytes: [UInt8]) {
        if let decoded = try? ChunkEncoding.decode(bytes) {
            #expect(decoded.timestamps.count == decoded.values.count)
            #expect(zip(decoded.timestamps, decoded.timestamps.dropFirst()).allSatisfy { $0 < $1 })
        }
    }

    @Test func everyTruncationThrows() {
        for bytes in Self.samples() {
            for length in 0..<bytes.count {
                #expect(throws: ChunkDecodingError.self, "prefix \(length) of \(bytes.count)") {
                    try ChunkEncoding.decode(Array(bytes[..<length]))
                }
            }
            // Trailing garbage is rejected too.
            #expect(throws: ChunkDecodingError.self) { try ChunkEncoding.decode(bytes + [0]) }
        }
    }

    @Test func byteFlipsNeverTrap() {
        var rng = SeededGenerator(seed: 6)
        for bytes in Self.samples() {
            for i in bytes.indices {
                for mask: UInt8 in [0x01, 0x10, 0x80, 0xFF] {
                    var flipped = bytes
                    flipped[i] ^= mask
                    Self.checkValid(flipped)
                }
            }
            for _ in 0..<500 {
                var flipped = bytes
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    flipped[Int.random(in: 0..<flipped.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                Self.checkValid(flipped)
            }
        }
        // Huge sample counts are refused before any allocation.
        #expect(throws: ChunkDecodingError.self) { try ChunkEncoding.decode([4] + varint(1 << 40) + [0, 0, 0, 0]) }
    }

    @Test func seededRandomChunksRoundTrip() throws {
        var rng = SeededGenerator(seed: 7)
        for round in 0..<3000 {
            let n = Int.random(in: 0...300, using: &rng)
            var t = Int64.random(in: -1_000_000_000_000...1_000_000_000_000, using: &rng)
            let step = Int64.random(in: 1...100_000, using: &rng)
            let style = round % 4
            var ts: [Int64] = []
            for _ in 0..<n {
                ts.append(t)
                switch style {
                case 0: t += step
                case 1: t += max(1, step + Int64.random(in: -step / 2...step / 2, using: &rng))
                case 2: t += Bool.random(using: &rng) ? step : step * Int64.random(in: 1...1000, using: &rng)
                default: t += Int64.random(in: 1...Int64(1) << Int64.random(in: 1...40, using: &rng), using: &rng)
                }
            }
            let scale = Double([1, 10, 100, 1000, 10000, 100000][Int.random(in: 0...5, using: &rng)])
            var level = Double(Int.random(in: -1000...1000, using: &rng))
            let vs: [Double] = (0..<n).map { _ in
                switch round % 5 {
                case 0: return Double(bitPattern: rng.next())  // any bit pattern, NaNs included
                case 1: return Double.random(in: -1e9...1e9, using: &rng)
                case 2:
                    if Int.random(in: 0..<50, using: &rng) == 0 { level = Double(Int.random(in: 0...1, using: &rng)) }
                    return level
                case 3:
                    level += Double(Int.random(in: -500...500, using: &rng))
                    return level / scale
                default:
                    return [0.0, -0.0, .nan, .infinity, 1, 1e300, 2.5][Int.random(in: 0...6, using: &rng)]
                }
            }
            let bytes = ChunkEncoding.encode(timestamps: ts, values: vs)
            let decoded = try ChunkEncoding.decode(bytes)
            #expect(decoded.timestamps == ts, "round \(round)")
            #expect(bits(decoded.values) == bits(vs), "round \(round)")
        }
    }

    @Test func decodesIntoCallerBuffers() throws {
        let vs = (0..<100).map { Double($0) * 0.5 }
        let bytes = ChunkEncoding.encode(timestamps: regular(100), values: vs)
        var t = [Int64](repeating: 0, count: 128)
        var v = [Double](repeating: 0, count: 128)
        let n = try bytes.withUnsafeBytes { raw in
            try t.withUnsafeMutableBufferPointer { tb in
                try v.withUnsafeMutableBufferPointer { vb in try ChunkEncoding.decode(raw, timestamps: tb, values: vb) }
            }
        }
        #expect(n == 100)
        #expect(Array(t[..<100]) == regular(100))
        #expect(Array(v[..<100]) == vs)
        // A buffer that is too small is an error, not an overrun.
        var small = [Int64](repeating: 0, count: 10)
        #expect(throws: ChunkDecodingError.self) {
            try bytes.withUnsafeBytes { raw in
                try small.withUnsafeMutableBufferPointer { tb in
                    try v.withUnsafeMutableBufferPointer { vb in try ChunkEncoding.decode(raw, timestamps: tb, values: vb) }
                }
            }
        }
    }
}

@Suite struct CompressedChunkStoreTests {
    @Test func chunkKeepsEncodedBytesAndDecodes() throws {
        let ts = regular(512)
        let vs = ts.map { Double(($0 / 60_000) % 3) }
        let chunk = Chunk(timestamps: ts, values: vs)
        #expect(chunk.count == 512 && chunk.minTime == ts[0] && chunk.maxTime == ts[511])
        #expect(chunk.memoryBytes == chunk.encoded.count)
        #expect(chunk.memoryBytes < 512 * 16 / 8)
        #expect(chunk.timestamps == ts && chunk.values == vs)
        #expect(try Chunk(encoded: chunk.encoded) == chunk)
        #expect(Chunk(timestamps: [1], values: [-0.0]) != Chunk(timestamps: [1], values: [0.0]))
        #expect(Chunk(timestamps: [1], values: [.nan]) == Chunk(timestamps: [1], values: [.nan]))
        #expect(throws: ChunkDecodingError.self) { try Chunk(encoded: Array(chunk.encoded.dropLast())) }
    }

    @Test func rangeReadsAcrossCompressedChunksMatchAReference() {
        let store = ColumnarStore(configuration: StoreConfiguration(outOfOrderWindowMs: 0, chunkSize: 64))
        let id = SeriesID(0)
        store.addSeries(Labels(metric: "occupancy"), id: id)
        var rng = SeededGenerator(seed: 8)
        var ts: [Int64] = []
        var vs: [Double] = []
        var t: Int64 = 1_000_000
        for i in 0..<1000 {
            t += Int64.random(in: 1...120_000, using: &rng)
            ts.append(t)
            vs.append(i % 3 == 0 ? Double(Int.random(in: 0...50, using: &rng)) : Double(bitPattern: rng.next()))
        }
        for start in stride(from: 0, to: 1000, by: 100) {
            store.apply(
                newSeries: [], series: [id], timestamps: [Array(ts[start..<start + 100])],
                values: [Array(vs[start..<start + 100])])
        }
        #expect(store.stats.chunkCount == 15)  // 999 sealable samples -> 15 chunks of 64
        for _ in 0..<200 {
            var a = Int64.random(in: ts[0] - 10...t + 10, using: &rng)
            var b = Int64.random(in: ts[0] - 10...t + 10, using: &rng)
            if a > b { swap(&a, &b) }
            let expected = zip(ts, vs).filter { $0.0 >= a && $0.0 <= b }
            let got = store.read(id, start: a, end: b)
            #expect(got.timestamps == expected.map(\.0))
            #expect(got.values.map(\.bitPattern) == expected.map { $0.1.bitPattern })
        }
        let all = store.read(id)
        #expect(all.timestamps == ts)
        #expect(store.read(id, start: .min, end: .max, limit: 70).timestamps == Array(ts[..<70]))
    }

    @Test func memoryReportsEncodedSize() {
        var columns = SeriesColumns()
        let ts = regular(512 * 8 + 1)
        columns.insert(timestamps: ts, values: ts.map { _ in 1 }, window: 0, chunkSize: 512)
        #expect(columns.chunks.count == 8)
        // Eight sealed chunks of a constant regular gauge at 14 bytes each (see
        // constantChunkHasHandComputedSize); the open head is still plain columns.
        let head = columns.headTimestamps.capacity * 8 + columns.headValues.capacity * 8
        #expect(columns.memoryBytes - head == 8 * 14)
    }
}
