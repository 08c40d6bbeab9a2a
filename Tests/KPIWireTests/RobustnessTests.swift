import KPICore
import KPITestSupport
import Testing

@testable import KPIWire

@Suite struct RobustnessTests {
    @Test func interleavedSeriesAndEquivalentSpellingsMapToOneSeries() throws {
        let body = """
            {"metric":"m","labels":{"a":"1","b":"2"},"value":1}
            {"metric":"n","value":2}
            {"metric":"m","labels":{"b":"2","a":"1"},"value":3}
            {"metric":"\\u006d","labels":{"a":"\\u0031","b":"2"},"value":4}
            {"metric":"n","value":5}
            {"metric":"m","labels":{"a":"1","b":"2"},"value":6}
            {"metric":"m","labels":{"a":"1","b":"3"},"value":7}
            """
        let batch = try decode(body, .ndjson)
        #expect(
            batch.series == [Labels(metric: "m", ["a": "1", "b": "2"]), Labels(metric: "n"), Labels(metric: "m", ["a": "1", "b": "3"])])
        #expect(batch.values == [[1, 3, 4, 6], [2, 5], [7]])

        let prom = try decode("m{a=\"1\"} 1\nn 2\nm{a=\"1\",} 3\nm{a=\"1\"} 4\nm{a=\"\\\\\"} 5\nm{a=\"\\\\\"} 6\n", .prometheusText)
        #expect(prom.series == [Labels(metric: "m", ["a": "1"]), Labels(metric: "n"), Labels(metric: "m", ["a": "\\"])])
        #expect(prom.values == [[1, 3, 4], [2], [5, 6]])

        let csv = try decode("metric,ts,value,a\nm,,1,x\nn,,2,\nm,,3,\"x\"\nm,,4,x\nn,,5,\n", .csv)
        #expect(csv.series == [Labels(metric: "m", ["a": "x"]), Labels(metric: "n")])
        #expect(csv.values == [[1, 3, 4], [2, 5]])
    }

    @Test func byteOrderMarkIsSkipped() throws {
        let ndjson = [0xEF, 0xBB, 0xBF] + Array(#"{"metric":"m","value":1}"#.utf8)
        #expect(try NDJSONDecoder.decode(ndjson, options: DecodeOptions(now: 0)).sampleCount == 1)
        let prom = [0xEF, 0xBB, 0xBF] + Array("m 1\n".utf8)
        #expect(try PrometheusTextDecoder.decode(prom, options: DecodeOptions(now: 0)).sampleCount == 1)
    }

    /// Mutated bodies must be decoded or refused, never crash, and every reported line must
    /// exist in the body.
    @Test(arguments: [IngestFormat.ndjson, .csv, .prometheusText, .protobuf])
    func mutatedBodiesNeverCrash(format: IngestFormat) {
        var seedBody = ""
        var seedBytes: [UInt8]? = nil
        switch format {
        case .ndjson:
            seedBody =
                #"{"metric":"m","labels":{"a":"x\"y\\z\u00e9\ud83d\ude80","b":"日本"},"ts":"2026-11-02T08:00:00.5+01:00","value":-1.5e3}"#
                + "\n"
                + #"{"metric":"n","ts":17,"value":"NaN"}"# + "\n"
        case .csv:
            seedBody = "metric,ts,value,a,b\nm,17,1.5,\"x,\"\"y\nz\",日本\nn,,NaN,,\n"
        case .prometheusText:
            seedBody = "# TYPE m gauge\nm{a=\"x\\\"y\\\\z\\n\",b=\"日本\",} 1.5 17\nn NaN\n# EOF\n"
        case .protobuf:
            var batch = SampleBatch()
            batch.append(Labels(metric: "m", ["a": "x\"y", "b": "日本"]), timestamps: [17, 18, 1_000_000], values: [1.5, .nan, -3])
            batch.append(Labels(metric: "n"), timestamps: [5], values: [0])
            seedBytes = ProtobufBatchEncoder.encode(batch)
        }
        let base = seedBytes ?? Array(seedBody.utf8)
        let interesting: [UInt8] = Array("\"\\{}[],:=#\n\r 0123456789.eE+-nNtfu".utf8) + [0x00, 0x80, 0xC3, 0xE6, 0xF0, 0xFF]
        var rng = SeededGenerator(seed: 2024)
        for _ in 0..<20_000 {
            var body = base
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<body.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: body[i] = interesting[Int.random(in: 0..<interesting.count, using: &rng)]
                case 1: body.remove(at: i)
                case 2: body.insert(interesting[Int.random(in: 0..<interesting.count, using: &rng)], at: i)
                default: body.removeSubrange(i...)
                }
                if body.isEmpty { break }
            }
            let lines = body.filter { $0 == 0x0A }.count + 1
            if let error = refusal(body, format) {
                #expect(!error.details.isEmpty)
                // A protobuf body has no lines: its issues say line 0.
                let validLines = format == .protobuf ? 0...0 : 1...lines
                #expect(error.details.allSatisfy { validLines.contains($0.line) }, "\(error)")
            }
        }
    }
}
