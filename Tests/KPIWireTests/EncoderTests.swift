import KPICore
import Testing

@testable import KPIWire

@Suite struct EncoderTests {
    let labels = Labels(metric: "queue_wait_seconds", ["site": "JFK", "zone": "T4-security"])

    @Test func ndjsonLineHasTheInputShape() {
        var out: [UInt8] = []
        SampleEncoder.appendNDJSON(&out, labels: labels, timestamp: 1_762_070_400_000, value: 312.5)
        SampleEncoder.appendNDJSON(&out, labels: Labels(metric: "m", ["q": "a\"b\\c\nd\u{1}é"]), timestamp: -1, value: -.infinity)
        SampleEncoder.appendNDJSON(&out, labels: Labels(metric: "m"), timestamp: 0, value: .nan)
        #expect(
            String(decoding: out, as: UTF8.self) == """
                {"metric":"queue_wait_seconds","labels":{"site":"JFK","zone":"T4-security"},"ts":1762070400000,"value":312.5}
                {"metric":"m","labels":{"q":"a\\"b\\\\c\\nd\\u0001é"},"ts":-1,"value":"-Inf"}
                {"metric":"m","labels":{},"ts":0,"value":"NaN"}

                """)
    }

    @Test func csvHeaderAndRows() {
        var out: [UInt8] = []
        SampleEncoder.appendCSVHeader(&out, labelNames: ["site", "zone"])
        SampleEncoder.appendCSVRow(&out, labels: labels, labelNames: ["site", "zone"], timestamp: 1_762_070_400_000, value: 312.5)
        SampleEncoder.appendCSVRow(
            &out, labels: Labels(metric: "m", ["zone": "a,\"b\"\nc"]), labelNames: ["site", "zone"],
            timestamp: 5, value: .infinity)
        #expect(
            String(decoding: out, as: UTF8.self) == """
                metric,ts,value,site,zone
                queue_wait_seconds,1762070400000,312.5,JFK,T4-security
                m,5,+Inf,,"a,""b""
                c"

                """)
    }

    @Test func prometheusExposition() {
        var out: [UInt8] = []
        PrometheusTextWriter.appendHelp(&out, name: "kpid_ingested_samples_total", help: "Samples ingested.\nBy format \\ kind.")
        PrometheusTextWriter.appendType(&out, name: "kpid_ingested_samples_total", type: "counter")
        PrometheusTextWriter.appendSample(&out, name: "kpid_ingested_samples_total", labels: [("format", "ndjson")], value: 1234)
        PrometheusTextWriter.appendSample(
            &out, name: "x_bucket", labels: [("le", "+Inf"), ("q", "a\"b\\c\nd")], value: 0.25,
            timestamp: 1_762_070_400_000)
        PrometheusTextWriter.appendSample(&out, name: "up", labels: [], value: 1e-5)
        PrometheusTextWriter.appendSample(&out, name: "big", labels: [], value: 5e20)
        PrometheusTextWriter.appendSample(&out, name: "nan", labels: [], value: .nan)
        PrometheusTextWriter.appendSample(&out, labels: labels, value: -.infinity, timestamp: 3)
        #expect(
            String(decoding: out, as: UTF8.self) == #"""
                # HELP kpid_ingested_samples_total Samples ingested.\nBy format \\ kind.
                # TYPE kpid_ingested_samples_total counter
                kpid_ingested_samples_total{format="ndjson"} 1234
                x_bucket{le="+Inf",q="a\"b\\c\nd"} 0.25 1762070400000
                up 1e-05
                big 5e+20
                nan NaN
                queue_wait_seconds{site="JFK",zone="T4-security"} -Inf 3

                """#)
    }

    @Test func expositionParsesBack() throws {
        var out: [UInt8] = []
        PrometheusTextWriter.appendHelp(&out, name: "m", help: "h")
        PrometheusTextWriter.appendType(&out, name: "m", type: "histogram")
        PrometheusTextWriter.appendSample(&out, name: "m_bucket", labels: [("le", "0.5"), ("q", "a\"b\\c\nd")], value: 3, timestamp: 7)
        let batch = try PrometheusTextDecoder.decode(out, options: DecodeOptions(now: 0))
        #expect(batch.series == [Labels(metric: "m_bucket", ["le": "0.5", "q": "a\"b\\c\nd"])])
        #expect(batch.timestamps == [[7]])
        #expect(batch.values == [[3]])
    }
}

@Suite struct IngestFormatTests {
    @Test(arguments: [
        ("application/x-ndjson", IngestFormat.ndjson), ("application/jsonl", .ndjson), ("application/json-lines", .ndjson),
        ("application/json; charset=utf-8", .ndjson), ("Application/X-NDJSON", .ndjson), ("text/csv", .csv),
        ("application/csv;header=present", .csv), (" TEXT/CSV ", .csv), ("text/plain", .prometheusText),
        ("text/plain; version=0.0.4; charset=utf-8", .prometheusText),
        ("application/openmetrics-text; version=1.0.0; charset=utf-8", .prometheusText),
    ])
    func recognisesContentTypes(contentType: String, expected: IngestFormat) {
        #expect(IngestFormat(contentType: contentType) == expected)
    }

    @Test(arguments: ["", "application/xml", "text/html", "text", "application/json-seq"])
    func rejectsOtherContentTypes(contentType: String) {
        #expect(IngestFormat(contentType: contentType) == nil)
    }

    @Test func detectsOpenMetrics() {
        #expect(IngestFormat.isOpenMetrics(contentType: "application/openmetrics-text; version=1.0.0"))
        #expect(!IngestFormat.isOpenMetrics(contentType: "text/plain; version=0.0.4"))
    }

    @Test func dispatchesByFormat() throws {
        let options = DecodeOptions(now: 1)
        #expect(try IngestDecoder.decode(Array(#"{"metric":"m","value":2}"#.utf8), format: .ndjson, options: options).values == [[2]])
        #expect(try IngestDecoder.decode(Array("metric,ts,value\nm,,3\n".utf8), format: .csv, options: options).values == [[3]])
        #expect(try IngestDecoder.decode(Array("m 4\n".utf8), format: .prometheusText, options: options).values == [[4]])
        let error = refusal("metric,ts,value\nm,,x\n", .csv)
        #expect(error?.message == "invalid CSV body")
        #expect(error?.kind == .invalidInput)
    }
}
