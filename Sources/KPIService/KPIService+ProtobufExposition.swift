import KPIHTTP

/// `/metrics` in Prometheus' protobuf format (`io.prometheus.client.MetricFamily`, each message
/// preceded by its varint length), served when the scraper's `Accept` header prefers it.
extension KPIService {
    static let protobufExpositionType = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

    /// Whether an Accept header ranks the delimited MetricFamily protobuf format above every
    /// text format it also accepts. Quality values decide; ties go to the earlier entry.
    static func prefersProtobuf(_ accept: String?) -> Bool {
        guard let accept else { return false }
        var best: (quality: Double, protobuf: Bool)? = nil
        for entry in accept.split(separator: ",") {
            let parts = entry.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = parts.first else { continue }
            var quality = 1.0
            var proto: String? = nil
            var encoding: String? = nil
            for parameter in parts.dropFirst() {
                if parameter.hasPrefix("q=") { quality = Double(parameter.dropFirst(2)) ?? 0 }
                if parameter.hasPrefix("proto=") { proto = String(parameter.dropFirst(6)) }
                if parameter.hasPrefix("encoding=") { encoding = String(parameter.dropFirst(9)) }
            }
            let isProtobuf =
                type == "application/vnd.google.protobuf" && proto == "io.prometheus.client.metricfamily" && encoding == "delimited"
            let isText = type == "text/plain" || type == "application/openmetrics-text" || type == "*/*"
            guard isProtobuf || isText, quality > 0 else { continue }
            if best == nil || quality > best!.quality { best = (quality, isProtobuf) }
        }
        return best?.protobuf ?? false
    }

    /// The metrics of `render` as delimited MetricFamily messages.
    func protobufMetricsResponse(sites: [String] = []) -> HTTPResponse {
        let text = exposition(openMetrics: false, sites: sites)
        let body = ProtobufExposition.encode(ProtobufExposition.families(text))
        return HTTPResponse(status: 200, headers: [(name: "Content-Type", value: KPIService.protobufExpositionType)], body: .bytes(body))
    }
}

/// Converts kpid's text exposition (0.0.4, as ServiceMetrics renders it) into MetricFamily
/// messages and encodes them, so both formats always carry the same metrics.
enum ProtobufExposition {
    enum Kind: UInt64 {
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

    /// Families in the order of the text; histogram samples (`_bucket`, `_sum`, `_count`) are
    /// folded into one metric per label set.
    static func families(_ text: [UInt8]) -> [Family] {
        var out: [Family] = []
        for line in text.split(separator: 0x0A) {
            let s = String(decoding: line, as: UTF8.self)
            if s.hasPrefix("# HELP ") || s.hasPrefix("# TYPE ") {
                let rest = s.dropFirst(7)
                let name = String(rest.prefix { $0 != " " })
                let value = String(rest.dropFirst(name.count + 1))
                if out.last?.name != name { out.append(Family(name: name)) }
                if s.hasPrefix("# HELP ") {
                    out[out.count - 1].help = unescape(value)
                } else {
                    out[out.count - 1].kind =
                        ["counter": .counter, "gauge": .gauge, "summary": .summary, "histogram": .histogram][value] ?? .untyped
                }
                continue
            }
            if s.hasPrefix("#") || s.isEmpty { continue }
            guard let (name, labels, value) = sample(s) else { continue }
            if out.isEmpty || !(name == out[out.count - 1].name || name.hasPrefix(out[out.count - 1].name + "_")) {
                out.append(Family(name: name))
            }
            let k = out.count - 1
            guard out[k].kind == .histogram else {
                out[k].metrics.append(Metric(labels: labels, value: value))
                continue
            }
            let bound = labels.first { $0.0 == "le" }.flatMap { Double($0.1 == "+Inf" ? "inf" : $0.1) }
            let key = labels.filter { $0.0 != "le" }
            var m = out[k].metrics.lastIndex { $0.labels.elementsEqual(key) { $0 == $1 } }
            if m == nil {
                out[k].metrics.append(Metric(labels: key))
                m = out[k].metrics.count - 1
            }
            let suffix = name.dropFirst(out[k].name.count)
            switch suffix {
            case "_bucket":
                if let bound, bound.isFinite {
                    out[k].metrics[m!].bucketBounds.append(bound)
                    out[k].metrics[m!].bucketCounts.append(value)
                }
            case "_sum": out[k].metrics[m!].sum = value
            case "_count": out[k].metrics[m!].count = value
            default: break
            }
        }
        return out.filter { !$0.metrics.isEmpty }
    }

    /// `name{a="b",...} value` as kpid writes it.
    static func sample(_ line: String) -> (String, [(String, String)], Double)? {
        let bytes = Array(line.utf8)
        var i = 0
        while i < bytes.count && bytes[i] != UInt8(ascii: "{") && bytes[i] != UInt8(ascii: " ") { i += 1 }
        let name = String(decoding: bytes[0..<i], as: UTF8.self)
        var labels: [(String, String)] = []
        if i < bytes.count && bytes[i] == UInt8(ascii: "{") {
            i += 1
            while i < bytes.count && bytes[i] != UInt8(ascii: "}") {
                let start = i
                while i < bytes.count && bytes[i] != UInt8(ascii: "=") { i += 1 }
                let label = String(decoding: bytes[start..<i], as: UTF8.self)
                i += 2  // ="
                var value: [UInt8] = []
                while i < bytes.count && bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\") && i + 1 < bytes.count {
                        i += 1
                        value.append(bytes[i] == UInt8(ascii: "n") ? 0x0A : bytes[i])
                    } else {
                        value.append(bytes[i])
                    }
                    i += 1
                }
                i += 1
                labels.append((label, String(decoding: value, as: UTF8.self)))
                if i < bytes.count && bytes[i] == UInt8(ascii: ",") { i += 1 }
            }
            i += 1
        }
        let fields = String(decoding: bytes[min(i, bytes.count)...], as: UTF8.self).split(separator: " ")
        guard let first = fields.first else { return nil }
        let value: Double?
        switch first {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default: value = Double(first)
        }
        guard let value else { return nil }
        return (name, labels, value)
    }

    /// Undoes the HELP escapes (backslash-backslash, backslash-n).
    static func unescape(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var out = ""
        var escaped = false
        for c in text {
            if escaped {
                out.append(c == "n" ? "\n" : c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return out
    }

    // MARK: Protobuf encoding

    static func varint(_ value: UInt64, _ out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func bytesField(_ number: UInt64, _ bytes: [UInt8], _ out: inout [UInt8]) {
        varint(number << 3 | 2, &out)
        varint(UInt64(bytes.count), &out)
        out.append(contentsOf: bytes)
    }

    static func doubleField(_ number: UInt64, _ value: Double, _ out: inout [UInt8]) {
        varint(number << 3 | 1, &out)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) }
    }

    static func varintField(_ number: UInt64, _ value: UInt64, _ out: inout [UInt8]) {
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
