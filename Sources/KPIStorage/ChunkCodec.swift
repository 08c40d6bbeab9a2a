import KPICore

/// Converts a `Chunk` to the `data` BLOB of the chunks and heads tables and back.
///
/// Every row stores its `encoding` next to the bytes, so compressed encodings can be added
/// later while old rows stay readable. Encoding 0 (`rawEncoding`) is the plain columns:
/// n × i64 timestamps, then n × u64 value bits, all little-endian.
public enum ChunkCodec {
    /// Plain little-endian columns.
    public static let rawEncoding = 0

    /// Encodes with the current default encoding.
    public static func encode(_ chunk: Chunk) -> (encoding: Int, bytes: [UInt8]) {
        let size = chunk.count * 16
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var writer = ByteWriter(UnsafeMutableRawBufferPointer(buffer))
            writer.put(chunk.timestamps)
            writer.put(chunk.values)
            initialized = size
        }
        return (rawEncoding, bytes)
    }

    /// Decodes a chunk and checks its invariant (strictly increasing timestamps). Throws
    /// `StorageError.Kind.corrupt` for an unknown encoding, a bad length or a malformed chunk.
    public static func decode(encoding: Int, bytes: UnsafeRawBufferPointer) throws(StorageError) -> Chunk {
        guard encoding == rawEncoding else {
            throw StorageError(.corrupt, "unknown chunk encoding \(encoding)")
        }
        guard bytes.count % 16 == 0 else {
            throw StorageError(.corrupt, "raw chunk of \(bytes.count) bytes is not a whole number of 16-byte samples")
        }
        let n = bytes.count / 16
        var reader = ByteReader(bytes)
        let chunk = Chunk(timestamps: try reader.int64s(n), values: try reader.doubles(n))
        guard chunk.isWellFormed else {
            throw StorageError(.corrupt, "chunk timestamps are not strictly increasing")
        }
        return chunk
    }
}
