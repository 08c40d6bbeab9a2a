import KPICore
import KPIPromQL
import Testing

/// `PromQL.parseSeriesSelector`, the one selector parser (queries, `/api/v1/series`, labels,
/// export and deletion): PromQL's strings, escapes and errors.
@Suite struct SeriesSelectorTests {
    @Test func parsesMetricAndMatchers() throws {
        let m = try PromQL.parseSeriesSelector(#"queue_wait_seconds{site="JFK", zone=~'T4-.*' ,lane!="3",gate!~`a|b`}"#)
        #expect(m.map(\.name) == ["__name__", "site", "zone", "lane", "gate"])
        #expect(m.map(\.op) == [.equal, .equal, .regexMatch, .notEqual, .regexNoMatch])
        #expect(m.map(\.value) == ["queue_wait_seconds", "JFK", "T4-.*", "3", "a|b"])
    }

    @Test func parsesNameOnlyAndEscapes() throws {
        #expect(try PromQL.parseSeriesSelector("up").map(\.value) == ["up"])
        let m = try PromQL.parseSeriesSelector(#"{__name__=~"queue_.*",x="a\"b\n\u00e9"}"#)
        #expect(m[1].value == "a\"b\né")
        // Escapes the old /series parser refused and PromQL accepts (\x, \a, \v): one parser now.
        let e = try PromQL.parseSeriesSelector(#"up{x="\x41\x42\a\v"}"#)
        #expect(e[1].value == "AB\u{07}\u{0B}")
    }

    /// Offsets (0-based) of the first character that cannot continue the selector, by hand.
    @Test(arguments: [
        ("up{", 3), ("up{site}", 7), ("up{site=JFK}", 8), ("up extra", 3), (#"up{a="1" b="2"}"#, 9),
    ])
    func rejectsMalformedSelectorsWithOffset(input: String, offset: Int) {
        do {
            _ = try PromQL.parseSeriesSelector(input)
            Issue.record("\(input) parsed")
        } catch {
            #expect(error.position == offset, "\(input): \(error.message) at \(error.position)")
        }
    }

    @Test(arguments: ["", #"{a=""}"#, "rate(up[5m])", "up offset 5m", "up @ 100", "up + 1", #"up{a=~"(unclosed"}"#])
    func refusesWhatIsNotASeriesSelector(input: String) {
        #expect(throws: PromQLParseError.self) { try PromQL.parseSeriesSelector(input) }
    }
}
