import KPICore

/// Decodes ingest request bodies into a `SampleBatch`.
public enum IngestDecoder {
    /// Decodes a whole request body.
    ///
    /// All-or-nothing: when any line has a problem nothing is returned and the thrown
    /// `IngestError` (kind `.invalidInput`) lists up to `IngestError.maxDetails` issues, each
    /// with its 1-based line number, the field (`metric`, `ts`, `value`, `labels.<name>`, or for
    /// CSV the column name) and a reason.
    public static func decode(_ body: [UInt8], format: IngestFormat, options: DecodeOptions) throws(IngestError) -> SampleBatch {
        switch format {
        case .ndjson: return try NDJSONDecoder.decode(body, options: options)
        case .csv: return try CSVDecoder.decode(body, options: options)
        case .prometheusText: return try PrometheusTextDecoder.decode(body, options: options)
        case .protobuf: return try ProtobufBatchDecoder.decode(body, options: options)
        }
    }
}
