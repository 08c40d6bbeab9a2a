import KPICore

/// Groups of an aggregated query: key values, and one state per aggregate per group, in flat
/// arrays. Consecutive rows of one group (samples of one series in one bucket) reuse the last
/// lookup, so the hash table is consulted once per group change, not per sample.
struct GroupTable {
    private let keys: [Evaluator]
    private let specs: [AggregateSpec]
    private var index: [[Value]: Int] = [:]
    private var groupKeys: [[Value]] = []
    private var states: [AggregateState] = []
    private var buffer: [Value]
    private var lastGroup = -1
    /// Columnar path: series-level key values interned to small ids, and groups found by
    /// (that id, bucket start) without hashing the full key.
    private var prefixes: [[Value]: Int32] = [:]
    private var byPrefixAndBucket: [PrefixBucket: Int] = [:]

    struct PrefixBucket: Hashable {
        var prefix: Int32
        var bucket: Int64
    }
    private let keptPerRow: Int

    init(layout: GroupLayout, keys: [Compiled]) {
        self.keys = keys.map(\.eval)
        self.specs = layout.aggregates
        self.buffer = [Value](repeating: .null, count: keys.count)
        self.keptPerRow = layout.aggregates.filter { $0.function == .quantile }.count
    }

    var count: Int { groupKeys.count }

    mutating func add(_ row: Row, execution: Execution) throws(QueryError) {
        for k in keys.indices { buffer[k] = keys[k](row) }
        let g: Int
        if lastGroup >= 0 && groupKeys[lastGroup] == buffer {
            g = lastGroup
        } else if let found = index[buffer] {
            g = found
        } else {
            g = groupKeys.count
            groupKeys.append(buffer)
            index[buffer] = g
            states.append(contentsOf: repeatElement(AggregateState(), count: specs.count))
            try execution.chargeGroupMemory(96 + keys.count * 40 + specs.count * MemoryLayout<AggregateState>.stride)
        }
        lastGroup = g
        let base = g * specs.count
        if row.isHeldState {
            for j in specs.indices where specs[j].function == .timeInState { specs[j].accumulate(&states[base + j], row) }
            return
        }
        for j in specs.indices { specs[j].accumulate(&states[base + j], row) }
        if keptPerRow > 0 { try execution.chargeGroupMemory(8 * keptPerRow) }
    }

    /// The group with these key values, created when new (columnar path).
    mutating func group(for key: [Value], execution: Execution) throws(QueryError) -> Int {
        if lastGroup >= 0 && groupKeys[lastGroup] == key { return lastGroup }
        if let found = index[key] {
            lastGroup = found
            return found
        }
        let g = groupKeys.count
        groupKeys.append(key)
        index[key] = g
        states.append(contentsOf: repeatElement(AggregateState(), count: specs.count))
        try execution.chargeGroupMemory(96 + keys.count * 40 + specs.count * MemoryLayout<AggregateState>.stride)
        lastGroup = g
        return g
    }

    /// The id of one series' key values (the GROUP BY keys that depend on labels only).
    mutating func prefix(for seriesKey: [Value]) -> Int32 {
        if let id = prefixes[seriesKey] { return id }
        let id = Int32(prefixes.count)
        prefixes[seriesKey] = id
        return id
    }

    /// The group of a series-key id and a bucket start; `key` (the full key, bucket included)
    /// creates it when new.
    mutating func group(prefix: Int32, bucket: Int64, key: [Value], execution: Execution) throws(QueryError) -> Int {
        let fast = PrefixBucket(prefix: prefix, bucket: bucket)
        if let g = byPrefixAndBucket[fast] { return g }
        let g = try group(for: key, execution: execution)
        byPrefixAndBucket[fast] = g
        return g
    }

    /// Whether an aggregate holds each sample's state until the next (`time_in_state`).
    var holdsStates: Bool { specs.contains { $0.function == .timeInState } }

    /// Folds samples `lo..<hi` of one series into group `g` (columnar path).
    mutating func addRun(
        _ g: Int, ts: UnsafeBufferPointer<Int64>, vs: UnsafeBufferPointer<Double>, _ lo: Int, _ hi: Int, series: Int, next: Int64?,
        hold: StateHold = .none, execution: Execution
    ) throws(QueryError) {
        let base = g * specs.count
        for j in specs.indices {
            specs[j].accumulateRun(&states[base + j], ts: ts, vs: vs, lo, hi, series: series, next: next, hold: hold)
        }
        if keptPerRow > 0 { try execution.chargeGroupMemory(8 * keptPerRow * (hi - lo)) }
    }

    /// Adds a state held into group `g` from before its span (the sample before a range or a
    /// bucket, whose state `value` lasted `duration` ms inside it): only `time_in_state` reads it.
    mutating func addHeldState(_ g: Int, value: Double, duration: Int64) {
        let base = g * specs.count
        for j in specs.indices where specs[j].function == .timeInState {
            specs[j].accumulateHeld(&states[base + j], value: value, duration: duration)
        }
    }

    /// Folds one rollup bucket of one series into group `g` (columnar path over rollups).
    @inline(__always)
    mutating func addBucket(_ g: Int, _ b: RollupBucket, rollup: ChunkRollup) {
        let base = g * specs.count
        for j in specs.indices { specs[j].accumulateBucket(&states[base + j], b, rollup: rollup) }
    }

    /// Folds another table's groups into this one (parallel scans): its groups in their order,
    /// new ones appended.
    mutating func merge(_ other: GroupTable, execution: Execution) throws(QueryError) {
        for g in 0..<other.groupKeys.count {
            let target = try group(for: other.groupKeys[g], execution: execution)
            let base = target * specs.count
            let otherBase = g * specs.count
            for j in specs.indices { specs[j].merge(&states[base + j], other.states[otherBase + j]) }
        }
    }

    /// The group of a query without GROUP BY over no rows: count(*) is 0, the rest NULL.
    mutating func addEmptyGroup() {
        groupKeys.append([])
        states.append(contentsOf: repeatElement(AggregateState(), count: specs.count))
    }

    /// Writes group `g`'s keys and aggregate results into `row` (keys first).
    mutating func load(_ g: Int, into row: Row) {
        let keyCount = groupKeys[g].count
        for k in 0..<keyCount { row.slots[k] = groupKeys[g][k] }
        let base = g * specs.count
        for j in specs.indices { row.slots[keyCount + j] = specs[j].result(&states[base + j]) }
    }
}
