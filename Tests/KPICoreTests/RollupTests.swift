import Foundation
import Testing

@testable import KPICore

/// The exact R-7 quantile by sorting (NaN last), written independently of the engine's
/// selection-based one.
func exactQuantile(_ q: Double, _ values: [Double]) -> Double {
    let sorted = values.filter { !$0.isNaN }.sorted() + values.filter(\.isNaN)
    let position = q * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down))
    let upper = min(lower + 1, sorted.count - 1)
    let fraction = position - Double(lower)
    if fraction == 0 { return sorted[lower] }
    return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
}

/// A small deterministic generator (splitmix64).
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

@Suite struct QuantileSketchTests {
    static let qs = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1]

    static func dataSets() -> [(String, [Double])] {
        var r = SplitMix(state: 42)
        let lognormal = (0..<5_000).map { _ in exp(3 * r.unit() + 2 * r.unit() - 1) }
        let queue = (0..<3_000).map { _ in (r.unit() * 40).rounded(.down) }
        let waits = (0..<2_000).map { _ in (r.unit() * 900 * 1000).rounded() / 1000 }
        let negative = (0..<2_000).map { _ in -exp(5 * r.unit()) }
        return [("lognormal", lognormal), ("queue", queue), ("waits", waits), ("negative", negative)]
    }

    /// Every quantile within 1 % of the exact one (the neighbours of each rank share a sign).
    @Test func withinOnePercentOfTheExactQuantile() {
        for (name, values) in Self.dataSets() {
            var sketch = QuantileSketch()
            for v in values { sketch.add(v) }
            #expect(sketch.count == UInt64(values.count))
            for q in Self.qs {
                let exact = exactQuantile(q, values)
                let approx = sketch.quantile(q)!
                let tolerance = exact == 0 ? 0 : abs(exact) * QuantileSketch.relativeAccuracy * (1 + 1e-12)
                #expect(abs(approx - exact) <= tolerance, "\(name) q=\(q): \(approx) vs exact \(exact)")
            }
        }
    }

    /// Worked by hand: 1 falls in bin 0 (ln 1 = 0), whose estimate is 2 / (γ + 1); the median
    /// of 1...4 interpolates halfway between the estimates of 2 and 3.
    @Test func handComputedBins() {
        let gamma = 1.01 / 0.99
        var sketch = QuantileSketch()
        for v in [1.0, 2, 3, 4] { sketch.add(v) }
        #expect(abs(sketch.quantile(0)! - 2 / (gamma + 1)) < 1e-12)
        let binOf2 = (log(2) / log(gamma)).rounded(.up)
        let binOf3 = (log(3) / log(gamma)).rounded(.up)
        let estimate2 = 2 * pow(gamma, binOf2) / (gamma + 1)
        let estimate3 = 2 * pow(gamma, binOf3) / (gamma + 1)
        #expect(abs(sketch.quantile(0.5)! - (estimate2 + estimate3) / 2) < 1e-9)
        #expect(QuantileSketch().quantile(0.5) == nil)
    }

    /// NaN ranks above every number and ±∞ at the ends, as in the exact quantile; zero stays zero.
    @Test func specialValuesRankLikeTheExactQuantile() {
        // Sorted: -∞, -3, 0, 0, 5, 10, +∞, NaN, NaN (ranks 0...8; q = rank / 8).
        let values: [Double] = [.nan, -.infinity, 0, 10, 0, 5, .infinity, -3, .nan]
        var sketch = QuantileSketch()
        for v in values { sketch.add(v) }
        #expect(sketch.quantile(0) == -.infinity)
        #expect(sketch.quantile(1)!.isNaN)
        #expect(sketch.quantile(0.25) == 0)
        #expect(exactQuantile(0.25, values) == 0)
        #expect(sketch.quantile(0.75) == .infinity)
        #expect(abs(sketch.quantile(0.125)! - -3) <= 0.03)
        #expect(abs(sketch.quantile(0.5)! - 5) <= 0.05)
    }

    /// Merging equals adding everything to one sketch, bin for bin.
    @Test func mergeEqualsOneSketchOfEverything() {
        let sets = Self.dataSets()
        var all = QuantileSketch()
        var merged = QuantileSketch()
        for (_, values) in sets {
            var part = QuantileSketch()
            for v in values {
                part.add(v)
                all.add(v)
            }
            merged.merge(part)
        }
        #expect(merged == all)
        #expect(merged.quantile(0.95) == all.quantile(0.95))
    }

    /// A store with few used bins over a wide span is written sparse: 60 values spread over
    /// 1...730 use at most 60 of its ~330 bins, so it costs about 2 bytes per value, not 1 per
    /// bin; and it decodes to the same sketch, also when merged into a non-empty one.
    @Test func spreadValuesEncodeSparse() throws {
        var r = SplitMix(state: 5)
        var sketch = QuantileSketch()
        for _ in 0..<60 { sketch.add((r.unit() * 729).rounded() + 1) }
        var bytes: [UInt8] = []
        sketch.encode(into: &bytes)
        #expect(bytes[0] & 16 != 0)
        #expect(bytes.count <= 2 * 60 + 8)
        #expect(try QuantileSketch(encoded: bytes) == sketch)
        var base = QuantileSketch()
        base.add(3)
        base.add(-2)
        var viaBytes = base
        var failed = false
        bytes.withUnsafeBytes { raw in
            var reader = VarintReader(raw)
            do { try viaBytes.merge(encoded: &reader) } catch { failed = true }
        }
        #expect(!failed)
        base.merge(sketch)
        #expect(viaBytes == base)
    }

    /// Encoding round-trips, merging encoded bytes equals merging the sketch, and every
    /// truncation throws instead of trapping.
    @Test func encodingRoundTripsAndRejectsTruncation() throws {
        for (_, values) in Self.dataSets() {
            var sketch = QuantileSketch()
            for v in values { sketch.add(v) }
            sketch.add(.nan)
            sketch.add(0)
            var bytes: [UInt8] = []
            sketch.encode(into: &bytes)
            #expect(try QuantileSketch(encoded: bytes) == sketch)
            #expect(bytes.count < values.count)
            for length in 0..<bytes.count {
                #expect(throws: ChunkDecodingError.self) { try QuantileSketch(encoded: Array(bytes[..<length])) }
            }
        }
    }
}

@Suite struct ChunkRollupTests {
    /// 15 s samples from 10:00:30 to 10:02:15 (8 samples), values 1...8; worked by hand:
    /// minute 10:00 holds 1, 2 (2 samples), 10:01 holds 3...6, 10:02 holds 7, 8. Only 8 samples
    /// in 3 minute buckets: fewer than 4 per bucket, so no minute level; the hour level has one
    /// bucket with all 8 (>= 4).
    @Test func handComputedBuckets() throws {
        let t0: Int64 = 1_763_978_430_000  // 2025-11-24T10:00:30Z
        let ts = (0..<8).map { t0 + Int64($0) * 15_000 }
        let vs = (1...8).map(Double.init)
        let rollup = try #require(ChunkRollup.compute(timestamps: ts, values: vs))
        #expect(rollup.levels == [.hour])
        let hour = rollup.buckets(.hour)
        #expect(hour.count == 1)
        #expect(hour[0].start == 1_763_978_400_000)
        #expect(hour[0].count == 8 && hour[0].sum == 36 && hour[0].min == 1 && hour[0].max == 8)
        #expect(hour[0].first == 1 && hour[0].last == 8)
        #expect(hour[0].firstTime == ts[0] && hour[0].lastTime == ts[7])
        var sketch = QuantileSketch()
        rollup.mergeSketch(of: hour[0], into: &sketch)
        #expect(sketch.count == 8)
    }

    /// 10 s samples over 3 minutes starting on a minute: minutes of 6 samples each, and the
    /// minute level is kept. Sums checked against the arithmetic series by hand.
    @Test func minuteLevelForFastSeries() throws {
        let t0: Int64 = 1_763_978_400_000
        let ts = (0..<18).map { t0 + Int64($0) * 10_000 }
        let vs = (0..<18).map { Double($0) * 0.5 }
        let rollup = try #require(ChunkRollup.compute(timestamps: ts, values: vs))
        #expect(rollup.levels == [.minute, .hour])
        let minutes = rollup.buckets(.minute)
        #expect(minutes.map(\.start) == [t0, t0 + 60_000, t0 + 120_000])
        #expect(minutes.map(\.count) == [6, 6, 6])
        // 0.5 * (0+...+5) = 7.5; 0.5 * (6+...+11) = 25.5; 0.5 * (12+...+17) = 43.5
        #expect(minutes.map(\.sum) == [7.5, 25.5, 43.5])
        #expect(minutes.map(\.min) == [0, 3, 6])
        #expect(minutes.map(\.max) == [2.5, 5.5, 8.5])
        #expect(rollup.buckets(.hour).map(\.sum) == [76.5])
    }

    /// Hourly samples: no level holds 4 samples per bucket, so there is no rollup at all;
    /// 60 s samples keep the hour level only.
    @Test func levelsFollowTheSamplingInterval() {
        let hourly = (0..<100).map { Int64($0) * 3_600_000 }
        #expect(ChunkRollup.compute(timestamps: hourly, values: hourly.map { _ in 1 }) == nil)
        let minutely = (0..<512).map { Int64($0) * 60_000 }
        #expect(ChunkRollup.compute(timestamps: minutely, values: minutely.map { _ in 1 })?.levels == [.hour])
    }

    /// Staleness markers are not samples; NaN ranks above every number for max, as in SQL
    /// comparisons of the engine; -0.0 survives the integer shortcut as a double.
    @Test func staleMarkersNaNAndNegativeZero() throws {
        let stale = Double(bitPattern: 0x7ff0_0000_0000_0002)
        let ts = (0..<8).map { Int64($0) * 60_000 }
        let vs: [Double] = [stale, 4, 2, .nan, 7, stale, -0.0, 1]
        let bucket = try #require(ChunkRollup.compute(timestamps: ts, values: vs)?.buckets(.hour).first)
        #expect(bucket.count == 6)
        #expect(bucket.firstTime == 60_000 && bucket.first == 4)
        #expect(bucket.lastTime == 420_000 && bucket.last == 1)
        #expect(bucket.max.isNaN)
        #expect(bucket.min == -0.0 && bucket.min.sign == .minus)
        #expect(bucket.sum.isNaN)
        let plain = try #require(ChunkRollup.compute(timestamps: ts, values: [1, 2, 3, 4, 5, 6, -0.0, 8])?.buckets(.hour).first)
        #expect(plain.min == -0.0 && plain.min.sign == .minus)
    }

    /// Stored bytes are adopted only when they check out: every truncation and every single
    /// flipped byte is rejected (the checksum), and a chunk then recomputes its rollup.
    @Test func storedBytesAreCheckedAndRecomputedWhenBad() throws {
        var r = SplitMix(state: 7)
        let ts = (0..<512).map { Int64($0) * 10_000 + 5_000 }
        let vs = ts.map { _ in (r.unit() * 1000).rounded() / 10 }
        let rollup = try #require(ChunkRollup.compute(timestamps: ts, values: vs))
        #expect(try ChunkRollup(encoded: rollup.encoded) == rollup)
        for length in 0..<rollup.encoded.count {
            #expect(throws: ChunkDecodingError.self) { try ChunkRollup(encoded: Array(rollup.encoded[..<length])) }
        }
        for k in stride(from: 0, to: rollup.encoded.count, by: 7) {
            var bad = rollup.encoded
            bad[k] ^= 0x20
            #expect(throws: ChunkDecodingError.self) { try ChunkRollup(encoded: bad) }
        }
        let sealed = Chunk.sealed(timestamps: ts, values: vs)
        #expect(sealed.rollup == rollup)
        // Adopted as stored, recomputed when missing or damaged, absent for heads.
        #expect(try Chunk(encoded: sealed.encoded, sealed: true, rollup: rollup.encoded).rollup == rollup)
        #expect(try Chunk(encoded: sealed.encoded, sealed: true, rollup: nil).rollup == rollup)
        #expect(try Chunk(encoded: sealed.encoded, sealed: true, rollup: [1, 2, 3, 4, 5, 6, 7]).rollup == rollup)
        #expect(try Chunk(encoded: sealed.encoded).rollup == nil)
        // A valid rollup of other samples is not adopted.
        let other = try #require(ChunkRollup.compute(timestamps: ts.map { $0 + 86_400_000 }, values: vs))
        #expect(try Chunk(encoded: sealed.encoded, sealed: true, rollup: other.encoded).rollup == rollup)
    }

    /// Without sketches the buckets hold the same aggregates in far fewer bytes; a stored
    /// rollup whose sketches do not match the setting is recomputed.
    @Test func rollupsWithoutSketches() throws {
        var r = SplitMix(state: 9)
        let ts = (0..<512).map { Int64($0) * 60_000 }
        let vs = ts.map { _ in (r.unit() * 7300).rounded() / 10 }
        let with = try #require(ChunkRollup.compute(timestamps: ts, values: vs))
        let without = try #require(ChunkRollup.compute(timestamps: ts, values: vs, sketches: false))
        #expect(with.hasSketches && !without.hasSketches)
        #expect(
            without.buckets(.hour)
                == with.buckets(.hour).enumerated().map { k, b in
                    var copy = b
                    copy.sketchOffset = without.buckets(.hour)[k].sketchOffset
                    return copy
                })
        #expect(without.memoryBytes * 2 < with.memoryBytes)
        #expect(try ChunkRollup(encoded: without.encoded) == without)
        let chunk = Chunk.sealed(timestamps: ts, values: vs)
        #expect(try Chunk(encoded: chunk.encoded, sealed: true, rollup: with.encoded, sketches: false).rollup == without)
        #expect(try Chunk(encoded: chunk.encoded, sealed: true, rollup: without.encoded, sketches: true).rollup == with)
    }

    /// Buckets of consecutive chunks of one series combine into the buckets of all samples:
    /// the store seals 64-sample chunks of 10 s data, and merging their partial buckets gives
    /// what one pass over every sample gives.
    @Test func partialBucketsOfConsecutiveChunksCombine() throws {
        let store = ColumnarStore(configuration: StoreConfiguration(outOfOrderWindowMs: 0, chunkSize: 64))
        let ts = (0..<1_000).map { Int64($0) * 10_000 + 3_000 }
        var r = SplitMix(state: 3)
        let vs = ts.map { _ in (r.unit() * 100).rounded() }
        let id = SeriesID(0)
        store.apply(newSeries: [(id, Labels(metric: "m", [:]))], series: [id], timestamps: [ts], values: [vs])
        var combined: [Int64: (count: Int64, sum: Double, min: Double, max: Double)] = [:]
        var sealedSamples = 0
        var rawSamples = 0
        store.withSegments(id, start: .min, end: .max, level: .minute) { chunk in
            sealedSamples += chunk.count
            chunk.rollup!.forEachBucket(.minute) { b in
                let c = combined[b.start] ?? (0, 0, .infinity, -.infinity)
                combined[b.start] = (c.count + b.count, c.sum + b.sum, Swift.min(c.min, b.min), Swift.max(c.max, b.max))
            }
        } slice: { t, v in
            rawSamples += t.count
            for k in t.indices {
                let start = t[k] / 60_000 * 60_000
                let c = combined[start] ?? (0, 0, .infinity, -.infinity)
                combined[start] = (c.count + 1, c.sum + v[k], Swift.min(c.min, v[k]), Swift.max(c.max, v[k]))
            }
        }
        #expect(sealedSamples == 960 && rawSamples == 40)
        var expected: [Int64: (count: Int64, sum: Double, min: Double, max: Double)] = [:]
        for k in ts.indices {
            let start = ts[k] / 60_000 * 60_000
            let c = expected[start] ?? (0, 0, .infinity, -.infinity)
            expected[start] = (c.count + 1, c.sum + vs[k], Swift.min(c.min, vs[k]), Swift.max(c.max, vs[k]))
        }
        #expect(combined.count == expected.count)
        for (start, e) in expected {
            let c = try #require(combined[start])
            #expect(c.count == e.count && c.sum == e.sum && c.min == e.min && c.max == e.max, "minute \(start)")
        }
    }
}
