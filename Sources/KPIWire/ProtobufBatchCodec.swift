import KPICore
import KPIProtos

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// kpid's columnar protobuf ingest batch (`kpid.v1.Batch`, see Sources/KPIProtos/kpid.proto),
/// through libprotobuf-c. Each series carries its labels once and its samples as packed arrays,
/// with delta-encoded timestamps, so a gateway sends about 9-10 bytes per sample.
public enum ProtobufBatchDecoder {
    /// Decodes a whole body; all-or-nothing like the other decoders. Issues carry `line: 0` and a
    /// field naming the series by position, e.g. `series[2].values`.
    public static func decode(_ body: [UInt8], options: DecodeOptions) throws(IngestError) -> SampleBatch {
        // The message lives in the arena, which goes back to the pool when this returns.
        try ProtobufArena.with { (arena) throws(IngestError) in
            let message = body.withUnsafeBufferPointer { buffer in
                arena.withAllocator { kpid__v1__batch__unpack($0, buffer.count, buffer.baseAddress) }
            }
            guard let message else {
                throw IngestError(
                    message: "invalid protobuf body",
                    details: [IngestIssue(line: 0, field: "body", reason: "not a valid kpid.v1.Batch protobuf message")])
            }
            return try batch(from: message.pointee, options: options)
        }
    }

    /// Validates every series of an unpacked batch and collects their samples.
    static func batch(from batchMessage: Kpid__V1__Batch, options: DecodeOptions) throws(IngestError) -> SampleBatch {
        var batch = SampleBatch()
        var issues = IngestIssueCollector()
        var pairs: [Label] = []
        var timestamps: [Int64] = []
        for i in 0..<batchMessage.n_series where !issues.isFull {
            guard let series = batchMessage.series[i]?.pointee else { continue }
            let field = "series[\(i)]"
            guard let metric = protobufString(series.metric) else {
                issues.report(line: 0, field: "\(field).metric", reason: "not valid UTF-8")
                continue
            }
            pairs.removeAll(keepingCapacity: true)
            pairs.append(Label(name: Labels.metricNameLabel, value: metric))
            var bad: String? = nil
            var seen = Set<String>()
            for j in 0..<series.n_labels {
                guard let label = series.labels[j]?.pointee else { continue }
                guard let name = protobufString(label.name), let value = protobufString(label.value) else {
                    bad = "labels[\(j)] is not valid UTF-8"
                    break
                }
                if !seen.insert(name).inserted || name == Labels.metricNameLabel {
                    bad = "duplicate label name \"\(name)\""
                    break
                }
                pairs.append(Label(name: name, value: value))
            }
            if let bad {
                issues.report(line: 0, field: "\(field).labels", reason: bad)
                continue
            }
            let labels = Labels(pairs)
            if let problem = options.validator.problem(with: labels) {
                issues.report(line: 0, field: "\(field).\(problem.field)", reason: problem.reason)
                continue
            }
            guard series.n_timestamp_deltas == series.n_values else {
                issues.report(
                    line: 0, field: "\(field).values",
                    reason: "\(series.n_timestamp_deltas) timestamps but \(series.n_values) values")
                continue
            }
            guard series.n_values > 0, issues.error == nil else { continue }
            timestamps.removeAll(keepingCapacity: true)
            timestamps.reserveCapacity(series.n_values)
            // Deltas are modulo 2^64 (the encoder subtracts with wrapping), so any Int64
            // sequence round-trips, extremes included.
            var t: Int64 = 0
            var outside: (Int, String)? = nil
            for k in 0..<series.n_timestamp_deltas {
                t = t &+ series.timestamp_deltas[k]
                if outside == nil, let problem = SampleTime.problem(t) { outside = (k, problem) }
                timestamps.append(t)
            }
            if let (k, problem) = outside {
                issues.report(line: 0, field: "\(field).timestamp_deltas[\(k)]", reason: problem)
                continue
            }
            let values = Array(UnsafeBufferPointer(start: series.values, count: series.n_values))
            batch.append(labels, timestamps: timestamps, values: values)
        }
        if let error = issues.error { throw error }
        return batch
    }
}

/// A protobuf-c string field (NUL-terminated; unset strings point at a shared empty string) as
/// a Swift string, or nil when it is not valid UTF-8, which the protobuf `string` type requires.
/// Shared by the protobuf decoders.
func protobufString(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
    guard let pointer else { return "" }
    return String(validatingCString: pointer)
}

/// Encodes a batch as `kpid.v1.Batch` (for clients, `kpid ingest` and the benchmark).
public enum ProtobufBatchEncoder {
    public static func encode(_ batch: SampleBatch) -> [UInt8] {
        // protobuf-c packs from C structs pointing at C strings and arrays; they live in these
        // buffers until packing is done.
        var cStrings: [UnsafeMutablePointer<CChar>] = []
        defer { cStrings.forEach { free($0) } }
        func c(_ s: String) -> UnsafeMutablePointer<CChar> {
            let p = strdup(s)!
            cStrings.append(p)
            return p
        }
        let n = batch.series.count
        let seriesStructs = UnsafeMutablePointer<Kpid__V1__Series>.allocate(capacity: max(n, 1))
        let seriesPointers = UnsafeMutablePointer<UnsafeMutablePointer<Kpid__V1__Series>?>.allocate(capacity: max(n, 1))
        var labelBlocks: [(UnsafeMutablePointer<Kpid__V1__Label>, UnsafeMutablePointer<UnsafeMutablePointer<Kpid__V1__Label>?>)] = []
        var deltaBlocks: [UnsafeMutablePointer<Int64>] = []
        var valueBlocks: [UnsafeMutablePointer<Double>] = []
        defer {
            seriesStructs.deallocate()
            seriesPointers.deallocate()
            for (a, b) in labelBlocks {
                a.deallocate()
                b.deallocate()
            }
            deltaBlocks.forEach { $0.deallocate() }
            valueBlocks.forEach { $0.deallocate() }
        }
        for i in 0..<n {
            let labels = batch.series[i]
            let rest = labels.withoutMetricName
            let structs = UnsafeMutablePointer<Kpid__V1__Label>.allocate(capacity: max(rest.count, 1))
            let pointers = UnsafeMutablePointer<UnsafeMutablePointer<Kpid__V1__Label>?>.allocate(capacity: max(rest.count, 1))
            labelBlocks.append((structs, pointers))
            for (j, pair) in rest.enumerated() {
                kpid__v1__label__init(structs + j)
                structs[j].name = c(pair.name)
                structs[j].value = c(pair.value)
                pointers[j] = structs + j
            }
            let ts = batch.timestamps[i]
            let deltas = UnsafeMutablePointer<Int64>.allocate(capacity: max(ts.count, 1))
            var previous: Int64 = 0
            for (k, t) in ts.enumerated() {
                deltas[k] = t &- previous
                previous = t
            }
            deltaBlocks.append(deltas)
            let values = UnsafeMutablePointer<Double>.allocate(capacity: max(ts.count, 1))
            for (k, v) in batch.values[i].enumerated() { values[k] = v }
            valueBlocks.append(values)

            kpid__v1__series__init(seriesStructs + i)
            seriesStructs[i].metric = c(labels.metricName ?? "")
            seriesStructs[i].n_labels = rest.count
            seriesStructs[i].labels = pointers
            seriesStructs[i].n_timestamp_deltas = ts.count
            seriesStructs[i].timestamp_deltas = deltas
            seriesStructs[i].n_values = ts.count
            seriesStructs[i].values = values
            seriesPointers[i] = seriesStructs + i
        }
        var message = Kpid__V1__Batch()
        kpid__v1__batch__init(&message)
        message.n_series = n
        message.series = seriesPointers
        let size = kpid__v1__batch__get_packed_size(&message)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = kpid__v1__batch__pack(&message, buffer.baseAddress)
        }
    }
}
