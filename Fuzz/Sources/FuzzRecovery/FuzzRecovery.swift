import Foundation
import FuzzSupport
import KPICore
import KPIStorage
import KPIWire
import Logging

// The poison-pill path: whatever an ingest body decodes into is written through kpid's real
// persistence (GroupCommitWriter into a fresh SQLite file), recovered as a crash would leave it
// and as a clean stop leaves it, checked (`kpid check`) and queried. A stored sample must never
// crash a restart or a query, and both recoveries must give back exactly what the writer's store
// held. Inputs flagged "legacy" are stored as a kpid from before the time contract stored them
// (Int64's extremes included), and recovery must isolate those rows.

/// Quiet: the target checks behaviour, not log lines.
let logger = Logger(label: "kpid.fuzz.recovery") { _ in SwiftLogNoOpLogHandler() }

/// The input's first byte chooses the format by its low 7 bits modulo 3 (`0` ndjson, `1` CSV,
/// `2` Prometheus text) and, with its high bit set, a file written by an older kpid (see
/// `writtenByOlderKpid`); the rest is the body.
let formats: [IngestFormat] = [.ndjson, .csv, .prometheusText]

/// kpid's smallest chunk size (setting `chunk-size`) and a 1-minute out-of-order window, so a
/// few samples seal chunks (with rollups) and the second half of a body may merge into them.
let configuration = StoreConfiguration(outOfOrderWindowMs: 60_000, chunkSize: 16)

/// Temporary directories go to memory when possible (no disk traffic on a shared machine).
let scratchRoot: String = {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDirectory), isDirectory.boolValue,
        FileManager.default.isWritableFile(atPath: "/dev/shm")
    {
        return "/dev/shm"
    }
    return NSTemporaryDirectory()
}()

/// Numbers the temporary directories (one per decoded input).
nonisolated(unsafe) var iteration = 0

/// `FUZZ_VERBOSE=1` prints what each input did (for checking seeds).
let verbose = QueryRuns.verbose

/// Decodes; writes through the writer or, for a "legacy" input, straight into write-ahead rows;
/// recovers; compares; runs `kpid check`; queries. The temporary directory is removed every
/// iteration.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 1 else { return 0 }
    let format = formats[Int(data[0] & 0x7F) % formats.count]
    let legacy = data[0] & 0x80 != 0
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let options = DecodeOptions(validator: LabelValidator(), now: 1_794_787_200_000, openMetrics: false)
    let batch: SampleBatch
    do {
        batch = try IngestDecoder.decode(body, format: format, options: options)
    } catch {
        if verbose { print("\(format): refused: \(error)") }
        return 0
    }
    if batch.isEmpty { return 0 }

    iteration += 1
    let dir = scratchRoot + "/kpid-fuzz-recovery-\(getpid())-\(iteration)"
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let path = dir + "/kpid.sqlite"

    let store = legacy ? writtenByOlderKpid(batch, format: format, path: path) : written(batch, format: format, path: path)
    runQueries(on: store)
    return 0
}

/// Through the writer, as kpid stores a request: the first half of every series' samples (in
/// body order), a checkpoint, then the rest; recovered as a crash leaves the file (chunks and
/// heads, then write-ahead rows replayed) and as a clean stop leaves it. Both must give back
/// exactly what the writer's store holds, and `kpid check` must find nothing.
func written(_ batch: SampleBatch, format: IngestFormat, path: String) -> ColumnarStore {
    var first = SampleBatch()
    var second = SampleBatch()
    for k in batch.series.indices {
        let n = batch.timestamps[k].count
        let half = n / 2
        if half > 0 {
            first.append(
                batch.series[k], timestamps: Array(batch.timestamps[k][..<half]), values: Array(batch.values[k][..<half]))
        }
        second.append(batch.series[k], timestamps: Array(batch.timestamps[k][half...]), values: Array(batch.values[k][half...]))
    }

    let live = ColumnarStore(configuration: configuration)
    let database = try! KPIDatabase(path: path, durability: .process, logger: logger)
    _ = try! StoreRecovery.load(database, into: live, logger: logger)
    let writer = try! GroupCommitWriter(
        store: live, database: database, limits: WriteLimits(), logger: logger, checkpointInterval: 3_600,
        checkpointEveryRecords: 1_000_000)
    writer.start()
    let firstResult = writer.submit(first)
    // A checkpoint: the first half goes to the chunk and head tables; the second half stays in
    // write-ahead rows.
    if case .failure(let error) = writer.exclusive({ _ in 0 }) { fatalError("checkpoint failed: \(error)") }
    let secondResult = writer.submit(second)
    if verbose {
        print(
            "\(format): \(batch.series.count) series, \(batch.sampleCount) samples; first half: \(firstResult), "
                + "second half: \(secondResult); store: \(live.stats)")
    }

    // Crash-like: another connection recovers while the writer is idle.
    let (crashed, corruptAfterCrash) = recover(path)
    if corruptAfterCrash > 0 { fatalError("recovery after a crash left out \(corruptAfterCrash) rows kpid wrote") }
    if let problem = difference(live, crashed) { fatalError("recovery after a crash differs: \(problem)") }
    // Clean stop (final checkpoint), then a restart.
    writer.shutdown()
    let (restarted, corrupt) = recover(path)
    if corrupt > 0 { fatalError("recovery after a clean stop left out \(corrupt) rows kpid wrote") }
    if let problem = difference(live, restarted) { fatalError("recovery after a clean stop differs: \(problem)") }
    let report = try! KPIDatabase.check(path: path)
    if !report.isClean { fatalError("kpid check finds problems in a file kpid wrote: \(report.findings)") }
    return restarted
}

/// An older kpid (before the time contract) stored what it was sent: the batch goes straight
/// into write-ahead rows, one per series, with the contract's edges moved to Int64's
/// (`SampleTime.minimum` and `+ 1` to `Int64.min` and `+ 1`, `SampleTime.maximum` and `- 1` to
/// `Int64.max` and `- 1`). Recovery must leave out exactly the rows holding such a timestamp
/// (`kpid check` reports exactly those) and serve the others, never trap.
func writtenByOlderKpid(_ batch: SampleBatch, format: IngestFormat, path: String) -> ColumnarStore {
    func widened(_ t: Int64) -> Int64 {
        switch t {
        case SampleTime.minimum: return .min
        case SampleTime.minimum + 1: return .min + 1
        case SampleTime.maximum: return .max
        case SampleTime.maximum - 1: return .max - 1
        default: return t
        }
    }
    let expected = ColumnarStore(configuration: configuration)
    var newSeries: [(SeriesID, Labels)] = []
    var records: [WALRecord] = []
    var outside = 0
    for k in batch.series.indices {
        let id = SeriesID(UInt32(k))
        let ts = batch.timestamps[k].map(widened)
        newSeries.append((id, batch.series[k]))
        records.append(WALRecord(series: [id], timestamps: [ts], values: [batch.values[k]]))
        expected.addSeries(batch.series[k], id: id)
        if ts.allSatisfy(SampleTime.contains) {
            expected.apply(newSeries: [], series: [id], timestamps: [ts], values: [batch.values[k]])
        } else {
            outside += 1
        }
    }
    let database = try! KPIDatabase(path: path, durability: .process, logger: logger)
    _ = try! database.commit(newSeries: newSeries, records: records)
    database.close()
    if verbose { print("\(format), legacy: \(records.count) rows, \(outside) outside the contract") }

    let report = try! KPIDatabase.check(path: path)
    if report.findings.count != outside || report.findings.contains(where: { $0.table != "wal" }) {
        fatalError("kpid check reports \(report.findings), expected \(outside) write-ahead rows outside the contract")
    }
    let (store, corrupt) = recover(path)
    if corrupt != outside { fatalError("recovery left out \(corrupt) rows, expected \(outside)") }
    if let problem = difference(expected, store) { fatalError("recovery of an older kpid's file differs: \(problem)") }
    return store
}

/// A store recovered from the file at `path`, and how many rows recovery left out as corrupt.
func recover(_ path: String) -> (ColumnarStore, Int) {
    let store = ColumnarStore(configuration: configuration)
    let database = try! KPIDatabase(path: path, durability: .process, logger: logger)
    defer { database.close() }
    let summary = try! StoreRecovery.load(database, into: store, logger: logger)
    return (store, summary.corrupt.count)
}

/// The first difference between two stores (series, labels, timestamps, value bits), or nil.
func difference(_ a: ColumnarStore, _ b: ColumnarStore) -> String? {
    guard a.seriesCount == b.seriesCount else { return "\(a.seriesCount) series against \(b.seriesCount)" }
    let count = max(a.nextSeriesID.rawValue, b.nextSeriesID.rawValue)
    for raw in 0..<count {
        let id = SeriesID(raw)
        guard a.labels(of: id) == b.labels(of: id) else {
            return "series \(raw): \(String(describing: a.labels(of: id))) against \(String(describing: b.labels(of: id)))"
        }
        let x = a.read(id)
        let y = b.read(id)
        guard x.timestamps == y.timestamps else { return "series \(raw): timestamps \(x.timestamps) against \(y.timestamps)" }
        guard x.values.map(\.bitPattern) == y.values.map(\.bitPattern) else {
            return "series \(raw): values \(x.values) against \(y.values)"
        }
    }
    return nil
}

/// Fixed SQL and PromQL queries over the recovered store's first metric (by name), at the
/// first and last stored instants and over the range between them in 100 steps.
func runQueries(on store: ColumnarStore) {
    var lo = Int64.max
    var hi = Int64.min
    for raw in 0..<store.nextSeriesID.rawValue {
        let ts = store.read(SeriesID(raw)).timestamps
        if let f = ts.first { lo = min(lo, f) }
        if let l = ts.last { hi = max(hi, l) }
    }
    guard lo <= hi else { return }
    let label = store.labelNames.first { $0 != Labels.metricNameLabel }
    let sqlOptions = [
        QueryRuns.sqlOptions(now: hi, site: "JFK", from: lo, to: hi, zone: "UTC"),
        QueryRuns.sqlOptions(now: lo, site: "JFK", from: SampleTime.minimum, to: SampleTime.maximum, zone: "Asia/Kathmandu"),
    ]
    let instants = [lo, hi]
    let ranges: [(start: Int64, end: Int64, step: Int64)] = [(lo, hi, max(1, (hi - lo) / 100))]
    // Each query stops at its own limit; past 3 s in all no new one starts, so libFuzzer's
    // -timeout (10 s) only fires on a query that ignores its deadline.
    let budget = ContinuousClock.now + .seconds(3)
    for metric in store.labelValues(Labels.metricNameLabel).prefix(1) {
        for text in sqlQueries(metric: metric, label: label) where ContinuousClock.now < budget {
            QueryRuns.sql(text, on: store, optionSets: sqlOptions)
        }
        for text in promQLQueries(metric: metric, label: label) where ContinuousClock.now < budget {
            QueryRuns.promQL(text, on: store, instants: instants, ranges: ranges, seconds: 1)
        }
    }
}

/// SQL that once trapped on extreme stored data: calendar truncation, counters, states,
/// intervals, FILL, huge buckets, casts and time arithmetic.
func sqlQueries(metric: String, label: String?) -> [String] {
    let m = "\"\(metric)\""
    let l = label.map { "\"\($0)\"" } ?? "'none'"
    let contract = "TIMESTAMP '0001-01-01T00:00:00Z', TIMESTAMP '9999-12-31T23:59:59.999Z'"
    return [
        "SELECT date_trunc('month', ts) AS b, count(*) AS n, sum(value), avg(value), min(value), max(value), first(value), "
            + "last(value), approx_quantile(0.9, value) FROM \(m) GROUP BY b ORDER BY b",
        "SELECT date_trunc('year', ts, :tz) AS b, date_part('doy', date_trunc('quarter', ts)) AS d, increase(value) AS inc, "
            + "rate(value) AS r, stddev(value), quantile(0.5, value) FROM \(m) GROUP BY b, d ORDER BY b",
        "SELECT \(l) AS k, time_in_state(value = 1) AS up, time_in_state(value, value > 0) AS pos, count_if(value = 0) AS zeros, "
            + "sum_if(value, value < 0) AS neg FROM \(m) GROUP BY k",
        "SELECT \(l) AS k, count(*) AS runs, sum(duration) AS total, max(duration) AS longest, min(start) AS s, "
            + "avg(duration) AS mean FROM intervals(\(m), value > 0, \(contract)) GROUP BY k",
        "SELECT count(*) AS runs, max(duration) FROM intervals(\(m), value = 0)",
        "SELECT time_bucket('1d', ts) AS d, avg(value) AS a, last(value) AS l FROM \(m) "
            + "WHERE ts >= now() - INTERVAL '30 d' AND ts <= now() + INTERVAL '30 d' GROUP BY d FILL(previous) ORDER BY d",
        "SELECT time_bucket('1000 d', ts) AS d, max(value) AS a FROM \(m) WHERE ts >= :from AND ts <= :to GROUP BY d "
            + "FILL(linear) ORDER BY d",
        "SELECT time_bucket('1h', ts) AS h, count(*), sum(value), min(value), max(value), first(value), last(value) "
            + "FROM \(m) WHERE ts BETWEEN :from AND :to GROUP BY h FILL(0) ORDER BY h LIMIT 100",
        "SELECT time_bucket('106751991166 d', ts, TIMESTAMP '9999-12-31T23:59:59.999Z') AS b, count(*), sum(value) "
            + "FROM \(m) GROUP BY b",
        "SELECT ts, value, ts - INTERVAL '106751991166 d' AS back, ts + INTERVAL '1 d' AS ahead, epoch_ms(ts), "
            + "to_timestamp(value), CAST(value AS integer), CAST(ts AS integer), round(value, 2), ts - TIMESTAMP "
            + "'0001-01-01T00:00:00Z' AS age FROM \(m) ORDER BY ts DESC, value LIMIT 50",
        "SELECT date_part('epoch', ts) AS e, date_part('isodow', ts, 'America/St_Johns') AS w, value * 9223372036854775807 "
            + "AS big, value / 0, -value FROM \(m) WHERE value > 1e300 OR value < -1e300 OR value != value",
    ]
}

/// PromQL range functions over windows up to 292 years, count_values, time functions,
/// histogram_quantile and subqueries, on the metric's series.
func promQLQueries(metric: String, label: String?) -> [String] {
    let s = "{__name__=\"\(metric)\"}"
    let l = label ?? "instance"
    return [
        s, "rate(\(s)[5m])", "increase(\(s)[1y])", "sum by (\(l)) (rate(\(s)[292y]))", "irate(\(s)[292y])",
        "delta(\(s)[1w])", "deriv(\(s)[10m])", "resets(\(s)[292y])", "changes(\(s)[292y])",
        "count_values(\"v\", \(s))", "count_values by (\(l)) (\"v\", \(s))",
        "timestamp(\(s))", "year(\(s))", "day_of_month(timestamp(\(s)))", "days_in_month(timestamp(\(s)))",
        "max_over_time(\(s)[1w])", "quantile_over_time(0.9, \(s)[1d])", "stddev_over_time(\(s)[1h])",
        "holt_winters(\(s)[1h], 0.5, 0.5)", "predict_linear(\(s)[1h], 3600)", "histogram_quantile(0.9, \(s))",
        "\(s) @ end() offset 1y", "\(s) offset -292y", "topk(2, \(s))", "sort_desc(\(s))", "sum(\(s)) / count(\(s))",
        "\(s) > bool 0", "absent_over_time(\(s)[5m])", "max_over_time(\(s)[1h:1m])", "rate(\(s)[5m:1m] @ start())",
        "label_replace(\(s), \"x\", \"$1\", \"\(l)\", \"(.*)\")", "quantile(0.5, \(s))", "stdvar by (\(l)) (\(s))",
    ]
}
