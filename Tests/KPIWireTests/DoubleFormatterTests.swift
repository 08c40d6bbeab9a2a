import KPITestSupport
import Testing

@testable import KPIWire

@Suite struct DoubleFormatterTests {
    @Test(arguments: [
        (312.5, "312.5"), (1.0, "1"), (0.0, "0"), (-0.0, "-0"), (-12.0, "-12"), (0.1, "0.1"),
        (1e-5, "1e-05"), (5e20, "5e+20"), (1_762_070_400_000.0, "1762070400000"),
        (999_999_999_999_999.0, "999999999999999"), (1e15, "1000000000000000"), (2.5e15, "2500000000000000"),
        (Double.nan, "NaN"), (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"),
        (Double.greatestFiniteMagnitude, "1.7976931348623157e+308"), (Double.leastNonzeroMagnitude, "5e-324"),
        (0.30000000000000004, "0.30000000000000004"), (-2.5e-7, "-2.5e-07"),
    ])
    func formatsLikeGo(value: Double, expected: String) {
        #expect(DoubleFormatter.string(value) == expected)
    }

    /// A decimal number Go's ParseFloat accepts (no hex, no underscores), or a special.
    static func isGoFloatText(_ text: String) -> Bool {
        if text == "NaN" || text == "+Inf" || text == "-Inf" { return true }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { FloatParser.isDecimal($0, 0, $0.count, allowLeadingPlus: false) }
    }

    @Test func everyBitPatternReparsesIdentically() {
        var rng = SeededGenerator(seed: 0x5EED)
        var out: [UInt8] = []
        var failures = 0
        for _ in 0..<1_000_000 {
            let value = Double(bitPattern: rng.next())
            out.removeAll(keepingCapacity: true)
            DoubleFormatter.append(&out, value)
            let parsed = out.withUnsafeBufferPointer { FloatParser.parse($0, 0, $0.count) }
            let ok: Bool
            if value.isNaN {
                ok = parsed?.isNaN == true
            } else {
                // Also via the standard library, so the check does not rest on our parser alone.
                let text = String(decoding: out, as: UTF8.self)
                ok =
                    parsed.map { same($0, value) } == true
                    && (value.isInfinite || Double(text).map { same($0, value) } == true)
                    && DoubleFormatterTests.isGoFloatText(text)
            }
            if !ok {
                failures += 1
                if failures < 5 {
                    Issue.record("\(value.bitPattern): \(String(decoding: out, as: UTF8.self)) -> \(String(describing: parsed))")
                }
            }
        }
        #expect(failures == 0)
    }

    @Test func shortDecimalsTakeTheExactFastPath() {
        // Random decimals with few digits: compare against the standard library's strtod.
        var rng = SeededGenerator(seed: 99)
        for _ in 0..<200_000 {
            let digits = UInt64.random(in: 0...9_007_199_254_740_992, using: &rng) >> UInt64.random(in: 0...50, using: &rng)
            let exponent = Int.random(in: -30...30, using: &rng)
            let text = "\(digits)e\(exponent)"
            let bytes = Array(text.utf8)
            let mine = bytes.withUnsafeBufferPointer { FloatParser.parse($0, 0, $0.count) }
            #expect(mine.map { same($0, Double(text)!) } == true, "\(text)")
        }
    }

    @Test(arguments: [
        ("1", 1.0), ("-1", -1.0), ("+1", 1.0), ("1.", 1.0), (".5", 0.5), ("1e3", 1000.0), ("1E+3", 1000.0),
        ("1e-3", 0.001), ("0.1", 0.1), ("-0", -0.0), ("0e999999", 0.0), ("1e-400", 0.0),
        ("123456789012345678901234567890", 1.2345678901234568e29), ("0.000000000000000000000000001", 1e-27),
        ("NaN", Double.nan), ("nan", Double.nan), ("Inf", Double.infinity), ("+Inf", Double.infinity),
        ("-Inf", -Double.infinity), ("-infinity", -Double.infinity), ("INF", Double.infinity),
        ("4.9406564584124654e-324", Double.leastNonzeroMagnitude), ("2.2250738585072014e-308", 2.2250738585072014e-308),
        ("9007199254740993", 9007199254740992.0),
    ])
    func parsesGoFloats(text: String, expected: Double) {
        let bytes = Array(text.utf8)
        let parsed = bytes.withUnsafeBufferPointer { FloatParser.parse($0, 0, $0.count) }
        if expected.isNaN {
            #expect(parsed?.isNaN == true)
        } else {
            #expect(parsed.map { same($0, expected) } == true, "\(text) -> \(String(describing: parsed))")
        }
    }

    @Test(arguments: [
        "", "+", "-", ".", "e3", "1e", "1e+", "1.2.3", "0x1p3", "1_000", "--1", "+NaN", "-NaN", "nan1",
        "In", "1 ", " 1", "1e400", "-1e309", "∞", "1,5",
    ])
    func rejectsWhatGoRejects(text: String) {
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBufferPointer { FloatParser.parse($0, 0, $0.count) } == nil)
    }
}
