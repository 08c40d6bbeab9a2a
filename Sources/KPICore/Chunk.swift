/// A sealed run of one series' samples: sorted by timestamp, no duplicate timestamps, never
/// changed in place (out-of-order merges build a new chunk).
///
/// The foundation keeps chunks as plain columns; the compressed encodings of the performance
/// work replace the storage behind the same accessors.
public struct Chunk: Sendable, Equatable {
    public private(set) var timestamps: [Int64]
    public private(set) var values: [Double]

    /// `timestamps` must be strictly increasing and as long as `values`.
    public init(timestamps: [Int64], values: [Double]) {
        precondition(timestamps.count == values.count, "chunk columns differ in length")
        self.timestamps = timestamps
        self.values = values
    }

    public var count: Int { timestamps.count }
    public var isEmpty: Bool { timestamps.isEmpty }
    public var minTime: Int64 { timestamps.first ?? .max }
    public var maxTime: Int64 { timestamps.last ?? .min }

    /// True when the timestamps are strictly increasing (the chunk invariant). Used to check
    /// chunks read back from disk.
    public var isWellFormed: Bool {
        guard timestamps.count == values.count else { return false }
        var previous = Int64.min
        for t in timestamps {
            if t <= previous { return false }
            previous = t
        }
        return true
    }

    /// Bytes held by the columns.
    public var memoryBytes: Int { timestamps.count * 16 }
}
