import KPICore
import Foundation

/// Collects the samples of one site and writes them as ndjson: sorted by time, each series'
/// timestamps strictly increasing, values as exact decimals with at most 3 fractional digits.
struct SampleWriter {
    struct Sample {
        var ts: Int64
        var series: Int32
        /// The value in thousandths (values carry at most 3 decimals).
        var milli: Int64
    }

    let site: String
    let start: Int64
    let end: Int64
    private(set) var samples: [Sample] = []
    /// Per series: metric and the labels JSON object.
    private(set) var keys: [(metric: String, labels: String)] = []
    /// Per series: its labels, `site` first.
    private var pairs: [[FixtureSamples.Label]] = []
    private var index: [String: Int32] = [:]

    init(site: String, start: Int64, end: Int64) {
        self.site = site
        self.start = start
        self.end = end
        samples.reserveCapacity(1 << 18)
    }

    /// The id of series `metric{site, labels...}` (labels in the given order, `site` first).
    mutating func series(_ metric: String, _ labels: KeyValuePairs<String, String>) -> Int32 {
        series(metric, labels.map { ($0.key, $0.value) })
    }

    mutating func series(_ metric: String, _ labels: [(String, String)]) -> Int32 {
        var json = "{\"site\":" + jsonString(site)
        for (k, v) in labels { json += "," + jsonString(k) + ":" + jsonString(v) }
        json += "}"
        let key = metric + "\u{0}" + json
        if let id = index[key] { return id }
        let id = Int32(keys.count)
        keys.append((metric, json))
        pairs.append([FixtureSamples.Label(name: "site", value: site)] + labels.map { FixtureSamples.Label(name: $0.0, value: $0.1) })
        index[key] = id
        return id
    }

    /// Adds a sample; samples outside [start, end) are dropped (events of bookings before the range, ...).
    @inline(__always) mutating func add(_ series: Int32, _ ts: Int64, _ value: Double) {
        guard ts >= start && ts < end else { return }
        samples.append(Sample(ts: ts, series: series, milli: Int64((value * 1000).rounded())))
    }

    /// Adds a sample of an integer value.
    @inline(__always) mutating func add(_ series: Int32, _ ts: Int64, int value: Int64) {
        guard ts >= start && ts < end else { return }
        samples.append(Sample(ts: ts, series: series, milli: value * 1000))
    }

    /// The samples sorted by (time, metric, labels, value); two samples of one series in the
    /// same millisecond are kept 1 ms apart.
    func sortedSamples() -> [Sample] {
        // Rank of every series by (metric, labels) in byte order.
        let order = keys.indices.sorted { a, b in
            let ka = keys[a]
            let kb = keys[b]
            if ka.metric != kb.metric { return Array(ka.metric.utf8).lexicographicallyPrecedes(kb.metric.utf8) }
            return Array(ka.labels.utf8).lexicographicallyPrecedes(kb.labels.utf8)
        }
        var rank = [Int32](repeating: 0, count: keys.count)
        for (r, i) in order.enumerated() { rank[i] = Int32(r) }
        func less(_ x: Sample, _ y: Sample) -> Bool {
            if x.ts != y.ts { return x.ts < y.ts }
            if x.series != y.series { return rank[Int(x.series)] < rank[Int(y.series)] }
            return x.milli < y.milli
        }
        var sorted = samples.sorted(by: less)
        var last = [Int64](repeating: Int64.min, count: keys.count)
        var bumped = false
        for k in sorted.indices {
            let s = Int(sorted[k].series)
            if sorted[k].ts <= last[s] {
                sorted[k].ts = last[s] + 1
                bumped = true
            }
            last[s] = sorted[k].ts
        }
        if bumped { sorted.sort(by: less) }
        return sorted
    }

    /// The samples, sorted, with their series.
    func fixtureSamples() -> FixtureSamples {
        FixtureSamples(
            series: keys.indices.map { FixtureSamples.Series(metric: keys[$0].metric, labelsJSON: keys[$0].labels, labels: pairs[$0]) },
            samples: sortedSamples().map { FixtureSamples.Sample(ts: $0.ts, series: $0.series, milli: $0.milli) })
    }

}

/// One site's generated samples in time order, with their series: what
/// `FixtureGenerator.generate` writes as ndjson, for callers that pick ranges of it (the demo
/// feed of `kpid serve --demo`).
public struct FixtureSamples: Sendable {
    /// A series: metric name and labels (`site` first).
    public struct Series: Sendable {
        public var metric: String
        /// The labels as a JSON object, as written in the ndjson lines.
        public var labelsJSON: String
        public var labels: [Label]
    }

    /// A label of a generated series.
    public struct Label: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    /// A sample: time (Unix ms), index into `series`, value in thousandths (values carry at most
    /// three decimals).
    public struct Sample: Sendable, Equatable {
        public var ts: Int64
        public var series: Int32
        public var milli: Int64
    }

    public var series: [Series]
    /// Sorted by time, then series (metric, labels), then value.
    public var samples: [Sample]

    /// The ndjson lines of `samples[range]` (all by default), each value raised by
    /// `offsets[series]` thousandths where given.
    public func ndjson(_ range: Range<Int>? = nil, offsets: [Int32: Int64] = [:]) -> [UInt8] {
        let range = range ?? samples.indices
        let prefixes: [[UInt8]] = series.map { Array("{\"metric\":\"\($0.metric)\",\"labels\":\($0.labelsJSON),\"ts\":".utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(range.count * 110)
        let valueKey = Array(",\"value\":".utf8)
        for s in samples[range] {
            out.append(contentsOf: prefixes[Int(s.series)])
            appendInt(&out, s.ts)
            out.append(contentsOf: valueKey)
            appendMilli(&out, s.milli &+ (offsets[s.series] ?? 0))
            out.append(UInt8(ascii: "}"))
            out.append(10)
        }
        return out
    }
}

/// Appends the decimal digits of `v`.
@inline(__always) func appendInt(_ out: inout [UInt8], _ v: Int64) {
    if v < 0 {
        out.append(UInt8(ascii: "-"))
        appendInt(&out, v == Int64.min ? Int64.max : -v)
        return
    }
    if v < 10 {
        out.append(UInt8(48 + v))
        return
    }
    var digits:
        (
            UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
            UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
        ) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var n = 0
    var x = v
    withUnsafeMutableBytes(of: &digits) { buf in
        while x > 0 {
            buf[n] = UInt8(48 + x % 10)
            x /= 10
            n += 1
        }
        while n > 0 {
            n -= 1
            out.append(buf[n])
        }
    }
}

/// Appends a value given in thousandths as the shortest decimal (`1500` -> `1.5`, `-250` -> `-0.25`,
/// `0` -> `0`): exactly the shortest round-trip form of the Double nearest to it.
@inline(__always) func appendMilli(_ out: inout [UInt8], _ milli: Int64) {
    var m = milli
    if m < 0 {
        out.append(UInt8(ascii: "-"))
        m = -m
    }
    appendInt(&out, m / 1000)
    var frac = m % 1000
    if frac == 0 { return }
    out.append(UInt8(ascii: "."))
    var width = 3
    while frac % 10 == 0 {
        frac /= 10
        width -= 1
    }
    var scale: Int64 = 1
    for _ in 1..<width { scale *= 10 }
    while scale > 0 {
        out.append(UInt8(48 + frac / scale % 10))
        scale /= 10
    }
}

/// A JSON string literal (``JSONString``).
func jsonString(_ s: String) -> String { JSONString.literal(s) }
