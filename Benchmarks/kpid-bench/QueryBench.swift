import ArgumentParser
import Dispatch
import Foundation
import KPICore
import KPIQuery
import KPIService
import KPIRuntime
import KPIStorage
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Query latency on a generated data set: kpid's engine beside the same data in a plain SQLite
/// table (`(series_id, ts, value)` with an index, as a developer would store it without kpid),
/// in an in-memory DuckDB database (loaded from CSV by `Benchmarks/peers/duckdb_bench.py`) and
/// in Debian's Prometheus (backfilled from OpenMetrics text by promtool, PromQL over HTTP); then
/// the weekly review of one fixture site over kpid's HTTP API (no peer has an equivalent).
struct QueryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Latency of representative queries, kpid vs SQLite vs DuckDB vs Prometheus on generated data; the weekly review.")

    @Option(help: "Samples in total (split over the series, one per minute, ending now).") var samples = 10_000_000
    @Option(help: "Queue series (10 sites x zones); 10 % as many device_up series are added.") var series = 1_000
    @Option(help: "Runs per query (median and p99 are printed).") var runs = 5
    @Option(help: "Runs per query on SQLite (slower).") var sqliteRuns = 2
    @Option(help: "Runs per query on DuckDB.") var duckdbRuns = 5
    @Option(help: "Runs per query on Prometheus.") var prometheusRuns = 5
    @Option(help: "Untimed runs per query and system before the timed ones (warm caches).") var warmup = 1
    @Option(help: "Comma-separated peers: sqlite, duckdb, prometheus (or none).") var peers = "sqlite,duckdb,prometheus"
    @Option(help: "The Prometheus binary.") var prometheus = "/usr/bin/prometheus"
    @Option(help: "The promtool binary (backfills the Prometheus blocks).") var promtool = "/usr/bin/promtool"
    @Flag(name: .customLong("no-review"), help: "Skip the weekly review rows (kpid loaded with the fixtures over HTTP).")
    var noReview = false
    @Option(help: "Site of the weekly review rows.") var reviewSite = "JFK"
    @Option(help: "ISO week of the weekly review rows.") var reviewWeek = "2026-W47"
    @Option(help: "Runs per weekly review format.") var reviewRuns = 20
    @Flag(name: [.customLong("no-sqlite"), .customLong("no-sq-lite")], help: "Skip SQLite.") var noSQLite = false
    @Flag(name: .customLong("no-duckdb"), help: "Skip DuckDB.") var noDuckDB = false
    @Flag(
        inversion: .prefixedNo,
        help: "Compare the engines' row counts (and the sums of the last column) per query; exit 1 if they differ (on by default).")
    var check = true
    @Option(help: "Python 3 interpreter with the duckdb module.") var python = "python3"
    @Option(help: "Path of duckdb_bench.py (default: Benchmarks/peers/ beside this source tree).") var duckdbScript: String?

    func validate() throws {
        guard samples >= series + series / 10, series >= 10, runs >= 1, sqliteRuns >= 1, duckdbRuns >= 1, prometheusRuns >= 1,
            reviewRuns >= 1, warmup >= 0
        else {
            throw ValidationError("--series at least 10, --samples at least 1.1 x --series, runs at least 1, --warmup not negative")
        }
        for peer in peerList where !["sqlite", "duckdb", "prometheus"].contains(peer) {
            throw ValidationError("unknown peer \"\(peer)\" in --peers (sqlite, duckdb, prometheus, none)")
        }
    }

    /// `--peers` without those `--no-sqlite` and `--no-duckdb` leave out.
    var peerList: [String] {
        peers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && $0 != "none" && !($0 == "sqlite" && noSQLite) && !($0 == "duckdb" && noDuckDB) }
    }

    /// One benchmark case: the same question in kpid's SQL, SQLite's and DuckDB's.
    struct Case {
        var name: String
        var kpid: String
        var sqlite: String
        var duckdb: String
        /// False where the SQLite SQL only approximates kpid's values (row counts still agree).
        var sqliteExact = true
        /// The idiomatic PromQL, or why there is none.
        var prometheus: PromCase
        /// Why SQLite has no equivalent (the case is "n/a").
        var sqliteUnavailable: String? = nil
        /// An approximate quantile per (day, zone): kpid's values are checked group by group
        /// against the exact quantile of the generated samples, DuckDB's (another algorithm)
        /// by their sum, both within `approxTolerance` relative.
        var approximate = false
    }

    /// DDSketch's stated relative error for kpid's approx_quantile.
    static let approxTolerance = 0.01

    /// The PromQL side of a case: its requests are timed together; the last one's points (the
    /// elements of a vector, the points of every series of a matrix) are compared with kpid's
    /// rows, and their values' sum with the sum of kpid's last column.
    struct PromCase {
        struct Request {
            var query: String
            /// The evaluation time of an instant query (`step` nil), else the range's first step.
            var start: Int64
            var end: Int64
            var step: Int64?
        }
        var requests: [Request]
        /// When set, kpid rows whose first column (a bucket) is before it, and Prometheus
        /// points before it + `shift` (the evaluation time of the bucket), are left out of the
        /// check: the bucket the query's lower time bound cuts, which a PromQL window cannot cut.
        var compareFrom: Int64? = nil
        var shift: Int64 = 0
        /// Why PromQL has no equivalent (the case is "n/a"), when `requests` is empty.
        var unavailable: String? = nil

        static func na(_ reason: String) -> PromCase { PromCase(requests: [], unavailable: reason) }
    }

    func run() throws {
        let perSeries = samples / (series + series / 10)
        let now: Int64 = 1_794_787_200_000 + Int64(perSeries) * 60_000
        let script = duckdbScript ?? Self.defaultScript()
        var duckdbVersion: String? = nil
        var duckdbSkipped = "DuckDB skipped (not in --peers)"
        let usePrometheus = peerList.contains("prometheus")
        if peerList.contains("duckdb") {
            switch Self.probeDuckDB(python: python, script: script) {
            case .success(let version): duckdbVersion = version
            case .failure(let reason):
                duckdbSkipped = "DuckDB skipped: \(reason.message)"
                print(duckdbSkipped)
            }
        }
        print("Generating \(series) queue series + \(series / 10) device series x \(perSeries) samples (1/min) ...")
        let store = ColumnarStore()
        let path = NSTemporaryDirectory() + "kpid-query-bench-\(UUID().uuidString).sqlite"
        let csvDir = NSTemporaryDirectory() + "kpid-query-bench-\(UUID().uuidString)"
        let sqlite = peerList.contains("sqlite") ? try SQLiteConnection(path: path) : nil
        let promDir = NSTemporaryDirectory() + "kpid-query-bench-prometheus-\(UUID().uuidString)"
        var prom: PrometheusQueryPeer? = nil
        defer {
            sqlite?.close()
            prom?.stop()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            try? FileManager.default.removeItem(atPath: csvDir)
            try? FileManager.default.removeItem(atPath: promDir)
        }
        // The same samples as OpenMetrics text for promtool (one family after the other).
        var openMetrics: CSVFile? = nil
        if usePrometheus {
            try FileManager.default.createDirectory(atPath: promDir, withIntermediateDirectories: true)
            openMetrics = try CSVFile(path: promDir + "/samples.om", header: "# TYPE queue_wait_seconds gauge")
        }
        var omWrite = 0.0
        var exactGroups: [GroupKey: [Double]] = [:]
        var seriesCSV: CSVFile? = nil
        var samplesCSV: CSVFile? = nil
        if duckdbVersion != nil {
            try FileManager.default.createDirectory(atPath: csvDir, withIntermediateDirectories: true)
            seriesCSV = try CSVFile(path: csvDir + "/series.csv", header: "id,metric,site,zone,device")
            samplesCSV = try CSVFile(path: csvDir + "/samples.csv", header: "series_id,ts,value")
        }
        try sqlite?.execute("PRAGMA journal_mode = OFF")
        try sqlite?.execute("PRAGMA synchronous = OFF")
        try sqlite?.execute("CREATE TABLE series (id INTEGER PRIMARY KEY, metric TEXT, site TEXT, zone TEXT, device TEXT)")
        try sqlite?.execute("CREATE TABLE samples (series_id INTEGER, ts INTEGER, value REAL)")
        let insertSeries = try sqlite?.prepare("INSERT INTO series VALUES (?, ?, ?, ?, ?)")
        let insertSample = try sqlite?.prepare("INSERT INTO samples VALUES (?, ?, ?)")
        try sqlite?.execute("BEGIN")
        var state: UInt64 = 42
        func random() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        // Load time per engine, in seconds (data generation itself is not counted).
        var kpidLoad = 0.0
        var sqliteLoad = 0.0
        var csvWrite = 0.0
        func seconds(since t: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9 }
        let t0 = now - Int64(perSeries) * 60_000
        for k in 0..<(series + series / 10) {
            let isQueue = k < series
            let site = "S\(k % 10)"
            let labels =
                isQueue
                ? Labels(metric: "queue_wait_seconds", ["site": site, "zone": "Z\(k / 10)"])
                : Labels(metric: "device_up", ["site": site, "device": "D\(k)"])
            var ts = [Int64](repeating: 0, count: perSeries)
            var vs = [Double](repeating: 0, count: perSeries)
            var up = 1.0
            for i in 0..<perSeries {
                ts[i] = t0 + Int64(i) * 60_000
                if isQueue {
                    let hour = Double((i / 60) % 24)
                    vs[i] = ((60 + 240 * max(0, sin((hour - 6) / 24 * 2 * .pi)) + 60 * random()) * 1000).rounded() / 1000
                } else {
                    if random() < (up == 1 ? 0.001 : 0.05) { up = 1 - up }
                    vs[i] = up
                }
            }
            if isQueue {
                // Each (UTC day, zone) group's values, for the exact quantiles (timestamps increase).
                var i = 0
                while i < perSeries {
                    let day = ts[i] / 86_400_000
                    var j = i
                    while j < perSeries && ts[j] / 86_400_000 == day { j += 1 }
                    exactGroups[GroupKey(day: day, zone: k / 10), default: []].append(contentsOf: vs[i..<j])
                    i = j
                }
            }
            let id = SeriesID(UInt32(k))
            var t = DispatchTime.now().uptimeNanoseconds
            store.apply(newSeries: [(id, labels)], series: [id], timestamps: [ts], values: [vs])
            kpidLoad += seconds(since: t)
            if let sqlite, let insertSeries, let insertSample {
                t = DispatchTime.now().uptimeNanoseconds
                insertSeries.reset()
                try insertSeries.bind(Int64(k), at: 1)
                try insertSeries.bind(labels.metricName!, at: 2)
                try insertSeries.bind(site, at: 3)
                if let zone = labels["zone"] { try insertSeries.bind(zone, at: 4) } else { try insertSeries.bindNull(at: 4) }
                if let device = labels["device"] { try insertSeries.bind(device, at: 5) } else { try insertSeries.bindNull(at: 5) }
                _ = try insertSeries.step()
                for i in 0..<perSeries {
                    insertSample.reset()
                    try insertSample.bind(Int64(k), at: 1)
                    try insertSample.bind(ts[i], at: 2)
                    try insertSample.bind(vs[i], at: 3)
                    _ = try insertSample.step()
                }
                _ = sqlite
                sqliteLoad += seconds(since: t)
            }
            if let s = seriesCSV, let c = samplesCSV {
                t = DispatchTime.now().uptimeNanoseconds
                s.row(Int64(k), labels.metricName!, site, labels["zone"] ?? "", labels["device"] ?? "")
                for i in 0..<perSeries { try c.row(Int64(k), ts[i], vs[i]) }
                csvWrite += seconds(since: t)
            }
            if let om = openMetrics {
                t = DispatchTime.now().uptimeNanoseconds
                if k == series { om.text("# TYPE device_up gauge\n") }
                let prefix = PrometheusQueryPeer.seriesPrefix(labels)
                for i in 0..<perSeries { try om.openMetricsSample(prefix, vs[i], ts[i]) }
                omWrite += seconds(since: t)
            }
        }
        if let om = openMetrics {
            om.text("# EOF\n")
            try om.close()
        }
        if let sqlite {
            let t = DispatchTime.now().uptimeNanoseconds
            try sqlite.execute("COMMIT")
            try sqlite.execute("CREATE INDEX samples_by_series_ts ON samples (series_id, ts)")
            try sqlite.execute("ANALYZE")
            sqliteLoad += seconds(since: t)
        }
        if let s = seriesCSV, let c = samplesCSV {
            try s.close()
            try c.close()
        }
        print(
            String(format: "Loaded %d samples: kpid %.1f s", store.stats.sampleCount, kpidLoad)
                + (sqlite != nil ? String(format: ", SQLite %.1f s", sqliteLoad) : "")
                + (duckdbVersion != nil ? String(format: ", CSV for DuckDB written in %.1f s", csvWrite) : "") + ".")

        // The exact p95 of each (day, zone): the sample at rank floor(0.95 (n - 1)), which
        // DDSketch's guarantee is stated against.
        var exactQuantiles: [GroupKey: Double] = [:]
        for (key, values) in exactGroups {
            let sorted = values.sorted()
            exactQuantiles[key] = sorted[Int((0.95 * Double(sorted.count - 1)).rounded(.down))]
        }
        exactGroups = [:]
        let exactQuantileSum = exactQuantiles.values.reduce(0, +)
        let week = "\(now - 7 * 86_400_000)"
        let day = "\(now - 86_400_000)"
        // PromQL's 1 h buckets: each step evaluates a [1h] window ending 1 ms before the next
        // bucket, so it holds the bucket's samples whether the window's start is closed
        // (Prometheus 2) or open (Prometheus 3).
        let hour: Int64 = 3_600_000
        let cutoff = now - 7 * 86_400_000
        let lowest = max(cutoff, t0)
        let firstBucket = lowest - lowest % hour
        let lastSample = now - 60_000
        let lastBucket = lastSample - lastSample % hour
        let hourlyCompareFrom: Int64? = cutoff > t0 && cutoff > firstBucket ? firstBucket + hour : nil
        func hourly(_ query: String) -> PromCase.Request {
            .init(query: query, start: firstBucket + hour - 1, end: lastBucket + hour - 1, step: hour)
        }
        // Uptime: every sample but the last, in a window one millisecond wider than they span.
        let uptimeAt = t0 + Int64(perSeries - 2) * 60_000
        let uptimeRange = Int64(perSeries - 2) * 60_000 + 1
        let cases: [Case] = [
            Case(
                name: "1h buckets avg/max, 7 days, \(series) series",
                kpid:
                    "SELECT time_bucket('1h', ts) AS hour, zone, avg(value) AS a, max(value) AS m FROM queue_wait_seconds WHERE ts >= now() - INTERVAL '7 days' GROUP BY hour, zone",
                sqlite:
                    "SELECT s.ts / 3600000 AS hour, z.zone, avg(s.value), max(s.value) FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'queue_wait_seconds' AND s.ts >= \(week) GROUP BY hour, z.zone",
                duckdb: """
                    SELECT time_bucket(INTERVAL '1 hour', epoch_ms(s.ts)) AS hour, z.zone, avg(s.value) AS a, max(s.value) AS m
                    FROM samples s JOIN series z ON z.id = s.series_id
                    WHERE z.metric = 'queue_wait_seconds' AND s.ts >= \(week) GROUP BY ALL
                    """,
                prometheus: PromCase(
                    requests: [
                        hourly("avg by (zone) (avg_over_time(queue_wait_seconds[1h]))"),
                        hourly("max by (zone) (max_over_time(queue_wait_seconds[1h]))"),
                    ], compareFrom: hourlyCompareFrom, shift: hour - 1)
            ),
            Case(
                name: "p95 per zone per day, all data",
                kpid: "SELECT date_trunc('day', ts) AS day, zone, quantile(0.95, value) AS p95 FROM queue_wait_seconds GROUP BY day, zone",
                sqlite: """
                    WITH r AS (SELECT s.ts / 86400000 AS day, z.zone, s.value,
                                      row_number() OVER (PARTITION BY s.ts / 86400000, z.zone ORDER BY s.value) - 1 AS i,
                                      count(*) OVER (PARTITION BY s.ts / 86400000, z.zone) AS n
                               FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'queue_wait_seconds')
                    SELECT day, zone, max(CASE WHEN i = CAST(0.95 * (n - 1) AS INTEGER) THEN value END) FROM r GROUP BY day, zone
                    """,
                duckdb: """
                    SELECT date_trunc('day', epoch_ms(s.ts)) AS day, z.zone, quantile_cont(s.value, 0.95) AS p95
                    FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'queue_wait_seconds' GROUP BY ALL
                    """,
                // Nearest rank below, not kpid's (and DuckDB's) interpolation.
                sqliteExact: false,
                prometheus: .na(
                    "an exact quantile of all the samples of a zone-day: quantile_over_time is per series, and a quantile of the series' quantiles is another figure"
                )
            ),
            Case(
                name: "p95 per zone per day, all data, approx_quantile",
                kpid:
                    "SELECT date_trunc('day', ts) AS day, zone, approx_quantile(value, 0.95) AS p95 FROM queue_wait_seconds GROUP BY day, zone",
                sqlite: "",
                duckdb: """
                    SELECT date_trunc('day', epoch_ms(s.ts)) AS day, z.zone, approx_quantile(s.value, 0.95) AS p95
                    FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'queue_wait_seconds' GROUP BY ALL
                    """,
                prometheus: .na("quantile_over_time is per series (see the exact row)"),
                sqliteUnavailable: "SQLite has no approximate quantile",
                approximate: true
            ),
            Case(
                name: "uptime % per device, all data",
                kpid:
                    "SELECT device, 100.0 * time_in_state(value = 1) / (time_in_state(value = 1) + time_in_state(value = 0)) AS uptime FROM device_up WHERE ts < to_timestamp(\(lastSample / 1000)) GROUP BY device",
                sqlite: """
                    SELECT device, 100.0 * sum(CASE WHEN value = 1 THEN nxt - ts ELSE 0 END) / sum(nxt - ts) FROM
                      (SELECT z.device, s.ts, s.value, lead(s.ts) OVER (PARTITION BY s.series_id ORDER BY s.ts) AS nxt
                       FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'device_up')
                    WHERE nxt IS NOT NULL GROUP BY device
                    """,
                duckdb: """
                    SELECT device,
                           100.0 * coalesce(sum(nxt - ts) FILTER (WHERE value = 1), 0) / sum(nxt - ts) FILTER (WHERE value IN (0, 1)) AS uptime
                    FROM (SELECT z.device, s.ts, s.value, lead(s.ts) OVER (PARTITION BY s.series_id ORDER BY s.ts) AS nxt
                          FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'device_up')
                    GROUP BY device
                    """,
                // kpid holds each sample until the next one, and the last one in the range until the
                // range's end: the range ends at the last sample, which then counts no time, as in
                // the references (on regular samples the mean of the others is then the same share).
                prometheus: PromCase(
                    requests: [.init(query: "100 * avg_over_time(device_up[\(uptimeRange)ms])", start: uptimeAt, end: uptimeAt)])
            ),
            Case(
                name: "MTTR per site from outages, all data",
                kpid:
                    "SELECT site, count(*) AS outages, avg(duration) AS mttr FROM intervals(device_up, value = 0, to_timestamp(\(t0 / 1000)), to_timestamp(\(lastSample / 1000))) GROUP BY site",
                // A run ends at the first sample where the condition stops holding, or at the
                // series' last sample if it never does (kpid's `intervals` over a range ending at
                // the last sample: a run still holding is clipped there).
                sqlite: """
                    WITH s AS (SELECT s.series_id, z.site, s.ts, s.value, lag(s.value) OVER (PARTITION BY s.series_id ORDER BY s.ts) AS prev,
                                      max(s.ts) OVER (PARTITION BY s.series_id) AS last
                               FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'device_up'),
                         edges AS (SELECT series_id, site, ts, value, last FROM s WHERE prev IS NULL OR prev != value),
                         runs AS (SELECT site, value, ts, coalesce(lead(ts) OVER (PARTITION BY series_id ORDER BY ts), last) AS until FROM edges)
                    SELECT site, count(*), avg(until - ts) FROM runs WHERE value = 0 GROUP BY site
                    """,
                duckdb: """
                    WITH s AS (SELECT s.series_id, z.site, s.ts, s.value,
                                      lag(s.value) OVER (PARTITION BY s.series_id ORDER BY s.ts) AS prev,
                                      max(s.ts) OVER (PARTITION BY s.series_id) AS last
                               FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'device_up'),
                         runs AS (SELECT site, value, ts AS start,
                                         coalesce(lead(ts) OVER (PARTITION BY series_id ORDER BY ts), last) AS stop
                                  FROM s WHERE prev IS DISTINCT FROM value)
                    SELECT site, count(*) AS outages, avg(stop - start) AS mttr_ms FROM runs WHERE value = 0 GROUP BY site
                    """,
                prometheus: .na(
                    "outage runs (from a 0 to the next 1, or to the series' end) and their mean length: PromQL has no runs; resets() and changes() count transitions, not how long each run lasted"
                )
            ),
            Case(
                name: "one site, one zone, raw samples of a day",
                kpid: "SELECT ts, value FROM queue_wait_seconds WHERE site = 'S3' AND zone = 'Z13' AND ts >= now() - INTERVAL '1 day'",
                sqlite:
                    "SELECT s.ts, s.value FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'queue_wait_seconds' AND z.site = 'S3' AND z.zone = 'Z13' AND s.ts >= \(day)",
                duckdb: """
                    SELECT epoch_ms(s.ts) AS ts, s.value FROM samples s JOIN series z ON z.id = s.series_id
                    WHERE z.metric = 'queue_wait_seconds' AND z.site = 'S3' AND z.zone = 'Z13' AND s.ts >= \(day)
                    """,
                prometheus: PromCase(
                    requests: [.init(query: "queue_wait_seconds{site=\"S3\",zone=\"Z13\"}[1d]", start: now - 1, end: now - 1)])
            ),
            Case(
                name: "JOIN of two bucketed subqueries",
                kpid: """
                    SELECT hour, site, q.a / d.up AS ratio FROM
                      (SELECT time_bucket('1h', ts) AS hour, site, avg(value) AS a FROM queue_wait_seconds WHERE ts >= now() - INTERVAL '7 days' GROUP BY hour, site) AS q
                      JOIN (SELECT time_bucket('1h', ts) AS hour, site, avg(value) AS up FROM device_up WHERE ts >= now() - INTERVAL '7 days' GROUP BY hour, site) AS d
                      USING (hour, site)
                    """,
                sqlite: """
                    SELECT q.hour, q.site, q.a / d.up FROM
                      (SELECT s.ts / 3600000 AS hour, z.site, avg(s.value) AS a FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'queue_wait_seconds' AND s.ts >= \(week) GROUP BY 1, 2) AS q
                      JOIN (SELECT s.ts / 3600000 AS hour, z.site, avg(s.value) AS up FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'device_up' AND s.ts >= \(week) GROUP BY 1, 2) AS d
                      ON q.hour = d.hour AND q.site = d.site
                    """,
                duckdb: """
                    SELECT hour, site, q.a / d.up AS ratio FROM
                      (SELECT time_bucket(INTERVAL '1 hour', epoch_ms(s.ts)) AS hour, z.site, avg(s.value) AS a
                       FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'queue_wait_seconds' AND s.ts >= \(week) GROUP BY ALL) AS q
                      JOIN (SELECT time_bucket(INTERVAL '1 hour', epoch_ms(s.ts)) AS hour, z.site, avg(s.value) AS up
                       FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'device_up' AND s.ts >= \(week) GROUP BY ALL) AS d
                      USING (hour, site)
                    """,
                prometheus: PromCase(
                    requests: [
                        hourly("avg by (site) (avg_over_time(queue_wait_seconds[1h])) / avg by (site) (avg_over_time(device_up[1h]))")
                    ], compareFrom: hourlyCompareFrom, shift: hour - 1)
            ),
        ]

        // kpid and SQLite in this process, then DuckDB in a Python process (one engine at a time).
        let engine = QueryEngine(store: store)
        var options = QueryOptions(now: now)
        options.limits.maxSamples = Int.max
        options.limits.timeoutMilliseconds = 600_000
        var kpidTimes: [[Double]] = []
        var kpidRows: [Int] = []
        var kpidSums: [(sum: Double, slack: Double)] = []  // of the last column, for --check
        // The same over the rows compared with Prometheus' points (see PromCase.compareFrom).
        var approxProblems: [String: [String]] = [:]
        var kpidPromRows: [Int] = []
        var kpidPromSums: [(sum: Double, slack: Double)] = []
        var sqliteTimes: [[Double]?] = []
        var sqliteRows: [Int?] = []
        var sqliteSums: [Double?] = []
        for c in cases {
            var times: [Double] = []
            var rows = 0
            var sums = (sum: 0.0, slack: 0.0)
            var promRows = 0
            var promSums = (sum: 0.0, slack: 0.0)
            for run in 0..<(warmup + runs) {
                let t = DispatchTime.now().uptimeNanoseconds
                let result = try engine.execute(c.kpid, options: options)
                if run >= warmup { times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6) }
                rows = result.rows.count
                if run == warmup + runs - 1 {
                    sums = Self.lastColumnSum(result.rows)
                    if c.approximate {
                        approxProblems[c.name] = Self.approximationProblems(result.rows, exact: exactQuantiles)
                    }
                    var compared = result.rows
                    if let from = c.prometheus.compareFrom {
                        compared = compared.filter {
                            if case .timestamp(let bucket)? = $0.first { return bucket >= from }
                            return true
                        }
                    }
                    promRows = compared.count
                    promSums = Self.lastColumnSum(compared)
                }
            }
            kpidTimes.append(times)
            kpidRows.append(rows)
            kpidSums.append(sums)
            kpidPromRows.append(promRows)
            kpidPromSums.append(promSums)
            if let sqlite, c.sqliteUnavailable == nil {
                times = []
                var sum = 0.0
                for run in 0..<(warmup + sqliteRuns) {
                    let t = DispatchTime.now().uptimeNanoseconds
                    let statement = try sqlite.prepare(c.sqlite)
                    let last = statement.columnCount - 1
                    let summing = check && run == warmup + sqliteRuns - 1
                    rows = 0
                    sum = 0
                    while try statement.step() {
                        rows += 1
                        if summing && !statement.isNull(at: last) { sum += statement.double(at: last) }
                    }
                    if run >= warmup { times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6) }
                }
                sqliteTimes.append(times)
                sqliteRows.append(rows)
                sqliteSums.append(sum)
            } else if sqlite != nil {
                sqliteTimes.append(nil)
                sqliteRows.append(nil)
                sqliteSums.append(nil)
            }
        }
        var duck: DuckDBReport? = nil
        if duckdbVersion != nil {
            let spec = DuckDBSpec(
                series_csv: csvDir + "/series.csv", samples_csv: csvDir + "/samples.csv", runs: duckdbRuns, warmup: warmup,
                queries: cases.map { .init(name: $0.name, sql: $0.duckdb) })
            let specPath = csvDir + "/queries.json"
            try JSONEncoder().encode(spec).write(to: URL(fileURLWithPath: specPath))
            print("Running DuckDB (\(script)) ...")
            let (status, out) = try Self.runPython(python, [script, specPath])
            if status == 0, let report = try? JSONDecoder().decode(DuckDBReport.self, from: out) {
                duck = report
            } else {
                duckdbSkipped = "DuckDB FAILED: \(python) \(script) exited with status \(status) (its error is above)"
                print(duckdbSkipped)
            }
        }
        // Prometheus last: backfill, start, check the answers, then time them.
        var promTimes: [[Double]?] = []
        var promRows: [Int?] = []
        var promSums: [Double?] = []
        if usePrometheus {
            print("Backfilling Prometheus with promtool ...")
            let peer = try PrometheusQueryPeer.start(
                openMetrics: promDir + "/samples.om", directory: promDir, promtool: promtool, prometheus: prometheus)
            prom = peer
            let stored = try peer.endpoint.instant(
                "sum(count_over_time({__name__=~\"queue_wait_seconds|device_up\"}[\(Int64(perSeries) * 60_000 + 1)ms]))", at: now)
            let count = Int(stored.first?.points.first?.value ?? 0)
            guard count == store.stats.sampleCount else {
                throw BenchError("Prometheus holds \(count) samples after the backfill, not \(store.stats.sampleCount)")
            }
            print("Running Prometheus \(peer.version) ...")
            for c in cases {
                let requests = c.prometheus.requests
                guard !requests.isEmpty else {
                    promTimes.append(nil)
                    promRows.append(nil)
                    promSums.append(nil)
                    continue
                }
                let urls = requests.map { peer.endpoint.url($0.query, start: $0.start, end: $0.end, step: $0.step) }
                // The answer checked: the last request's points, from the first (untimed) run.
                var points: [(t: Int64, value: Double)] = []
                for (k, url) in urls.enumerated() {
                    let body = try peer.endpoint.get(url).body
                    if k == urls.count - 1 { points = try PromSeries.parse(body).flatMap(\.points) }
                }
                if let from = c.prometheus.compareFrom { points = points.filter { $0.t - c.prometheus.shift >= from } }
                promRows.append(points.count)
                // PromQL's x/0 is ±Inf (NaN for 0/0) where SQL's is NULL, which lastColumnSum counts 0.
                promSums.append(points.reduce(0) { $0 + ($1.value.isFinite ? $1.value : 0) })
                var times: [Double] = []
                for run in 0..<(max(0, warmup - 1) + prometheusRuns) {
                    var ms = 0.0
                    for url in urls { ms += try peer.endpoint.get(url).ms }
                    if run >= max(0, warmup - 1) { times.append(ms) }
                }
                promTimes.append(times)
            }
        }

        print("")
        print("Machine: \(Self.machine())")
        var engines = "kpid (in process)"
        if sqlite != nil { engines += ", SQLite \(Self.sqliteVersion(sqlite))" }
        if let duck {
            engines += ", DuckDB \(duck.version) (\(duck.threads) threads, in memory, via Python)"
        } else {
            engines += "; \(duckdbSkipped)"
        }
        if let prom { engines += ", Prometheus \(prom.version) (Debian, child process, PromQL over HTTP)" }
        print("Engines: \(engines)")
        print(
            "Samples: \(store.stats.sampleCount) (\(series) queue_wait_seconds + \(series / 10) device_up series x \(perSeries), 1/min)"
        )
        var load = String(format: "Load: kpid %.1f s (ColumnarStore.apply, in memory)", kpidLoad)
        if sqlite != nil { load += String(format: ", SQLite %.1f s (inserts in one transaction, index, ANALYZE)", sqliteLoad) }
        if let duck {
            load += String(format: ", DuckDB %.1f s (read_csv into tables; writing the CSV took %.1f s)", duck.load_ms / 1000, csvWrite)
        }
        if let prom {
            load += String(
                format:
                    ", Prometheus %.1f s (promtool backfill into %d block(s), then %.1f s to ready; writing the OpenMetrics text took %.1f s)",
                prom.backfillSeconds, prom.blocks, prom.startSeconds, omWrite)
        }
        print(load)
        print(
            "Runs per query: kpid \(runs)" + (sqlite != nil ? ", SQLite \(sqliteRuns)" : "") + (duck != nil ? ", DuckDB \(duckdbRuns)" : "")
                + (prom != nil ? ", Prometheus \(prometheusRuns)" : "") + "; each after \(warmup) untimed warm-up run(s)"
        )
        print("")
        print(
            "| query | kpid median | kpid p99 | SQLite median | DuckDB median | Prometheus median | Prometheus p99 | SQLite/kpid | DuckDB/kpid | Prometheus/kpid |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for (i, c) in cases.enumerated() {
            let km = Self.percentile(kpidTimes[i], 0.5)
            let kp = Self.percentile(kpidTimes[i], 0.99)
            var sqliteMedian = "-"
            var sqliteRatio = "-"
            if i < sqliteTimes.count {
                if let times = sqliteTimes[i] {
                    let sm = Self.percentile(times, 0.5)
                    sqliteMedian = Self.ms(sm)
                    sqliteRatio = String(format: "%.1fx", sm / km)
                } else {
                    sqliteMedian = "n/a"
                    sqliteRatio = "n/a"
                }
            }
            var duckMedian = "-"
            var duckRatio = "-"
            if let duck, i < duck.queries.count {
                let dm = Self.percentile(duck.queries[i].times_ms, 0.5)
                duckMedian = Self.ms(dm)
                duckRatio = String(format: "%.1fx", dm / km)
            }
            var promMedian = "-"
            var promP99 = "-"
            var promRatio = "-"
            if prom != nil {
                if let times = promTimes[i] {
                    let pm = Self.percentile(times, 0.5)
                    promMedian = Self.ms(pm)
                    promP99 = Self.ms(Self.percentile(times, 0.99))
                    promRatio = String(format: "%.1fx", pm / km)
                } else {
                    promMedian = "n/a"
                    promP99 = "n/a"
                    promRatio = "n/a"
                }
            }
            print(
                "| \(c.name) | \(Self.ms(km)) | \(Self.ms(kp)) | \(sqliteMedian) | \(duckMedian) | \(promMedian) | \(promP99) | \(sqliteRatio) | \(duckRatio) | \(promRatio) |"
            )
        }
        print("")
        print("Ratios are the other engine's median over kpid's: above 1x, kpid is faster.")
        if prom != nil {
            print(
                "Prometheus times are PromQL over HTTP, request to last body byte (JSON encoding included, decoding not); kpid's are its SQL engine in process."
            )
            for c in cases {
                if let reason = c.prometheus.unavailable { print("Prometheus n/a for \"\(c.name)\": \(reason).") }
            }
        }
        if duck != nil { print("DuckDB times include fetching the rows into Python (fetchall).") }

        if check {
            print("")
            // Row counts must agree; so must the sum of the last column, except where a case says
            // its SQLite SQL only approximates kpid's values.
            func same(_ a: Double, _ b: (sum: Double, slack: Double)) -> Bool {
                guard a.isFinite && b.sum.isFinite else { return a == b.sum }
                return abs(a - b.sum) <= 1e-9 * max(1, abs(a), abs(b.sum)) + b.slack
            }
            var mismatches: [String] = []
            for (i, c) in cases.enumerated() {
                var counts = ["kpid \(kpidRows[i])"]
                var sums = ["kpid \(kpidSums[i].sum)"]
                var problems: [String] = []
                if c.approximate {
                    let found = approxProblems[c.name] ?? ["not run"]
                    if !found.isEmpty { problems.append("kpid values: " + found.prefix(3).joined(separator: "; ")) }
                    sums.append("exact p95 (rank floor(0.95 (n-1))) \(exactQuantileSum)")
                }
                if i < sqliteRows.count, let sqliteRow = sqliteRows[i], let sqliteSum = sqliteSums[i] {
                    counts.append("SQLite \(sqliteRow)")
                    sums.append("SQLite \(sqliteSum)" + (c.sqliteExact ? "" : " (approximation)"))
                    if sqliteRow != kpidRows[i] { problems.append("SQLite rows") }
                    if c.sqliteExact && !same(sqliteSum, kpidSums[i]) { problems.append("SQLite values") }
                } else if i < sqliteRows.count {
                    counts.append("SQLite n/a")
                }
                if let duck, i < duck.queries.count {
                    counts.append("DuckDB \(duck.queries[i].rows)")
                    sums.append("DuckDB \(duck.queries[i].last_column_sum)")
                    if duck.queries[i].rows != kpidRows[i] { problems.append("DuckDB rows") }
                    if c.approximate {
                        let d = duck.queries[i].last_column_sum
                        if abs(d - exactQuantileSum) > Self.approxTolerance * abs(exactQuantileSum) {
                            problems.append("DuckDB values (sum over 1 % from the exact quantiles' \(exactQuantileSum))")
                        }
                    } else if !same(duck.queries[i].last_column_sum, kpidSums[i]) {
                        problems.append("DuckDB values")
                    }
                }
                if prom != nil {
                    if let rows = promRows[i], let sum = promSums[i] {
                        let part = c.prometheus.compareFrom != nil ? " (kpid \(kpidPromRows[i]) rows from the first whole bucket)" : ""
                        counts.append("Prometheus \(rows)\(part)")
                        sums.append("Prometheus \(sum)" + (c.prometheus.compareFrom != nil ? " (kpid \(kpidPromSums[i].sum))" : ""))
                        if rows != kpidPromRows[i] { problems.append("Prometheus rows") }
                        if !same(sum, kpidPromSums[i]) { problems.append("Prometheus values") }
                    } else {
                        counts.append("Prometheus n/a")
                    }
                }
                let verdict = problems.isEmpty ? "ok" : "FAILED (\(problems.joined(separator: ", ")) differ from kpid's)"
                print("check \(verdict): \(c.name)")
                print("    rows: \(counts.joined(separator: ", ")); sum of the last column: \(sums.joined(separator: ", "))")
                if !problems.isEmpty { mismatches.append(c.name) }
            }
            if duckdbVersion != nil && duck == nil { mismatches.append("DuckDB failed") }
            if !mismatches.isEmpty {
                let message = "CHECK FAILED: the engines disagree on: \(mismatches.joined(separator: "; "))\n"
                FileHandle.standardError.write(Data(message.utf8))
                throw ExitCode(1)
            }
            print("check: row counts (and last-column sums) agree on all \(cases.count) queries.")
        }
        if !noReview { try weeklyReview() }
    }

    /// The repository root (where Fixtures/ and Queries/ are): the working directory if it has
    /// them, else the tree this source file is in (symbolic links resolved).
    static func sourceRoot() -> String {
        if FileManager.default.fileExists(atPath: "Fixtures/sites.json") && FileManager.default.fileExists(atPath: "Queries/templates") {
            return Self.real(FileManager.default.currentDirectoryPath)
        }
        return URL(fileURLWithPath: Self.real(#filePath)).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// `path` with every symbolic link resolved (the sandboxes link Fixtures/ and Queries/).
    static func real(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The weekly review of one site over HTTP, from a kpid loaded with every committed fixture
    /// (`Fixtures/*/*.ndjson.gz`, posted gzip-compressed to `/api/v1/ingest`) and the
    /// repository's templates and sites. No peer has an equivalent, so they print n/a.
    func weeklyReview() throws {
        let root = Self.sourceRoot()
        let fixtures = Self.real(root + "/Fixtures")
        let files = ((try? FileManager.default.subpathsOfDirectory(atPath: fixtures)) ?? []).filter { $0.hasSuffix(".ndjson.gz") }.sorted()
        guard !files.isEmpty else { throw BenchError("no Fixtures/*/*.ndjson.gz under \(root)") }
        let dir = NSTemporaryDirectory() + "kpid-review-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = ServiceConfiguration()
        config.dataDirectory = dir
        config.port = 0
        config.queriesDirectory = root + "/Queries"
        config.templatesDirectory = root + "/Queries/templates"
        config.sitesFile = root + "/Queries/sites.json"
        let (service, base) = try startBenchService(config, logLevel: .error)
        defer { service.stop() }
        let began = Date()
        var lines = 0
        for file in files {
            let body = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + file))
            let r = httpRequest(
                base.appendingPathComponent("api/v1/ingest"), method: "POST",
                headers: ["Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"], body: body, timeout: 600)
            guard r.status == 200 else {
                throw BenchError("ingest of \(file) failed: HTTP \(r.status) \(String(decoding: r.body.prefix(300), as: UTF8.self))")
            }
            // Every line of a fixture is one sample.
            lines += try Self.gunzipLineCount(fixtures + "/" + file)
        }
        let loaded = service.store.stats.sampleCount
        guard loaded == lines else { throw BenchError("kpid holds \(loaded) samples after the fixtures, not \(lines)") }
        print("")
        print(
            String(
                format: "Weekly review: %d fixture files (%d samples) ingested over HTTP in %.1f s", files.count, loaded,
                Date().timeIntervalSince(began)))
        let session = URLSession(configuration: .ephemeral)
        var query = URLComponents()
        // The review must hold figures: KPIs with a status, none failed.
        var reviewSummary = ""
        func reviewHasFigures(_ body: Data) -> Bool {
            guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                let summary = json["summary"] as? [String: Any], let templates = json["templates"] as? [[String: Any]]
            else { return false }
            let kpis = templates.flatMap { ($0["kpis"] as? [[String: Any]]) ?? [] }
            let counts = ["green", "amber", "red", "no_data"].map { (summary[$0] as? Int) ?? 0 }
            let failed = kpis.filter { $0["error"] != nil }.count
            reviewSummary =
                "\(kpis.count) KPIs in \(templates.count) templates: \(counts[0]) green, \(counts[1]) amber, \(counts[2]) red, \(counts[3]) without data, \(failed) failed"
            return failed == 0 && counts[0] + counts[1] + counts[2] > 0
        }
        query.queryItems = [URLQueryItem(name: "site", value: reviewSite), URLQueryItem(name: "week", value: reviewWeek)]
        let formats: [(name: String, path: String, check: (Data) -> Bool)] = [
            ("HTML", "reports/weekly", { String(decoding: $0, as: UTF8.self).contains("</html>") }),
            (
                "JSON", "reports/weekly.json",
                { reviewHasFigures($0) }
            ),
        ]
        print("| query | kpid median | kpid p99 | SQLite | DuckDB | Prometheus | body |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for format in formats {
            query.path = "/" + format.path
            let url = URL(string: query.string!, relativeTo: base)!.absoluteURL
            var times: [Double] = []
            var size = 0
            for run in 0..<(warmup + reviewRuns) {
                let t = DispatchTime.now().uptimeNanoseconds
                let r = httpRequest(url, timeout: 600, session: session)
                let ms = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
                guard r.status == 200, format.check(r.body) else {
                    throw BenchError("GET \(url) answered HTTP \(r.status): \(String(decoding: r.body.prefix(300), as: UTF8.self))")
                }
                size = r.body.count
                if run >= warmup { times.append(ms) }
            }
            print(
                "| weekly review \(reviewSite) \(reviewWeek), \(format.name) over HTTP | \(Self.ms(Self.percentile(times, 0.5))) | "
                    + "\(Self.ms(Self.percentile(times, 0.99))) | n/a | n/a | n/a | \(size / 1024) KiB |")
        }
        print("")
        print("Weekly review \(reviewSite) \(reviewWeek): \(reviewSummary).")
        print(
            "Weekly review: \(reviewRuns) runs per format after \(warmup) warm-up, request to last body byte. The peers print n/a: the "
                + "review is kpid's KPI templates evaluated by its SQL (weekly figures, targets, week-over-week, daily breakdowns); "
                + "SQLite, DuckDB and Prometheus have no equivalent, and a translation would be a different program.")
    }

    /// Lines of a gzip file (`gzip -dc FILE | wc -l`).
    static func gunzipLineCount(_ path: String) throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "gzip -dc \"$0\" | wc -l", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let n = Int(String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw BenchError("cannot count the lines of \(path)") }
        return n
    }

    /// A (UTC day, zone) group of the queue series.
    struct GroupKey: Hashable {
        var day: Int64
        var zone: Int
    }

    /// kpid's approximate quantile rows `(day, zone, value)` against the exact ones: one row per
    /// group, each within ``approxTolerance`` of the exact value; the differences found.
    static func approximationProblems(_ rows: [[Value]], exact: [GroupKey: Double]) -> [String] {
        var problems: [String] = []
        if rows.count != exact.count { problems.append("\(rows.count) groups, not \(exact.count)") }
        for row in rows {
            guard row.count == 3, case .timestamp(let day) = row[0], case .string(let zone) = row[1], let z = Int(zone.dropFirst()),
                case .double(let value) = row[2]
            else {
                problems.append("unexpected row \(row)")
                continue
            }
            guard let x = exact[GroupKey(day: day / 86_400_000, zone: z)] else {
                problems.append("no group \(zone) on day \(day)")
                continue
            }
            if abs(value - x) > approxTolerance * abs(x) { problems.append("\(zone) on day \(day): \(value) vs exact \(x)") }
        }
        return problems
    }

    static func percentile(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((q * Double(sorted.count - 1)).rounded(.up)))]
    }

    /// The sum of the rows' last column: numbers, timestamps and intervals (milliseconds); NULLs and strings count 0.
    /// `slack` allows for kpid's intervals being whole milliseconds (`avg(duration)` is rounded)
    /// where the peers' SQL returns fractional milliseconds.
    static func lastColumnSum(_ rows: [[Value]]) -> (sum: Double, slack: Double) {
        var sum = 0.0
        var slack = 0.0
        for row in rows {
            switch row.last {
            case .interval(let v)?:
                sum += Double(v)
                slack += 1
            case .int(let v)?, .timestamp(let v)?: sum += Double(v)
            case .double(let v)?: sum += v
            case .bool(let v)?: sum += v ? 1 : 0
            default: break
            }
        }
        return (sum, slack)
    }

    static func ms(_ v: Double) -> String { v < 10 ? String(format: "%.2f ms", v) : String(format: "%.0f ms", v) }

    /// `Benchmarks/peers/duckdb_bench.py`, found from the working directory or this source file.
    static func defaultScript() -> String {
        let relative = "Benchmarks/peers/duckdb_bench.py"
        if FileManager.default.fileExists(atPath: relative) { return relative }
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        return source.appendingPathComponent("peers/duckdb_bench.py").path
    }

    /// Why DuckDB is left out of a run.
    struct Skipped: Error {
        var message: String
    }

    /// The duckdb module's version, or why DuckDB has to be skipped.
    static func probeDuckDB(python: String, script: String) -> Result<String, Skipped> {
        let hint = "install it with `pip install duckdb` (or scripts/install-bench-deps.sh)"
        guard FileManager.default.fileExists(atPath: script) else {
            return .failure(Skipped(message: "\(script) not found (run from the repository root or pass --duckdb-script)."))
        }
        guard let (status, out) = try? runPython(python, [script, "--probe"], quiet: true) else {
            return .failure(Skipped(message: "could not start \(python)."))
        }
        switch status {
        case 0: return .success(String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        case 3: return .failure(Skipped(message: "the Python module duckdb is not installed for \(python); \(hint)."))
        case 127: return .failure(Skipped(message: "\(python) not found; install Python 3, then `pip install duckdb`."))
        default: return .failure(Skipped(message: "\(python) \(script) --probe exited with status \(status)."))
        }
    }

    /// Runs `python args...` (through `env`, so PATH applies); its stderr passes through unless `quiet`.
    static func runPython(_ python: String, _ args: [String], quiet: Bool = false) throws -> (Int32, Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python] + args
        let pipe = Pipe()
        if quiet { process.standardError = FileHandle.nullDevice }
        fflush(nil)  // our buffered stdout before the script's stderr
        process.standardOutput = pipe
        try process.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, out)
    }

    static func machine() -> String {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let memory = Double(ProcessInfo.processInfo.physicalMemory) / Double(1 << 30)
        return String(format: "nproc %d, %@, %.0f GiB RAM", ProcessInfo.processInfo.activeProcessorCount, model, memory)
    }

    static func sqliteVersion(_ sqlite: SQLiteConnection?) -> String {
        guard let statement = try? sqlite?.prepare("SELECT sqlite_version()"), (try? statement.step()) == true else { return "" }
        return statement.string(at: 0) ?? ""
    }
}

/// What QueryBench hands to duckdb_bench.py.
struct DuckDBSpec: Encodable {
    struct Query: Encodable {
        var name: String
        var sql: String
    }
    var series_csv: String
    var samples_csv: String
    var runs: Int
    var warmup: Int
    var queries: [Query]
}

/// What duckdb_bench.py prints.
struct DuckDBReport: Decodable {
    struct Query: Decodable {
        var name: String
        var rows: Int
        var last_column_sum: Double
        var times_ms: [Double]
    }
    var version: String
    var threads: Int
    var load_ms: Double
    var samples: Int
    var queries: [Query]
}

/// A CSV file written through a byte buffer: integers and 3-decimal values without String allocations.
final class CSVFile {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    init(path: String, header: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data((header + "\n").utf8)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        buffer.reserveCapacity(1 << 20)
    }

    func row(_ id: Int64, _ metric: String, _ site: String, _ zone: String, _ device: String) {
        append(id)
        for field in [metric, site, zone, device] {
            buffer.append(UInt8(ascii: ","))
            buffer.append(contentsOf: field.utf8)
        }
        buffer.append(UInt8(ascii: "\n"))
    }

    func row(_ id: Int64, _ ts: Int64, _ value: Double) throws {
        append(id)
        buffer.append(UInt8(ascii: ","))
        append(ts)
        buffer.append(UInt8(ascii: ","))
        append(value)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Raw text, e.g. an OpenMetrics `# TYPE` line.
    func text(_ s: String) { buffer.append(contentsOf: s.utf8) }

    /// One OpenMetrics sample line: `prefix` (`name{labels} `), the value, the timestamp in
    /// seconds (with milliseconds when they are not zero).
    func openMetricsSample(_ prefix: String, _ value: Double, _ ms: Int64) throws {
        buffer.append(contentsOf: prefix.utf8)
        append(value)
        buffer.append(UInt8(ascii: " "))
        let (seconds, rest) = ms.quotientAndRemainder(dividingBy: 1000)
        precondition(rest >= 0, "timestamps before 1970 are not written")
        append(seconds)
        if rest != 0 {
            buffer.append(UInt8(ascii: "."))
            buffer.append(UInt8(ascii: "0") + UInt8(rest / 100))
            buffer.append(UInt8(ascii: "0") + UInt8(rest / 10 % 10))
            buffer.append(UInt8(ascii: "0") + UInt8(rest % 10))
        }
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func append(_ v: Int64) {
        if v < 0 { buffer.append(UInt8(ascii: "-")) }
        var n = v.magnitude
        let start = buffer.count
        repeat {
            buffer.append(UInt8(ascii: "0") + UInt8(n % 10))
            n /= 10
        } while n > 0
        buffer[start..<buffer.count].reverse()
    }

    /// Exact: a value that is a whole number of thousandths is written as such (it parses back
    /// to the same Double); any other value in Swift's shortest round-trip form.
    private func append(_ v: Double) {
        let milli = (v * 1000).rounded()
        guard milli / 1000 == v, abs(milli) < 9e15 else {
            buffer.append(contentsOf: "\(v)".utf8)
            return
        }
        let m = Int64(milli)
        if m < 0 { buffer.append(UInt8(ascii: "-")) }
        append(Int64(m.magnitude / 1000))
        let frac = Int(m.magnitude % 1000)
        buffer.append(UInt8(ascii: "."))
        buffer.append(UInt8(ascii: "0") + UInt8(frac / 100))
        buffer.append(UInt8(ascii: "0") + UInt8(frac / 10 % 10))
        buffer.append(UInt8(ascii: "0") + UInt8(frac % 10))
    }

    func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        try flush()
        try handle.close()
    }
}
