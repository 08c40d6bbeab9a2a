/// A decoded ingest request: samples grouped by series, each series' timestamps and values in
/// contiguous columns. Decoders build it; the write path validates and stores it atomically.
public struct SampleBatch: Sendable {
    /// Distinct series of the batch, in first-seen order.
    public private(set) var series: [Labels] = []
    /// `timestamps[i]` and `values[i]` are the samples of `series[i]`, in arrival order
    /// (not necessarily sorted).
    public private(set) var timestamps: [[Int64]] = []
    public private(set) var values: [[Double]] = []
    /// Total number of samples.
    public private(set) var sampleCount: Int = 0
    private var lookup: [Labels: Int] = [:]

    public init() {}

    /// Index of `labels` in `series`, adding it when new.
    @inlinable
    public mutating func seriesIndex(for labels: Labels) -> Int {
        if let index = lookupIndex(labels) { return index }
        return addSeries(labels)
    }

    @usableFromInline
    func lookupIndex(_ labels: Labels) -> Int? { lookup[labels] }

    @usableFromInline
    mutating func addSeries(_ labels: Labels) -> Int {
        let index = series.count
        series.append(labels)
        timestamps.append([])
        values.append([])
        lookup[labels] = index
        return index
    }

    /// Appends one sample to the series at `index` (from `seriesIndex(for:)`).
    public mutating func append(seriesIndex index: Int, timestamp: Int64, value: Double) {
        timestamps[index].append(timestamp)
        values[index].append(value)
        sampleCount += 1
    }

    /// Appends one sample, looking the series up.
    public mutating func append(_ labels: Labels, timestamp: Int64, value: Double) {
        append(seriesIndex: seriesIndex(for: labels), timestamp: timestamp, value: value)
    }

    /// Appends samples to the series at `index` (from `seriesIndex(for:)`).
    public mutating func append(seriesIndex index: Int, timestamps ts: [Int64], values vs: [Double]) {
        precondition(ts.count == vs.count, "timestamps and values must have the same length")
        timestamps[index].append(contentsOf: ts)
        values[index].append(contentsOf: vs)
        sampleCount += ts.count
    }

    /// Appends all samples of a series at once.
    public mutating func append(_ labels: Labels, timestamps ts: [Int64], values vs: [Double]) {
        precondition(ts.count == vs.count, "timestamps and values must have the same length")
        let index = seriesIndex(for: labels)
        timestamps[index].append(contentsOf: ts)
        values[index].append(contentsOf: vs)
        sampleCount += ts.count
    }

    public var isEmpty: Bool { sampleCount == 0 }
}
