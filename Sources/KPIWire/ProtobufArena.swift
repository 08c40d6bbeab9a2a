import CProtobufC
import Synchronization

/// A bump allocator for one protobuf-c unpack: libprotobuf-c allocates every message, repeated
/// field and string of a request separately (a remote-write request of 10,000 samples sent one
/// per entry, as Prometheus does, is over 100,000 allocations), and malloc and free of those
/// took about a third of kpid's ingest CPU (measured with perf). Here they come from a few large
/// blocks and are released together when the arena goes; `free` does nothing.
///
/// Use: `ProtobufArena.with { arena in arena.withAllocator { unpack($0, ...) }; read }` (never
/// call `free_unpacked` on the message). An arena is used by one thread at a time; idle ones
/// wait in a small pool with their first blocks kept, so a request does not map and fault in
/// fresh pages (the next cost in the profile once malloc was gone).
final class ProtobufArena: @unchecked Sendable {
    // @unchecked: an arena moves between threads only through the pool's lock, and one
    // thread at a time uses it.
    private static let pool = Mutex<[ProtobufArena]>([])
    /// Idle arenas kept (about one per HTTP thread).
    private static let pooled = 8
    /// Blocks an idle arena keeps (the rest are freed when it goes back to the pool).
    private static let keptBlocks = 4

    /// Runs `body` with an arena from the pool; what was allocated in it is invalid afterwards.
    static func with<T, E: Error>(_ body: (ProtobufArena) throws(E) -> T) throws(E) -> T {
        let arena = pool.withLock { $0.popLast() } ?? ProtobufArena()
        defer {
            arena.reset()
            pool.withLock { if $0.count < pooled { $0.append(arena) } }
        }
        return try body(arena)
    }

    /// Forgets every allocation; keeps up to `keptBlocks` standard blocks for reuse.
    private func reset() {
        var kept: [UnsafeMutableRawPointer] = []
        for (block, size) in zip(blocks, sizes) {
            if size == Self.blockBytes && kept.count < Self.keptBlocks { kept.append(block) } else { block.deallocate() }
        }
        blocks = kept
        sizes = Array(repeating: Self.blockBytes, count: kept.count)
        next = 0
        current = nil
        used = 0
        capacity = 0
    }

    /// Size of a block; a larger request gets a block of its own.
    static let blockBytes = 1 << 20
    private var blocks: [UnsafeMutableRawPointer] = []
    private var sizes: [Int] = []
    /// The index in `blocks` of the next kept standard block to use.
    private var next = 0
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
            sizes.append(rounded)
            return block
        }
        if current == nil || used + rounded > capacity {
            // A kept block not used yet in this round, else a new one.
            while next < blocks.count && sizes[next] != Self.blockBytes { next += 1 }
            let block: UnsafeMutableRawPointer
            if next < blocks.count {
                block = blocks[next]
                next += 1
            } else {
                block = UnsafeMutableRawPointer.allocate(byteCount: Self.blockBytes, alignment: 16)
                blocks.append(block)
                sizes.append(Self.blockBytes)
                next = blocks.count
            }
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
