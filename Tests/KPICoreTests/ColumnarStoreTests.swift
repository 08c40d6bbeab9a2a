import KPITestSupport
import Testing

@testable import KPICore

@Suite struct ColumnarStoreTests {
    let q = Labels(metric: "queue_wait_seconds", ["site": "JFK"])

    func makeStore(window: Int64 = 3_600_000, chunk: Int = 4) -> ColumnarStore {
        let store = ColumnarStore(configuration: StoreConfiguration(outOfOrderWindowMs: window, chunkSize: chunk))
        store.addSeries(q, id: SeriesID(0))
        return store
    }

    func put(_ store: ColumnarStore, _ ts: [Int64], _ vs: [Double]) {
        store.apply(newSeries: [], series: [SeriesID(0)], timestamps: [ts], values: [vs])
    }

    @Test func appendsInOrderAndReadsRanges() {
        let store = makeStore()
        put(store, [1000, 2000, 3000], [1, 2, 3])
        put(store, [4000, 5000], [4, 5])
        #expect(store.read(SeriesID(0)).timestamps == [1000, 2000, 3000, 4000, 5000])
        #expect(store.read(SeriesID(0), start: 2000, end: 4000).values == [2, 3, 4])
        #expect(store.read(SeriesID(0), start: 2500, end: 2600).values == [])
        #expect(store.read(SeriesID(0), start: 5000, end: .max).values == [5])
        #expect(store.maxTime(of: SeriesID(0)) == 5000)
        #expect(store.stats.sampleCount == 5)
    }

    @Test func mergesOutOfOrderAndLastWriteWinsOnDuplicates() {
        let store = makeStore()
        put(store, [1000, 3000, 5000], [1, 3, 5])
        put(store, [4000, 2000, 3000], [4, 2, 30])  // out of order, and a duplicate of 3000
        put(store, [6000, 6000], [6, 60])  // duplicate inside one batch: the later one wins
        let r = store.read(SeriesID(0))
        #expect(r.timestamps == [1000, 2000, 3000, 4000, 5000, 6000])
        #expect(r.values == [1, 2, 30, 4, 5, 60])
    }

    @Test func sealsOnlySamplesOlderThanTheWindowInFullChunks() {
        // window 10 s, chunk 4: after samples at 0..20 s every second, those before 10 s are
        // sealable (11 of them: 0..10 s exclusive of 10 s is 10 samples) -> 2 chunks of 4.
        let store = makeStore(window: 10_000, chunk: 4)
        let ts = (0...20).map { Int64($0) * 1000 }
        put(store, ts, ts.map { Double($0) })
        let stats = store.stats
        #expect(stats.chunkCount == 2)
        #expect(stats.sampleCount == 21)
        #expect(store.read(SeriesID(0)).timestamps == ts)
        let delta = store.drainCheckpoint()
        #expect(delta.sealed.count == 2)
        #expect(delta.sealed[0].1.timestamps == [0, 1000, 2000, 3000])
        #expect(delta.sealed[1].1.timestamps == [4000, 5000, 6000, 7000])
        #expect(delta.heads.count == 1)
        #expect(delta.heads[0].1?.timestamps == (8...20).map { Int64($0) * 1000 })
        #expect(store.drainCheckpoint().isEmpty)
    }

    @Test func outOfOrderSampleIntoASealedChunkReSealsIt() {
        // Recovery can replay a sample into a sealed range; the chunk is rebuilt, not broken.
        let store = makeStore(window: 0, chunk: 2)
        put(store, [1000, 2000, 4000, 5000, 9000], [1, 2, 4, 5, 9])
        _ = store.drainCheckpoint()
        put(store, [3000, 2000], [3, 20])
        let r = store.read(SeriesID(0))
        #expect(r.timestamps == [1000, 2000, 3000, 4000, 5000, 9000])
        #expect(r.values == [1, 20, 3, 4, 5, 9])
        let delta = store.drainCheckpoint()
        #expect(delta.sealed.allSatisfy { $0.1.isWellFormed })
        #expect(delta.sealed.contains { $0.1.timestamps == [1000, 2000, 3000] })
    }

    @Test func pagedReadCoversEverythingOnce() {
        let store = makeStore(window: 1000, chunk: 16)
        let ts = (0..<1000).map { Int64($0) * 10 }
        put(store, ts, ts.map { Double($0) / 10 })
        var cursor: Int64 = .min
        var got: [Int64] = []
        while true {
            let page = store.read(SeriesID(0), start: cursor, end: .max, limit: 37)
            got += page.timestamps
            if page.timestamps.count < 37 { break }
            cursor = page.timestamps.last! + 1
        }
        #expect(got == ts)
    }

    @Test func randomizedAgainstADictionaryModel() {
        // Second implementation: a dictionary ts -> value with last-write-wins.
        var rng = SeededGenerator(seed: 42)
        let store = makeStore(window: 50_000, chunk: 8)
        var model: [Int64: Double] = [:]
        for round in 0..<300 {
            let base = Int64(round) * 1000
            var ts: [Int64] = []
            var vs: [Double] = []
            for _ in 0..<Int(rng.next() % 6) {
                let t = max(0, base - Int64(rng.next() % 40_000))
                ts.append(t)
                vs.append(Double(rng.next() % 1000))
            }
            put(store, ts, vs)
            for (t, v) in zip(ts, vs) { model[t] = v }
        }
        let r = store.read(SeriesID(0))
        let keys = model.keys.sorted()
        #expect(r.timestamps == keys)
        #expect(r.values == keys.map { model[$0]! })
        let lo = keys[keys.count / 3]
        let hi = keys[2 * keys.count / 3]
        #expect(store.read(SeriesID(0), start: lo, end: hi).timestamps == keys.filter { $0 >= lo && $0 <= hi })
    }

    @Test func restoreThenApplyKeepsOrder() {
        let store = ColumnarStore(configuration: StoreConfiguration(outOfOrderWindowMs: 0, chunkSize: 2))
        store.addSeries(q, id: SeriesID(0))
        store.restore(SeriesID(0), chunk: Chunk(timestamps: [1, 2], values: [1, 2]), isHead: false)
        store.restore(SeriesID(0), chunk: Chunk(timestamps: [3], values: [3]), isHead: true)
        #expect(store.maxTime(of: SeriesID(0)) == 3)
        store.apply(newSeries: [], series: [SeriesID(0)], timestamps: [[4]], values: [[4]])
        #expect(store.read(SeriesID(0)).timestamps == [1, 2, 3, 4])
        // Restored data is already persisted: only what changed since appears in the delta.
        // Window 0: the cutoff is the newest timestamp (4), so only 3 is older: not a full chunk.
        let first = store.drainCheckpoint()
        #expect(first.sealed.isEmpty)
        #expect(first.heads.map { $0.1?.timestamps } == [[3, 4]])
        store.apply(newSeries: [], series: [SeriesID(0)], timestamps: [[5]], values: [[5]])
        let second = store.drainCheckpoint()
        #expect(second.sealed.map { $0.1.timestamps } == [[3, 4]])
        #expect(second.heads.map { $0.1?.timestamps } == [[5]])
    }

    @Test func selectReturnsLabels() throws {
        let store = makeStore()
        let other = Labels(metric: "queue_wait_seconds", ["site": "LHR"])
        store.apply(newSeries: [(SeriesID(1), other)], series: [SeriesID(1)], timestamps: [[1]], values: [[1]])
        let selected = try store.select([
            LabelMatcher(Labels.metricNameLabel, .equal, "queue_wait_seconds"), LabelMatcher("site", .equal, "LHR"),
        ])
        #expect(selected.count == 1)
        #expect(selected[0].labels == other)
        #expect(store.nextSeriesID == SeriesID(2))
    }
}

@Suite struct HeadCapTests {
    /// Samples 1 ms apart inside a 1 h window: without the cap the head would hold all of them.
    @Test func headStaysUnderTheCapInsideTheWindow() {
        let store = ColumnarStore(configuration: StoreConfiguration(outOfOrderWindowMs: 3_600_000, chunkSize: 4096))
        store.addSeries(Labels(metric: "fast"), id: SeriesID(0))
        let total = SeriesColumns.maxHeadSamples + 10_000
        var next = 0
        while next < total {
            let n = min(100_000, total - next)
            let ts = (next..<next + n).map { Int64($0) }
            store.apply(newSeries: [], series: [SeriesID(0)], timestamps: [ts], values: [ts.map { Double($0 % 7) }])
            next += n
        }
        let delta = store.drainCheckpoint()
        let head = delta.heads.first?.1
        #expect(head != nil)
        #expect((head?.count ?? .max) <= SeriesColumns.maxHeadSamples)
        #expect(store.stats.sampleCount == total)
        // A late sample into the sealed range is still merged, not lost.
        store.apply(newSeries: [], series: [SeriesID(0)], timestamps: [[5]], values: [[99]])
        #expect(store.read(SeriesID(0), start: 5, end: 5).values == [99])
        #expect(store.stats.sampleCount == total)
    }
}
