import KPICore
import Testing

@testable import KPIWire

@Suite struct PrometheusTextDecoderTests {
    @Test func decodesAMetricsPage() throws {
        let body = """
            # HELP http_requests_total The total number of HTTP requests.
            # TYPE http_requests_total counter
            http_requests_total{method="post",code="200"} 1027 1395066363000
            http_requests_total{method="post",code="400",} 3 1395066363000
            # A free-form comment
              msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9
            metric_without_timestamp_and_labels 12.47
            something_weird{problem="division by zero"} +Inf -3982045
            # TYPE rpc_duration_seconds summary
            rpc_duration_seconds{quantile="0.5"} 4773
            rpc_duration_seconds_sum 1.7560473e+07
            # TYPE http_request_duration_seconds histogram
            http_request_duration_seconds_bucket{le="0.05"} 24054
            http_request_duration_seconds_bucket{le="+Inf"} 144320
            http_request_duration_seconds_count 144320
            nan_metric NaN
            neg_inf_metric -Inf\r
            spaced_metric { a = "1" , b="2" }\t7   8
            """
        let batch = try decode(body, .prometheusText, now: 5)
        #expect(
            batch.series == [
                Labels(metric: "http_requests_total", ["method": "post", "code": "200"]),
                Labels(metric: "http_requests_total", ["method": "post", "code": "400"]),
                Labels(
                    metric: "msdos_file_access_time_seconds", ["path": #"C:\DIR\FILE.TXT"#, "error": "Cannot find file:\n\"FILE.TXT\""]),
                Labels(metric: "metric_without_timestamp_and_labels"),
                Labels(metric: "something_weird", ["problem": "division by zero"]),
                Labels(metric: "rpc_duration_seconds", ["quantile": "0.5"]),
                Labels(metric: "rpc_duration_seconds_sum"),
                Labels(metric: "http_request_duration_seconds_bucket", ["le": "0.05"]),
                Labels(metric: "http_request_duration_seconds_bucket", ["le": "+Inf"]),
                Labels(metric: "http_request_duration_seconds_count"),
                Labels(metric: "nan_metric"),
                Labels(metric: "neg_inf_metric"),
                Labels(metric: "spaced_metric", ["a": "1", "b": "2"]),
            ])
        #expect(
            batch.timestamps == [[1_395_066_363_000], [1_395_066_363_000], [5], [5], [-3_982_045], [5], [5], [5], [5], [5], [5], [5], [8]])
        let values = batch.values.map { $0[0] }
        #expect(same(Array(values[0..<10]), [1027, 3, 1_458_255_915, 12.47, .infinity, 4773, 17_560_473, 24054, 144_320, 144_320]))
        #expect(values[10].isNaN)
        #expect(same(values[11], -.infinity))
        #expect(same(values[12], 7))
    }

    @Test func emptyLabelValueMeansAbsentAndSeriesRepeat() throws {
        let batch = try decode("m{a=\"\"} 1 1\nm 2 2\nm{} 3 3\n", .prometheusText)
        #expect(batch.series == [Labels(metric: "m")])
        #expect(batch.timestamps == [[1, 2, 3]])
    }

    @Test func openMetricsTimestampsAreSeconds() throws {
        let body = """
            # TYPE queue_wait_seconds gauge
            # UNIT queue_wait_seconds seconds
            queue_wait_seconds{site="JFK"} 312.5 1762070400.123
            queue_wait_seconds{site="JFK"} 1 1762070400 # {trace_id="x"} 1 1762070400
            queue_wait_seconds{site="JFK"} 2
            # EOF

            """
        // Detected from the # EOF terminator...
        let batch = try decode(body, .prometheusText, now: 9)
        #expect(batch.timestamps == [[1_762_070_400_123, 1_762_070_400_000, 9]])
        #expect(batch.values == [[312.5, 1, 2]])
        // ...or told by the Content-Type.
        let told = try decode("m 1 1.5\n", .prometheusText, openMetrics: true)
        #expect(told.timestamps == [[1500]])
        // Without either, timestamps are milliseconds and a fraction is an error.
        expectIssue("m 1 1.5\n", .prometheusText, line: 1, field: "ts", reason: "expected integer milliseconds")
    }

    @Test func rejectsContentAfterEOF() {
        expectIssue("m 1\n# EOF\nm 2\n", .prometheusText, line: 3, field: nil, reason: "content after # EOF", openMetrics: true)
    }

    @Test(arguments: [
        ("1m 1", "metric", "expected a metric name"),
        ("m-x 1", "metric", "invalid character '-'"),
        ("m{a=\"1\" 1", "labels", "expected ',' or '}'"),
        ("m{a=\"1\"", "labels", "missing '}'"),
        ("m{a=1} 1", "labels.a", "expected '\"'"),
        ("m{a:\"1\"} 1", "labels.a", "expected '='"),
        ("m{a=\"1} 1", "labels.a", "unterminated label value"),
        ("m{a=\"\\t\"} 1", "labels.a", "invalid escape \\t"),
        ("m{,} 1", "labels", "expected a label name"),
        ("m{1a=\"x\"} 1", "labels", "expected a label name"),
        ("m{a=\"1\",a=\"2\"} 1", "labels.a", "duplicate label name"),
        ("m{__x=\"1\"} 1", "labels.__x", "reserved"),
        ("m{__name__=\"n\"} 1", "labels.__name__", "reserved"),
        ("m", "value", "missing value"),
        ("m{a=\"1\"}", "value", "missing value"),
        ("m abc", "value", "invalid value \"abc\""),
        ("m 0x1p3", "value", "invalid value"),
        ("m 1e400", "value", "invalid value"),
        ("m 1 1.5", "ts", "invalid timestamp \"1.5\""),
        ("m 1 99999999999999999999", "ts", "invalid timestamp"),
        ("m 1 2 3", nil, "unexpected text \"3\""),
        ("# TYPE m gauges", "TYPE", "unknown metric type \"gauges\""),
        ("# TYPE m", "TYPE", "unknown metric type"),
        ("# TYPE m gauge extra", "TYPE", "unknown metric type"),
        ("# TYPE 1m gauge", "metric", "invalid metric name"),
        ("# HELP 1m help", "metric", "invalid metric name"),
    ])
    func rejectsBadLines(line: String, field: String?, reason: String) {
        expectIssue("ok 1\n" + line + "\nok 2\n", .prometheusText, line: 2, field: field, reason: reason)
    }

    @Test func rejectsInvalidUTF8InLabelValues() {
        let body = Array("m{a=\"".utf8) + [0xF0, 0x9F, 0x98] + Array("\"} 1\n".utf8)
        expectIssue(body, .prometheusText, line: 1, field: "labels.a", reason: "invalid UTF-8")
    }

    @Test func enforcesValidatorLimits() {
        expectIssue(
            "m{a=\"123456\"} 1\n", .prometheusText, line: 1, field: "labels.a", reason: "exceeds the limit of 5",
            validator: LabelValidator(maxLabelValueLength: 5))
    }

    @Test func capsDetailsAtOneHundred() {
        let error = refusal(String(repeating: "m x\n", count: 150), .prometheusText)
        #expect(error?.details.count == 100)
        #expect(error?.detailsTruncated == true)
        #expect(error?.details.last?.line == 100)
    }

    @Test func otherCommentsAreSkipped() throws {
        let batch = try decode("#\n# just text\n#HELP m text\n# EOF here is not a terminator\nm 1 1\n", .prometheusText)
        #expect(batch.timestamps == [[1]])
    }
}
