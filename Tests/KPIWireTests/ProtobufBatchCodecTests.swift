import KPICore
import KPITestSupport
import KPIWire
import Testing

/// Protobuf wire encoding written out by hand, independent of libprotobuf-c.
private enum Wire {
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }
    static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }
    static func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { varint(UInt64(number << 3 | 2)) + varint(UInt64(bytes.count)) + bytes }
    static func string(_ number: Int, _ s: String) -> [UInt8] { field(number, Array(s.utf8)) }
    static func packedSint64(_ number: Int, _ values: [Int64]) -> [UInt8] { field(number, values.flatMap { varint(zigzag($0)) }) }
    static func packedDouble(_ number: Int, _ values: [Double]) -> [UInt8] {
        field(number, values.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } })
    }
    static func label(_ name: String, _ value: String) -> [UInt8] { field(2, string(1, name) + string(2, value)) }
    static func series(_ metric: String, _ labels: [(String, String)], deltas: [Int64], values: [Double]) -> [UInt8] {
        field(1, string(1, metric) + labels.flatMap { label($0.0, $0.1) } + packedSint64(3, deltas) + packedDouble(4, values))
    }
}

@Suite struct ProtobufBatchCodecTests {
    let options = DecodeOptions(now: 0)

    @Test func decodesHandEncodedBatch() throws {
        let body =
            Wire.series(
                "queue_length_people", [("site", "JFK"), ("lane", "3")], deltas: [1_762_070_400_000, 60_000, 60_000],
                values: [4, 7.5, -0.0])
            + Wire.series("device_up", [("device", "cam-1")], deltas: [1_762_070_400_000, -30_000], values: [1, 0])
        let batch = try ProtobufBatchDecoder.decode(body, options: options)
        #expect(
            batch.series == [
                Labels(metric: "queue_length_people", ["site": "JFK", "lane": "3"]), Labels(metric: "device_up", ["device": "cam-1"]),
            ])
        #expect(batch.timestamps == [[1_762_070_400_000, 1_762_070_460_000, 1_762_070_520_000], [1_762_070_400_000, 1_762_070_370_000]])
        #expect(batch.values[0].map(\.bitPattern) == [4.0, 7.5, -0.0].map(\.bitPattern))
        #expect(batch.values[1] == [1, 0])
        #expect(batch.sampleCount == 5)
    }

    @Test func deltasSpanTheTimeContractAndNoMore() throws {
        // From the last to the first instant of the contract and back: the widest deltas.
        let span = SampleTime.maximum - SampleTime.minimum
        let body = Wire.series("m", [], deltas: [SampleTime.maximum, -span, span], values: [1, 2, 3])
        let batch = try ProtobufBatchDecoder.decode(body, options: options)
        #expect(batch.timestamps == [[SampleTime.maximum, SampleTime.minimum, SampleTime.maximum]])
        // One millisecond past it (or a delta wrapping modulo 2^64 to anywhere outside) is refused, naming the sample.
        for deltas: [Int64] in [[SampleTime.maximum, 1], [0, Int64.min], [Int64.max, 2, Int64.min]] {
            #expect {
                _ = try ProtobufBatchDecoder.decode(
                    Wire.series("m", [], deltas: deltas, values: deltas.map { _ in 1 }), options: options)
            } throws: { error in
                "\(error)".contains("timestamp_deltas[") && "\(error)".contains("outside")
            }
        }
    }

    @Test func roundTripsThroughTheEncoderBitExact() throws {
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<200 {
            var batch = SampleBatch()
            for s in 0..<Int(rng.next() % 5) {
                let labels = Labels(metric: "m\(s)", ["zone": "z\(rng.next() % 3)", "note": "a \"quoted\", é\n"])
                var ts: [Int64] = []
                var vs: [Double] = []
                for _ in 0..<Int(rng.next() % 50) {
                    ts.append(Int64(bitPattern: rng.next()) >> Int64(18 + rng.next() % 46))  // within SampleTime: |t| <= 2^45
                    vs.append(Double(bitPattern: rng.next()))
                }
                batch.append(labels, timestamps: ts, values: vs)
            }
            let decoded = try ProtobufBatchDecoder.decode(ProtobufBatchEncoder.encode(batch), options: options)
            let nonEmpty = batch.series.indices.filter { !batch.timestamps[$0].isEmpty }
            #expect(decoded.series == nonEmpty.map { batch.series[$0] })
            #expect(decoded.timestamps == nonEmpty.map { batch.timestamps[$0] })
            #expect(decoded.values.map { $0.map(\.bitPattern) } == nonEmpty.map { batch.values[$0].map(\.bitPattern) })
        }
    }

    @Test(
        arguments: [
            ([0xFF, 0xFF, 0xFF], "body", "not a valid"),
            (Wire.series("m", [], deltas: [1, 2], values: [1]), "series[0].values", "2 timestamps but 1 values"),
            (Wire.series("bad-metric", [], deltas: [1], values: [1]), "series[0].metric", "invalid metric name"),
            (Wire.series("m", [("a", "1"), ("a", "2")], deltas: [1], values: [1]), "series[0].labels", "duplicate label name"),
            (Wire.series("m", [("__name__", "x")], deltas: [1], values: [1]), "series[0].labels", "duplicate label name"),
            (Wire.series("m", [("__x", "1")], deltas: [1], values: [1]), "series[0].labels.__x", "reserved"),
            (Wire.field(1, Wire.field(1, [0xC3, 0x28])), "series[0].metric", "UTF-8"),
        ] as [([UInt8], String, String)])
    func rejects(body: [UInt8], field: String, reason: String) {
        do {
            _ = try ProtobufBatchDecoder.decode(body, options: options)
            Issue.record("accepted")
        } catch {
            #expect(error.details.first?.field == field)
            #expect(error.details.first?.reason.contains(reason) == true, "\(error)")
        }
    }

    @Test func contentTypes() {
        #expect(IngestFormat(contentType: "application/x-protobuf") == .protobuf)
        #expect(IngestFormat(contentType: "application/protobuf; proto=kpid.v1.Batch") == .protobuf)
    }
}
