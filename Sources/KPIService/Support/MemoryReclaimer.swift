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
/// A query stopped by `query-max-samples` or its timeout may have built hundreds of megabytes of
/// intermediates first (count_values' series, join tables). Freed, they stay in glibc's arenas (a
/// server's request threads each have one, which glibc trims rarely), so resident memory kept the
/// peak of the worst refused query. After such a refusal kpid asks glibc to return free pages
/// (`malloc_trim`), at most once a second. A trim holds each arena's lock while it walks
/// it, so it costs every thread a pause that grows with the heap's free blocks: milliseconds for
/// a server, but tens of seconds in a test process holding dozens of in-process services with
/// gigabytes of fixtures (`ServiceConfiguration.trimMemoryAfterRefusedQueries` turns it off
/// there; the tests of this behaviour run kpid as a process of its own).
enum MemoryReclaimer {
    private static let lastTrim = Atomic<UInt64>(0)
    private static let minimumGapNanoseconds: UInt64 = 1_000_000_000

    /// Called after a query was refused for a limit or timed out.
    static func afterRefusedQuery() {
        let now = DispatchTime.now().uptimeNanoseconds
        let last = lastTrim.load(ordering: .relaxed)
        guard last == 0 || now &- last >= minimumGapNanoseconds else { return }
        guard lastTrim.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        #if os(Linux)
            _ = glibcMallocTrim(0)
        #endif
    }
}
