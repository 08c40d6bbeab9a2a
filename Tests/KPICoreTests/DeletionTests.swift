import KPITestSupport
import Testing

@testable import KPICore

/// Deletion and retention planning on the in-memory store, against a second implementation:
/// a plain dictionary of samples filtered by hand.
@Suite struct DeletionTests {
    static func labels(_ metric: String, _ site: String) -> Labels {
        Labels(metric: metric, ["site": site])
    }

    /// A store with two series of `count` samples each, sealed into chunks of 16 (window 50 ms).
    static func filledStore(count: Int, seed: UInt64) -> (ColumnarStore, [SeriesID: [Int64: Double]]) {
        let store = ColumnarStore(configuration: StoreConfiguration(outOfOrderWindowMs: 50, chunkSize: 16))
        var rng = SeededGenerator(seed: seed)
        let series: [(SeriesID, Labels)] = [(SeriesID(0), labels("m", "JFK")), (SeriesID(1), labels("m", "LHR"))]
        var model: [SeriesID: [Int64: Double]] = [:]
        var first = true
        var t: Int64 = 1000
        for _ in 0..<(count / 10) {
            var ts: [[Int64]] = [[], []]
            var vs: [[Double]] = [[], []]
            for _ in 0..<10 {
                t += Int64.random(in: 1...20, using: &rng)
                for k in 0..<2 {
                    let v = Double(Int.random(in: 0...1000, using: &rng))
                    ts[k].append(t)
                    vs[k].append(v)
                    model[series[k].0, default: [:]][t] = v
                }
            }
            store.apply(newSeries: first ? series : [], series: [SeriesID(0), SeriesID(1)], timestamps: ts, values: vs)
            first = false
        }
        _ = store.drainCheckpoint()
        return (store, model)
    }

    static func expect(_ store: ColumnarStore, _ model: [SeriesID: [Int64: Double]], _ id: SeriesID) {
        let (ts, vs) = store.read(id)
        let expected = (model[id] ?? [:]).sorted { $0.key < $1.key }
        #expect(ts == expected.map(\.key))
        #expect(vs == expected.map(\.value))
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func deletingRangesMatchesFilteredModel(seed: UInt64) {
        let (store, filled) = DeletionTests.filledStore(count: 400, seed: seed)
        var model = filled
        #expect(store.stats.chunkCount > 10)
        var rng = SeededGenerator(seed: seed &* 7919)
        for _ in 0..<6 {
            let all = model[SeriesID(0)]!.keys.sorted()
            guard all.count > 2 else { break }
            let a = all[Int.random(in: 0..<all.count, using: &rng)]
            let b = a + Int64.random(in: 0...600, using: &rng)
            let rewrites = store.planDeletion([SeriesID(0)], start: a, end: b)
            let removed = model[SeriesID(0)]!.keys.filter { $0 >= a && $0 <= b }.count
            #expect(RewriteCounts(rewrites).samples == removed)
            store.apply(rewrites)
            model[SeriesID(0)] = model[SeriesID(0)]!.filter { $0.key < a || $0.key > b }
            DeletionTests.expect(store, model, SeriesID(0))
            DeletionTests.expect(store, model, SeriesID(1))  // untouched
            // The out-of-order window is measured from the newest sample left.
            #expect(store.maxTime(of: SeriesID(0)) == model[SeriesID(0)]!.keys.max())
        }
        // Chunks stay sorted and disjoint: a full read is strictly increasing.
        let ts = store.read(SeriesID(0)).timestamps
        #expect(zip(ts, ts.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func deletingEverythingRemovesTheSeriesFromTheIndex() {
        let (store, model) = DeletionTests.filledStore(count: 200, seed: 9)
        let rewrites = store.planDeletion([SeriesID(0)], start: .min, end: .max)
        #expect(rewrites.count == 1 && rewrites[0].removesSeries)
        store.apply(rewrites)
        #expect(store.seriesID(for: DeletionTests.labels("m", "JFK")) == nil)
        #expect(store.labelValues("site") == ["LHR"])
        #expect(try! store.select([try! LabelMatcher("site", .regexMatch, ".+")]).map(\.id) == [SeriesID(1)])
        #expect(store.read(SeriesID(0)).timestamps.isEmpty)
        DeletionTests.expect(store, model, SeriesID(1))
        // Ids are not reused: the next series gets a fresh one.
        #expect(store.nextSeriesID == SeriesID(2))
        store.apply(
            newSeries: [(SeriesID(2), DeletionTests.labels("m", "JFK"))], series: [SeriesID(2)], timestamps: [[5]], values: [[1]])
        #expect(store.read(SeriesID(2)).timestamps == [5])
        #expect(store.labelValues("site") == ["JFK", "LHR"])
    }

    @Test func retentionDropsWholeChunksTrimsHeadAndHidesTheRest() {
        let (store, model) = DeletionTests.filledStore(count: 400, seed: 11)
        let all = model[SeriesID(0)]!.keys.sorted()
        let cutoff = all[all.count / 2] + 1
        let chunksBefore = store.stats.chunkCount
        // Only metric m of site JFK expires.
        let rewrites = store.planRetention { $0["site"] == "JFK" ? cutoff : nil }
        #expect(rewrites.map(\.id) == [SeriesID(0)])
        store.apply(rewrites)
        #expect(store.stats.chunkCount < chunksBefore)
        var expected = model
        expected[SeriesID(0)] = model[SeriesID(0)]!.filter { $0.key >= cutoff }
        DeletionTests.expect(store, expected, SeriesID(0))
        DeletionTests.expect(store, model, SeriesID(1))
        // Dropped chunks are exactly those ending before the cutoff: the samples still held in
        // memory but hidden are fewer than one chunk.
        let held = store.stats.sampleCount - model[SeriesID(1)]!.count
        #expect(held - expected[SeriesID(0)]!.count < 16)
        // A cutoff past everything empties the series and removes it.
        store.apply(store.planRetention { $0["site"] == "JFK" ? .max : nil })
        #expect(store.seriesCount == 1)
        #expect(store.labelValues("site") == ["LHR"])
    }
}
