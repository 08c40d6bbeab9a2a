import KPICore
import Testing

@testable import KPIStorage

@Suite struct LabelsCodecTests {
    func roundTrip(_ value: Labels) throws -> Labels {
        let bytes = LabelsCodec.encode(value)
        return try withBytes(bytes) { try LabelsCodec.decode($0) }
    }

    @Test func roundTripsPlainUnicodeAndLongLabels() throws {
        let cases: [Labels] = [
            labels("up"),
            labels("http_requests_total", ["method": "GET", "code": "200", "path": "/api/v1/query"]),
            labels("temperature", ["city": "Zürich", "note": "日本語 🚀 \"quoted\"\nnew line\\", "empty_free": "x"]),
            labels("long", ["v": String(repeating: "é", count: 300)]),  // 600 bytes: 2-byte varint
            Labels([Label(name: "job", value: "no metric name")]),
            Labels([]),
        ]
        for value in cases {
            #expect(try roundTrip(value) == value, "\(value)")
        }
    }

    @Test func emptyValuesAreNeverEncoded() throws {
        let value = Labels(metric: "m", ["gone": "", "kept": "1"])
        #expect(value.count == 2)
        let decoded = try roundTrip(value)
        #expect(decoded["gone"] == nil)
        #expect(decoded == value)
    }

    @Test func encodingIsCanonical() {
        let a = Labels([Label(name: "b", value: "2"), Label(name: "a", value: "1"), Label(name: "__name__", value: "m")])
        let b = Labels(metric: "m", ["a": "1", "b": "2"])
        #expect(LabelsCodec.encode(a) == LabelsCodec.encode(b))
    }

    @Test func truncationAtEveryPositionThrows() {
        let bytes = LabelsCodec.encode(labels("cpu_seconds", ["mode": "idle", "ünïcode": "✓"]))
        for length in 0..<bytes.count {
            let prefix = Array(bytes[..<length])
            #expect(throws: StorageError.self, "prefix \(length)") { try withBytes(prefix) { try LabelsCodec.decode($0) } }
        }
    }

    @Test func rejectsBadInput() {
        let bad: [(String, [UInt8])] = [
            ("trailing byte", LabelsCodec.encode(labels("m")) + [0]),
            ("invalid UTF-8", [1, 1, UInt8(ascii: "a"), 2, 0xC3, 0x28]),
            ("empty value", [1, 1, UInt8(ascii: "a"), 0]),
            ("out of order", [2, 1, UInt8(ascii: "b"), 1, UInt8(ascii: "1"), 1, UInt8(ascii: "a"), 1, UInt8(ascii: "2")]),
            ("duplicate name", [2, 1, UInt8(ascii: "a"), 1, UInt8(ascii: "1"), 1, UInt8(ascii: "a"), 1, UInt8(ascii: "2")]),
            ("huge pair count", [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
            ("huge length", [1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
            ("varint over 64 bits", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
            ("endless varint", [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
            ("empty input", []),
        ]
        for (name, bytes) in bad {
            #expect(throws: StorageError.self, "\(name)") { try withBytes(bytes) { try LabelsCodec.decode($0) } }
        }
    }
}

@Suite struct ChunkCodecTests {
    @Test func roundTripsBitForBit() throws {
        let chunk = Chunk(timestamps: Array(Int64(-5)..<Int64(awkwardValues.count - 5)), values: awkwardValues)
        let (encoding, bytes) = ChunkCodec.encode(chunk)
        // Was: raw encoding, 16 bytes per sample. Now the chunk's compressed bytes are stored.
        #expect(encoding == ChunkCodec.compressedEncoding)
        #expect(bytes == chunk.encoded)
        #expect(bytes.count < chunk.count * 16)
        let decoded = try withBytes(bytes) { try ChunkCodec.decode(encoding: encoding, bytes: $0) }
        #expect(decoded.timestamps == chunk.timestamps)
        #expect(bits(decoded.values) == bits(chunk.values))
    }

    @Test func rawEncodingStillDecodes() throws {
        let chunk = Chunk(timestamps: Array(Int64(-5)..<Int64(awkwardValues.count - 5)), values: awkwardValues)
        let raw = ChunkCodec.encodeRaw(chunk)
        #expect(raw.count == chunk.count * 16)
        let decoded = try withBytes(raw) { try ChunkCodec.decode(encoding: ChunkCodec.rawEncoding, bytes: $0) }
        #expect(decoded == chunk)
        #expect(bits(decoded.values) == bits(chunk.values))
    }

    @Test func emptyAndExtremeChunksRoundTrip() throws {
        for chunk in [Chunk(timestamps: [], values: []), Chunk(timestamps: [SampleTime.minimum, 0, SampleTime.maximum], values: [1, 2, 3])] {
            let (encoding, bytes) = ChunkCodec.encode(chunk)
            #expect(try withBytes(bytes) { try ChunkCodec.decode(encoding: encoding, bytes: $0) } == chunk)
            let raw = ChunkCodec.encodeRaw(chunk)
            #expect(try withBytes(raw) { try ChunkCodec.decode(encoding: ChunkCodec.rawEncoding, bytes: $0) } == chunk)
        }
    }

    /// A chunk stored outside the time contract (by an older kpid) decodes as corrupt, so
    /// recovery isolates it instead of computing rollups on it.
    @Test func chunksOutsideTheTimeContractAreCorrupt() throws {
        for ts: [Int64] in [[Int64.min + 1, 0], [0, Int64.max], [SampleTime.maximum + 1]] {
            let chunk = Chunk(timestamps: ts, values: ts.map { _ in 1 })
            let (encoding, bytes) = ChunkCodec.encode(chunk)
            #expect(throws: StorageError.self) { try withBytes(bytes) { try ChunkCodec.decode(encoding: encoding, bytes: $0, sealed: true) } }
        }
    }

    @Test func regularGaugeShrinksOnDisk() {
        let ts = (0..<512).map { Int64($0) * 60_000 + 1_700_000_000_000 }
        let chunk = Chunk(timestamps: ts, values: ts.map { Double(($0 / 60_000) % 5) })
        let bytes = ChunkCodec.encode(chunk).bytes
        // Values cycle 0...4: deltas +1 or -4, zigzag <= 7, so 3 bits per delta. Header 1 +
        // count 2 + t0 6 + interval 3 + first value 1 + width 1 + ceil(511 × 3 / 8) = 192.
        #expect(bytes.count == 206)  // vs 8,192 raw
        #expect(chunk.memoryBytes == bytes.count)
    }

    @Test func rejectsNonIncreasingTimestamps() {
        for timestamps: [Int64] in [[1, 1], [2, 1], [1, 3, 2]] {
            var bytes: [UInt8] = []
            for t in timestamps { withUnsafeBytes(of: t.littleEndian) { bytes += $0 } }
            for _ in timestamps { withUnsafeBytes(of: (1.0).bitPattern.littleEndian) { bytes += $0 } }
            #expect(throws: StorageError.self, "\(timestamps)") {
                try withBytes(bytes) { try ChunkCodec.decode(encoding: ChunkCodec.rawEncoding, bytes: $0) }
            }
        }
    }

    @Test func rejectsBadLengthAndUnknownEncoding() {
        let bytes = ChunkCodec.encodeRaw(Chunk(timestamps: [1, 2], values: [3, 4]))
        for length in 1..<bytes.count where length % 16 != 0 {
            let prefix = Array(bytes[..<length])
            #expect(throws: StorageError.self) { try withBytes(prefix) { try ChunkCodec.decode(encoding: 0, bytes: $0) } }
        }
        #expect(throws: StorageError.self) { try withBytes(bytes) { try ChunkCodec.decode(encoding: 7, bytes: $0) } }
    }

    /// Encoding 3 (what checkpoints write to the chunks table): the chunk's bytes in a zstd
    /// frame plus a CRC-32 of the frame, the rollup a frame of its own; both decode to exactly
    /// what was written.
    @Test func zstdEncodingRoundTripsWithItsRollup() throws {
        let ts = (0..<512).map { Int64($0) * 60_000 + 1_794_787_200_000 }
        let chunk = Chunk.sealed(timestamps: ts, values: ts.map { Double(($0 / 60_000 * 729) % 1000) / 4 })
        let (encoding, bytes, rollup) = ChunkCodec.encodeForStorage(chunk)
        #expect(encoding == ChunkCodec.zstdEncoding)
        #expect(try Zstd.decompress(Array(bytes.dropLast(4))) == chunk.encoded)
        #expect(try Zstd.decompress(rollup!) == chunk.rollup!.encoded)
        // A periodic series (period 1000 / gcd) leaves repeats the frame takes out.
        #expect(bytes.count < chunk.encoded.count)
        let decoded = try withBytes(bytes) { try ChunkCodec.decode(encoding: encoding, bytes: $0, sealed: true, rollup: rollup) }
        #expect(decoded.timestamps == chunk.timestamps)
        #expect(bits(decoded.values) == bits(chunk.values))
        #expect(decoded.rollup == chunk.rollup)
        // The awkward values (NaNs, infinities, -0.0) survive bit for bit.
        let awkward = Chunk(timestamps: Array(Int64(0)..<Int64(awkwardValues.count)), values: awkwardValues)
        let stored = ChunkCodec.encodeForStorage(awkward)
        let back = try withBytes(stored.bytes) { try ChunkCodec.decode(encoding: stored.encoding, bytes: $0) }
        #expect(bits(back.values) == bits(awkward.values))
        // A chunk too small to gain from a frame stays encoding 2, its rollup as it is.
        let small = Chunk(timestamps: [1, 2, 3, 4], values: [312.5, 280, 1.25, -3])
        let plain = ChunkCodec.encodeForStorage(small)
        #expect(plain.encoding == ChunkCodec.checksummedEncoding && plain.bytes == ChunkCodec.encodeChecksummed(small).bytes)
    }

    /// A damaged zstd row is corrupt, never a trap or a wrong chunk: every truncation and every
    /// byte flip of the frame or its checksum is caught.
    @Test func damagedZstdChunksThrowCorrupt() {
        let ts = (0..<64).map { Int64($0) * 10_000 }
        let chunk = Chunk(timestamps: ts, values: ts.map { Double($0 % 70_000) })
        let (encoding, bytes, _) = ChunkCodec.encodeForStorage(chunk)
        #expect(encoding == ChunkCodec.zstdEncoding)
        for length in 0..<bytes.count {
            #expect {
                try withBytes(Array(bytes[..<length])) { try ChunkCodec.decode(encoding: ChunkCodec.zstdEncoding, bytes: $0) }
            } throws: { ($0 as? StorageError)?.kind == .corrupt }
        }
        for i in bytes.indices {
            var flipped = bytes
            flipped[i] ^= 0x10
            #expect {
                try withBytes(flipped) { try ChunkCodec.decode(encoding: ChunkCodec.zstdEncoding, bytes: $0) }
            } throws: { ($0 as? StorageError)?.kind == .corrupt }
        }
        // A frame whose header claims more than the limit is refused before allocating.
        var huge = Zstd.compress([UInt8](repeating: 0, count: 16))
        #expect(throws: StorageError.self) {
            try Zstd.decompress(Array(huge[..<4]))  // magic only: no content size
        }
        huge = [0x28, 0xB5, 0x2F, 0xFD, 0xC0] + withUnsafeBytes(of: UInt64(1 << 40).littleEndian, Array.init) + [0x01, 0x00, 0x00]
        #expect(throws: StorageError.self) { try Zstd.decompress(huge) }
    }

    @Test func corruptCompressedChunksThrowCorrupt() {
        let chunk = Chunk(timestamps: [10, 20, 31, 45, 50], values: [1.5, .nan, -0.0, 7, 1e300])
        let bytes = ChunkCodec.encode(chunk).bytes
        for length in 0..<bytes.count {
            #expect {
                try withBytes(Array(bytes[..<length])) { try ChunkCodec.decode(encoding: ChunkCodec.compressedEncoding, bytes: $0) }
            } throws: { ($0 as? StorageError)?.kind == .corrupt }
        }
        // Flips either fail as .corrupt or yield a chunk that still honours the invariant.
        for i in bytes.indices {
            for mask: UInt8 in [0x01, 0x08, 0x40, 0xFF] {
                var flipped = bytes
                flipped[i] ^= mask
                do {
                    let decoded = try withBytes(flipped) {
                        try ChunkCodec.decode(encoding: ChunkCodec.compressedEncoding, bytes: $0)
                    }
                    let ts = decoded.timestamps
                    #expect(zip(ts, ts.dropFirst()).allSatisfy { $0 < $1 })
                    #expect(ts.count == decoded.values.count)
                } catch {
                    #expect((error as? StorageError)?.kind == .corrupt)
                }
            }
        }
    }
}
