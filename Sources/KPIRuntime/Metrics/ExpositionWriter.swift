import KPIWire

/// Writes metric families at the end of a text exposition (0.0.4 or OpenMetrics), so each
/// feature renders its own metrics: families go before OpenMetrics' closing `# EOF`, and
/// counter families are named without `_total` in OpenMetrics' HELP/TYPE lines.
public struct ExpositionWriter {
    fileprivate(set) var body: [UInt8]
    let openMetrics: Bool

    /// Calls `write` to append families to `body`, keeping a trailing `# EOF` last.
    public static func append(to body: inout [UInt8], openMetrics: Bool, _ write: (inout ExpositionWriter) -> Void) {
        let eof = Array("# EOF\n".utf8)
        let hadEOF = body.count >= eof.count && body.suffix(eof.count).elementsEqual(eof)
        if hadEOF { body.removeLast(eof.count) }
        var writer = ExpositionWriter(body: body, openMetrics: openMetrics)
        body = []  // one owner of the bytes while writing
        write(&writer)
        body = writer.body
        if hadEOF { body.append(contentsOf: eof) }
    }

    /// The HELP and TYPE lines of a family.
    public mutating func family(_ name: String, _ type: String, _ help: String) {
        let familyName = openMetrics && type == "counter" && name.hasSuffix("_total") ? String(name.dropLast(6)) : name
        PrometheusTextWriter.appendHelp(&body, name: familyName, help: help)
        PrometheusTextWriter.appendType(&body, name: familyName, type: type)
    }

    /// The `_bucket`, `_sum` and `_count` lines of a histogram.
    public mutating func histogram(_ name: String, _ labels: [(String, String)], _ h: Histogram) {
        for (i, bound) in h.bounds.enumerated() {
            sample(name + "_bucket", labels + [("le", Histogram.format(bound))], Double(h.counts[i]))
        }
        sample(name + "_bucket", labels + [("le", "+Inf")], Double(h.count))
        sample(name + "_sum", labels, h.sum)
        sample(name + "_count", labels, Double(h.count))
    }

    /// One sample line.
    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        PrometheusTextWriter.appendSample(&body, name: name, labels: labels, value: value)
    }
}
