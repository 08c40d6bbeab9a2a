import Foundation
import Synchronization
import Testing

@testable import KPICore

/// Counters shared by the writer and reader tasks.
final class SharedCounters: Sendable {
    let done = Atomic<Bool>(false)
    let violations = Atomic<Int>(0)
    let reads = Atomic<Int>(0)
}

@Suite struct ConcurrencyTests {
    /// One writer applies batches of 10 samples to two series at once while readers scan: a
    /// reader never sees part of a batch (counts are multiples of 10, and both series, read under
    /// one lock acquisition each, move in whole batches), and every read is sorted.
    @Test func readersNeverSeeHalfABatch() {
        let store = ColumnarStore(configuration: StoreConfiguration(outOfOrderWindowMs: 5_000, chunkSize: 32))
        let a = Labels(metric: "a")
        let b = Labels(metric: "b")
        store.apply(newSeries: [(SeriesID(0), a), (SeriesID(1), b)], series: [], timestamps: [], values: [])
        let batches = 1_000
        let shared = SharedCounters()
        let group = DispatchGroup()
        // Real threads, not tasks: spinning readers must not starve the writer of a pool thread.
        for _ in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                while !shared.done.load(ordering: .acquiring) {
                    var count = 0
                    var sorted = true
                    var previous = Int64.min
                    store.withSlices(SeriesID(0)) { t, _ in
                        count += t.count
                        for x in t {
                            if x <= previous { sorted = false }
                            previous = x
                        }
                    }
                    if count % 10 != 0 || !sorted { shared.violations.add(1, ordering: .relaxed) }
                    shared.reads.add(1, ordering: .relaxed)
                }
                group.leave()
            }
        }
        group.enter()
        Thread.detachNewThread {
            // Start writing only once the readers run, so reads and writes overlap.
            while shared.reads.load(ordering: .relaxed) == 0 { usleep(100) }
            for n in 0..<batches {
                let ts = (0..<10).map { Int64(n * 10 + $0) * 100 }
                // Every other batch arrives reversed (an out-of-order merge inside the window).
                let order = n % 2 == 0 ? ts : ts.reversed()
                store.apply(
                    newSeries: [], series: [SeriesID(0), SeriesID(1)], timestamps: [order, order],
                    values: [order.map(Double.init), order.map(Double.init)])
            }
            shared.done.store(true, ordering: .releasing)
            group.leave()
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(shared.violations.load(ordering: .relaxed) == 0)
        #expect(shared.reads.load(ordering: .relaxed) > 1)
        #expect(store.read(SeriesID(0)).timestamps.count == batches * 10)
        #expect(store.read(SeriesID(1)).values == store.read(SeriesID(0)).values)
    }
}
