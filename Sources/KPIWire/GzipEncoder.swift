import CZlib

/// gzip compression through zlib, in process: no name and no time in the header, so the same
/// bytes and level give the same output on every run (as `gzip -n` does).
public enum GzipEncoder {
    /// The gzip stream of `bytes` at `level` (1 fastest .. 9 smallest); nil only if zlib fails.
    public static func deflate(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8]? {
        guard bytes.count < Int(UInt32.max) else { return nil }
        var stream = z_stream()
        guard kpid_deflate_init_gzip(&stream, max(1, min(9, level))) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        var out: [UInt8] = []
        out.reserveCapacity(Int(deflateBound(&stream, UInt(bytes.count))))
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        var status: Int32 = Z_OK
        bytes.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = UInt32(input.count)
            chunk.withUnsafeMutableBufferPointer { buffer in
                while status == Z_OK {
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = UInt32(buffer.count)
                    status = CZlib.deflate(&stream, Z_FINISH)
                    out.append(contentsOf: buffer[0..<(buffer.count - Int(stream.avail_out))])
                }
            }
        }
        return status == Z_STREAM_END ? out : nil
    }
}
