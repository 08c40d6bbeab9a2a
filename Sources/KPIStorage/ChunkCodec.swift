import KPICore

/// Converts a `Chunk` to the `data` BLOB of the chunks and heads tables and back.
///
/// Every row stores its `encoding` next to the bytes, so old rows stay readable as encodings
/// are added:
/// - 0 (`rawEncoding`): the plain columns, n × i64 timestamps then n × u64 value bits, all
///   little-endian. No longer written; still read.
/// - 1 (`compressedEncoding`): "kpid compressed v1", the `ChunkEncoding` bytes a `Chunk`
///   holds in memory, stored as they are.
/// - 2 (`checksummedEncoding`): encoding 1 followed by a little-endian u32 CRC-32 (IEEE, as
///   the write-ahead records) of those bytes, so `kpid check` and recovery detect a damaged
///   chunk. What checkpoints write to the chunks table from schema version 2 to 6, and to the
///   heads table still.
/// - 3 (`zstdEncoding`): encoding 1 compressed as one zstd frame, followed by a CRC-32 of the
///   frame; the row's `rollup` BLOB is a zstd frame too. What checkpoints write to the chunks
///   table since schema version 7 where it is smaller than encoding 2 (kpid's own encoding leaves repeating bit patterns, which
///   zstd takes out: about 1.1 bytes a sample down to 0.15 on the benchmark's data, rollups
///   from 1.7 to 0.7).
public enum ChunkCodec {
    /// Plain little-endian columns.
    public static let rawEncoding = 0
    /// `ChunkEncoding` bytes (delta-of-delta timestamps; XOR, scaled-integer or run values).
    public static let compressedEncoding = 1
    /// Encoding 1 plus a CRC-32 trailer.
    public static let checksummedEncoding = 2
    /// Encoding 1 as a zstd frame plus a CRC-32 trailer; the rollup BLOB a zstd frame.
    public static let zstdEncoding = 3

    /// A sealed chunk's row: encoding 3 (the chunk's bytes as a zstd frame with the frame's
    /// CRC-32 after it, its rollup as a frame of its own) when that is smaller, else encoding 2
    /// with the rollup as it is (a frame costs about a dozen bytes: small chunks stay plain).
    public static func encodeForStorage(_ chunk: Chunk) -> (encoding: Int, bytes: [UInt8], rollup: [UInt8]?) {
        let plainRollup = chunk.rollup?.encoded
        let frame = Zstd.compress(chunk.encoded)
        let rollupFrame = plainRollup.map(Zstd.compress)
        guard frame.count + (rollupFrame?.count ?? 0) < chunk.encoded.count + (plainRollup?.count ?? 0) else {
            let (encoding, bytes) = encodeChecksummed(chunk)
            return (encoding, bytes, plainRollup)
        }
        var bytes = frame
        appendChecksum(&bytes)
        return (zstdEncoding, bytes, rollupFrame)
    }

    /// Encoding 2: the chunk's compressed bytes and their CRC-32. Costs one copy and one
    /// checksum pass per chunk written.
    public static func encodeChecksummed(_ chunk: Chunk) -> (encoding: Int, bytes: [UInt8]) {
        var bytes = chunk.encoded
        appendChecksum(&bytes)
        return (checksummedEncoding, bytes)
    }

    /// The rollup bytes of a row of `encoding` as `ChunkRollup` reads them (encoding 3 stores a
    /// zstd frame of them); nil when the frame does not decompress.
    public static func plainRollup(_ stored: [UInt8], encoding: Int) -> [UInt8]? {
        encoding == zstdEncoding ? try? Zstd.decompress(stored) : stored
    }

    /// Encodes with the current default encoding (compressed: the chunk's own bytes, no work).
    public static func encode(_ chunk: Chunk) -> (encoding: Int, bytes: [UInt8]) {
        (compressedEncoding, chunk.encoded)
    }

    /// Encodes as raw columns (encoding 0); kept for tests of reading files written before
    /// the compressed encoding existed.
    public static func encodeRaw(_ chunk: Chunk) -> [UInt8] {
        let (timestamps, values) = chunk.columns
        let size = chunk.count * 16
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var writer = ByteWriter(UnsafeMutableRawBufferPointer(buffer))
            writer.put(timestamps)
            writer.put(values)
            initialized = size
        }
    }

    /// Decodes a chunk and checks its invariant (strictly increasing timestamps). Throws
    /// `StorageError.Kind.corrupt` for an unknown encoding, a bad length or a malformed chunk;
    /// never traps on corrupt bytes.
    ///
    /// `sealed` chunks get rollups: the stored `rollup` bytes when they check out, else
    /// computed from the samples (see `Chunk.init(encoded:sealed:rollup:)`).
    public static func decode(
        encoding: Int, bytes: UnsafeRawBufferPointer, sealed: Bool = false, rollup: [UInt8]? = nil, sketches: Bool = true
    ) throws(StorageError) -> Chunk {
        let chunk = try decodeUnchecked(encoding: encoding, bytes: bytes, sealed: sealed, rollup: rollup, sketches: sketches)
        // Samples outside the time contract (stored by an older kpid) are refused like a bad
        // checksum: recovery isolates the row, `kpid check` reports it.
        guard chunk.count == 0 || (SampleTime.contains(chunk.minTime) && SampleTime.contains(chunk.maxTime)) else {
            throw StorageError(
                .corrupt,
                "chunk spans [\(chunk.minTime), \(chunk.maxTime)] ms, outside \(SampleTime.minimum) .. \(SampleTime.maximum)")
        }
        return chunk
    }

    static func decodeUnchecked(
        encoding: Int, bytes: UnsafeRawBufferPointer, sealed: Bool, rollup: [UInt8]?, sketches: Bool
    ) throws(StorageError) -> Chunk {
        switch encoding {
        case rawEncoding:
            let chunk = try decodeRaw(bytes)
            return sealed ? Chunk.sealed(timestamps: chunk.timestamps, values: chunk.values, sketches: sketches) : chunk
        case compressedEncoding:
            return try adopt([UInt8](bytes), sealed: sealed, rollup: rollup, sketches: sketches)
        case checksummedEncoding:
            let body = try checkedBody(bytes, what: "checksummed chunk")
            return try adopt([UInt8](body), sealed: sealed, rollup: rollup, sketches: sketches)
        case zstdEncoding:
            let encoded = try Zstd.decompress(try checkedBody(bytes, what: "zstd chunk"))
            // A rollup that does not decompress is recomputed from the samples, as one that
            // does not check out.
            let rollupBytes = rollup.flatMap { ChunkCodec.plainRollup($0, encoding: zstdEncoding) }
            return try adopt(encoded, sealed: sealed, rollup: rollupBytes, sketches: sketches)
        default:
            throw StorageError(.corrupt, "unknown chunk encoding \(encoding)")
        }
    }

    /// A chunk of encoding-1 bytes (``Chunk/init(encoded:sealed:rollup:sketches:)``), damage
    /// reported as corrupt.
    static func adopt(_ encoded: [UInt8], sealed: Bool, rollup: [UInt8]?, sketches: Bool) throws(StorageError) -> Chunk {
        do throws(ChunkDecodingError) {
            return try Chunk(encoded: encoded, sealed: sealed, rollup: rollup, sketches: sketches)
        } catch {
            throw StorageError(.corrupt, "compressed chunk: \(error)")
        }
    }

    /// `bytes` without their CRC-32 trailer, once the trailer matches them.
    static func checkedBody(_ bytes: UnsafeRawBufferPointer, what: String) throws(StorageError) -> UnsafeRawBufferPointer {
        guard bytes.count >= 4 else { throw StorageError(.corrupt, "\(what) of \(bytes.count) bytes is too short") }
        let body = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
        let computed = CRC32.checksum(body)
        guard stored == computed else {
            throw StorageError(.corrupt, "chunk checksum mismatch (stored \(stored), computed \(computed))")
        }
        return body
    }

    /// Appends the CRC-32 of `bytes` to them.
    static func appendChecksum(_ bytes: inout [UInt8]) {
        let crc = bytes.withUnsafeBytes { CRC32.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
    }

    static func decodeRaw(_ bytes: UnsafeRawBufferPointer) throws(StorageError) -> Chunk {
        guard bytes.count % 16 == 0 else {
            throw StorageError(.corrupt, "raw chunk of \(bytes.count) bytes is not a whole number of 16-byte samples")
        }
        let n = bytes.count / 16
        guard n <= ChunkEncoding.maxSampleCount else {
            throw StorageError(.corrupt, "raw chunk of \(n) samples exceeds \(ChunkEncoding.maxSampleCount)")
        }
        var reader = ByteReader(bytes)
        let timestamps = try reader.int64s(n)
        let values = try reader.doubles(n)
        // Checked before building the Chunk: its initializer requires the invariant.
        var previous = Int64.min
        for (i, t) in timestamps.enumerated() {
            guard i == 0 || t > previous else {
                throw StorageError(.corrupt, "chunk timestamps are not strictly increasing")
            }
            previous = t
        }
        return Chunk(timestamps: timestamps, values: values)
    }
}
