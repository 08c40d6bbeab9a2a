import Dispatch
import Testing

@testable import KPICore

/// The read contract's sample budget: the querier charges what it hands out, wherever the
/// reader is, so no engine can read past `query-max-samples` by forgetting to count.
@Suite struct QuerierTests {
    /// One series of 3,000 samples a minute apart (values 0..<3000), chunks of 256.
    static func store() -> (ColumnarStore, SeriesID) {
        let store = ColumnarStore(configuration: StoreConfiguration(outOfOrderWindowMs: 0, chunkSize: 256))
        let id = SeriesID(0)
        let ts = (0..<3_000).map { Int64($0) * 60_000 }
        store.apply(
            newSeries: [(id, Labels(metric: "x", ["site": "A"]))], series: [id], timestamps: [ts],
            values: [ts.map { Double($0 / 60_000) }])
        return (store, id)
    }

    @Test func samplesAreChargedUntilTheLimit() throws {
        let (store, id) = Self.store()
        let querier = store.querier(ReadScope(budget: SampleBudget(limit: 100)))
        // Minutes 0...59: 60 samples.
        let first = try querier.samples(id, start: 0, end: 59 * 60_000, staleness: .dropMarkers)
        #expect(first.timestamps.count == 60 && querier.scope.budget.spent == 60)
        // Minutes 100...139: 40 more, exactly the limit.
        _ = try querier.samples(id, start: 100 * 60_000, end: 139 * 60_000, staleness: .dropMarkers)
        #expect(querier.scope.budget.spent == 100)
        // One more sample is past it.
        #expect(throws: ReadError.sampleLimitExceeded(limit: 100)) {
            try querier.samples(id, start: 200 * 60_000, end: 200 * 60_000, staleness: .dropMarkers)
        }
        // An empty read costs nothing.
        let none = store.querier(ReadScope(budget: SampleBudget(limit: 0)))
        #expect(try none.samples(id, start: -10, end: -1, staleness: .dropMarkers).timestamps.isEmpty)
    }

    /// A rollup chunk costs its buckets of the level read, a slice its samples; the reader's own
    /// count of what it received is the expectation.
    @Test func segmentsChargeBucketsAndSlices() throws {
        let (store, id) = Self.store()
        let querier = store.querier(ReadScope(budget: SampleBudget(limit: 10_000)))
        var buckets = 0
        var samples = 0
        var rollupChunks = 0
        try querier.withSegments(id, start: 30 * 60_000, end: 2_900 * 60_000, level: .hour, sketches: false) { chunk in
            rollupChunks += 1
            chunk.rollup!.forEachBucket(.hour) { _ in buckets += 1 }
        } slice: { t, _ in
            samples += t.count
        }
        #expect(rollupChunks > 0 && buckets > 0 && samples > 0)
        // 2,871 samples are in the range; the rollups stand for most of them in fewer buckets.
        #expect(querier.scope.budget.spent == buckets + samples)
        #expect(querier.scope.budget.spent < 2_871)

        let tight = store.querier(ReadScope(budget: SampleBudget(limit: buckets + samples - 1)))
        #expect(throws: ReadError.sampleLimitExceeded(limit: buckets + samples - 1)) {
            try tight.withSegments(id, start: 30 * 60_000, end: 2_900 * 60_000, level: .hour, sketches: false) { _ in
            } slice: { _, _ in }
        }
    }

    /// Shares of a parallel read charge one budget: the total is exact across threads.
    @Test func oneBudgetAcrossThreads() {
        let budget = SampleBudget(limit: 1_000_000)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 { try? budget.charge(3) }
        }
        #expect(budget.spent == 240_000)
        #expect(throws: ReadError.sampleLimitExceeded(limit: 1_000_000)) { try budget.charge(760_001) }
    }
}
