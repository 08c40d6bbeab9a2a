import KPICore
import KPIWire

/// Any body either decodes into a batch whose labels pass the label rules, or is refused with
/// an error; it must never crash or hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Array(UnsafeBufferPointer(start: data, count: size))
    let options = DecodeOptions(validator: LabelValidator(), now: 1_794_787_200_000, openMetrics: false)
    if let batch = try? IngestDecoder.decode(body, format: .protobuf, options: options) {
        for labels in batch.series where LabelValidator().problem(with: labels) != nil {
            fatalError("decoded labels the validator refuses: \(labels)")
        }
        precondition(batch.timestamps.map(\.count).reduce(0, +) == batch.sampleCount)
    }
    return 0
}
