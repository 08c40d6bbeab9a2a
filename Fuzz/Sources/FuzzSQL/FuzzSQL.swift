import KPICore
import KPIQuery

/// A small store the SQL statements run against: a gauge, a counter with a reset and a 0/1
/// state, over a few series and labels.
let store: ColumnarStore = {
    let store = ColumnarStore()
    let metrics = ["queue_wait_seconds", "requests_total", "device_up"]
    for k in 0..<6 {
        let id = SeriesID(UInt32(k))
        let labels = Labels(metric: metrics[k % 3], ["site": k < 3 ? "JFK" : "LHR", "zone": "Z\(k)"])
        let ts = (0..<50).map { 1_794_787_200_000 + Int64($0) * 60_000 }
        let vs = (0..<50).map { i -> Double in k % 3 == 2 ? Double((i / 7) % 2) : Double((i * 37 + k) % 101) }
        store.apply(newSeries: [(id, labels)], series: [id], timestamps: [ts], values: [vs])
    }
    return store
}()

/// Any text either parses and runs (within small limits) or is refused with a QueryError;
/// never a crash or a hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let statement = try? QueryParser.parse(text) else { return 0 }
    var options = QueryOptions(now: 1_794_787_200_000 + 3_600_000, parameters: ["site": .string("JFK"), "n": .int(3)])
    options.limits = QueryLimits(maxSeries: 100, maxSamples: 100_000, maxRows: 10_000, timeoutMilliseconds: 2_000, maxGroupBytes: 16 << 20)
    _ = try? QueryEngine(store: store).execute(statement, text: text, options: options)
    return 0
}
