import CSnappy
import Foundation
import KPICore
import KPIProtos
import KPIWire
import Testing

/// One series of a test WriteRequest. Label names and values are bytes so that invalid UTF-8
/// can be sent.
struct WireSeries {
    var labels: [(name: [UInt8], value: [UInt8])]
    var samples: [(timestamp: Int64, value: Double)]
    var histograms = 0

    init(_ labels: [(String, String)], _ samples: [(Int64, Double)], histograms: Int = 0) {
        self.labels = labels.map { (Array($0.0.utf8), Array($0.1.utf8)) }
        self.samples = samples.map { (timestamp: $0.0, value: $0.1) }
        self.histograms = histograms
    }
}

/// A `prometheus.WriteRequest` packed by libprotobuf-c's own packer, so the bytes do not depend
/// on the decoder under test.
func packWriteRequest(_ series: [WireSeries]) -> [UInt8] {
    var allocations: [UnsafeMutableRawPointer] = []
    defer { for p in allocations { free(p) } }
    func allocate<T>(_: T.Type, _ count: Int) -> UnsafeMutablePointer<T> {
        let raw = malloc(max(1, count * MemoryLayout<T>.stride))!
        allocations.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(1, count))
    }
    func cString(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar> {
        let p = allocate(CChar.self, bytes.count + 1)
        for (i, b) in bytes.enumerated() { p[i] = CChar(bitPattern: b) }
        p[bytes.count] = 0
        return p
    }

    var request = Prometheus__WriteRequest()
    prometheus__write_request__init(&request)
    let timeseries = allocate(UnsafeMutablePointer<Prometheus__TimeSeries>?.self, series.count)
    for (i, s) in series.enumerated() {
        let ts = allocate(Prometheus__TimeSeries.self, 1)
        prometheus__time_series__init(ts)
        let labels = allocate(UnsafeMutablePointer<Prometheus__Label>?.self, s.labels.count)
        for (j, pair) in s.labels.enumerated() {
            let label = allocate(Prometheus__Label.self, 1)
            prometheus__label__init(label)
            label.pointee.name = cString(pair.name)
            label.pointee.value = cString(pair.value)
            labels[j] = label
        }
        let samples = allocate(UnsafeMutablePointer<Prometheus__Sample>?.self, s.samples.count)
        for (k, point) in s.samples.enumerated() {
            let sample = allocate(Prometheus__Sample.self, 1)
            prometheus__sample__init(sample)
            sample.pointee.timestamp = point.timestamp
            sample.pointee.value = point.value
            samples[k] = sample
        }
        let histograms = allocate(UnsafeMutablePointer<Prometheus__Histogram>?.self, s.histograms)
        for h in 0..<s.histograms {
            let histogram = allocate(Prometheus__Histogram.self, 1)
            prometheus__histogram__init(histogram)
            histograms[h] = histogram
        }
        ts.pointee.n_labels = s.labels.count
        ts.pointee.labels = labels
        ts.pointee.n_samples = s.samples.count
        ts.pointee.samples = samples
        ts.pointee.n_histograms = s.histograms
        ts.pointee.histograms = histograms
        timeseries[i] = ts
    }
    request.n_timeseries = series.count
    request.timeseries = timeseries
    var out = [UInt8](repeating: 0, count: prometheus__write_request__get_packed_size(&request))
    let written = out.withUnsafeMutableBufferPointer { prometheus__write_request__pack(&request, $0.baseAddress) }
    precondition(written == out.count)
    return out
}

/// `raw` as one snappy block, compressed by libsnappy.
func snappyCompress(_ raw: [UInt8]) -> [UInt8] {
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
    precondition(status == SNAPPY_OK)
    return Array(out.prefix(length))
}

@Suite struct RemoteWriteDecoderTests {
    static let options = DecodeOptions(now: 42)

    static func decode(_ series: [WireSeries], validator: LabelValidator = LabelValidator()) throws(IngestError) -> SampleBatch {
        try RemoteWriteDecoder.decode(
            snappyCompress(packWriteRequest(series)), options: DecodeOptions(validator: validator, now: 42),
            maxDecodedBytes: 1 << 20)
    }

    /// The refusal of `body`; records an issue when it was accepted.
    static func refusal(
        _ body: [UInt8], validator: LabelValidator = LabelValidator(), maxDecodedBytes: Int = 1 << 20,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> IngestError? {
        do {
            _ = try RemoteWriteDecoder.decode(
                body, options: DecodeOptions(validator: validator, now: 42), maxDecodedBytes: maxDecodedBytes)
            Issue.record("accepted, expected a refusal", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    /// Asserts exactly one issue at line 0 naming `field`, whose reason contains `reason`.
    static func expectIssue(
        _ series: [WireSeries], field: String, reason: String, validator: LabelValidator = LabelValidator(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        expectIssue(
            snappyCompress(packWriteRequest(series)), field: field, reason: reason, validator: validator,
            sourceLocation: sourceLocation)
    }

    static func expectIssue(
        _ body: [UInt8], field: String, reason: String, kind: IngestError.Kind = .invalidInput,
        validator: LabelValidator = LabelValidator(), maxDecodedBytes: Int = 1 << 20,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let error = refusal(body, validator: validator, maxDecodedBytes: maxDecodedBytes, sourceLocation: sourceLocation)
        else { return }
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        #expect(error.details.count == 1, "\(error)", sourceLocation: sourceLocation)
        guard let issue = error.details.first else { return }
        #expect(issue.line == 0, "\(error)", sourceLocation: sourceLocation)
        #expect(issue.field == field, "\(error)", sourceLocation: sourceLocation)
        #expect(issue.reason.contains(reason), "\(error)", sourceLocation: sourceLocation)
    }

    @Test func decodesSeriesAndSamples() throws {
        let batch = try Self.decode([
            // Unsorted labels, an empty value (= absent), samples out of order.
            WireSeries(
                [("zone", "T4"), ("__name__", "queue_wait_seconds"), ("gate", ""), ("site", "JFK")],
                [(1_762_070_460_000, 280), (1_762_070_400_000, 312.5)]),
            WireSeries([("__name__", "up"), ("job", "kpid"), ("instance", "127.0.0.1:9464")], [(1_762_070_400_000, 1)]),
            // The first series again, in another order: merged into it.
            WireSeries(
                [("site", "JFK"), ("__name__", "queue_wait_seconds"), ("zone", "T4")], [(1_762_070_520_000, -0.5)]),
            // No samples: nothing to store.
            WireSeries([("__name__", "empty")], []),
        ])
        #expect(
            batch.series == [
                Labels(metric: "queue_wait_seconds", ["site": "JFK", "zone": "T4"]),
                Labels(metric: "up", ["job": "kpid", "instance": "127.0.0.1:9464"]),
            ])
        #expect(batch.timestamps == [[1_762_070_460_000, 1_762_070_400_000, 1_762_070_520_000], [1_762_070_400_000]])
        #expect(batch.values == [[280, 312.5, -0.5], [1]])
        #expect(batch.sampleCount == 4)
    }

    /// Prometheus' sender puts each sample in its own entry, repeating the labels: entries
    /// with the same label bytes land in one series (the decoder's fast path), exactly as
    /// grouping by labels by hand gives; a series first seen without samples is not stored
    /// until an entry brings some; a repeated bad or histogram entry is refused every time.
    @Test func repeatedEntriesOfOneSeriesMerge() throws {
        let names = [("A", "T1"), ("B", "T2"), ("A", "T3")]
        var entries: [WireSeries] = [WireSeries([("__name__", "late"), ("site", "X")], [])]
        var expected: [(Labels, [Int64], [Double])] = []
        for k in 0..<5 {
            for (n, (site, zone)) in names.enumerated() {
                let t = Int64(1_762_070_400_000 + k * 60_000)
                let v = Double(k * 10 + n)
                entries.append(WireSeries([("__name__", "q"), ("site", site), ("zone", zone)], [(t, v)]))
                if k == 0 { expected.append((Labels(metric: "q", ["site": site, "zone": zone]), [], [])) }
                expected[n].1.append(t)
                expected[n].2.append(v)
            }
        }
        entries.append(WireSeries([("__name__", "late"), ("site", "X")], [(5, 0.5)]))
        expected.append((Labels(metric: "late", ["site": "X"]), [5], [0.5]))
        let batch = try Self.decode(entries)
        #expect(batch.series == expected.map(\.0))
        #expect(batch.timestamps == expected.map(\.1))
        #expect(batch.values == expected.map(\.2))
        #expect(batch.sampleCount == 16)

        let bad = snappyCompress(
            packWriteRequest([
                WireSeries([("__name__", "q"), ("site", "A")], [(1, 1)]),
                WireSeries([("__name__", "q"), ("site", "A")], [], histograms: 1),
                WireSeries([("__name__", "bad metric")], [(1, 1)]),
                WireSeries([("__name__", "bad metric")], [(2, 1)]),
            ]))
        guard let error = Self.refusal(bad) else { return }
        #expect(
            error.details.map(\.field) == ["timeseries[1].histograms", "timeseries[2].labels.__name__", "timeseries[3].labels.__name__"])
    }

    @Test func keepsValueBitsExactly() throws {
        let bits: [UInt64] = [
            0x7ff0_0000_0000_0002,  // Prometheus stale marker (a signalling NaN)
            0x7ff8_0000_0000_0001,  // Prometheus' normal NaN
            0xfff8_dead_beef_0000,  // negative NaN with a payload
            // (-0.0 is not here: proto3 packers, protobuf-c's and Go's alike, omit a double that
            // compares equal to 0, so it arrives as +0.0 whatever the receiver does.)
            Double.infinity.bitPattern, (-Double.infinity).bitPattern,
            Double.leastNonzeroMagnitude.bitPattern, Double.greatestFiniteMagnitude.bitPattern,
        ]
        let samples = bits.enumerated().map { (Int64($0.offset) * 1000 - 5000, Double(bitPattern: $0.element)) }
        let batch = try Self.decode([WireSeries([("__name__", "kpid_stale_test")], samples)])
        #expect(batch.values.first?.map(\.bitPattern) == bits)
        #expect(batch.timestamps.first == [-5000, -4000, -3000, -2000, -1000, 0, 1000])
    }

    @Test func emptyRequestIsAnEmptyBatch() throws {
        let batch = try RemoteWriteDecoder.decode(snappyCompress([]), options: Self.options, maxDecodedBytes: 100)
        #expect(batch.isEmpty)
        #expect(batch.series.isEmpty)
    }

    @Test func refusesCorruptSnappy() {
        // An unterminated length varint.
        Self.expectIssue([0xff, 0xff, 0xff, 0xff, 0xff, 0xff], field: "body", reason: "not a snappy block")
        Self.expectIssue([UInt8](), field: "body", reason: "not a snappy block")
        // A valid header, then a truncated block.
        let block = snappyCompress(packWriteRequest([WireSeries([("__name__", "m")], [(1, 1)])]))
        Self.expectIssue(Array(block.dropLast(3)), field: "body", reason: "corrupt snappy block")
        // A copy reaching back before the start of the output.
        Self.expectIssue([0x08, 0x01, 0x10], field: "body", reason: "corrupt snappy block")
    }

    @Test func refusesCorruptProtobuf() {
        // Field 1, length-delimited, announcing 127 bytes of which 1 follows.
        Self.expectIssue(snappyCompress([0x0a, 0x7f, 0x00]), field: "body", reason: "not a valid prometheus.WriteRequest")
        // Wire type 7 does not exist.
        Self.expectIssue(snappyCompress([0x0f, 0x01]), field: "body", reason: "not a valid prometheus.WriteRequest")
        // A valid request with its last byte cut, then compressed.
        let packed = packWriteRequest([WireSeries([("__name__", "m")], [(1, 1)])])
        Self.expectIssue(snappyCompress(Array(packed.dropLast())), field: "body", reason: "not a valid prometheus.WriteRequest")
    }

    @Test func refusesNativeHistograms() {
        Self.expectIssue(
            [
                WireSeries([("__name__", "ok")], [(1, 1)]),
                WireSeries([("__name__", "http_request_duration_seconds"), ("job", "api")], [], histograms: 1),
            ],
            field: "timeseries[1].histograms",
            reason: #"native histograms are not supported (series http_request_duration_seconds{job="api"})"#)
    }

    @Test func refusesInvalidLabels() {
        Self.expectIssue(
            [WireSeries([("__name__", "1st_metric")], [(1, 1)])], field: "timeseries[0].labels.__name__",
            reason: "invalid metric name \"1st_metric\"")
        Self.expectIssue(
            [WireSeries([("job", "x")], [(1, 1)])], field: "timeseries[0].labels.__name__", reason: "missing metric name")
        Self.expectIssue(
            [WireSeries([("__name__", "m"), ("__meta_job", "x")], [(1, 1)])], field: "timeseries[0].labels.__meta_job",
            reason: "label names starting with __ are reserved")
        Self.expectIssue(
            [WireSeries([("__name__", "m"), ("bad-name", "x")], [(1, 1)])], field: "timeseries[0].labels.bad-name",
            reason: "invalid label name")
        Self.expectIssue(
            [WireSeries([("__name__", "m"), ("site", "JFK"), ("zone", "1"), ("site", "LHR")], [(1, 1)])],
            field: "timeseries[0].labels.site", reason: "duplicate label name \"site\"")
        // Repeated, even when one of the values is empty.
        Self.expectIssue(
            [WireSeries([("__name__", "m"), ("site", ""), ("site", "LHR")], [(1, 1)])],
            field: "timeseries[0].labels.site", reason: "duplicate label name")
        Self.expectIssue(
            [WireSeries([("__name__", "m"), ("__name__", "n")], [(1, 1)])],
            field: "timeseries[0].labels.__name__", reason: "duplicate label name")
        let two = LabelValidator(maxLabelsPerSeries: 2, maxLabelNameLength: 8, maxLabelValueLength: 4)
        Self.expectIssue(
            [WireSeries([("__name__", "m"), ("a", "1"), ("b", "2"), ("c", "3")], [(1, 1)])], field: "timeseries[0].labels",
            reason: "3 labels exceed the limit of 2 per series", validator: two)
        Self.expectIssue(
            [WireSeries([("__name__", "m"), ("a", "12345")], [(1, 1)])], field: "timeseries[0].labels.a",
            reason: "label value of 5 bytes exceeds the limit of 4", validator: two)
        Self.expectIssue(
            [WireSeries([("__name__", "m"), ("long_name", "1")], [(1, 1)])], field: "timeseries[0].labels.long_name",
            reason: "label name longer than 8 bytes", validator: two)
    }

    @Test func refusesInvalidUTF8() {
        var series = WireSeries([("__name__", "m"), ("site", "x")], [(1, 1)])
        series.labels[1].value = [0x4a, 0xff, 0x4b]
        Self.expectIssue([series], field: "timeseries[0].labels[1]", reason: "not valid UTF-8")
    }

    @Test func reportsEveryBadSeriesAndStoresNone() {
        let body = snappyCompress(
            packWriteRequest([
                WireSeries([("__name__", "good")], [(1, 1)]),
                WireSeries([("__name__", "bad metric")], [(1, 1)]),
                WireSeries([("__name__", "good")], [(2, 2)]),
                WireSeries([("__name__", "h")], [], histograms: 2),
            ]))
        guard let error = Self.refusal(body) else { return }
        #expect(error.kind == .invalidInput)
        #expect(error.details.map(\.field) == ["timeseries[1].labels.__name__", "timeseries[3].histograms"])
        #expect(error.details.allSatisfy { $0.line == 0 })
    }

    @Test func keepsAtMostMaxDetails() {
        let series = (0..<(IngestError.maxDetails + 20)).map { _ in WireSeries([("job", "x")], [(1, 1)]) }
        guard let error = Self.refusal(snappyCompress(packWriteRequest(series))) else { return }
        #expect(error.details.count == IngestError.maxDetails)
    }

    @Test func refusesOversizeBlocksBeforeDecompressing() {
        let packed = packWriteRequest([WireSeries([("__name__", "m"), ("site", String(repeating: "x", count: 500))], [(1, 1)])])
        let body = snappyCompress(packed)
        Self.expectIssue(
            body, field: "body", reason: "decodes to \(packed.count) bytes, over the limit of 100", kind: .limitExceeded,
            maxDecodedBytes: 100)
        // Exactly at the limit is fine.
        #expect(throws: Never.self) {
            _ = try RemoteWriteDecoder.decode(body, options: Self.options, maxDecodedBytes: packed.count)
        }
        // A header claiming ~4 GiB, with no data behind it: refused by size, nothing allocated.
        Self.expectIssue(
            [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00], field: "body", reason: "over the limit", kind: .limitExceeded)
    }
}
