import Testing

@testable import KPIAlerting

/// Alert templates and number formats against values worked out by hand from Go's and
/// Prometheus' definitions (`strconv.FormatFloat`, `humanize*` in Prometheus' template package).
@Suite struct AlertTemplateTests {
    @Test(arguments: [
        (1.0, "1"), (1.5, "1.5"), (123456.0, "123456"), (1e6, "1e+06"), (1234567.0, "1.234567e+06"), (1e20, "1e+20"), (1.25e21, "1.25e+21"),
        (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5, "-2.5"), (0.1, "0.1"), (100.0, "100"),
    ])
    func goFloat(_ v: Double, _ text: String) {
        #expect(GoFormat.float(v) == text)
    }

    @Test func exponentForm() {
        #expect(GoFormat.exponent(1) == "1e+00")
        #expect(GoFormat.exponent(0.25) == "2.5e-01")
        #expect(GoFormat.exponent(1234.5) == "1.2345e+03")
        #expect(GoFormat.exponent(0) == "0e+00")
    }

    @Test func humanizeFamily() {
        // 1,234,567 / 1000 / 1000 = 1.234567 → 4 significant digits.
        #expect(GoFormat.humanize(1_234_567) == "1.235M")
        #expect(GoFormat.humanize(0.0125) == "12.5m")
        #expect(GoFormat.humanize(999) == "999")
        #expect(GoFormat.humanize(0) == "0")
        #expect(GoFormat.humanize1024(1536) == "1.5ki")
        // 3,661 s = 1 h 1 min 1 s; 90,061 s = 1 d 1 h 1 min 1 s.
        #expect(GoFormat.humanizeDuration(3661) == "1h 1m 1s")
        #expect(GoFormat.humanizeDuration(90061) == "1d 1h 1m 1s")
        #expect(GoFormat.humanizeDuration(42.5) == "42.5s")
        #expect(GoFormat.humanizeDuration(0.25) == "250ms")
        #expect(GoFormat.humanizePercentage(0.256) == "25.6%")
        // 1,800,000,000 s after the epoch: 2027-01-15 08:00:00 UTC.
        #expect(GoFormat.humanizeTimestamp(1_800_000_000) == "2027-01-15 08:00:00 +0000 UTC")
    }

    @Test func labelsValuesAndPipelines() throws {
        let data = AlertTemplate.Data(labels: ["site": "JFK", "device": "cam-7"], value: 1234.5, externalURL: "http://kpid:9464")
        #expect(try AlertTemplate("{{ $labels.device }} at {{ $labels.site }}").expand(data) == "cam-7 at JFK")
        #expect(try AlertTemplate("{{ .Labels.site }} = {{ .Value }}").expand(data) == "JFK = 1234.5")
        #expect(try AlertTemplate("{{ $value | humanize }}").expand(data) == "1.234k")  // 1.2345 → %.4g rounds half to even
        #expect(try AlertTemplate("{{ humanize $value }}").expand(data) == "1.234k")
        #expect(try AlertTemplate("{{ printf \"%.1f\" $value }}").expand(data) == "1234.5")
        #expect(try AlertTemplate("{{ $value | printf \"%.0f\" }} people").expand(data) == "1234 people")
        #expect(try AlertTemplate("{{ $labels.site | toLower }}").expand(data) == "jfk")
        #expect(try AlertTemplate("a {{- \" b \" -}} c").expand(data) == "a b c")
        #expect(try AlertTemplate("{{/* a comment */}}x").expand(data) == "x")
        #expect(try AlertTemplate("{{ $labels.missing }}|").expand(data) == "|")
        #expect(try AlertTemplate("{{ $externalURL }}").expand(data) == "http://kpid:9464")
    }

    @Test func whatIsNotSupportedIsRefusedAtLoad() {
        for text in [
            "{{ if $value }}x{{ end }}", "{{ range $labels }}{{ end }}", "{{ query \"up\" }}", "{{ $x := 1 }}", "{{ nope $value }}",
            "{{ $labels.site", "{{ $other }}",
        ] {
            #expect(throws: AlertTemplateError.self, "\(text)") { try AlertTemplate(text) }
        }
    }
}

/// Hostile values in templates do not trap or blow up.
@Suite struct AlertTemplateLimitTests {
    @Test func hugeValuesAndWidths() throws {
        let data = AlertTemplate.Data(labels: [:], value: 1e300)
        #expect(try AlertTemplate("{{ humanizeTimestamp $value }}").expand(data) == "1e+300")
        #expect(try AlertTemplate("{{ humanizeDuration $value }}").expand(data).hasSuffix("s"))
        #expect(try AlertTemplate("{{ printf \"%d\" $value }}").expand(data).hasPrefix("%!d"))
        // A 10⁹-wide field is cut to three digits of width.
        #expect(try AlertTemplate("{{ printf \"%999999999s\" \"x\" }}").expand(data).count == 999)
    }
}
