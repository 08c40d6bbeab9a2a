import KPICore
import Testing

@testable import KPIStorage

@Suite struct WALRecordTests {
    @Test func roundTripPreservesAwkwardValuesBitForBit() throws {
        let record = WALRecord(
            series: [SeriesID(0), SeriesID(7), SeriesID(UInt32.max), SeriesID(3)],
            timestamps: [
                Array(0..<Int64(awkwardValues.count)),
                [],
                [Int64.min, -1, 0, Int64.max],
                [1_700_000_000_000],
            ],
            values: [awkwardValues, [], [-0.0, .nan, .infinity, -.infinity], [42]])
        let bytes = record.encoded()
        #expect(bytes.count == record.encodedCount)
        #expect(bytes.first == 0xA1)
        let decoded = try withBytes(bytes) { try WALRecord(decoding: $0) }
        #expect(decoded == record)
        #expect(decoded.series == record.series)
        #expect(decoded.timestamps == record.timestamps)
        for k in record.values.indices { #expect(bits(decoded.values[k]) == bits(record.values[k])) }
        #expect(decoded.sampleCount == awkwardValues.count + 4 + 1)
    }

    @Test func equalityIsBitwise() {
        let a = WALRecord(series: [SeriesID(1)], timestamps: [[1]], values: [[0.0]])
        let b = WALRecord(series: [SeriesID(1)], timestamps: [[1]], values: [[-0.0]])
        let nan = WALRecord(series: [SeriesID(1)], timestamps: [[1]], values: [[.nan]])
        #expect(a != b)
        #expect(nan == nan)
    }

    @Test func emptyRecordRoundTrips() throws {
        let record = WALRecord(series: [], timestamps: [], values: [])
        let bytes = record.encoded()
        #expect(bytes.count == 9)
        let decoded = try withBytes(bytes) { try WALRecord(decoding: $0) }
        #expect(decoded == record)
        #expect(decoded.series.isEmpty)
    }

    @Test func largeRecordOf100kSamplesRoundTrips() throws {
        var series: [SeriesID] = []
        var timestamps: [[Int64]] = []
        var values: [[Double]] = []
        var generator = SystemRandomNumberGenerator()
        for s in 0..<10 {
            series.append(SeriesID(UInt32(s * 1000)))
            timestamps.append((0..<10_000).map { 1_700_000_000_000 + Int64($0) * 15_000 })
            values.append((0..<10_000).map { _ in Double(bitPattern: generator.next()) })
        }
        let record = WALRecord(series: series, timestamps: timestamps, values: values)
        #expect(record.sampleCount == 100_000)
        let bytes = record.encoded()
        #expect(bytes.count == 9 + 10 * 8 + 100_000 * 16)
        let decoded = try withBytes(bytes) { try WALRecord(decoding: $0) }
        #expect(decoded == record)
    }

    @Test func everySingleByteCorruptionIsDetected() throws {
        let record = WALRecord(
            series: [SeriesID(1), SeriesID(2)], timestamps: [[10, 20], [30]], values: [[1.5, .nan], [-0.0]])
        let good = record.encoded()
        for position in good.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var bad = good
                bad[position] ^= mask
                do {
                    _ = try withBytes(bad) { try WALRecord(decoding: $0) }
                    Issue.record("corruption at byte \(position) (mask \(mask)) was not detected")
                } catch let error as StorageError {
                    #expect(error.kind == .corrupt)
                } catch {
                    Issue.record("unexpected error \(error)")
                }
            }
        }
    }

    @Test func flippedPayloadByteIsAChecksumError() throws {
        let record = WALRecord(series: [SeriesID(1)], timestamps: [[10]], values: [[1.5]])
        var bytes = record.encoded()
        bytes[10] ^= 0x40
        #expect {
            try withBytes(bytes) { try WALRecord(decoding: $0) }
        } throws: { error in
            guard let error = error as? StorageError else { return false }
            return error.kind == .corrupt && error.message.contains("checksum")
        }
    }

    @Test func truncationAtEveryPositionThrows() throws {
        let record = WALRecord(
            series: [SeriesID(1), SeriesID(9)], timestamps: [[10, 20, 30], []], values: [[1, 2, 3], []])
        let good = record.encoded()
        for length in 0..<good.count {
            let prefix = Array(good[..<length])
            #expect(throws: StorageError.self, "prefix of \(length) bytes") {
                try withBytes(prefix) { try WALRecord(decoding: $0) }
            }
        }
        // The same bytes with a valid checksum over the truncated body: the length checks,
        // not the checksum, must catch these.
        for length in 5..<(good.count - 4) {
            let forged = resealed(Array(good[..<length]) + [0, 0, 0, 0])
            #expect(throws: StorageError.self, "resealed prefix of \(length) bytes") {
                try withBytes(forged) { try WALRecord(decoding: $0) }
            }
        }
    }

    @Test func liesBehindAValidChecksumAreRejected() throws {
        // A huge series count must fail fast, not allocate.
        let hugeCount = resealed([0xA1] + u32le(UInt32.max) + [0, 0, 0, 0])
        #expect(throws: StorageError.self) { try withBytes(hugeCount) { try WALRecord(decoding: $0) } }
        // A huge sample count in a series.
        let hugeSamples = resealed([0xA1] + u32le(1) + u32le(5) + u32le(UInt32.max) + [0, 0, 0, 0])
        #expect(throws: StorageError.self) { try withBytes(hugeSamples) { try WALRecord(decoding: $0) } }
        // Trailing bytes after the last series.
        let good = WALRecord(series: [SeriesID(1)], timestamps: [[1]], values: [[1]]).encoded()
        let trailing = resealed(Array(good.dropLast(4)) + [0xEE] + [0, 0, 0, 0])
        #expect {
            try withBytes(trailing) { try WALRecord(decoding: $0) }
        } throws: { ($0 as? StorageError)?.message.contains("trailing") == true }
        // Unknown format byte.
        var wrongFormat = good
        wrongFormat[0] = 0xA2
        #expect(throws: StorageError.self) { try withBytes(resealed(wrongFormat)) { try WALRecord(decoding: $0) } }
    }

    @Test func crc32MatchesTheStandardAndABitwiseReference() {
        let check = Array("123456789".utf8)
        #expect(check.withUnsafeBytes { CRC32.checksum($0) } == 0xCBF4_3926)
        #expect([UInt8]().withUnsafeBytes { CRC32.checksum($0) } == 0)

        func reference(_ bytes: [UInt8]) -> UInt32 {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            return ~crc
        }
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(bytes.withUnsafeBytes { CRC32.checksum($0) } == reference(bytes), "length \(length)")
        }
    }
}
