/// Remembers which batch series earlier lines named, keyed by the raw bytes that named them
/// (metric and label text as written), so a repeated series costs a hash and a byte compare
/// instead of decoding strings, sorting labels and validating again.
///
/// Only byte ranges into the body being decoded are stored, so a cache lives for one decode.
/// Equal raw bytes always decode to the same labels; different bytes (another key order,
/// another escape) merely miss and take the slow path.
struct RawSeriesCache {
    private struct Entry {
        var offset: Int
        var count: Int
        var series: Int
    }

    private var table: [Int: Entry] = [:]
    private var stored: [Range<Int>] = []

    /// Hash of the bytes of `key`'s ranges (with their lengths, so range boundaries matter).
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>, _ key: [Range<Int>]) -> Int {
        var hasher = Hasher()
        for range in key {
            hasher.combine(range.count)
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[range])))
        }
        return hasher.finalize()
    }

    /// The series remembered for exactly these bytes, if any.
    func series(_ bytes: UnsafeBufferPointer<UInt8>, _ key: [Range<Int>], hash: Int) -> Int? {
        guard let entry = table[hash], entry.count == key.count else { return nil }
        for k in 0..<key.count where !DecodeSupport.rangesEqual(bytes, key[k], stored[entry.offset + k]) {
            return nil
        }
        return entry.series
    }

    /// Remembers `series` for these bytes (keeps the first entry on a hash collision).
    mutating func remember(_ key: [Range<Int>], hash: Int, series: Int) {
        guard table[hash] == nil else { return }
        table[hash] = Entry(offset: stored.count, count: key.count, series: series)
        stored.append(contentsOf: key)
    }
}
