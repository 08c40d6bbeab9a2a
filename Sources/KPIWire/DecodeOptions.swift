import KPICore

/// Settings that apply to one decode: naming rules and limits, and the time used for samples
/// without a timestamp.
public struct DecodeOptions: Sendable {
    /// Naming rules and limits (labels per series, label name and value length), checked per
    /// line so errors can name the line.
    public var validator: LabelValidator
    /// Milliseconds since the epoch; the timestamp of samples that carry none.
    public var now: Int64
    /// For `.prometheusText`: the body is OpenMetrics text (Content-Type
    /// `application/openmetrics-text`), whose timestamps are seconds with fractions rather
    /// than milliseconds. A body whose last line is `# EOF` is treated as OpenMetrics even when
    /// this is false, since the 0.0.4 format has no such terminator.
    public var openMetrics: Bool

    public init(validator: LabelValidator = LabelValidator(), now: Int64, openMetrics: Bool = false) {
        self.validator = validator
        self.now = now
        self.openMetrics = openMetrics
    }
}
