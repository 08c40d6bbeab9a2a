import KPICore

@testable import KPIPromQL

/// A store built from literal series: `(labels, [(seconds, value)])`.
func makeStore(_ series: [(Labels, [(Double, Double)])]) -> ColumnarStore {
    let store = ColumnarStore()
    var newSeries: [(SeriesID, Labels)] = []
    var ids: [SeriesID] = []
    var ts: [[Int64]] = []
    var vs: [[Double]] = []
    for (k, (labels, samples)) in series.enumerated() {
        let id = SeriesID(UInt32(k))
        newSeries.append((id, labels))
        ids.append(id)
        ts.append(samples.map { Int64(($0.0 * 1000).rounded()) })
        vs.append(samples.map { $0.1 })
    }
    store.apply(newSeries: newSeries, series: ids, timestamps: ts, values: vs)
    return store
}

/// Prometheus' stale marker.
let staleMarker = Double(bitPattern: 0x7ff0_0000_0000_0002)

func labels(_ metric: String?, _ pairs: [String: String] = [:]) -> Labels {
    var all = pairs.map { Label(name: $0.key, value: $0.value) }
    if let metric { all.append(Label(name: "__name__", value: metric)) }
    return Labels(all)
}

extension PromQLEngine {
    /// An instant query at `seconds` as a dictionary from label text to value.
    func vector(_ query: String, at seconds: Double) throws -> [String: Double] {
        let value = try instantQuery(query, at: Int64((seconds * 1000).rounded()))
        guard case .vector(let samples) = value else {
            if case .scalar(_, let v) = value { return ["scalar": v] }
            return [:]
        }
        var out: [String: Double] = [:]
        for s in samples { out[s.labels.description] = s.value }
        return out
    }

    func scalarValue(_ query: String, at seconds: Double = 0) throws -> Double {
        guard case .scalar(_, let v) = try instantQuery(query, at: Int64((seconds * 1000).rounded())) else { return .nan }
        return v
    }
}

/// Relative comparison for computed values.
func close(_ a: Double?, _ b: Double, tolerance: Double = 1e-12) -> Bool {
    guard let a else { return false }
    if a == b { return true }
    return abs(a - b) <= tolerance * max(abs(a), abs(b))
}
