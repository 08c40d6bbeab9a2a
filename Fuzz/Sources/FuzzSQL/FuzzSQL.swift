import FuzzSupport
import KPICore
import KPIQuery

/// The store every statement runs against (see `ExtremeStore`): the time contract's edges,
/// extreme values, counters with resets and 0/1 states beside an hour of ordinary data.
let store = ExtremeStore.make()

/// Builds the store before the first input, outside libFuzzer's per-input `-timeout`.
@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    _ = store.seriesCount
    return 0
}

/// Any text either parses and runs (twice: the ordinary hour of site JFK, and the whole time
/// contract of site EDGE; within small limits) or is refused with a QueryError; never a crash
/// or a hang.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    QueryRuns.sql(text, on: store, optionSets: QueryRuns.extremeStoreSQLOptions)
    return 0
}
