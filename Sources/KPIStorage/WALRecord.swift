import KPICore

/// One committed ingest batch, as written to the write-ahead table: series ids with their
/// timestamp and value columns.
///
/// Encoded as ONE BLOB per batch, columnar and little-endian, so a group commit writes few rows
/// however many samples it carries:
///
///     u8   format byte (0xA1: magic nibble 0xA, version 1)
///     u32  series count
///     per series: u32 id, u32 n, n × i64 timestamp, n × u64 value bits
///     u32  CRC-32 (IEEE) of every byte before it
///
/// Equality compares value bit patterns, so a record equals its decoded copy even with NaNs,
/// and `0.0` and `-0.0` differ.
public struct WALRecord: Sendable, Equatable {
    public var series: [SeriesID]
    public var timestamps: [[Int64]]
    public var values: [[Double]]

    /// The three arrays run in parallel, and each series' columns have equal length.
    public init(series: [SeriesID], timestamps: [[Int64]], values: [[Double]]) {
        precondition(series.count == timestamps.count && series.count == values.count, "WAL record columns differ in length")
        self.series = series
        self.timestamps = timestamps
        self.values = values
    }

    static let formatByte: UInt8 = 0xA1
    /// Format byte + series count + checksum.
    static let fixedBytes = 1 + 4 + 4

    /// Samples in the record.
    public var sampleCount: Int { timestamps.reduce(0) { $0 + $1.count } }

    /// Size of `encoded()` in bytes.
    public var encodedCount: Int {
        timestamps.reduce(WALRecord.fixedBytes) { $0 + 8 + $1.count * 16 }
    }

    /// The record in the format above.
    public func encoded() -> [UInt8] {
        precondition(series.count == timestamps.count && series.count == values.count, "WAL record columns differ in length")
        precondition(series.count <= Int(UInt32.max), "too many series for one WAL record")
        let size = encodedCount
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var writer = ByteWriter(UnsafeMutableRawBufferPointer(buffer))
            writer.put(WALRecord.formatByte)
            writer.put(UInt32(series.count))
            for k in series.indices {
                let ts = timestamps[k]
                let vs = values[k]
                precondition(ts.count == vs.count, "series \(series[k]): \(ts.count) timestamps but \(vs.count) values")
                precondition(ts.count <= Int(UInt32.max), "series \(series[k]) too long for one WAL record")
                writer.put(series[k].rawValue)
                writer.put(UInt32(ts.count))
                writer.put(ts)
                writer.put(vs)
            }
            let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: writer.buffer[..<writer.offset]))
            writer.put(crc)
            precondition(writer.offset == size)
            initialized = size
        }
    }

    /// Decodes and validates a record: format byte, checksum, every length against the bytes
    /// present, nothing trailing. Any mismatch throws `StorageError.Kind.corrupt`; no input traps.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(StorageError) {
        guard bytes.count >= WALRecord.fixedBytes else {
            throw StorageError(.corrupt, "WAL record of \(bytes.count) bytes is shorter than the minimum \(WALRecord.fixedBytes)")
        }
        guard bytes[0] == WALRecord.formatByte else {
            throw StorageError(.corrupt, "WAL record has unknown format byte 0x\(String(bytes[0], radix: 16))")
        }
        let body = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])
        let stored = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self))
        let computed = CRC32.checksum(body)
        guard stored == computed else {
            throw StorageError(.corrupt, "WAL record checksum mismatch (stored \(stored), computed \(computed))")
        }
        var reader = ByteReader(body)
        _ = try reader.u8()
        let count = Int(try reader.u32())
        // Each series takes at least 8 bytes, so a corrupt count cannot make us allocate much.
        guard count <= reader.remaining / 8 else {
            throw StorageError(.corrupt, "WAL record claims \(count) series in \(reader.remaining) bytes")
        }
        var series: [SeriesID] = []
        var timestamps: [[Int64]] = []
        var values: [[Double]] = []
        series.reserveCapacity(count)
        timestamps.reserveCapacity(count)
        values.reserveCapacity(count)
        for _ in 0..<count {
            series.append(SeriesID(try reader.u32()))
            let n = Int(try reader.u32())
            timestamps.append(try reader.int64s(n))
            values.append(try reader.doubles(n))
        }
        guard reader.remaining == 0 else {
            throw StorageError(.corrupt, "WAL record has \(reader.remaining) unexpected trailing bytes")
        }
        self.init(series: series, timestamps: timestamps, values: values)
    }

    public static func == (a: WALRecord, b: WALRecord) -> Bool {
        guard a.series == b.series, a.timestamps == b.timestamps, a.values.count == b.values.count else { return false }
        for (x, y) in zip(a.values, b.values) {
            guard x.count == y.count, zip(x, y).allSatisfy({ $0.bitPattern == $1.bitPattern }) else { return false }
        }
        return true
    }
}

// MARK: - Byte helpers shared by the codecs

/// Appends little-endian values into a buffer sized in advance.
struct ByteWriter {
    let buffer: UnsafeMutableRawBufferPointer
    private(set) var offset = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) { self.buffer = buffer }

    mutating func put(_ value: UInt8) {
        buffer[offset] = value
        offset += 1
    }

    mutating func put(_ value: UInt32) {
        precondition(offset + 4 <= buffer.count)
        buffer.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
        offset += 4
    }

    mutating func put(_ column: [Int64]) {
        precondition(offset + column.count * 8 <= buffer.count)
        guard let base = buffer.baseAddress else { return }
        var at = base + offset
        for v in column {
            at.storeBytes(of: v.littleEndian, as: Int64.self)
            at += 8
        }
        offset += column.count * 8
    }

    mutating func put(_ column: [Double]) {
        precondition(offset + column.count * 8 <= buffer.count)
        guard let base = buffer.baseAddress else { return }
        var at = base + offset
        for v in column {
            at.storeBytes(of: v.bitPattern.littleEndian, as: UInt64.self)
            at += 8
        }
        offset += column.count * 8
    }

    mutating func put(_ bytes: UnsafeRawBufferPointer) {
        precondition(offset + bytes.count <= buffer.count)
        guard let base = buffer.baseAddress, let source = bytes.baseAddress, !bytes.isEmpty else { return }
        (base + offset).copyMemory(from: source, byteCount: bytes.count)
        offset += bytes.count
    }
}

/// Reads little-endian values, throwing on any read past the end.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    private func need(_ n: Int, _ what: String) throws(StorageError) {
        guard n >= 0, n <= remaining else {
            throw StorageError(.corrupt, "truncated: \(what) needs \(n) bytes at offset \(offset), \(remaining) left")
        }
    }

    mutating func u8() throws(StorageError) -> UInt8 {
        try need(1, "byte")
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u32() throws(StorageError) -> UInt32 {
        try need(4, "u32")
        defer { offset += 4 }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// LEB128, at most 10 bytes; overlong or overflowing encodings are corrupt.
    mutating func varint() throws(StorageError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try u8()
            if shift == 63 && byte > 1 { throw StorageError(.corrupt, "varint overflows 64 bits at offset \(offset - 1)") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func take(_ n: Int, _ what: String) throws(StorageError) -> UnsafeRawBufferPointer {
        try need(n, what)
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }

    mutating func int64s(_ n: Int) throws(StorageError) -> [Int64] {
        let slice = try take(n.multipliedReportingOverflow(by: 8).overflow ? -1 : n * 8, "\(n) timestamps")
        return [Int64](unsafeUninitializedCapacity: n) { out, initialized in
            for i in 0..<n {
                out[i] = Int64(littleEndian: slice.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))
            }
            initialized = n
        }
    }

    mutating func doubles(_ n: Int) throws(StorageError) -> [Double] {
        let slice = try take(n.multipliedReportingOverflow(by: 8).overflow ? -1 : n * 8, "\(n) values")
        return [Double](unsafeUninitializedCapacity: n) { out, initialized in
            for i in 0..<n {
                out[i] = Double(bitPattern: UInt64(littleEndian: slice.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
            }
            initialized = n
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as zlib), slicing-by-8: eight bytes
/// per step through eight 256-entry tables. Checks value `0xCBF43926` for "123456789".
enum CRC32 {
    /// tables[k][b]: CRC of byte b followed by k zero bytes.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for b in 0..<256 {
            var c = UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[b] = c
        }
        for b in 0..<256 {
            for k in 1..<8 {
                let prev = t[(k - 1) * 256 + b]
                t[k * 256 + b] = t[Int(prev & 0xFF)] ^ (prev >> 8)
            }
        }
        return t
    }()

    static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        var crc = ~seed
        tables.withUnsafeBufferPointer { t in
            var i = 0
            let n = bytes.count
            while i + 8 <= n {
                let lo = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)) ^ crc
                let hi = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i + 4, as: UInt32.self))
                crc =
                    t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                crc = t[Int((crc ^ UInt32(bytes[i])) & 0xFF)] ^ (crc >> 8)
                i += 1
            }
        }
        return ~crc
    }
}
