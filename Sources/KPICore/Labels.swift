/// One label pair of a series. The metric name is the label `__name__`, as in Prometheus.
public struct Label: Hashable, Sendable, Comparable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public static func < (lhs: Label, rhs: Label) -> Bool {
        lhs.name == rhs.name ? lhs.value < rhs.value : lhs.name < rhs.name
    }
}

/// The identity of a series: its metric name plus label pairs, kept sorted by name with unique
/// names and no empty values (an empty value means "label absent", as in Prometheus).
///
/// Two `Labels` are equal exactly when they name the same series, so the type is the key of the
/// series index.
public struct Labels: Hashable, Sendable, RandomAccessCollection, CustomStringConvertible {
    /// The reserved label that carries the metric name.
    public static let metricNameLabel = "__name__"

    /// Sorted by name; names unique; values non-empty.
    public private(set) var pairs: [Label]

    /// Builds labels from pairs that are already valid (checked by the caller or by
    /// `LabelValidator`). Sorts them, drops empty values, and keeps the last of repeated names.
    public init(_ pairs: [Label]) {
        var sorted = pairs.filter { !$0.value.isEmpty }
        sorted.sort { $0.name < $1.name }
        var unique: [Label] = []
        unique.reserveCapacity(sorted.count)
        for pair in sorted {
            if let last = unique.last, last.name == pair.name {
                unique[unique.count - 1] = pair
            } else {
                unique.append(pair)
            }
        }
        self.pairs = unique
    }

    /// Labels of a metric: `metric` becomes `__name__`.
    public init(metric: String, _ labels: [String: String] = [:]) {
        var pairs = labels.map { Label(name: $0.key, value: $0.value) }
        pairs.append(Label(name: Labels.metricNameLabel, value: metric))
        self.init(pairs)
    }

    public var metricName: String? { self[Labels.metricNameLabel] }

    /// The value of `name`, or nil when the series lacks it.
    public subscript(name: String) -> String? {
        // Binary search: pairs are sorted by name.
        var low = 0
        var high = pairs.count
        while low < high {
            let mid = (low + high) / 2
            if pairs[mid].name < name { low = mid + 1 } else { high = mid }
        }
        return low < pairs.count && pairs[low].name == name ? pairs[low].value : nil
    }

    public var startIndex: Int { pairs.startIndex }
    public var endIndex: Int { pairs.endIndex }
    public subscript(position: Int) -> Label { pairs[position] }

    /// The labels without `__name__`.
    public var withoutMetricName: [Label] { pairs.filter { $0.name != Labels.metricNameLabel } }

    /// Prometheus text form: `metric{a="1",b="2"}`, with `\\`, `"` and newline escaped.
    public var description: String {
        var out = metricName ?? ""
        let rest = withoutMetricName
        if rest.isEmpty && !out.isEmpty { return out }
        out += "{"
        for (i, pair) in rest.enumerated() {
            if i > 0 { out += "," }
            out += pair.name
            out += "=\""
            out += Labels.escape(pair.value)
            out += "\""
        }
        out += "}"
        return out
    }

    /// Escapes a label value for the Prometheus text format.
    public static func escape(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") })
        else { return value }
        var out = ""
        out.reserveCapacity(value.utf8.count + 4)
        for ch in value.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}

/// Checks metric names, label names and values against the naming rules and the configured
/// limits. Decoders call it per line so that the error can name the line.
public struct LabelValidator: Sendable {
    public var maxLabelsPerSeries: Int
    public var maxLabelNameLength: Int
    public var maxLabelValueLength: Int
    /// Bytes of a metric name; a longer one is refused (every answer listing names would carry it).
    public var maxMetricNameLength: Int

    public init(
        maxLabelsPerSeries: Int = 30, maxLabelNameLength: Int = 128, maxLabelValueLength: Int = 1024,
        maxMetricNameLength: Int = 256
    ) {
        self.maxMetricNameLength = maxMetricNameLength
        self.maxLabelsPerSeries = maxLabelsPerSeries
        self.maxLabelNameLength = maxLabelNameLength
        self.maxLabelValueLength = maxLabelValueLength
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`, as Prometheus metric names.
    public static func isValidMetricName(_ name: String) -> Bool {
        isIdentifier(name, allowColon: true)
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, as Prometheus label names.
    public static func isValidLabelName(_ name: String) -> Bool {
        isIdentifier(name, allowColon: false)
    }

    static func isIdentifier(_ name: String, allowColon: Bool) -> Bool {
        var first = true
        for byte in name.utf8 {
            let ok: Bool
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
                ok = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                ok = !first
            case UInt8(ascii: ":"):
                ok = allowColon
            default:
                ok = false
            }
            if !ok { return false }
            first = false
        }
        return !first
    }

    /// Validates a complete series; returns the problem as (field, reason), or nil when valid.
    /// `field` is `metric` or `labels.<name>`, so error details can point at it.
    public func problem(with labels: Labels) -> (field: String, reason: String)? {
        guard let metric = labels.metricName else {
            return ("metric", "missing metric name")
        }
        if metric.utf8.count > maxMetricNameLength {
            return ("metric", "metric name of \(metric.utf8.count) bytes exceeds the limit of \(maxMetricNameLength)")
        }
        if !LabelValidator.isValidMetricName(metric) {
            return ("metric", "invalid metric name \"\(metric)\": must match [a-zA-Z_:][a-zA-Z0-9_:]*")
        }
        if labels.count - 1 > maxLabelsPerSeries {
            return ("labels", "\(labels.count - 1) labels exceed the limit of \(maxLabelsPerSeries) per series")
        }
        for pair in labels.pairs where pair.name != Labels.metricNameLabel {
            if !LabelValidator.isValidLabelName(pair.name) {
                return ("labels.\(pair.name)", "invalid label name: must match [a-zA-Z_][a-zA-Z0-9_]*")
            }
            if pair.name.hasPrefix("__") {
                return ("labels.\(pair.name)", "label names starting with __ are reserved")
            }
            if pair.name.utf8.count > maxLabelNameLength {
                return ("labels.\(pair.name)", "label name longer than \(maxLabelNameLength) bytes")
            }
            if pair.value.utf8.count > maxLabelValueLength {
                return ("labels.\(pair.name)", "label value of \(pair.value.utf8.count) bytes exceeds the limit of \(maxLabelValueLength)")
            }
        }
        return nil
    }
}
