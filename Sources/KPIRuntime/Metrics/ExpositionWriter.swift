import KPIWire

/// Writes metric families in one of the three exposition formats Prometheus scrapes: the text
/// format 0.0.4, OpenMetrics 1.0 text (counter families named without `_total` in HELP and
/// TYPE, `# EOF` at the end), or delimited `io.prometheus.client.MetricFamily` protobuf
/// (histograms as native messages with their buckets). Every producer of `/metrics` (kpid's
/// own metrics, retention, rolling KPIs, forwarding, the HTTP layer's counters) writes its
/// families once through it, whatever the format; nothing is rendered twice or re-parsed.
public struct ExpositionWriter {
    /// The wire format of a scrape.
    public enum Format: Sendable {
        case text
        case openMetrics
        case protobuf
    }

    public let format: Format
    private var text: [UInt8] = []
    private var families: [Family] = []

    public init(format: Format) {
        self.format = format
        if format != .protobuf { text.reserveCapacity(8192) }
    }

    /// Starts a family: its HELP and TYPE (`counter`, `gauge`, `histogram`, `summary`, `untyped`).
    public mutating func family(_ name: String, _ type: String, _ help: String) {
        switch format {
        case .text, .openMetrics:
            let familyName = format == .openMetrics && type == "counter" && name.hasSuffix("_total") ? String(name.dropLast(6)) : name
            PrometheusTextWriter.appendHelp(&text, name: familyName, help: help)
            PrometheusTextWriter.appendType(&text, name: familyName, type: type)
        case .protobuf:
            let kind: Kind = ["counter": .counter, "gauge": .gauge, "summary": .summary, "histogram": .histogram][type] ?? .untyped
            families.append(Family(name: name, help: help, kind: kind))
        }
    }

    /// A family of one unlabelled sample: a counter's or a gauge's HELP, TYPE and value.
    public mutating func single(_ name: String, _ type: String, _ help: String, _ value: Double) {
        family(name, type, help)
        sample(name, [], value)
    }

    /// One sample of the current family.
    public mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        switch format {
        case .text, .openMetrics:
            PrometheusTextWriter.appendSample(&text, name: name, labels: labels, value: value)
        case .protobuf:
            guard !families.isEmpty else { return }
            families[families.count - 1].metrics.append(Metric(labels: labels, value: value))
        }
    }

    /// A histogram of the current family: cumulative buckets, sum and count (`_bucket`, `_sum`
    /// and `_count` lines in text).
    public mutating func histogram(_ name: String, _ labels: [(String, String)], _ h: Histogram) {
        switch format {
        case .text, .openMetrics:
            for (i, bound) in h.bounds.enumerated() {
                sample(name + "_bucket", labels + [("le", Histogram.format(bound))], Double(h.counts[i]))
            }
            sample(name + "_bucket", labels + [("le", "+Inf")], Double(h.count))
            sample(name + "_sum", labels, h.sum)
            sample(name + "_count", labels, Double(h.count))
        case .protobuf:
            guard !families.isEmpty else { return }
            families[families.count - 1].metrics.append(
                Metric(
                    labels: labels, bucketBounds: h.bounds, bucketCounts: h.counts.map { Double($0) }, count: Double(h.count),
                    sum: h.sum))
        }
    }

    /// The scrape's body.
    public func finish() -> [UInt8] {
        switch format {
        case .text: return text
        case .openMetrics: return text + Array("# EOF\n".utf8)
        case .protobuf: return Self.encode(families.filter { !$0.metrics.isEmpty })
        }
    }

    public enum Kind: UInt64, Sendable {
        case counter = 0, gauge = 1, summary = 2, untyped = 3, histogram = 4
    }

    struct Metric {
        var labels: [(String, String)]
        var value = 0.0
        var bucketBounds: [Double] = []
        var bucketCounts: [Double] = []
        var count = 0.0
        var sum = 0.0
    }

    struct Family {
        var name: String
        var help = ""
        var kind = Kind.untyped
        var metrics: [Metric] = []
    }

    // MARK: Protobuf encoding

    private static func varint(_ value: UInt64, _ out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    private static func bytesField(_ number: UInt64, _ bytes: [UInt8], _ out: inout [UInt8]) {
        varint(number << 3 | 2, &out)
        varint(UInt64(bytes.count), &out)
        out.append(contentsOf: bytes)
    }

    private static func doubleField(_ number: UInt64, _ value: Double, _ out: inout [UInt8]) {
        varint(number << 3 | 1, &out)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func varintField(_ number: UInt64, _ value: UInt64, _ out: inout [UInt8]) {
        varint(number << 3, &out)
        varint(value, &out)
    }

    /// Delimited MetricFamily messages. Histograms carry their finite buckets; the `+Inf`
    /// bucket is implied by the sample count, as Prometheus' client libraries write it.
    static func encode(_ families: [Family]) -> [UInt8] {
        var out: [UInt8] = []
        for family in families {
            var f: [UInt8] = []
            bytesField(1, Array(family.name.utf8), &f)
            if !family.help.isEmpty { bytesField(2, Array(family.help.utf8), &f) }
            varintField(3, family.kind.rawValue, &f)
            for metric in family.metrics {
                var m: [UInt8] = []
                for (name, value) in metric.labels {
                    var pair: [UInt8] = []
                    bytesField(1, Array(name.utf8), &pair)
                    bytesField(2, Array(value.utf8), &pair)
                    bytesField(1, pair, &m)
                }
                var inner: [UInt8] = []
                switch family.kind {
                case .histogram:
                    varintField(1, UInt64(max(0, metric.count)), &inner)
                    doubleField(2, metric.sum, &inner)
                    for (bound, count) in zip(metric.bucketBounds, metric.bucketCounts) {
                        var bucket: [UInt8] = []
                        varintField(1, UInt64(max(0, count)), &bucket)
                        doubleField(2, bound, &bucket)
                        bytesField(3, bucket, &inner)
                    }
                    bytesField(7, inner, &m)
                case .counter:
                    doubleField(1, metric.value, &inner)
                    bytesField(3, inner, &m)
                case .gauge:
                    doubleField(1, metric.value, &inner)
                    bytesField(2, inner, &m)
                case .summary, .untyped:
                    doubleField(1, metric.value, &inner)
                    bytesField(5, inner, &m)
                }
                bytesField(4, m, &f)
            }
            varint(UInt64(f.count), &out)
            out.append(contentsOf: f)
        }
        return out
    }
}
