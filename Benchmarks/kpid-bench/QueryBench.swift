import ArgumentParser
import Dispatch
import Foundation
import KPICore
import KPIQuery
import KPIStorage

/// Query latency on a generated data set: kpid's engine beside the same data in a plain SQLite
/// table (`(series_id, ts, value)` with an index, as a developer would store it without kpid) and
/// in an in-memory DuckDB database (loaded from CSV by `Benchmarks/peers/duckdb_bench.py`).
struct QueryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "Latency of representative SQL queries, kpid vs SQLite vs DuckDB, on generated data.")

    @Option(help: "Samples in total (split over the series, one per minute, ending now).") var samples = 10_000_000
    @Option(help: "Queue series (10 sites x zones); 10 % as many device_up series are added.") var series = 1_000
    @Option(help: "Runs per query (median and p99 are printed).") var runs = 5
    @Option(help: "Runs per query on SQLite (slower).") var sqliteRuns = 2
    @Option(help: "Runs per query on DuckDB.") var duckdbRuns = 5
    @Flag(name: [.customLong("no-sqlite"), .customLong("no-sq-lite")], help: "Skip SQLite.") var noSQLite = false
    @Flag(name: .customLong("no-duckdb"), help: "Skip DuckDB.") var noDuckDB = false
    @Flag(help: "Compare the engines' row counts (and the sums of the last column) per query; exit 1 if they differ.")
    var check = false
    @Option(help: "Python 3 interpreter with the duckdb module.") var python = "python3"
    @Option(help: "Path of duckdb_bench.py (default: Benchmarks/peers/ beside this source tree).") var duckdbScript: String?

    /// One benchmark case: the same question in kpid's SQL, SQLite's and DuckDB's.
    struct Case {
        var name: String
        var kpid: String
        var sqlite: String
        var duckdb: String
        /// False where the SQLite SQL only approximates kpid's values (row counts still agree).
        var sqliteExact = true
    }

    func run() throws {
        let perSeries = samples / (series + series / 10)
        let now: Int64 = 1_794_787_200_000 + Int64(perSeries) * 60_000
        let script = duckdbScript ?? Self.defaultScript()
        var duckdbVersion: String? = nil
        var duckdbSkipped = "DuckDB skipped (--no-duckdb)"
        if !noDuckDB {
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
        let sqlite = noSQLite ? nil : try SQLiteConnection(path: path)
        defer {
            sqlite?.close()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            try? FileManager.default.removeItem(atPath: csvDir)
        }
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

        let week = "\(now - 7 * 86_400_000)"
        let day = "\(now - 86_400_000)"
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
                    """
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
                sqliteExact: false
            ),
            Case(
                name: "uptime % per device, all data",
                kpid:
                    "SELECT device, 100.0 * time_in_state(value = 1) / (time_in_state(value = 1) + time_in_state(value = 0)) AS uptime FROM device_up GROUP BY device",
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
                    """
            ),
            Case(
                name: "MTTR per site from outages, all data",
                kpid: "SELECT site, count(*) AS outages, avg(duration) AS mttr FROM intervals(device_up, value = 0) GROUP BY site",
                // A run ends at the first sample where the condition stops holding, or at the
                // series' last sample if it never does (kpid's `intervals`).
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
                    """
            ),
            Case(
                name: "one site, one zone, raw samples of a day",
                kpid: "SELECT ts, value FROM queue_wait_seconds WHERE site = 'S3' AND zone = 'Z13' AND ts >= now() - INTERVAL '1 day'",
                sqlite:
                    "SELECT s.ts, s.value FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'queue_wait_seconds' AND z.site = 'S3' AND z.zone = 'Z13' AND s.ts >= \(day)",
                duckdb: """
                    SELECT epoch_ms(s.ts) AS ts, s.value FROM samples s JOIN series z ON z.id = s.series_id
                    WHERE z.metric = 'queue_wait_seconds' AND z.site = 'S3' AND z.zone = 'Z13' AND s.ts >= \(day)
                    """
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
                    """
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
        var sqliteTimes: [[Double]] = []
        var sqliteRows: [Int] = []
        var sqliteSums: [Double] = []
        for c in cases {
            var times: [Double] = []
            var rows = 0
            var sums = (sum: 0.0, slack: 0.0)
            for run in 0..<runs {
                let t = DispatchTime.now().uptimeNanoseconds
                let result = try engine.execute(c.kpid, options: options)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                rows = result.rows.count
                if check && run == runs - 1 { sums = Self.lastColumnSum(result.rows) }
            }
            kpidTimes.append(times)
            kpidRows.append(rows)
            kpidSums.append(sums)
            if let sqlite {
                times = []
                var sum = 0.0
                for run in 0..<sqliteRuns {
                    let t = DispatchTime.now().uptimeNanoseconds
                    let statement = try sqlite.prepare(c.sqlite)
                    let last = statement.columnCount - 1
                    let summing = check && run == sqliteRuns - 1
                    rows = 0
                    sum = 0
                    while try statement.step() {
                        rows += 1
                        if summing && !statement.isNull(at: last) { sum += statement.double(at: last) }
                    }
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                }
                sqliteTimes.append(times)
                sqliteRows.append(rows)
                sqliteSums.append(sum)
            }
        }
        var duck: DuckDBReport? = nil
        if duckdbVersion != nil {
            let spec = DuckDBSpec(
                series_csv: csvDir + "/series.csv", samples_csv: csvDir + "/samples.csv", runs: duckdbRuns,
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

        print("")
        print("Machine: \(Self.machine())")
        var engines = "kpid (in process)"
        if sqlite != nil { engines += ", SQLite \(Self.sqliteVersion(sqlite))" }
        if let duck {
            engines += ", DuckDB \(duck.version) (\(duck.threads) threads, in memory, via Python)"
        } else {
            engines += "; \(duckdbSkipped)"
        }
        print("Engines: \(engines)")
        print(
            "Samples: \(store.stats.sampleCount) (\(series) queue_wait_seconds + \(series / 10) device_up series x \(perSeries), 1/min)"
        )
        var load = String(format: "Load: kpid %.1f s (ColumnarStore.apply, in memory)", kpidLoad)
        if sqlite != nil { load += String(format: ", SQLite %.1f s (inserts in one transaction, index, ANALYZE)", sqliteLoad) }
        if let duck {
            load += String(format: ", DuckDB %.1f s (read_csv into tables; writing the CSV took %.1f s)", duck.load_ms / 1000, csvWrite)
        }
        print(load)
        print(
            "Runs per query: kpid \(runs)" + (sqlite != nil ? ", SQLite \(sqliteRuns)" : "") + (duck != nil ? ", DuckDB \(duckdbRuns)" : "")
        )
        print("")
        print("| query | kpid median | kpid p99 | SQLite median | DuckDB median | SQLite/kpid | DuckDB/kpid |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for (i, c) in cases.enumerated() {
            let km = Self.percentile(kpidTimes[i], 0.5)
            let kp = Self.percentile(kpidTimes[i], 0.99)
            var sqliteMedian = "-"
            var sqliteRatio = "-"
            if i < sqliteTimes.count {
                let sm = Self.percentile(sqliteTimes[i], 0.5)
                sqliteMedian = Self.ms(sm)
                sqliteRatio = String(format: "%.1fx", sm / km)
            }
            var duckMedian = "-"
            var duckRatio = "-"
            if let duck, i < duck.queries.count {
                let dm = Self.percentile(duck.queries[i].times_ms, 0.5)
                duckMedian = Self.ms(dm)
                duckRatio = String(format: "%.1fx", dm / km)
            }
            print("| \(c.name) | \(Self.ms(km)) | \(Self.ms(kp)) | \(sqliteMedian) | \(duckMedian) | \(sqliteRatio) | \(duckRatio) |")
        }
        print("")
        print("Ratios are the other engine's median over kpid's: above 1x, kpid is faster.")
        if duck != nil { print("DuckDB times include fetching the rows into Python (fetchall).") }

        if check {
            print("")
            // Row counts must agree; so must the sum of the last column, except where a case says
            // its SQLite SQL only approximates kpid's values.
            func same(_ a: Double, _ b: (sum: Double, slack: Double)) -> Bool {
                abs(a - b.sum) <= 1e-9 * max(1, abs(a), abs(b.sum)) + b.slack
            }
            var mismatches: [String] = []
            for (i, c) in cases.enumerated() {
                var counts = ["kpid \(kpidRows[i])"]
                var sums = ["kpid \(kpidSums[i].sum)"]
                var problems: [String] = []
                if i < sqliteRows.count {
                    counts.append("SQLite \(sqliteRows[i])")
                    sums.append("SQLite \(sqliteSums[i])" + (c.sqliteExact ? "" : " (approximation)"))
                    if sqliteRows[i] != kpidRows[i] { problems.append("SQLite rows") }
                    if c.sqliteExact && !same(sqliteSums[i], kpidSums[i]) { problems.append("SQLite values") }
                }
                if let duck, i < duck.queries.count {
                    counts.append("DuckDB \(duck.queries[i].rows)")
                    sums.append("DuckDB \(duck.queries[i].last_column_sum)")
                    if duck.queries[i].rows != kpidRows[i] { problems.append("DuckDB rows") }
                    if !same(duck.queries[i].last_column_sum, kpidSums[i]) { problems.append("DuckDB values") }
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
