extension String {
    /// Runs `body` over the string's UTF-8 without copying when its storage is contiguous
    /// (native and small strings); a bridged string is copied once. The one way kpid's byte
    /// writers (CSV cells, JSON strings of the export) read a string.
    @inlinable
    public func withContiguousUTF8<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let result = try utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = self
        copy.makeContiguousUTF8()
        return try copy.utf8.withContiguousStorageIfAvailable(body)!
    }
}
