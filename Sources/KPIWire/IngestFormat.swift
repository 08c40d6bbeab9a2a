/// The body formats accepted for ingest.
public enum IngestFormat: Sendable, Hashable {
    /// One JSON object per line.
    case ndjson
    /// RFC 4180 CSV with a `metric,ts,value,<label>...` header.
    case csv
    /// Prometheus text exposition 0.0.4, or OpenMetrics text.
    case prometheusText
    /// kpid's columnar protobuf batch (`kpid.v1.Batch`).
    case protobuf

    /// From a Content-Type header value (parameters like charset ignored; case-insensitive):
    /// `application/x-ndjson`, `application/jsonl`, `application/json-lines`, `application/json`
    /// (treated as NDJSON) -> `.ndjson`; `text/csv`, `application/csv` -> `.csv`; `text/plain`
    /// (including `text/plain; version=0.0.4`) and `application/openmetrics-text` ->
    /// `.prometheusText`; `application/x-protobuf`, `application/protobuf` -> `.protobuf`;
    /// anything else -> nil.
    public init?(contentType: String) {
        switch IngestFormat.mediaType(contentType) {
        case "application/x-ndjson", "application/jsonl", "application/json-lines", "application/json",
             "application/x-jsonlines", "application/jsonlines":
            self = .ndjson
        case "text/csv", "application/csv":
            self = .csv
        case "text/plain", "application/openmetrics-text":
            self = .prometheusText
        case "application/x-protobuf", "application/protobuf":
            self = .protobuf
        default:
            return nil
        }
    }

    /// True for `application/openmetrics-text`: set `DecodeOptions.openMetrics` then, because
    /// OpenMetrics timestamps are seconds.
    public static func isOpenMetrics(contentType: String) -> Bool {
        mediaType(contentType) == "application/openmetrics-text"
    }

    /// The lower-cased media type without parameters or surrounding blanks.
    static func mediaType(_ contentType: String) -> String {
        var type = contentType[...]
        if let semicolon = type.firstIndex(of: ";") { type = type[..<semicolon] }
        while let first = type.first, first == " " || first == "\t" { type = type.dropFirst() }
        while let last = type.last, last == " " || last == "\t" { type = type.dropLast() }
        return type.lowercased()
    }
}
