#if os(Linux)
    /// glibc's `int mallopt(int param, int value)` (<malloc.h>, which the Glibc module does not
    /// export).
    @_silgen_name("mallopt")
    private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// Makes memory a query grew go back to the system when the query ends, refused or not.
///
/// A query stopped by `query-max-samples` or its timeout may have built hundreds of megabytes of
/// intermediates first (count_values' series, join tables). glibc serves allocations of 128 KiB
/// and more with their own mappings, returned at `free`, but by default it raises that threshold
/// to the size of every such block freed, after which blocks of that size come from the arenas
/// and stay there: resident memory kept the peak of the worst refused query (about 500 MB after
/// one `count_values`). kpid pins the threshold (`M_MMAP_THRESHOLD`, which turns the dynamic
/// raise off) once at start. (`malloc_trim` after each refusal returned the memory too, but it
/// holds each arena's lock while it walks it: with a large heap it froze every thread for tens
/// of seconds.)
enum MemoryReclaimer {
    /// glibc's `M_MMAP_THRESHOLD`.
    private static let mmapThresholdParameter: Int32 = -3
    /// Blocks this large or larger get their own mapping, returned to the system when freed.
    static let mmapThresholdBytes: Int32 = 128 << 10

    private static let configured: Bool = {
        #if os(Linux)
            return glibcMallopt(mmapThresholdParameter, mmapThresholdBytes) == 1
        #else
            return false
        #endif
    }()

    /// Pins glibc's mapping threshold (once per process; later calls do nothing).
    static func configureAllocator() { _ = configured }
}
