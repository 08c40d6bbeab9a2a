/// Appends bit fields most-significant-bit first to a byte array, plus byte-aligned LEB128
/// varints. Used by `ChunkEncoding`; bits accumulate in a 64-bit register so most writes
/// touch no memory.
struct BitWriter {
    private(set) var bytes: [UInt8]
    /// Pending bits, left-aligned: the first `pending` bits from the top are valid.
    private var register: UInt64 = 0
    private var pending = 0

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Writes the low `width` bits of `value` (0...64); higher bits of `value` must be zero.
    @inline(__always)
    mutating func write(_ value: UInt64, width: Int) {
        if width == 0 { return }
        let free = 64 - pending
        if width <= free {
            // Shifting by 64 is defined as 0 in Swift's `<<`, so `width == free == 64` is fine.
            register |= value << UInt64(free - width)
            pending += width
            if pending >= 32 { drainWholeBytes() }
        } else {
            // Split: the high part fills the register, the rest starts the next word.
            let high = width - free
            register |= value >> UInt64(high)
            pending = 64
            drainWholeBytes()
            write(value & ((1 << UInt64(high)) - 1), width: high)
        }
    }

    @inline(__always)
    mutating func writeBit(_ bit: Bool) { write(bit ? 1 : 0, width: 1) }

    /// Moves whole bytes from the register to `bytes`.
    @inline(__always)
    private mutating func drainWholeBytes() {
        while pending >= 8 {
            bytes.append(UInt8(truncatingIfNeeded: register >> 56))
            register <<= 8
            pending -= 8
        }
    }

    /// Pads with zero bits to the next byte boundary so byte-level fields can follow.
    mutating func alignToByte() {
        drainWholeBytes()
        if pending > 0 {
            bytes.append(UInt8(truncatingIfNeeded: register >> 56))
            register = 0
            pending = 0
        }
    }

    /// A LEB128 varint, written at a byte boundary (aligns first).
    mutating func writeVarint(_ value: UInt64) {
        alignToByte()
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    mutating func writeByte(_ value: UInt8) {
        alignToByte()
        bytes.append(value)
    }

    /// The bytes written, padded to a whole byte.
    mutating func finish() -> [UInt8] {
        alignToByte()
        return bytes
    }
}

/// Reads what `BitWriter` wrote from borrowed memory. Every read is bounds-checked and throws
/// `ChunkDecodingError` instead of trapping, because the input may be corrupt.
struct BitReader {
    private let base: UnsafeRawBufferPointer
    /// Next byte to move into the register.
    private var next: Int
    /// Unread bits, left-aligned.
    private var register: UInt64 = 0
    private var available = 0

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        base = bytes
        next = offset
    }

    /// Index of the first byte not yet consumed, once the reader is byte-aligned.
    var byteOffset: Int { next - available / 8 }

    @inline(__always)
    private mutating func refill() {
        if next + 8 <= base.count {
            // Whole-word load: add as many whole bytes as fit (the register then holds 56-63
            // valid bits). The bits loaded past them are the true following bits, so OR-ing
            // the next word over them later is harmless.
            let word = UInt64(bigEndian: base.loadUnaligned(fromByteOffset: next, as: UInt64.self))
            register |= word >> UInt64(available)
            next += (63 - available) >> 3
            available |= 56
            return
        }
        // Near the end: byte at a time, never reading past the buffer.
        while available <= 56 && next < base.count {
            register |= UInt64(base[next]) << UInt64(56 - available)
            available += 8
            next += 1
        }
    }

    /// Reads `width` bits (0...64) as an unsigned integer.
    @inline(__always)
    mutating func read(_ width: Int) throws(ChunkDecodingError) -> UInt64 {
        if width == 0 { return 0 }
        if width > 56 {
            // The register may hold as few as 57 bits after a refill: read in two halves.
            let high = try read(width - 32)
            return (high << 32) | (try read(32))
        }
        if available < width {
            refill()
            if available < width { throw ChunkDecodingError("bit stream ends early") }
        }
        let value = register >> UInt64(64 - width)
        register <<= UInt64(width)
        available -= width
        return value
    }

    @inline(__always)
    mutating func readBit() throws(ChunkDecodingError) -> Bool {
        try read(1) == 1
    }

    /// Counts leading one bits, up to `limit`, consuming them and the terminating zero (if
    /// the count stopped before `limit`). Used for the unary bucket prefixes.
    @inline(__always)
    mutating func readUnary(limit: Int) throws(ChunkDecodingError) -> Int {
        if available < limit {
            refill()
        }
        if available >= limit {
            // Fast path: the whole prefix is in the register.
            let ones = (~register).leadingZeroBitCount
            let n = min(ones, limit)
            let consumed = n == limit ? n : n + 1
            register <<= UInt64(consumed)
            available -= consumed
            return n
        }
        var n = 0
        while n < limit {
            if try !readBit() { return n }
            n += 1
        }
        return n
    }

    /// Drops the bits left in the current byte.
    mutating func alignToByte() {
        let drop = available % 8
        register <<= UInt64(drop)
        available -= drop
    }

    /// A LEB128 varint of at most 64 bits, read at a byte boundary (aligns first).
    mutating func readVarint() throws(ChunkDecodingError) -> UInt64 {
        alignToByte()
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = UInt8(truncatingIfNeeded: try read(8))
            if shift == 63 && byte > 1 { throw ChunkDecodingError("varint exceeds 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { throw ChunkDecodingError("varint exceeds 64 bits") }
        }
    }

    mutating func readByte() throws(ChunkDecodingError) -> UInt8 {
        alignToByte()
        return UInt8(truncatingIfNeeded: try read(8))
    }

    /// True when every byte has been consumed (after aligning).
    mutating func isAtEnd() -> Bool {
        alignToByte()
        return available == 0 && next == base.count
    }
}
