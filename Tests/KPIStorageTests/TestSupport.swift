import Foundation
import KPICore
import Logging

@testable import KPIStorage

/// A fresh directory under the system temp dir, removed when `body` returns or throws.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("kpid-storage-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}

/// Quiet logger: tests check behaviour, not log lines.
let testLogger = Logger(label: "kpid.storage.tests") { _ in SwiftLogNoOpLogHandler() }

func labels(_ metric: String, _ pairs: [String: String] = [:]) -> Labels {
    Labels(metric: metric, pairs)
}

/// Values whose bit patterns a lossy codec would change.
let awkwardValues: [Double] = [
    0.0, -0.0, .infinity, -.infinity,
    Double(bitPattern: 0x7FF8_0000_0000_0000),  // canonical quiet NaN
    Double(bitPattern: 0x7FF8_DEAD_BEEF_0001),  // quiet NaN with payload
    Double(bitPattern: 0x7FF0_0000_0000_0001),  // signalling NaN
    Double(bitPattern: 0xFFF8_0000_0000_0042),  // negative NaN with payload
    Double(bitPattern: 0x0000_0000_0000_0001),  // smallest subnormal
    .greatestFiniteMagnitude, -.leastNormalMagnitude, 1.5, -273.15,
]

func bits(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }

/// Runs `body` on a copy of `bytes`.
func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try bytes.withUnsafeBytes(body)
}

/// Recomputes the trailing CRC, so tests can reach the checks behind the checksum.
func resealed(_ bytes: [UInt8]) -> [UInt8] {
    var out = Array(bytes.dropLast(4))
    let crc = out.withUnsafeBytes { CRC32.checksum($0) }
    withUnsafeBytes(of: crc.littleEndian) { out.append(contentsOf: $0) }
    return out
}

func u32le(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
