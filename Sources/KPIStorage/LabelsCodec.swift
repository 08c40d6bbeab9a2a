import KPICore

/// Encodes `Labels` to bytes and back, for the `labels` column of the series table:
///
///     varint pair count, then per pair: varint name length, name UTF-8, varint value length, value UTF-8
///
/// The encoding of a `Labels` is canonical (pairs sorted, names unique, values non-empty), so the
/// column can carry a UNIQUE constraint that means "same series". `decode` therefore rejects
/// anything that is not the canonical encoding of some `Labels`.
public enum LabelsCodec {
    /// The canonical bytes of `labels`.
    public static func encode(_ labels: Labels) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1 + labels.pairs.reduce(0) { $0 + 2 + $1.name.utf8.count + $1.value.utf8.count })
        appendVarint(UInt64(labels.count), to: &out)
        for pair in labels.pairs {
            appendVarint(UInt64(pair.name.utf8.count), to: &out)
            out.append(contentsOf: pair.name.utf8)
            appendVarint(UInt64(pair.value.utf8.count), to: &out)
            out.append(contentsOf: pair.value.utf8)
        }
        return out
    }

    /// Decodes bytes written by `encode`. Throws `StorageError.Kind.corrupt` on truncation,
    /// trailing bytes, invalid UTF-8, empty values, or pairs out of canonical order.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(StorageError) -> Labels {
        var reader = ByteReader(bytes)
        let count = try reader.varint()
        // A pair takes at least 3 bytes (two lengths, one value byte): bounds the allocation.
        guard count <= UInt64(reader.remaining / 3) else {
            throw StorageError(.corrupt, "labels claim \(count) pairs in \(reader.remaining) bytes")
        }
        var pairs: [Label] = []
        pairs.reserveCapacity(Int(count))
        for index in 0..<Int(count) {
            let name = try string(&reader, "label \(index) name")
            let value = try string(&reader, "label \(index) value")
            guard !value.isEmpty else { throw StorageError(.corrupt, "label \(name) has an empty value") }
            pairs.append(Label(name: name, value: value))
        }
        guard reader.remaining == 0 else {
            throw StorageError(.corrupt, "labels have \(reader.remaining) unexpected trailing bytes")
        }
        let labels = Labels(pairs)
        guard labels.pairs == pairs else {
            throw StorageError(.corrupt, "labels are not in canonical order (sorted, unique names)")
        }
        return labels
    }

    private static func string(_ reader: inout ByteReader, _ what: String) throws(StorageError) -> String {
        let length = try reader.varint()
        guard length <= UInt64(reader.remaining) else {
            throw StorageError(.corrupt, "truncated: \(what) of \(length) bytes, \(reader.remaining) left")
        }
        let bytes = try reader.take(Int(length), what)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StorageError(.corrupt, "\(what) is not valid UTF-8")
        }
        return text
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
