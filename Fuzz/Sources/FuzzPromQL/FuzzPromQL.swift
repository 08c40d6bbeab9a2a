import KPICore
import KPIPromQL

let store: ColumnarStore = {
    let store = ColumnarStore()
    for k in 0..<6 {
        let id = SeriesID(UInt32(k))
        let labels = Labels(metric: k % 2 == 0 ? "http_requests_total" : "queue_length", ["job": "j\(k % 3)", "le": "\(k)"])
        let ts = (0..<60).map { Int64($0) * 15_000 }
        let vs = (0..<60).map { i -> Double in k % 2 == 0 ? Double(i * (k + 1) % 400) : Double((i * 13) % 17) }
        store.apply(newSeries: [(id, labels)], series: [id], timestamps: [ts], values: [vs])
    }
    return store
}()

/// Any text either parses and evaluates (instant and range, within small limits) or is refused
/// with an error; never a crash or a hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard (try? PromQL.parse(text)) != nil else { return 0 }
    let engine = PromQLEngine(store: store, options: PromQLOptions(lookbackDeltaMs: 300_000, maxSamples: 200_000))
    let deadline = ContinuousClock.now + .seconds(2)
    _ = try? engine.instantQuery(text, at: 600_000, deadline: deadline)
    _ = try? engine.rangeQuery(text, start: 0, end: 900_000, step: 30_000, deadline: deadline)
    return 0
}
