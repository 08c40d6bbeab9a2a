import CProtobufC

/// A bump allocator for one protobuf-c unpack: libprotobuf-c allocates every message, repeated
/// field and string of a request separately (a remote-write request of 10,000 samples sent one
/// per entry, as Prometheus does, is over 100,000 allocations), and malloc and free of those
/// took about a third of kpid's ingest CPU (measured with perf). Here they come from a few large
/// blocks and are released together when the arena goes; `free` does nothing.
///
/// Use: `arena.withAllocator { unpack($0, ...) }`, read the message, and let the arena go
/// (never call `free_unpacked` on the message). Not thread-safe: one unpack at a time.
final class ProtobufArena {
    /// Size of a block; a larger request gets a block of its own.
    static let blockBytes = 1 << 20
    private var blocks: [UnsafeMutableRawPointer] = []
    private var current: UnsafeMutableRawPointer? = nil
    private var used = 0
    private var capacity = 0

    init() {}

    deinit {
        for block in blocks { block.deallocate() }
    }

    /// `size` bytes aligned to 16, or nil when `size` is absurd (protobuf-c then reports the
    /// message as undecodable).
    fileprivate func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
        guard size >= 0, size <= Int(Int32.max) else { return nil }
        let rounded = (size + 15) & ~15
        if rounded > Self.blockBytes / 4 {
            let block = UnsafeMutableRawPointer.allocate(byteCount: max(rounded, 16), alignment: 16)
            blocks.append(block)
            return block
        }
        if current == nil || used + rounded > capacity {
            let block = UnsafeMutableRawPointer.allocate(byteCount: Self.blockBytes, alignment: 16)
            blocks.append(block)
            current = block
            used = 0
            capacity = Self.blockBytes
        }
        let pointer = current! + used
        used += rounded
        return pointer
    }

    /// Calls `body` with a protobuf-c allocator drawing from this arena.
    func withAllocator<T>(_ body: (UnsafeMutablePointer<ProtobufCAllocator>) -> T) -> T {
        var allocator = ProtobufCAllocator(
            alloc: { data, size in
                Unmanaged<ProtobufArena>.fromOpaque(data!).takeUnretainedValue().allocate(size)
            },
            free: { _, _ in },
            allocator_data: Unmanaged.passUnretained(self).toOpaque())
        return withExtendedLifetime(self) { withUnsafeMutablePointer(to: &allocator) { body($0) } }
    }
}
