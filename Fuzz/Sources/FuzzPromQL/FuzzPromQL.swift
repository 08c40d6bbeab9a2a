import FuzzSupport
import KPICore
import KPIPromQL

/// The store every expression runs against (see `ExtremeStore`): the time contract's edges,
/// extreme values, counters with resets and 0/1 states beside an hour of ordinary data.
let store = ExtremeStore.make()

/// Builds the store before the first input, outside libFuzzer's per-input `-timeout`.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    _ = store.seriesCount
    return 0
}

/// Any text either parses and evaluates (instant queries in the ordinary hour, at both edges of
/// the time contract and at the epoch; range queries over the ordinary hour, the contract's last
/// hour and the whole contract; within small limits and a 2 s deadline) or is refused with an
/// error; never a crash or a hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    QueryRuns.promQL(text, on: store, instants: ExtremeStore.instants, ranges: ExtremeStore.ranges)
    return 0
}
