import ArgumentParser
import Dispatch
import Foundation
import KPICore
import KPIQuery
import KPIStorage

/// Query latency on a generated data set, kpid's engine beside the same data in a plain SQLite
/// table (`(series_id, ts, value)` with an index, as a developer would store it without kpid).
struct QueryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "Latency of representative SQL queries, kpid vs SQLite, on generated data.")

    @Option(help: "Samples in total (split over the series, one per minute, ending now).") var samples = 10_000_000
    @Option(help: "Queue series (10 sites x zones); 10 % as many device_up series are added.") var series = 1_000
    @Option(help: "Runs per query (median and p99 are printed).") var runs = 5
    @Option(help: "Runs per query on SQLite (slower).") var sqliteRuns = 2
    @Flag(help: "Skip SQLite.") var noSQLite = false

    func run() throws {
        let perSeries = samples / (series + series / 10)
        let now: Int64 = 1_794_787_200_000 + Int64(perSeries) * 60_000
        print("Generating \(series) queue series + \(series / 10) device series x \(perSeries) samples (1/min) ...")
        let store = ColumnarStore()
        let path = NSTemporaryDirectory() + "kpid-query-bench-\(UUID().uuidString).sqlite"
        let sqlite = noSQLite ? nil : try SQLiteConnection(path: path)
        defer {
            sqlite?.close()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
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
        let t0 = now - Int64(perSeries) * 60_000
        let started = Date()
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
            store.apply(newSeries: [(id, labels)], series: [id], timestamps: [ts], values: [vs])
            if let sqlite, let insertSeries, let insertSample {
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
            }
        }
        try sqlite?.execute("COMMIT")
        try sqlite?.execute("CREATE INDEX samples_by_series_ts ON samples (series_id, ts)")
        try sqlite?.execute("ANALYZE")
        print(String(format: "Loaded %d samples in %.1f s (kpid and SQLite).", store.stats.sampleCount, Date().timeIntervalSince(started)))

        let week = "\(now - 7 * 86_400_000)"
        let cases: [(name: String, kpid: String, sqlite: String)] = [
            (
                "1h buckets avg/max, 7 days, \(series) series",
                "SELECT time_bucket('1h', ts) AS hour, zone, avg(value) AS a, max(value) AS m FROM queue_wait_seconds WHERE ts >= now() - INTERVAL '7 days' GROUP BY hour, zone",
                "SELECT s.ts / 3600000 AS hour, z.zone, avg(s.value), max(s.value) FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'queue_wait_seconds' AND s.ts >= \(week) GROUP BY hour, z.zone"
            ),
            (
                "p95 per zone per day, all data",
                "SELECT date_trunc('day', ts) AS day, zone, quantile(0.95, value) AS p95 FROM queue_wait_seconds GROUP BY day, zone",
                """
                WITH r AS (SELECT s.ts / 86400000 AS day, z.zone, s.value,
                                  row_number() OVER (PARTITION BY s.ts / 86400000, z.zone ORDER BY s.value) - 1 AS i,
                                  count(*) OVER (PARTITION BY s.ts / 86400000, z.zone) AS n
                           FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'queue_wait_seconds')
                SELECT day, zone, max(CASE WHEN i = CAST(0.95 * (n - 1) AS INTEGER) THEN value END) FROM r GROUP BY day, zone
                """
            ),
            (
                "uptime % per device, all data",
                "SELECT device, 100.0 * time_in_state(value = 1) / (time_in_state(value = 1) + time_in_state(value = 0)) AS uptime FROM device_up GROUP BY device",
                """
                SELECT device, 100.0 * sum(CASE WHEN value = 1 THEN nxt - ts ELSE 0 END) / sum(nxt - ts) FROM
                  (SELECT z.device, s.ts, s.value, lead(s.ts) OVER (PARTITION BY s.series_id ORDER BY s.ts) AS nxt
                   FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'device_up')
                WHERE nxt IS NOT NULL GROUP BY device
                """
            ),
            (
                "MTTR per site from outages, all data",
                "SELECT site, count(*) AS outages, avg(duration) AS mttr FROM intervals(device_up, value = 0) GROUP BY site",
                """
                WITH s AS (SELECT s.series_id, z.site, s.ts, s.value, lag(s.value) OVER (PARTITION BY s.series_id ORDER BY s.ts) AS prev,
                                  lead(s.ts) OVER (PARTITION BY s.series_id ORDER BY s.ts) AS nxt
                           FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'device_up'),
                     edges AS (SELECT series_id, site, ts, value, prev FROM s WHERE prev IS NULL OR prev != value),
                     runs AS (SELECT site, value, ts, lead(ts) OVER (PARTITION BY series_id ORDER BY ts) AS until FROM edges)
                SELECT site, count(*), avg(until - ts) FROM runs WHERE value = 0 AND until IS NOT NULL GROUP BY site
                """
            ),
            (
                "one site, one zone, raw samples of a day",
                "SELECT ts, value FROM queue_wait_seconds WHERE site = 'S3' AND zone = 'Z13' AND ts >= now() - INTERVAL '1 day'",
                "SELECT s.ts, s.value FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'queue_wait_seconds' AND z.site = 'S3' AND z.zone = 'Z13' AND s.ts >= \(now - 86_400_000)"
            ),
            (
                "JOIN of two bucketed subqueries",
                """
                SELECT hour, site, q.a / d.up AS ratio FROM
                  (SELECT time_bucket('1h', ts) AS hour, site, avg(value) AS a FROM queue_wait_seconds WHERE ts >= now() - INTERVAL '7 days' GROUP BY hour, site) AS q
                  JOIN (SELECT time_bucket('1h', ts) AS hour, site, avg(value) AS up FROM device_up WHERE ts >= now() - INTERVAL '7 days' GROUP BY hour, site) AS d
                  USING (hour, site)
                """,
                """
                SELECT q.hour, q.site, q.a / d.up FROM
                  (SELECT s.ts / 3600000 AS hour, z.site, avg(s.value) AS a FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'queue_wait_seconds' AND s.ts >= \(week) GROUP BY 1, 2) AS q
                  JOIN (SELECT s.ts / 3600000 AS hour, z.site, avg(s.value) AS up FROM samples s JOIN series z ON z.id = s.series_id WHERE z.metric = 'device_up' AND s.ts >= \(week) GROUP BY 1, 2) AS d
                  ON q.hour = d.hour AND q.site = d.site
                """
            ),
        ]
        let engine = QueryEngine(store: store)
        var options = QueryOptions(now: now)
        options.limits.maxSamples = Int.max
        options.limits.timeoutMilliseconds = 600_000
        print("")
        print("| query | kpid median | kpid p99 | rows | SQLite median | SQLite p99 | SQLite / kpid |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for c in cases {
            var kpidTimes: [Double] = []
            var rows = 0
            for _ in 0..<runs {
                let t = DispatchTime.now().uptimeNanoseconds
                let result = try engine.execute(c.kpid, options: options)
                kpidTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                rows = result.rows.count
            }
            var sqliteTimes: [Double] = []
            if let sqlite {
                for _ in 0..<sqliteRuns {
                    let t = DispatchTime.now().uptimeNanoseconds
                    let statement = try sqlite.prepare(c.sqlite)
                    while try statement.step() {}
                    sqliteTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
                }
            }
            let km = Self.percentile(kpidTimes, 0.5)
            let kp = Self.percentile(kpidTimes, 0.99)
            var sqliteMedian = "-"
            var sqliteP99 = "-"
            var ratio = "-"
            if !sqliteTimes.isEmpty {
                let sm = Self.percentile(sqliteTimes, 0.5)
                sqliteMedian = Self.ms(sm)
                sqliteP99 = Self.ms(Self.percentile(sqliteTimes, 0.99))
                ratio = String(format: "%.1fx", sm / km)
            }
            print("| \(c.name) | \(Self.ms(km)) | \(Self.ms(kp)) | \(rows) | \(sqliteMedian) | \(sqliteP99) | \(ratio) |")
        }
    }

    static func percentile(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((q * Double(sorted.count - 1)).rounded(.up)))]
    }

    static func ms(_ v: Double) -> String { v < 10 ? String(format: "%.2f ms", v) : String(format: "%.0f ms", v) }
}
