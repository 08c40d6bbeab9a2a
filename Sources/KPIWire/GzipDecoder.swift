import CZlib
import KPICore

/// Inflates a gzip (or zlib) request body, refusing to produce more than a limit, so a small
/// compressed body cannot expand into unbounded memory (a "zip bomb").
public enum GzipDecoder {
    /// Why a body could not be inflated.
    public enum Failure: Error, Sendable, Equatable {
        /// The inflated body would exceed `limit` bytes.
        case tooLarge(limit: Int)
        /// Not valid gzip/zlib data, or truncated; `reason` is zlib's message.
        case corrupt(reason: String)
    }

    public static func inflate(_ body: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        guard kpid_inflate_init(&stream) == Z_OK else { throw .corrupt(reason: "zlib could not start") }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        out.reserveCapacity(min(limit, max(body.count * 4, 4096)))
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var status: Int32 = Z_OK
        var failure: Failure? = nil
        body.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = UInt32(input.count)
            chunk.withUnsafeMutableBufferPointer { buffer in
                while status == Z_OK {
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = UInt32(buffer.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    let produced = buffer.count - Int(stream.avail_out)
                    if out.count + produced > limit {
                        failure = .tooLarge(limit: limit)
                        return
                    }
                    out.append(contentsOf: buffer[0..<produced])
                    if status == Z_OK && stream.avail_in == 0 && produced == 0 {
                        // Input ended before the stream did.
                        failure = .corrupt(reason: "truncated compressed body")
                        return
                    }
                }
                if status != Z_STREAM_END {
                    let message = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    failure = .corrupt(reason: message)
                }
            }
        }
        if let failure { throw failure }
        return out
    }
}
