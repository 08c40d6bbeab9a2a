import KPICore
import Testing

@testable import KPIWire

@Suite struct NDJSONDecoderTests {
    @Test func decodesTheDocumentedExample() throws {
        let body = """
            {"metric":"queue_wait_seconds","labels":{"site":"JFK","zone":"T4-security"},"ts":1762070400000,"value":312.5}
            {"metric":"queue_wait_seconds","labels":{"zone":"T4-security","site":"JFK"},"ts":"2026-11-02T08:00:00Z","value":"NaN"}

            {"value":-1.5e3,"metric":"pax_count","labels":{"site":"LHR"}}\r
            {"metric":"queue_wait_seconds","labels":{"site":"JFK","zone":"T4-security"},"ts":null,"value":"-Inf"}
            {"metric":"pax_count","labels":{},"ts":"2026-11-02T08:00:00.123+01:00","value":0}
            {"metric":"pax_count","ts":-5,"value":"+Inf"}

            """
        let batch = try decode(body, .ndjson, now: 777)
        #expect(
            batch.series == [
                Labels([
                    Label(name: "__name__", value: "queue_wait_seconds"), Label(name: "site", value: "JFK"),
                    Label(name: "zone", value: "T4-security"),
                ]),
                Labels([Label(name: "__name__", value: "pax_count"), Label(name: "site", value: "LHR")]),
                Labels([Label(name: "__name__", value: "pax_count")]),
            ])
        #expect(batch.timestamps == [[1_762_070_400_000, 1_793_606_400_000, 777], [777], [1_793_602_800_123, -5]])
        #expect(batch.values[0].count == 3)
        #expect(batch.values[0][0] == 312.5)
        #expect(batch.values[0][1].isNaN)
        #expect(same(batch.values[0][2], -.infinity))
        #expect(same(batch.values[1], [-1500.0]))
        #expect(same(batch.values[2], [0.0, .infinity]))
        #expect(batch.sampleCount == 6)
    }

    @Test func emptyBodyAndBlankLinesGiveAnEmptyBatch() throws {
        #expect(try decode("", .ndjson).isEmpty)
        #expect(try decode("\n\r\n  \t\n", .ndjson).isEmpty)
    }

    @Test func decodesStringEscapesAndUnicode() throws {
        let body = #"{"metric":"m","labels":{"a":"q\"b\\s\/n\nt\tr\rb\bf\f","u":"\u00e9\u65e5\ud83d\ude80","raw":"é日🚀","e":""},"value":1}"#
        let batch = try decode(body, .ndjson)
        let labels = batch.series[0]
        #expect(labels["a"] == "q\"b\\s/n\nt\tr\rb\u{8}f\u{c}")
        #expect(labels["u"] == "é日🚀")
        #expect(labels["raw"] == "é日🚀")
        #expect(labels["e"] == nil)  // empty value = label absent
        #expect(batch.timestamps == [[42]])
    }

    @Test func acceptsEscapedKeysAndWhitespace() throws {
        let body = "  { \"m\\u0065tric\" : \"x\" ,\t\"labels\" : { \"a\" : \"1\" } , \"value\" : 2 }  "
        let batch = try decode(body, .ndjson)
        #expect(batch.series == [Labels(metric: "x", ["a": "1"])])
        #expect(batch.values == [[2]])
    }

    @Test func wholeNumberTimestampsInExponentFormAreAccepted() throws {
        let batch = try decode(#"{"metric":"m","ts":1.7620704e12,"value":1}"# + "\n" + #"{"metric":"m","ts":1500.000,"value":1}"#, .ndjson)
        #expect(batch.timestamps == [[1_762_070_400_000, 1500]])
    }

    @Test func parsesValuesExactly() throws {
        let body = [
            #"{"metric":"m","value":0.1}"#, #"{"metric":"m","value":-0}"#, #"{"metric":"m","value":5e-324}"#,
            #"{"metric":"m","value":1.7976931348623157e308}"#, #"{"metric":"m","value":123456789012345678901234567890}"#,
            #"{"metric":"m","value":"Inf"}"#, #"{"metric":"m","value":"2.5"}"#,
        ].joined(separator: "\n")
        let batch = try decode(body, .ndjson)
        #expect(
            same(batch.values[0], [0.1, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1.2345678901234568e29, .infinity, 2.5]))
    }

    @Test func consecutiveLinesOfOneSeriesShareIt() throws {
        var body = ""
        for k in 0..<5 { body += #"{"metric":"m","labels":{"a":"1"},"ts":\#(k),"value":\#(k)}"# + "\n" }
        body += #"{"metric":"m","labels":{"a":"2"},"ts":9,"value":9}"# + "\n"
        body += #"{"metric":"m","labels":{"a":"1"},"ts":10,"value":10}"# + "\n"
        let batch = try decode(body, .ndjson)
        #expect(batch.series == [Labels(metric: "m", ["a": "1"]), Labels(metric: "m", ["a": "2"])])
        #expect(batch.timestamps == [[0, 1, 2, 3, 4, 10], [9]])
    }

    // MARK: Rejections

    @Test(arguments: [
        (#"{"metric":"m","value":1"#, nil as String?, "expected ',' or '}'"),
        (#"{"metric":"m" "value":1}"#, nil, "expected ',' or '}'"),
        (#"["metric"]"#, nil, "expected a JSON object"),
        (#"{"metric":"m","value":1} x"#, nil, "after the object"),
        (#"{"metric":"m,"value":1}"#, nil, "invalid JSON at column 15: expected ',' or '}', found 'v'"),
        (#"{metric:"m","value":1}"#, nil, "expected a string key"),
        (#"{"metric":"m","value":01}"#, "value", "leading zero"),
        (#"{"metric":"m","value":1.}"#, "value", "no digits after '.'"),
        (#"{"metric":"m","value":1e}"#, "value", "exponent"),
        (#"{"metric":"m","value":+1}"#, "value", "value must be a number"),
        (#"{"metric":"m\x","value":1}"#, "metric", "invalid escape"),
        (#"{"metric":"m\u12","value":1}"#, "metric", "invalid hex digit"),
        (#"{"metric":"m\ud83d","value":1}"#, "metric", "unpaired UTF-16 surrogate"),
        (#"{"metric":"m\ude80x","value":1}"#, "metric", "unpaired UTF-16 surrogate"),
        ("{\"metric\":\"m\tx\",\"value\":1}", "metric", "control character"),
        (#"{"metric":"m","value":nul}"#, "value", "invalid literal"),
        (#"{"metric":"m","labels":{"a":"1",},"value":1}"#, "labels", "expected a string label name"),
    ])
    func rejectsBadJSON(line: String, field: String?, reason: String) {
        let body = #"{"metric":"ok","value":1}"# + "\n" + line + "\n"
        expectIssue(body, .ndjson, line: 2, field: field, reason: reason)
    }

    @Test(arguments: [
        (#"{"metric":5,"value":1}"#, "metric", "metric must be a string"),
        (#"{"value":1}"#, "metric", "missing metric"),
        (#"{"metric":"m"}"#, "value", "missing value"),
        (#"{"metric":"m","value":null}"#, "value", "must not be null"),
        (#"{"metric":"m","value":true}"#, "value", "value must be a number"),
        (#"{"metric":"m","value":"abc"}"#, "value", "invalid value \"abc\""),
        (#"{"metric":"m","value":"+NaN"}"#, "value", "invalid value"),
        (#"{"metric":"m","value":1e400}"#, "value", "out of range"),
        (#"{"metric":"m","ts":1.5,"value":1}"#, "ts", "whole milliseconds"),
        (#"{"metric":"m","ts":15e-1,"value":1}"#, "ts", "whole milliseconds"),
        (#"{"metric":"m","ts":99999999999999999999,"value":1}"#, "ts", "out of range"),
        (#"{"metric":"m","ts":"2026-02-30T00:00:00Z","value":1}"#, "ts", "invalid RFC 3339 timestamp"),
        (#"{"metric":"m","ts":"1762070400000","value":1}"#, "ts", "invalid RFC 3339 timestamp"),
        (#"{"metric":"m","ts":true,"value":1}"#, "ts", "ts must be integer milliseconds"),
        (#"{"metric":"m","labels":{"zone":5},"value":1}"#, "labels.zone", "must be a string, not a number"),
        (#"{"metric":"m","labels":{"zone":true},"value":1}"#, "labels.zone", "not a boolean"),
        (#"{"metric":"m","labels":{"zone":null},"value":1}"#, "labels.zone", "not null"),
        (#"{"metric":"m","labels":{"zone":{"x":"y"}},"value":1}"#, "labels.zone", "not an object"),
        (#"{"metric":"m","labels":["a"],"value":1}"#, "labels", "labels must be an object"),
        (#"{"metric":"m","value":1,"extra":2}"#, "extra", "unknown key \"extra\""),
        (#"{"metric":"m","value":1,"value":2}"#, "value", "duplicate key \"value\""),
        (#"{"metric":"m","labels":{"a":"1","a":"2"},"value":1}"#, "labels.a", "duplicate key \"a\""),
        (#"{"metric":"1m","value":1}"#, "metric", "invalid metric name"),
        (#"{"metric":"","value":1}"#, "metric", "missing metric name"),
        (#"{"metric":"m-x","value":1}"#, "metric", "invalid metric name"),
        (#"{"metric":"m","labels":{"a-b":"1"},"value":1}"#, "labels.a-b", "invalid label name"),
        (#"{"metric":"m","labels":{"__x":"1"},"value":1}"#, "labels.__x", "reserved"),
        (#"{"metric":"m","labels":{"__name__":"n"},"value":1}"#, "labels.__name__", "reserved"),
    ])
    func rejectsInvalidSamples(line: String, field: String?, reason: String) {
        expectIssue(line, .ndjson, line: 1, field: field, reason: reason)
    }

    @Test func enforcesValidatorLimits() {
        let limits = LabelValidator(maxLabelsPerSeries: 2, maxLabelNameLength: 4, maxLabelValueLength: 5)
        expectIssue(
            #"{"metric":"m","labels":{"a":"1","b":"2","c":"3"},"value":1}"#, .ndjson, line: 1, field: "labels",
            reason: "3 labels exceed the limit of 2", validator: limits)
        expectIssue(
            #"{"metric":"m","labels":{"abcde":"1"},"value":1}"#, .ndjson, line: 1, field: "labels.abcde",
            reason: "longer than 4", validator: limits)
        expectIssue(
            #"{"metric":"m","labels":{"a":"123456"},"value":1}"#, .ndjson, line: 1, field: "labels.a",
            reason: "label value of 6 bytes exceeds the limit of 5", validator: limits)
    }

    @Test func rejectsInvalidUTF8() {
        var body = Array(#"{"metric":"m","labels":{"a":"x"#.utf8)
        body += [0xC3, 0x28]  // a lead byte followed by a non-continuation byte
        body += Array(#""},"value":1}"#.utf8)
        expectIssue(body, .ndjson, line: 1, field: "labels", reason: "invalid UTF-8")
        for bad: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF], [0xE2, 0x82]] {
            let line = Array(#"{"metric":"m","value":1}"#.utf8) + [0x0A] + Array(#"{"metric":""#.utf8) + bad + Array(#"","value":1}"#.utf8)
            expectIssue(line, .ndjson, line: 2, field: "metric", reason: "invalid UTF-8")
        }
    }

    @Test func reportsEveryBadLineWithItsNumber() {
        let body = """
            {"metric":"ok","value":1}
            {"metric":"m","value":"x"}
            {"metric":"ok","value":1}

            {"metric":"m"}
            """
        let error = refusal(body, .ndjson)
        #expect(error?.details.map(\.line) == [2, 5])
        #expect(error?.details.map(\.field) == ["value", "value"])
        #expect(error?.detailsTruncated == false)
    }

    @Test func capsDetailsAtOneHundred() {
        let body = Array(repeating: #"{"metric":"m","value":"bad"}"#, count: 150).joined(separator: "\n")
        let error = refusal(body, .ndjson)
        #expect(error?.details.count == 100)
        #expect(error?.detailsTruncated == true)
        #expect(error?.details.first?.line == 1)
        #expect(error?.details.last?.line == 100)
    }

    @Test func exactlyOneHundredIssuesAreNotTruncated() {
        let body = Array(repeating: #"{"metric":"m","value":"bad"}"#, count: 100).joined(separator: "\n")
        let error = refusal(body, .ndjson)
        #expect(error?.details.count == 100)
        #expect(error?.detailsTruncated == false)
    }

    @Test func aLineAfterAnInvalidSameSeriesLineIsStillValidated() {
        // The series cache must not let a repeated bad series through.
        let body = #"{"metric":"m","labels":{"__x":"1"},"value":1}"# + "\n" + #"{"metric":"m","labels":{"__x":"1"},"value":1}"#
        #expect(refusal(body, .ndjson)?.details.map(\.line) == [1, 2])
    }
}
