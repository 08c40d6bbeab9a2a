/// Minimal JSON output into a byte buffer (no Foundation on these paths): kpid's one JSON
/// writer, for API responses and the bodies kpid sends (Alertmanager, webhooks). Strings go
/// through ``JSONString``, the one escaper.
public struct JSONWriter: Sendable {
    public var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// Appends `s` as it is (punctuation, numbers, literals already encoded).
    public mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    /// Appends `s` as a JSON string literal.
    public mutating func string(_ s: String) { JSONString.append(s, to: &bytes) }

    public mutating func int(_ v: Int) { raw(String(v)) }

    /// `{"k":"v",...}` from ordered pairs.
    public mutating func object(_ pairs: [(String, String)]) {
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
