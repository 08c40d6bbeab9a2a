import CSnappy
import Foundation
import KPICore
import KPIProtos

/// Decodes Prometheus remote write 1.0 request bodies: a snappy block (not the framed format)
/// holding a protobuf `prometheus.WriteRequest`.
///
/// The C libraries (libsnappy, libprotobuf-c) stay behind this type: callers pass bytes and get
/// a `SampleBatch` or an `IngestError`, never a C pointer.
public enum RemoteWriteDecoder {
    /// Decodes a whole request body.
    ///
    /// All-or-nothing, like `IngestDecoder`: when any series has a problem nothing is returned
    /// and the thrown `IngestError` lists up to `IngestError.maxDetails` issues. Issues carry
    /// `line: 0` (a protobuf body has no lines) and a field naming the series by its position,
    /// e.g. `timeseries[3].labels` or `timeseries[3].labels.site`.
    ///
    /// - Series labels are checked with `options.validator`; the metric name is the `__name__`
    ///   label, the only `__`-prefixed name allowed. A label with an empty value is absent, and a
    ///   name repeated within one series is an error.
    /// - Sample values are kept bit-exact, so Prometheus stale markers (the NaN
    ///   `0x7ff0000000000002`) survive. Timestamps are milliseconds, as sent. Samples need not be
    ///   sorted, and a series may appear more than once: the store merges.
    /// - Exemplars and metadata are ignored. Native histograms are not supported: a series that
    ///   carries any is refused (field `timeseries[i].histograms`).
    /// - A body that is not a valid snappy block or protobuf message is refused with one issue
    ///   (field `body`, kind `.invalidInput`). A block that would decode to more than
    ///   `maxDecodedBytes` is refused before decompressing, with kind `.limitExceeded` (HTTP 413).
    public static func decode(_ body: [UInt8], options: DecodeOptions, maxDecodedBytes: Int) throws(IngestError) -> SampleBatch {
        let decoded = try uncompress(body, maxDecodedBytes: maxDecodedBytes)
        // The message lives in the arena, which goes back to the pool when this returns.
        return try ProtobufArena.with { (arena) throws(IngestError) in
            let request = decoded.withUnsafeBufferPointer { buffer in
                arena.withAllocator { prometheus__write_request__unpack($0, buffer.count, buffer.baseAddress) }
            }
            guard let request else {
                throw IngestError(
                    message: "invalid remote write request",
                    details: [
                        IngestIssue(
                            line: 0, field: "body",
                            reason: "the decompressed body (\(decoded.count) bytes) is not a valid prometheus.WriteRequest protobuf message")
                    ])
            }
            return try batch(from: request.pointee, options: options)
        }
    }

    /// The snappy block decompressed, or an error naming why not.
    static func uncompress(_ body: [UInt8], maxDecodedBytes: Int) throws(IngestError) -> [UInt8] {
        func corrupt(_ reason: String) -> IngestError {
            IngestError(
                message: "invalid snappy body",
                details: [IngestIssue(line: 0, field: "body", reason: reason)])
        }
        var length = 0
        let lengthStatus = body.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { snappy_uncompressed_length($0.baseAddress, $0.count, &length) }
        }
        guard lengthStatus == SNAPPY_OK else {
            throw corrupt(
                "not a snappy block: its length header is missing or malformed (send Content-Encoding: snappy, block format, not framed)")
        }
        // Checked before allocating: the header is attacker-controlled and can claim up to 4 GiB.
        guard length <= maxDecodedBytes else {
            throw IngestError(
                kind: .limitExceeded, message: "decompressed request body too large",
                details: [
                    IngestIssue(
                        line: 0, field: "body",
                        reason: "the snappy block decodes to \(length) bytes, over the limit of \(maxDecodedBytes)")
                ])
        }
        var ok = true
        let decoded = [UInt8](unsafeUninitializedCapacity: length) { out, count in
            var produced = length
            let status = body.withUnsafeBufferPointer { input in
                input.withMemoryRebound(to: CChar.self) { input in
                    out.withMemoryRebound(to: CChar.self) { out in
                        snappy_uncompress(input.baseAddress, input.count, out.baseAddress, &produced)
                    }
                }
            }
            // On failure the buffer's contents are undefined, so none of it is kept.
            ok = status == SNAPPY_OK && produced == length
            count = ok ? produced : 0
        }
        guard ok else {
            throw corrupt("corrupt snappy block: the compressed data does not decode to the \(length) bytes its header announces")
        }
        return decoded
    }

    /// Validates every series and collects their samples.
    static func batch(from request: Prometheus__WriteRequest, options: DecodeOptions) throws(IngestError) -> SampleBatch {
        var batch = SampleBatch()
        var issues = IngestIssueCollector()
        var pairs: [Label] = []
        var timestamps: [Int64] = []
        var values: [Double] = []
        // Prometheus sends each sample as its own entry, repeating the series' labels: entries
        // whose label bytes were seen before reuse that series (same bytes, same labels, same
        // verdict) without building strings, sorting or validating again.
        var seen: [LabelBytes: Int] = [:]
        var key: [UInt8] = []
        /// Appends a label string's length and bytes to `key` (0xFF for a missing one).
        func appendKey(_ text: UnsafeMutablePointer<CChar>?) {
            guard let text else {
                key.append(0xFF)
                return
            }
            let length = strlen(text)
            ByteCoding.appendVarint(&key, UInt64(length))
            text.withMemoryRebound(to: UInt8.self, capacity: length) {
                key.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
            }
        }
        /// Collects the series' samples; false (reported) when a timestamp is outside the contract.
        func collectSamples(_ series: Prometheus__TimeSeries, _ field: String) -> Bool {
            timestamps.removeAll(keepingCapacity: true)
            values.removeAll(keepingCapacity: true)
            for k in 0..<series.n_samples {
                guard let sample = series.samples[k]?.pointee else { continue }
                if let problem = SampleTime.problem(sample.timestamp) {
                    issues.report(line: 0, field: "\(field).samples[\(k)].timestamp", reason: problem)
                    return false
                }
                timestamps.append(sample.timestamp)
                // A plain load: no arithmetic touches the value, so NaN payloads stay intact.
                values.append(sample.value)
            }
            return true
        }
        for i in 0..<request.n_timeseries where !issues.isFull {
            guard let series = request.timeseries[i]?.pointee else { continue }
            var field: String { "timeseries[\(i)]" }
            key.removeAll(keepingCapacity: true)
            for j in 0..<series.n_labels {
                guard let label = series.labels[j]?.pointee else { continue }
                appendKey(label.name)
                appendKey(label.value)
            }
            if series.n_histograms == 0, let known = seen[LabelBytes(bytes: key)] {
                guard series.n_samples > 0, issues.error == nil else { continue }
                guard collectSamples(series, field) else { continue }
                batch.append(seriesIndex: known, timestamps: timestamps, values: values)
                continue
            }
            pairs.removeAll(keepingCapacity: true)
            var badUTF8: String?
            for j in 0..<series.n_labels {
                guard let label = series.labels[j]?.pointee else { continue }
                guard let name = protobufString(label.name), let value = protobufString(label.value) else {
                    badUTF8 = "labels[\(j)]"
                    break
                }
                pairs.append(Label(name: name, value: value))
            }
            if let badUTF8 {
                issues.report(line: 0, field: "\(field).\(badUTF8)", reason: "label name or value is not valid UTF-8")
                continue
            }
            if series.n_histograms > 0 {
                issues.report(
                    line: 0, field: "\(field).histograms",
                    reason: "native histograms are not supported (series \(Labels(pairs))); "
                        + "disable send_native_histograms in the remote_write configuration")
                continue
            }
            if let duplicate = duplicateName(pairs) {
                issues.report(line: 0, field: "\(field).labels.\(duplicate)", reason: "duplicate label name \"\(duplicate)\"")
                continue
            }
            let labels = Labels(pairs)
            if let problem = options.validator.problem(with: labels) {
                // The validator names the metric `metric`; here it is the `__name__` label.
                let location = problem.field == "metric" ? "labels.\(Labels.metricNameLabel)" : problem.field
                issues.report(line: 0, field: "\(field).\(location)", reason: problem.reason)
                continue
            }
            guard series.n_samples > 0, issues.error == nil else { continue }
            guard collectSamples(series, field) else { continue }
            let index = batch.seriesIndex(for: labels)
            seen[LabelBytes(bytes: key)] = index
            batch.append(seriesIndex: index, timestamps: timestamps, values: values)
        }
        if let error = issues.error { throw error }
        return batch
    }

    /// A series' label bytes as a dictionary key, hashed in one pass (an `[UInt8]` key is hashed
    /// a byte at a time: 8 % of ingest CPU in a profile).
    struct LabelBytes: Hashable {
        var bytes: [UInt8]
        func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    }

    /// The first label name that occurs more than once, if any.
    private static func duplicateName(_ pairs: [Label]) -> String? {
        guard pairs.count > 1 else { return nil }
        let names = pairs.map(\.name).sorted()
        for k in 1..<names.count where names[k] == names[k - 1] { return names[k] }
        return nil
    }
}
