import KPICore

/// Writes samples for the read path (export) in the ingest formats, so that what is exported
/// can be ingested again unchanged: NDJSON lines decode with `NDJSONDecoder`, CSV with
/// `CSVDecoder`, to the identical labels, timestamps and values (NaN payloads aside).
public enum SampleEncoder {
    /// Appends one NDJSON line:
    /// `{"metric":"m","labels":{"a":"1"},"ts":1762070400000,"value":312.5}` and a newline.
    /// Labels are in `Labels` order without `__name__`; NaN and ±Inf are written as the strings
    /// `"NaN"`, `"+Inf"`, `"-Inf"`.
    public static func appendNDJSON(_ out: inout [UInt8], labels: Labels, timestamp: Int64, value: Double) {
        DoubleFormatter.appendASCII(&out, "{\"metric\":")
        var metric: String? = nil
        for pair in labels.pairs where pair.name == Labels.metricNameLabel { metric = pair.value }
        JSONString.append(metric ?? "", to: &out)
        DoubleFormatter.appendASCII(&out, ",\"labels\":{")
        var first = true
        for pair in labels.pairs where pair.name != Labels.metricNameLabel {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONString.append(pair.name, to: &out)
            out.append(UInt8(ascii: ":"))
            JSONString.append(pair.value, to: &out)
        }
        DoubleFormatter.appendASCII(&out, "},\"ts\":")
        DoubleFormatter.appendInteger(&out, timestamp)
        DoubleFormatter.appendASCII(&out, ",\"value\":")
        if value.isFinite {
            DoubleFormatter.append(&out, value)
        } else {
            out.append(UInt8(ascii: "\""))
            DoubleFormatter.append(&out, value)
            out.append(UInt8(ascii: "\""))
        }
        DoubleFormatter.appendASCII(&out, "}\n")
    }

    /// Appends the CSV header `metric,ts,value,<names...>` and a newline.
    ///
    /// A label named `metric`, `ts` or `value` cannot be written as a column (the decoder would
    /// see a duplicate column); leave such names out of `labelNames`. Label names cannot start
    /// with a formula character, so the header needs no guard.
    public static func appendCSVHeader(_ out: inout [UInt8], labelNames: [String]) {
        DoubleFormatter.appendASCII(&out, "metric,ts,value")
        for name in labelNames {
            out.append(UInt8(ascii: ","))
            CSVCell.append(name, to: &out, guarded: false)
        }
        out.append(0x0A)
    }

    /// Appends one CSV row matching a header written with the same `labelNames`; a label the
    /// series lacks is an empty cell, and labels not in `labelNames` are not written. Cells are
    /// written by `CSVCell`; with `guarded`, a label value that a spreadsheet would run as a
    /// formula gets a leading apostrophe (it then no longer re-ingests to the same value).
    public static func appendCSVRow(
        _ out: inout [UInt8], labels: Labels, labelNames: [String], timestamp: Int64, value: Double, guarded: Bool = false
    ) {
        CSVCell.append(labels.metricName ?? "", to: &out, guarded: guarded)
        out.append(UInt8(ascii: ","))
        DoubleFormatter.appendInteger(&out, timestamp)
        out.append(UInt8(ascii: ","))
        DoubleFormatter.append(&out, value)
        for name in labelNames {
            out.append(UInt8(ascii: ","))
            if let v = labels[name] { CSVCell.append(v, to: &out, guarded: guarded) }
        }
        out.append(0x0A)
    }
}
