import Dispatch
import Synchronization

#if os(Linux)
    /// glibc's `int malloc_trim(size_t pad)` (<malloc.h>, which the Glibc module does not
    /// export): returns free memory at the top of every arena and unused pages inside them.
    @_silgen_name("malloc_trim")
    private func glibcMallocTrim(_ pad: Int) -> Int32
#endif

/// Gives memory a refused or timed-out query grew back to the system.
///
/// A query stopped by `query-max-samples`, `query-max-memory` or its timeout may have built
/// hundreds of megabytes of intermediates first. Freed, they stay in glibc's arenas (a server's
/// request threads each have one, which glibc trims rarely), so resident memory kept the peak
/// of the worst refused query. After such a refusal kpid asks glibc to return free pages
/// (`malloc_trim`), at most once a second, so a flood of refused queries costs no more than one
/// trim a second.
enum MemoryReclaimer {
    private static let lastTrim = Atomic<UInt64>(0)
    private static let minimumGapNanoseconds: UInt64 = 1_000_000_000

    /// Called after a query was refused for a limit or timed out.
    static func afterRefusedQuery() {
        let now = DispatchTime.now().uptimeNanoseconds
        let last = lastTrim.load(ordering: .relaxed)
        guard now &- last >= minimumGapNanoseconds || last == 0 else { return }
        guard lastTrim.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        #if os(Linux)
            _ = glibcMallocTrim(0)
        #endif
    }
}
