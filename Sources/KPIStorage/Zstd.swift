import CZstd
import Synchronization

/// Zstandard (Debian's libzstd) for the BLOBs of the chunks table: one frame per value, its
/// content size recorded in the frame header. The only importer of CZstd.
enum Zstd {
    /// Level 3 (zstd's default): at checkpoint time a chunk row compresses at several hundred
    /// MB/s; higher levels cost more than they save on kpid's already encoded chunks.
    static let level: Int32 = 3

    /// The largest frame content a decoder accepts: a stored chunk is at most
    /// `ChunkEncoding.maxSampleCount` samples of encoded bytes, far below this; a damaged or
    /// forged header cannot make it allocate more.
    static let maxContentBytes = 256 << 20

    /// Contexts kept between calls: making one per frame (what `ZSTD_compress` and
    /// `ZSTD_decompress` do) costs more than the frame itself for kpid's 1 KB chunks (measured:
    /// half of a restart's time). Taken and given back under a lock, so any thread may use them;
    /// a context is only ever used by one thread at a time.
    private static let compressors = ContextPool(create: { ZSTD_createCCtx()! }, free: { _ = ZSTD_freeCCtx($0) })
    private static let decompressors = ContextPool(create: { ZSTD_createDCtx()! }, free: { _ = ZSTD_freeDCtx($0) })

    /// Idle libzstd contexts of one kind, at most `pooled` of them (one per thread that used
    /// them). @unchecked: a context moves between threads only through the lock, and one thread
    /// at a time uses it.
    private final class ContextPool: @unchecked Sendable {
        private let create: () -> OpaquePointer
        private let free: (OpaquePointer) -> Void
        private let idle = Mutex<[Int]>([])
        private let pooled = 8

        init(create: @escaping () -> OpaquePointer, free: @escaping (OpaquePointer) -> Void) {
            self.create = create
            self.free = free
        }

        func with<T>(_ body: (OpaquePointer) -> T) -> T {
            let context = idle.withLock { $0.popLast() }.flatMap { OpaquePointer(bitPattern: $0) } ?? create()
            defer {
                let address = Int(bitPattern: UnsafeRawPointer(context))
                let kept = idle.withLock { pool in
                    guard pool.count < pooled else { return false }
                    pool.append(address)
                    return true
                }
                if !kept { free(context) }
            }
            return body(context)
        }
    }

    /// `bytes` as one zstd frame.
    static func compress(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        let bound = ZSTD_compressBound(bytes.count)
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            compressors.with { context in ZSTD_compressCCtx(context, dst.baseAddress, bound, bytes.baseAddress, bytes.count, level) }
        }
        // Compressing into a buffer of ZSTD_compressBound bytes does not fail.
        precondition(ZSTD_isError(written) == 0, "ZSTD_compress: \(String(cString: ZSTD_getErrorName(written)))")
        out.removeSubrange(written...)
        return out
    }

    static func compress(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { compress($0) } }

    /// The content of one frame; throws `.corrupt` for anything but a single whole frame with a
    /// recorded size within `maxContentBytes`.
    static func decompress(_ frame: UnsafeRawBufferPointer) throws(StorageError) -> [UInt8] {
        guard let base = frame.baseAddress, !frame.isEmpty else { throw StorageError(.corrupt, "empty zstd frame") }
        let size = ZSTD_getFrameContentSize(base, frame.count)
        guard size != ZSTD_CONTENTSIZE_ERROR, size != ZSTD_CONTENTSIZE_UNKNOWN, size <= UInt64(maxContentBytes) else {
            throw StorageError(.corrupt, "zstd frame header is damaged or claims \(size) bytes")
        }
        let count = Int(size)
        var failure: String? = nil
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let n = decompressors.with { context in ZSTD_decompressDCtx(context, buffer.baseAddress, count, base, frame.count) }
            if ZSTD_isError(n) != 0 {
                failure = String(cString: ZSTD_getErrorName(n))
                initialized = 0
            } else if n != count {
                failure = "frame holds \(n) bytes, its header says \(count)"
                initialized = 0
            } else {
                initialized = n
            }
        }
        if let failure { throw StorageError(.corrupt, "zstd: \(failure)") }
        return out
    }

    static func decompress(_ frame: [UInt8]) throws(StorageError) -> [UInt8] {
        let result: Result<[UInt8], StorageError> = frame.withUnsafeBytes { raw in
            do throws(StorageError) { return .success(try decompress(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}
