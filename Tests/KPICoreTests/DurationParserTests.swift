import Foundation
import Testing

@testable import KPICore

/// The one duration parser in its three syntaxes; expectations are hand-computed.
@Suite struct DurationParserTests {
    @Test func settingsSyntax() {
        #expect(DurationParser.milliseconds(" 1h30m ") == 5_400_000)
        #expect(DurationParser.milliseconds("30m1h") == 5_400_000)  // any order
        #expect(DurationParser.milliseconds("1 h") == nil)  // no spaces inside
        #expect(DurationParser.milliseconds("1.5h") == nil)
        #expect(DurationParser.milliseconds("-1h") == nil)
        #expect(DurationParser.milliseconds("1hour") == nil)
    }

    @Test func promQLSyntax() throws {
        let bytes = Array("1h30m]".utf8)
        let (ms, end) = try DurationParser.scan(bytes, from: 0, syntax: .promQL)
        #expect(ms == 5_400_000)
        #expect(end == 5)
        #expect(try DurationParser.scan(Array("2y".utf8), from: 0, syntax: .promQL).milliseconds == 63_072_000_000)
        #expect(throws: DurationParser.Failure(kind: .unitOrder, offset: 4)) {
            try DurationParser.scan(Array("30m1h".utf8), from: 0, syntax: .promQL)
        }
        // 300 years is more than Int64 nanoseconds hold.
        #expect(throws: DurationParser.Failure(kind: .outOfRange, offset: 0)) {
            try DurationParser.scan(Array("300y".utf8), from: 0, syntax: .promQL)
        }
    }

    @Test func sqlSyntax() throws {
        func ms(_ text: String) throws -> Int64 { try DurationParser.scan(Array(text.utf8), from: 0, syntax: .sql).milliseconds }
        #expect(try ms("7 days") == 604_800_000)
        #expect(try ms("1 hour 15 MIN") == 4_500_000)
        #expect(try ms("90 seconds") == 90_000)
        #expect(throws: DurationParser.Failure(kind: .unknownUnit("dayz"), offset: 2)) { try ms("7 dayz") }
        #expect(throws: DurationParser.Failure(kind: .missingUnit(amount: 30), offset: 4)) { try ms("1h30") }
        #expect(throws: DurationParser.Failure(kind: .empty, offset: 0)) { try ms("  ") }
        #expect(throws: DurationParser.Failure(kind: .outOfRange, offset: 0)) { try ms("99999999999999999999s") }
    }
}

/// The one JSON string escaper, checked against Foundation's JSON parser as the second
/// implementation: every string decodes back to itself.
@Suite struct JSONStringTests {
    @Test func escapesAndRoundTrips() throws {
        #expect(JSONString.literal("a\"b\\c\nd") == #""a\"b\\c\nd""#)
        #expect(JSONString.literal("\u{01}\u{1F}") == #""\u0001\u001f""#)
        #expect(JSONString.literal("x\u{2028}y\u{2029}") == #""x\u2028y\u2029""#)
        #expect(JSONString.literal("façade €") == "\"façade €\"")
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Character] = ["a", "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{7}", "é", "€", "\u{2028}", "\u{2029}", "😀", "/"]
        for _ in 0..<500 {
            let text = String((0..<Int.random(in: 0..<20, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            let data = Data("[\(JSONString.literal(text))]".utf8)
            let decoded = try JSONSerialization.jsonObject(with: data) as? [String]
            #expect(decoded == [text], "\(text.debugDescription)")
        }
    }
}
