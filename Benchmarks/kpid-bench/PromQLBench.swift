import ArgumentParser
import Dispatch
import Foundation
import KPICore
import KPIPromQL

/// PromQL latency on generated counters and gauges (one sample per 15 s, as Prometheus scrapes).
struct PromQLBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promql", abstract: "Latency of PromQL range and instant queries on generated data.")

    @Option(help: "Series (half counters, half gauges).") var series = 1_000
    @Option(help: "Hours of data per series at a 15 s interval.") var hours = 24
    @Option(help: "Runs per query.") var runs = 5

    func run() throws {
        let perSeries = hours * 240
        let store = ColumnarStore()
        let end: Int64 = 1_794_787_200_000
        let start = end - Int64(perSeries) * 15_000
        var state: UInt64 = 7
        for k in 0..<series {
            let counter = k % 2 == 0
            let labels = Labels(
                metric: counter ? "http_requests_total" : "queue_length", ["site": "S\(k % 10)", "instance": "i\(k)"])
            var total = 0.0
            var ts = [Int64](repeating: 0, count: perSeries)
            var vs = [Double](repeating: 0, count: perSeries)
            for i in 0..<perSeries {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let r = Double(state >> 40) / Double(1 << 24)
                ts[i] = start + Int64(i) * 15_000
                total += counter ? (r * 10).rounded() : 0
                vs[i] = counter ? total : (r * 50).rounded()
            }
            let id = SeriesID(UInt32(k))
            store.apply(newSeries: [(id, labels)], series: [id], timestamps: [ts], values: [vs])
        }
        print("\(series) series x \(perSeries) samples (\(store.stats.sampleCount) in all), \(hours) h at 15 s")
        var options = PromQLOptions()
        options.maxSamples = Int.max / 2
        let engine = PromQLEngine(store: store, options: options)
        let cases: [(String, String, Bool)] = [
            ("rate 5m, range 24h step 60s", "sum by (site) (rate(http_requests_total[5m]))", true),
            ("avg_over_time 1h, range 24h step 5m", "avg by (site) (avg_over_time(queue_length[1h]))", true),
            ("instant topk of rate 5m", "topk(10, rate(http_requests_total[5m]))", false),
            ("instant quantile_over_time 24h", "quantile_over_time(0.95, queue_length[24h])", false),
        ]
        print("| query | median | p99 |")
        print("|---|---:|---:|")
        for (name, query, range) in cases {
            var times: [Double] = []
            for _ in 0..<runs {
                let t = DispatchTime.now().uptimeNanoseconds
                if range {
                    let step: Int64 = query.contains("1h") ? 300_000 : 60_000
                    _ = try engine.rangeQuery(query, start: max(start, end - 86_400_000), end: end, step: step)
                } else {
                    _ = try engine.instantQuery(query, at: end)
                }
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
            }
            times.sort()
            let median = times[times.count / 2]
            let p99 = times[min(times.count - 1, Int((0.99 * Double(times.count - 1)).rounded(.up)))]
            print(String(format: "| %@ | %.1f ms | %.1f ms |", name, median, p99))
        }
    }
}
