import CSnappy
import Foundation
import KPICore
import KPIProtos

/// Encodes Prometheus remote write 1.0 request bodies (a `prometheus.WriteRequest` protobuf,
/// packed by libprotobuf-c, in one snappy block by libsnappy), for forwarding to a
/// remote-write endpoint. The inverse of ``RemoteWriteDecoder``.
public enum RemoteWriteEncoder {
    /// One series of a request: its labels (metric name as `__name__`) and samples.
    public struct Series {
        public var labels: Labels
        public var timestamps: ArraySlice<Int64>
        public var values: ArraySlice<Double>

        public init(labels: Labels, timestamps: ArraySlice<Int64>, values: ArraySlice<Double>) {
            precondition(timestamps.count == values.count, "timestamps and values must have the same length")
            self.labels = labels
            self.timestamps = timestamps
            self.values = values
        }
    }

    /// The snappy-compressed WriteRequest. Labels go sorted by name (``Labels`` keeps them so),
    /// as the protocol asks; samples in the order given (the caller sends each series oldest first).
    public static func encode(_ series: [Series]) -> [UInt8] {
        snappyCompress(pack(series))
    }

    /// The uncompressed protobuf message. The C structures live in a few large allocations
    /// (one per kind), not one per sample, and are freed before returning.
    static func pack(_ series: [Series]) -> [UInt8] {
        let labelCount = series.reduce(0) { $0 + $1.labels.count }
        let sampleCount = series.reduce(0) { $0 + $1.timestamps.count }
        // Every string of the request in one buffer of NUL-terminated bytes.
        var text: [CChar] = []
        var offsets: [(name: Int, value: Int)] = []
        offsets.reserveCapacity(labelCount)
        for s in series {
            for label in s.labels {  // sorted by name already
                let name = text.count
                text.append(contentsOf: label.name.utf8.map { CChar(bitPattern: $0) })
                text.append(0)
                let value = text.count
                text.append(contentsOf: label.value.utf8.map { CChar(bitPattern: $0) })
                text.append(0)
                offsets.append((name, value))
            }
        }
        let seriesStructs = UnsafeMutablePointer<Prometheus__TimeSeries>.allocate(capacity: max(1, series.count))
        let seriesPointers = UnsafeMutablePointer<UnsafeMutablePointer<Prometheus__TimeSeries>?>.allocate(
            capacity: max(1, series.count))
        let labelStructs = UnsafeMutablePointer<Prometheus__Label>.allocate(capacity: max(1, labelCount))
        let labelPointers = UnsafeMutablePointer<UnsafeMutablePointer<Prometheus__Label>?>.allocate(
            capacity: max(1, labelCount))
        let sampleStructs = UnsafeMutablePointer<Prometheus__Sample>.allocate(capacity: max(1, sampleCount))
        let samplePointers = UnsafeMutablePointer<UnsafeMutablePointer<Prometheus__Sample>?>.allocate(
            capacity: max(1, sampleCount))
        defer {
            seriesStructs.deallocate()
            seriesPointers.deallocate()
            labelStructs.deallocate()
            labelPointers.deallocate()
            sampleStructs.deallocate()
            samplePointers.deallocate()
        }
        return text.withUnsafeMutableBufferPointer { strings -> [UInt8] in
            var l = 0
            var k = 0
            for (i, s) in series.enumerated() {
                let ts = seriesStructs + i
                prometheus__time_series__init(ts)
                ts.pointee.n_labels = s.labels.count
                ts.pointee.labels = labelPointers + l
                for _ in 0..<s.labels.count {
                    let label = labelStructs + l
                    prometheus__label__init(label)
                    label.pointee.name = strings.baseAddress! + offsets[l].name
                    label.pointee.value = strings.baseAddress! + offsets[l].value
                    labelPointers[l] = label
                    l += 1
                }
                ts.pointee.n_samples = s.timestamps.count
                ts.pointee.samples = samplePointers + k
                for (t, v) in zip(s.timestamps, s.values) {
                    let sample = sampleStructs + k
                    prometheus__sample__init(sample)
                    sample.pointee.timestamp = t
                    sample.pointee.value = v
                    samplePointers[k] = sample
                    k += 1
                }
                seriesPointers[i] = ts
            }
            var request = Prometheus__WriteRequest()
            prometheus__write_request__init(&request)
            request.n_timeseries = series.count
            request.timeseries = seriesPointers
            var out = [UInt8](repeating: 0, count: prometheus__write_request__get_packed_size(&request))
            let written = out.withUnsafeMutableBufferPointer { prometheus__write_request__pack(&request, $0.baseAddress) }
            precondition(written == out.count, "protobuf-c packed \(written) of \(out.count) bytes")
            return out
        }
    }

    /// `raw` as one snappy block (the block format remote write uses, not the framed one).
    static func snappyCompress(_ raw: [UInt8]) -> [UInt8] {
        var length = snappy_max_compressed_length(raw.count)
        var out = [UInt8](repeating: 0, count: length)
        let status = raw.withUnsafeBufferPointer { input in
            input.withMemoryRebound(to: CChar.self) { input in
                out.withUnsafeMutableBufferPointer { output in
                    output.withMemoryRebound(to: CChar.self) { output in
                        snappy_compress(input.baseAddress, input.count, output.baseAddress, &length)
                    }
                }
            }
        }
        precondition(status == SNAPPY_OK, "snappy_compress failed with a buffer of snappy_max_compressed_length")
        out.removeLast(out.count - length)
        return out
    }
}
