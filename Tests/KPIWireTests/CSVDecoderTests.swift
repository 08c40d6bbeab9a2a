import KPICore
import Testing

@testable import KPIWire

@Suite struct CSVDecoderTests {
    @Test func decodesRowsWithColumnsInAnyOrder() throws {
        let body =
            "\u{FEFF}value,site,metric,ts,zone\r\n"
            + "312.5,JFK,queue_wait_seconds,1762070400000,T4-security\r\n"
            + "NaN,JFK,queue_wait_seconds,2026-11-02T08:00:00Z,T4-security\r\n"
            + "-Inf,,pax_count,,\r\n"
            + "\r\n"
            + "1e3,\"L,H\"\"R\",pax_count,-7,\"multi\nline\"\n"
            + "+Inf,JFK,queue_wait_seconds,5,T4-security"
        let batch = try decode(body, .csv, now: 99)
        #expect(
            batch.series == [
                Labels(metric: "queue_wait_seconds", ["site": "JFK", "zone": "T4-security"]),
                Labels(metric: "pax_count"),
                Labels(metric: "pax_count", ["site": "L,H\"R", "zone": "multi\nline"]),
            ])
        #expect(batch.timestamps == [[1_762_070_400_000, 1_793_606_400_000, 5], [99], [-7]])
        #expect(batch.values[0][0] == 312.5)
        #expect(batch.values[0][1].isNaN)
        #expect(same(batch.values[0][2], .infinity))
        #expect(same(batch.values[1], [-.infinity]))
        #expect(same(batch.values[2], [1000]))
    }

    @Test func headerOnlyOrEmptyBodyGivesAnEmptyBatch() throws {
        #expect(try decode("", .csv).isEmpty)
        #expect(try decode("metric,ts,value\n", .csv).isEmpty)
    }

    @Test func quotedFixedColumnsAndEmptyQuotedLabels() throws {
        let batch = try decode("metric,ts,value,a\n\"m\",\"10\",\"2.5\",\"\"\n", .csv)
        #expect(batch.series == [Labels(metric: "m")])
        #expect(batch.timestamps == [[10]])
        #expect(batch.values == [[2.5]])
    }

    @Test func reportsTheLineWhereAMultiLineRecordStarts() {
        let body = "metric,ts,value,note\nm,1,1,\"a\nb\nc\"\nm,1,x,ok\n"
        expectIssue(body, .csv, line: 5, field: "value", reason: "invalid value \"x\"")
        let body2 = "metric,ts,value,note\nm,1,1,ok\nm,1,bad,\"a\nb\"\n"
        expectIssue(body2, .csv, line: 3, field: "value", reason: "invalid value")
    }

    // MARK: Rejections

    @Test(arguments: [
        ("metric,ts\n", "value", "lacks the \"value\" column"),
        ("ts,value,site\n", "metric", "lacks the \"metric\" column"),
        ("metric,ts,value,site,site\n", "site", "duplicate column"),
        ("metric,ts,value,metric\n", "metric", "duplicate column"),
        ("metric,ts,value,a-b\n", "a-b", "invalid label name"),
        ("metric,ts,value,__x\n", "__x", "reserved"),
        ("metric,ts,value,__name__\n", "__name__", "reserved"),
        ("metric,ts,value,\n", "", "empty column name"),
        ("metric,ts,value,1a\n", "1a", "invalid label name"),
    ])
    func rejectsBadHeaders(header: String, field: String, reason: String) {
        expectIssue(
            header + "m,1,1"
                + String(repeating: ",", count: max(0, header.split(separator: ",", omittingEmptySubsequences: false).count - 3)) + "\n",
            .csv, line: 1, field: field, reason: reason)
    }

    @Test func rejectsLongLabelNameInHeader() {
        expectIssue(
            "metric,ts,value,abcdef\n", .csv, line: 1, field: "abcdef", reason: "longer than 5",
            validator: LabelValidator(maxLabelNameLength: 5))
    }

    @Test(arguments: [
        ("m,1\n", nil as String?, "expected 4 fields as in the header, found 2"),
        ("m,1,1,a,b\n", nil, "expected 4 fields as in the header, found 5"),
        ("m,x,1,a\n", "ts", "invalid timestamp \"x\""),
        ("m,1.5,1,a\n", "ts", "invalid timestamp"),
        ("m,2026-02-29T00:00:00Z,1,a\n", "ts", "invalid timestamp"),
        ("m,99999999999999999999,1,a\n", "ts", "invalid timestamp"),
        ("m,1,,a\n", "value", "missing value"),
        ("m,1,1.2.3,a\n", "value", "invalid value \"1.2.3\""),
        ("m,1,0x10,a\n", "value", "invalid value"),
        ("m,1, 1,a\n", "value", "invalid value"),
        ("m,1,1e999,a\n", "value", "invalid value"),
        ("1m,1,1,a\n", "metric", "invalid metric name"),
        (",1,1,a\n", "metric", "missing metric name"),
        ("m,1,1,a\"b\n", nil, "bare \""),
        ("m,1,1,\"a\"b\n", nil, "after a closing quote"),
    ])
    func rejectsBadRows(row: String, field: String?, reason: String) {
        expectIssue("metric,ts,value,site\nm,1,1,ok\n" + row + "m,2,2,ok\n", .csv, line: 3, field: field, reason: reason)
    }

    @Test func rejectsUnterminatedQuote() {
        expectIssue(
            "metric,ts,value,site\nm,1,1,ok\nm,1,1,\"open\nmore\nrows\n", .csv, line: 3, field: nil,
            reason: "unterminated quoted field")
    }

    @Test func rejectsLabelValueOverTheLimitNamingTheColumn() {
        expectIssue(
            "metric,ts,value,site\nm,1,1,abcdef\n", .csv, line: 2, field: "site", reason: "exceeds the limit of 5",
            validator: LabelValidator(maxLabelValueLength: 5))
        expectIssue(
            "metric,ts,value,a,b\nm,1,1,x,y\n", .csv, line: 2, field: "labels", reason: "2 labels exceed the limit of 1",
            validator: LabelValidator(maxLabelsPerSeries: 1))
        // Empty cells are absent labels, so they do not count.
        #expect(refusal("metric,ts,value,a,b\nm,1,1,x,\n", .csv, validator: LabelValidator(maxLabelsPerSeries: 1)) == nil)
    }

    @Test func rejectsInvalidUTF8NamingTheColumn() {
        let body = Array("metric,ts,value,site\nm,1,1,".utf8) + [0xE9] + Array("\n".utf8)
        expectIssue(body, .csv, line: 2, field: "site", reason: "invalid UTF-8")
        let header = Array("metric,ts,value,s".utf8) + [0xFF] + Array("\n".utf8)
        expectIssue(header, .csv, line: 1, field: nil, reason: "invalid UTF-8 in header")
    }

    @Test func capsDetailsAtOneHundred() {
        let body = "metric,ts,value\n" + String(repeating: "m,1,bad\n", count: 150)
        let error = refusal(body, .csv)
        #expect(error?.details.count == 100)
        #expect(error?.detailsTruncated == true)
        #expect(error?.details.first?.line == 2)
        #expect(error?.details.last?.line == 101)
    }
}
