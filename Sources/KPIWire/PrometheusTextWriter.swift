import KPICore

/// Writes the Prometheus text exposition format 0.0.4 (what `/metrics` serves).
public enum PrometheusTextWriter {
    /// Appends `# HELP <name> <help>`; backslashes and line breaks in `help` are escaped.
    public static func appendHelp(_ out: inout [UInt8], name: String, help: String) {
        DoubleFormatter.appendASCII(&out, "# HELP ")
        out.append(contentsOf: name.utf8)
        out.append(UInt8(ascii: " "))
        for b in help.utf8 {
            switch b {
            case UInt8(ascii: "\\"): DoubleFormatter.appendASCII(&out, "\\\\")
            case 0x0A: DoubleFormatter.appendASCII(&out, "\\n")
            default: out.append(b)
            }
        }
        out.append(0x0A)
    }

    /// Appends `# TYPE <name> <type>` (`counter`, `gauge`, `histogram`, `summary`, `untyped`).
    public static func appendType(_ out: inout [UInt8], name: String, type: String) {
        DoubleFormatter.appendASCII(&out, "# TYPE ")
        out.append(contentsOf: name.utf8)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: type.utf8)
        out.append(0x0A)
    }

    /// Appends `name{a="1",b="2"} value [timestamp]`. Label values are escaped (`\\`, `\"`,
    /// `\n`); pairs with empty values are written as given. The value uses the shortest text that
    /// round-trips (`0.1`, `1e-05`, `NaN`, `+Inf`, `-Inf`); `timestamp` is milliseconds.
    public static func appendSample(
        _ out: inout [UInt8], name: String, labels: [(String, String)], value: Double, timestamp: Int64? = nil
    ) {
        out.append(contentsOf: name.utf8)
        if !labels.isEmpty {
            out.append(UInt8(ascii: "{"))
            for (k, pair) in labels.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                appendLabel(&out, pair.0, pair.1)
            }
            out.append(UInt8(ascii: "}"))
        }
        appendValue(&out, value, timestamp)
    }

    /// Appends a stored series' sample: the metric name from `__name__`, then its other labels.
    public static func appendSample(_ out: inout [UInt8], labels: Labels, value: Double, timestamp: Int64? = nil) {
        out.append(contentsOf: (labels.metricName ?? "").utf8)
        var first = true
        for pair in labels.pairs where pair.name != Labels.metricNameLabel {
            out.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
            first = false
            appendLabel(&out, pair.name, pair.value)
        }
        if !first { out.append(UInt8(ascii: "}")) }
        appendValue(&out, value, timestamp)
    }

    private static func appendLabel(_ out: inout [UInt8], _ name: String, _ value: String) {
        out.append(contentsOf: name.utf8)
        DoubleFormatter.appendASCII(&out, "=\"")
        for b in value.utf8 {
            switch b {
            case UInt8(ascii: "\\"): DoubleFormatter.appendASCII(&out, "\\\\")
            case UInt8(ascii: "\""): DoubleFormatter.appendASCII(&out, "\\\"")
            case 0x0A: DoubleFormatter.appendASCII(&out, "\\n")
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func appendValue(_ out: inout [UInt8], _ value: Double, _ timestamp: Int64?) {
        out.append(UInt8(ascii: " "))
        DoubleFormatter.append(&out, value)
        if let timestamp {
            out.append(UInt8(ascii: " "))
            DoubleFormatter.appendInteger(&out, timestamp)
        }
        out.append(0x0A)
    }
}
