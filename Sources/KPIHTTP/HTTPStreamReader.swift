/// Feeds a streamed response body to libmicrohttpd's content-reader callback.
///
/// Handlers hand out pieces of any size; libmicrohttpd asks for up to a buffer's worth at a time,
/// so the reader fills each buffer from as many pieces as fit and keeps the remainder of the
/// last piece for the next call.
///
/// Not `Sendable`, and needs no lock: libmicrohttpd calls the reader and then frees it on the
/// connection's thread, one call at a time.
final class HTTPStreamReader {
    private let makeStream: @Sendable () -> any HTTPBodyStream
    private var stream: (any HTTPBodyStream)?
    private var pending: [UInt8] = []
    private var pendingOffset = 0
    private var finished = false

    init(makeStream: @escaping @Sendable () -> any HTTPBodyStream) {
        self.makeStream = makeStream
    }

    /// Copies the next bytes into `buffer`; returns how many, or `nil` once the body has ended.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        var copied = 0
        while copied < buffer.count {
            if pendingOffset < pending.count {
                let count = min(buffer.count - copied, pending.count - pendingOffset)
                pending.withUnsafeBytes { source in
                    let slice = UnsafeRawBufferPointer(rebasing: source[pendingOffset..<(pendingOffset + count)])
                    UnsafeMutableRawBufferPointer(rebasing: buffer[copied..<(copied + count)]).copyMemory(from: slice)
                }
                copied += count
                pendingOffset += count
                continue
            }
            if finished {
                break
            }
            let source: any HTTPBodyStream
            if let stream {
                source = stream
            } else {
                source = makeStream()
                stream = source
            }
            if let piece = source.next() {
                pending = piece
                pendingOffset = 0
            } else {
                finished = true
                pending = []
                pendingOffset = 0
                // Let the stream release what it holds (a database cursor, say) before the last
                // buffer has even gone out.
                stream = nil
            }
        }
        return copied == 0 && finished ? nil : copied
    }
}
