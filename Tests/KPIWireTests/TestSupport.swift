import KPICore
import Testing

@testable import KPIWire

/// The decoded issues of a body that must be refused (empty when it was accepted, which the
/// callers then fail on).
func refusal(
    _ body: String, _ format: IngestFormat, now: Int64 = 42, validator: LabelValidator = LabelValidator(),
    openMetrics: Bool = false
) -> IngestError? {
    refusal(Array(body.utf8), format, now: now, validator: validator, openMetrics: openMetrics)
}

func refusal(
    _ body: [UInt8], _ format: IngestFormat, now: Int64 = 42, validator: LabelValidator = LabelValidator(),
    openMetrics: Bool = false
) -> IngestError? {
    do {
        _ = try IngestDecoder.decode(body, format: format, options: DecodeOptions(validator: validator, now: now, openMetrics: openMetrics))
        return nil
    } catch {
        return error
    }
}

/// Asserts that `body` is refused with exactly one issue at `line` naming `field`, whose reason
/// contains `reason`.
func expectIssue(
    _ body: String, _ format: IngestFormat, line: Int, field: String?, reason: String,
    validator: LabelValidator = LabelValidator(), openMetrics: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectIssue(
        Array(body.utf8), format, line: line, field: field, reason: reason, validator: validator,
        openMetrics: openMetrics, sourceLocation: sourceLocation)
}

func expectIssue(
    _ body: [UInt8], _ format: IngestFormat, line: Int, field: String?, reason: String,
    validator: LabelValidator = LabelValidator(), openMetrics: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error = refusal(body, format, validator: validator, openMetrics: openMetrics) else {
        Issue.record("accepted, expected a refusal at line \(line): \(reason)", sourceLocation: sourceLocation)
        return
    }
    #expect(error.kind == .invalidInput, sourceLocation: sourceLocation)
    #expect(error.details.count == 1, "\(error)", sourceLocation: sourceLocation)
    guard let issue = error.details.first else { return }
    #expect(issue.line == line, "\(error)", sourceLocation: sourceLocation)
    #expect(issue.field == field, "\(error)", sourceLocation: sourceLocation)
    #expect(issue.reason.contains(reason), "\(error)", sourceLocation: sourceLocation)
}

func decode(_ body: String, _ format: IngestFormat, now: Int64 = 42, openMetrics: Bool = false) throws(IngestError) -> SampleBatch {
    try IngestDecoder.decode(Array(body.utf8), format: format, options: DecodeOptions(now: now, openMetrics: openMetrics))
}

/// Bitwise equality, so -0.0 differs from 0.0 and NaN equals NaN of the same payload.
func same(_ a: Double, _ b: Double) -> Bool { a.bitPattern == b.bitPattern }

func same(_ a: [Double], _ b: [Double]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { same($0, $1) }
}
