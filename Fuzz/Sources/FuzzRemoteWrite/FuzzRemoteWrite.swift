import KPICore
import KPIWire

/// Any remote-write body (snappy + protobuf) decodes or is refused; never a crash or a hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Array(UnsafeBufferPointer(start: data, count: size))
    let options = DecodeOptions(validator: LabelValidator(), now: 1_794_787_200_000)
    if let batch = try? RemoteWriteDecoder.decode(body, options: options, maxDecodedBytes: 1 << 20) {
        for labels in batch.series where LabelValidator().problem(with: labels) != nil {
            fatalError("decoded labels the validator refuses: \(labels)")
        }
    }
    return 0
}
