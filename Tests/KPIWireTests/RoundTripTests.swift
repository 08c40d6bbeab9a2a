import KPICore
import KPITestSupport
import Testing

@testable import KPIWire

/// Encode -> decode must give back exactly what was encoded.
@Suite struct RoundTripTests {
    struct Sample {
        var labels: Labels
        var timestamp: Int64
        var value: Double
    }

    static let awkwardPieces = [
        "a", "Z", "0", " ", ",", "\"", "\"\"", "\\", "\n", "\r\n", "\r", "\t", "{", "}", "=", "#", "é", "日本", "🚀",
        "\u{0}", "\u{1}", "\u{7F}", "\u{2028}", "\u{FEFF}", "NaN", "+Inf", "'", "multi\nline", "a,b", " lead", "trail ",
    ]

    static func name(_ rng: inout SeededGenerator, metric: Bool) -> String {
        let first = Array("abcxyzABCXYZ_" + (metric ? ":" : ""))
        let rest = Array("abcxyzABCXYZ_0189" + (metric ? ":" : ""))
        var out = String(first[Int.random(in: 0..<first.count, using: &rng)])
        if out == "_" { out = "x" }  // avoid the reserved "__" prefix
        for _ in 0..<Int.random(in: 0...8, using: &rng) { out.append(rest[Int.random(in: 0..<rest.count, using: &rng)]) }
        return out
    }

    static func value(_ rng: inout SeededGenerator) -> Double {
        switch Int.random(in: 0..<12, using: &rng) {
        case 0:
            return [
                0.0, -0.0, .nan, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNormalMagnitude,
                .greatestFiniteMagnitude, 1e-300, 1e300, 0.1, 312.5,
            ][Int.random(in: 0..<12, using: &rng)]
        case 1: return Double(bitPattern: UInt64.random(in: 1..<(1 << 52), using: &rng))  // subnormal
        case 2: return Double(Int64.random(in: -1_000_000...1_000_000, using: &rng))
        case 3: return Double(Int.random(in: -99999...99999, using: &rng)) / 100
        default:
            let v = Double(bitPattern: rng.next())
            return v.isNaN ? 1.5 : v
        }
    }

    static func labelValue(_ rng: inout SeededGenerator) -> String {
        var out = ""
        for _ in 0..<Int.random(in: 1...5, using: &rng) { out += awkwardPieces[Int.random(in: 0..<awkwardPieces.count, using: &rng)] }
        return out
    }

    static func samples(seed: UInt64) -> [Sample] {
        var rng = SeededGenerator(seed: seed)
        var series: [Labels] = []
        for _ in 0..<Int.random(in: 1...12, using: &rng) {
            var dict: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...5, using: &rng) { dict[name(&rng, metric: false)] = labelValue(&rng) }
            series.append(Labels(metric: name(&rng, metric: true), dict))
        }
        var out: [Sample] = []
        for _ in 0..<Int.random(in: 1...60, using: &rng) {
            let ts: Int64
            switch Int.random(in: 0..<8, using: &rng) {
            case 0: ts = [SampleTime.minimum, SampleTime.maximum, 0, -1][Int.random(in: 0..<4, using: &rng)]
            default: ts = Int64.random(in: -4_000_000_000_000...4_000_000_000_000, using: &rng)
            }
            out.append(Sample(labels: series[Int.random(in: 0..<series.count, using: &rng)], timestamp: ts, value: value(&rng)))
        }
        return out
    }

    /// The batch the decoders should build from `samples`, computed without any decoder.
    static func expected(_ samples: [Sample]) -> SampleBatch {
        var batch = SampleBatch()
        for s in samples { batch.append(s.labels, timestamp: s.timestamp, value: s.value) }
        return batch
    }

    static func expectEqual(_ got: SampleBatch, _ want: SampleBatch, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.series == want.series, "\(context)", sourceLocation: sourceLocation)
        #expect(got.timestamps == want.timestamps, "\(context)", sourceLocation: sourceLocation)
        // NaN payloads are not preserved (the text says only "NaN"), every other bit is.
        let matches =
            got.values.count == want.values.count
            && zip(got.values, want.values).allSatisfy { g, w in
                g.count == w.count && zip(g, w).allSatisfy { ($0.isNaN && $1.isNaN) || same($0, $1) }
            }
        #expect(matches, "\(context)", sourceLocation: sourceLocation)
    }

    @Test func ndjson() throws {
        for seed in UInt64(1)...300 {
            let samples = RoundTripTests.samples(seed: seed)
            var body: [UInt8] = []
            for s in samples { SampleEncoder.appendNDJSON(&body, labels: s.labels, timestamp: s.timestamp, value: s.value) }
            let batch = try NDJSONDecoder.decode(body, options: DecodeOptions(now: 0))
            RoundTripTests.expectEqual(batch, RoundTripTests.expected(samples), "seed \(seed)")
        }
    }

    @Test func csv() throws {
        for seed in UInt64(1)...300 {
            let samples = RoundTripTests.samples(seed: seed)
            let names = Set(samples.flatMap { $0.labels.withoutMetricName.map(\.name) }).sorted()
            var body: [UInt8] = []
            SampleEncoder.appendCSVHeader(&body, labelNames: names)
            for s in samples {
                SampleEncoder.appendCSVRow(&body, labels: s.labels, labelNames: names, timestamp: s.timestamp, value: s.value)
            }
            let batch = try CSVDecoder.decode(body, options: DecodeOptions(now: 0))
            RoundTripTests.expectEqual(batch, RoundTripTests.expected(samples), "seed \(seed)")
        }
    }

    @Test func prometheusText() throws {
        for seed in UInt64(1)...300 {
            let samples = RoundTripTests.samples(seed: seed)
            var body: [UInt8] = []
            for s in samples {
                let pairs = s.labels.withoutMetricName.map { ($0.name, $0.value) }
                PrometheusTextWriter.appendSample(&body, name: s.labels.metricName!, labels: pairs, value: s.value, timestamp: s.timestamp)
            }
            let batch = try PrometheusTextDecoder.decode(body, options: DecodeOptions(now: 0))
            RoundTripTests.expectEqual(batch, RoundTripTests.expected(samples), "seed \(seed)")
        }
    }
}
