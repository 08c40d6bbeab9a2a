import KPICore

/// Minimal JSON output into a byte buffer, for API responses (no Foundation on these paths).
struct JSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    mutating func string(_ s: String) { JSONString.append(s, to: &bytes) }

    mutating func int(_ v: Int) { raw(String(v)) }

    /// `{"k":"v",...}` from ordered pairs.
    mutating func object(_ pairs: [(String, String)]) {
        bytes.append(UInt8(ascii: "{"))
        for (i, (k, v)) in pairs.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            string(k)
            bytes.append(UInt8(ascii: ":"))
            string(v)
        }
        bytes.append(UInt8(ascii: "}"))
    }
}
