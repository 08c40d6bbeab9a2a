/// The time contract of every sample kpid stores: a timestamp is Unix milliseconds from
/// 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z, the years RFC 3339 can write. Every ingest
/// format refuses a sample outside it (400 naming the line and field), recovery leaves a stored
/// one out (counted, reported by `kpid check`), and within it the store's, the rollups' and the
/// engines' time arithmetic cannot overflow (the range spans about 2^58 ms, Int64 2^63).
public enum SampleTime {
    /// 0001-01-01T00:00:00Z.
    public static let minimum: Int64 = -62_135_596_800_000
    /// 9999-12-31T23:59:59.999Z.
    public static let maximum: Int64 = 253_402_300_799_999

    /// Whether `ms` is inside the contract.
    @inlinable public static func contains(_ ms: Int64) -> Bool { ms >= minimum && ms <= maximum }

    /// Why `ms` is refused, or nil when it is inside the contract.
    public static func problem(_ ms: Int64) -> String? {
        contains(ms)
            ? nil
            : "timestamp \(ms) ms is outside 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z "
                + "(\(minimum) .. \(maximum) ms)"
    }
}
