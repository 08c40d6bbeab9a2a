import Foundation
import KPICore
import KPIStorage
import KPITestSupport
import Testing

@testable import KPIQuery

/// The same seeded data in kpid's store and in a plain SQLite table, and pairs of queries: the
/// kpid dialect and a hand-written SQLite equivalent (window functions, recursive CTEs, date
/// functions). Every pair must give the same rows in the same order. Doubles are compared
/// with a relative tolerance of 1e-9 (summation order differs between the engines).
final class DifferentialFixture: @unchecked Sendable {
    static let shared = DifferentialFixture()

    /// 2026-11-16T00:00:00Z, a Monday.
    static let t0: Int64 = 1_794_787_200_000
    static let now: Int64 = t0 + 3 * 86_400_000
    /// The staleness limit of the state metrics in the `intervals` cases: a silence longer
    /// than 3 minutes makes a series unknown (the SQLite side writes the same rule out).
    static let staleMs: Int64 = 180_000

    /// `WITH ... spans(sid, site, zone, device, start, end)`: the runs where `condition` held,
    /// by the definition of `intervals`: a run starts at a holding sample after a sample that
    /// did not hold or after a silence over ``staleMs``; it ends at the first later sample that
    /// does not hold, or when a silence passes ``staleMs`` (then `staleMs` after the last
    /// sample), or, still holding at the last sample, `staleMs` after it but no later than now.
    static func runs(_ metric: String, _ condition: String, _ filter: String) -> String {
        """
        WITH s AS (SELECT sid, site, zone, device, ts, value, lag(value) OVER w AS pv, lag(ts) OVER w AS pt
                   FROM samples WHERE metric = '\(metric)' AND \(filter) WINDOW w AS (PARTITION BY sid ORDER BY ts)),
             starts AS (SELECT sid, site, zone, device, ts FROM s
                        WHERE (\(condition)) AND (pv IS NULL OR NOT (\(condition.replacingOccurrences(of: "value", with: "pv"))) OR ts - pt > \(staleMs))),
             spans AS (SELECT sid, site, zone, device, ts AS start, coalesce(
                          (SELECT CASE WHEN b.ts - b.pt > \(staleMs) THEN b.pt + \(staleMs) ELSE b.ts END FROM s b
                           WHERE b.sid = starts.sid AND b.ts > starts.ts AND (NOT (\(condition.replacingOccurrences(of: "value", with: "b.value"))) OR b.ts - b.pt > \(staleMs))
                           ORDER BY b.ts LIMIT 1),
                          min((SELECT max(ts) FROM s b WHERE b.sid = starts.sid) + \(staleMs), \(now))) AS "end" FROM starts)
        """
    }

    static func options(_ parameters: [String: Value] = [:]) -> QueryOptions {
        var options = QueryOptions(now: now, parameters: parameters)
        options.staleness = StalenessPolicy(rules: ["device_up": staleMs, "occupancy": staleMs])
        return options
    }
    let store = ColumnarStore()
    let sqlite: SQLiteConnection
    let path: String

    private init() {
        // In memory: the fixture is a static that lives until the process exits, so a file
        // would be left behind in the temporary directory by every run.
        path = ":memory:"
        sqlite = try! SQLiteConnection(path: path)
        try! sqlite.execute(
            "CREATE TABLE samples (metric TEXT, site TEXT, zone TEXT, device TEXT, sid INTEGER, ts INTEGER, value REAL)")
        try! sqlite.execute("PRAGMA case_sensitive_like = ON")
        var rng = SeededGenerator(seed: 20_261_116)
        var series: [(Labels, [Int64], [Double])] = []
        let zones = [("JFK", "T4-A"), ("JFK", "T4-B"), ("JFK", "T1-A"), ("LHR", "T5-A"), ("LHR", "T5-B")]
        let minutes = 3 * 24 * 60
        func times(gap: Range<Int>? = nil) -> [Int64] {
            var out: [Int64] = []
            for m in 0..<minutes where rng.below(100) >= 3 && !(gap?.contains(m / 60) ?? false) {
                out.append(Self.t0 + Int64(m) * 60_000 + Int64(rng.below(5)) * 1000)
            }
            return out
        }
        for (site, zone) in zones {
            let gap = zone == "T1-A" ? 10..<15 : nil
            let t1 = times(gap: gap)
            series.append(
                (Labels(metric: "queue_wait_seconds", ["site": site, "zone": zone]), t1, t1.map { _ in Double(rng.below(600_000)) / 1000 }))
            let t2 = times(gap: gap)
            series.append((Labels(metric: "occupancy", ["site": site, "zone": zone]), t2, t2.map { _ in Double(rng.below(121)) }))
            let t3 = times()
            var counter = Double(rng.below(1000))
            let values = t3.map { _ -> Double in
                if rng.below(500) == 0 { counter = 0 } else { counter += Double(rng.below(21)) }
                return counter
            }
            series.append((Labels(metric: "requests_total", ["site": site, "zone": zone]), t3, values))
        }
        let lhrAll = times()
        series.append((Labels(metric: "queue_wait_seconds", ["site": "LHR"]), lhrAll, lhrAll.map { _ in Double(rng.below(900)) }))
        for site in ["JFK", "LHR"] {
            for d in 1...4 {
                let t = times()
                var up = 1.0
                let values = t.map { _ -> Double in
                    if rng.below(50) == 0 { up = 1 - up }
                    return up
                }
                series.append((Labels(metric: "device_up", ["site": site, "device": "cam-\(d)"]), t, values))
            }
        }
        let insert = try! sqlite.prepare("INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?)")
        try! sqlite.execute("BEGIN")
        for (k, (labels, ts, vs)) in series.enumerated() {
            let id = SeriesID(UInt32(k))
            store.apply(newSeries: [(id, labels)], series: [id], timestamps: [ts], values: [vs])
            for i in ts.indices {
                insert.reset()
                try! insert.bind(labels.metricName!, at: 1)
                for (n, name) in ["site", "zone", "device"].enumerated() {
                    if let v = labels[name] { try! insert.bind(v, at: n + 2) } else { try! insert.bindNull(at: n + 2) }
                }
                try! insert.bind(Int64(k), at: 5)
                try! insert.bind(ts[i], at: 6)
                try! insert.bind(vs[i], at: 7)
                _ = try! insert.step()
            }
        }
        try! sqlite.execute("COMMIT")
    }

    deinit {
        sqlite.close()
    }
}

/// One differential case: kpid's query and SQLite's equivalent.
struct DifferentialCase: CustomTestStringConvertible, Sendable {
    let name: String
    let kpid: String
    let sqlite: String
    var parameters: [String: Value] = [:]

    var testDescription: String { name }
}

let now = "\(DifferentialFixture.now)"
let day = "86400000"
let weekStartSQLite =
    "CAST(strftime('%s', date(ts / 1000, 'unixepoch', '-' || ((CAST(strftime('%w', ts / 1000, 'unixepoch') AS INTEGER) + 6) % 7) || ' days')) AS INTEGER) * 1000"

/// SQLite has no quantile: this computes the R-7 quantile (linear interpolation between closest
/// ranks) of `value` per `keys` from row numbers.
func sqliteQuantile(_ q: Double, keys: String, from: String) -> String {
    """
    WITH r AS (SELECT \(keys), value, row_number() OVER (PARTITION BY \(keys) ORDER BY value) - 1 AS i,
                      count(*) OVER (PARTITION BY \(keys)) AS n FROM \(from)),
         p AS (SELECT \(keys), value, i, n, \(q) * (n - 1) AS pos FROM r)
    SELECT \(keys),
      max(CASE WHEN i = CAST(pos AS INTEGER) THEN value END)
        + (coalesce(max(CASE WHEN i = CAST(pos AS INTEGER) + 1 THEN value END), max(CASE WHEN i = CAST(pos AS INTEGER) THEN value END))
           - max(CASE WHEN i = CAST(pos AS INTEGER) THEN value END)) * (max(pos) - CAST(max(pos) AS INTEGER))
    FROM p GROUP BY \(keys) ORDER BY \(keys)
    """
}

let differentialCases: [DifferentialCase] = [
    DifferentialCase(
        name: "count of a metric",
        kpid: "SELECT count(*) AS n FROM queue_wait_seconds",
        sqlite: "SELECT count(*) FROM samples WHERE metric = 'queue_wait_seconds'"),
    DifferentialCase(
        name: "the issue's example: buckets, label and LIKE filters, HAVING, ORDER BY, LIMIT",
        kpid: """
            SELECT time_bucket('1h', ts) AS hour, zone, avg(value) AS avg_wait, max(value) AS worst_wait,
                   quantile(0.5, value) AS p50, count(*) AS n
            FROM queue_wait_seconds
            WHERE site = 'JFK' AND zone LIKE 'T4-%' AND ts >= now() - INTERVAL '2 days'
            GROUP BY hour, zone HAVING count(*) > 50 ORDER BY hour, worst_wait DESC LIMIT 40
            """,
        sqlite: """
            WITH r AS (SELECT (ts / 3600000) * 3600000 AS hour, zone, value,
                              row_number() OVER (PARTITION BY ts / 3600000, zone ORDER BY value) - 1 AS i,
                              count(*) OVER (PARTITION BY ts / 3600000, zone) AS n
                       FROM samples WHERE metric = 'queue_wait_seconds' AND site = 'JFK' AND zone LIKE 'T4-%'
                         AND ts >= \(now) - 2 * \(day))
            SELECT hour, zone, avg(value), max(value),
                   max(CASE WHEN i = CAST(0.5 * (n - 1) AS INTEGER) THEN value END)
                   + (coalesce(max(CASE WHEN i = CAST(0.5 * (n - 1) AS INTEGER) + 1 THEN value END),
                               max(CASE WHEN i = CAST(0.5 * (n - 1) AS INTEGER) THEN value END))
                      - max(CASE WHEN i = CAST(0.5 * (n - 1) AS INTEGER) THEN value END))
                     * (0.5 * (max(n) - 1) - CAST(0.5 * (max(n) - 1) AS INTEGER)),
                   count(*)
            FROM r GROUP BY hour, zone HAVING count(*) > 50 ORDER BY hour, max(value) DESC LIMIT 40
            """),
    DifferentialCase(
        name: "sum, min, max, avg per zone with IS NULL group",
        kpid:
            "SELECT zone, sum(value) AS s, min(value) AS lo, max(value) AS hi, avg(value) AS a FROM queue_wait_seconds GROUP BY zone ORDER BY zone NULLS FIRST",
        sqlite:
            "SELECT zone, sum(value), min(value), max(value), avg(value) FROM samples WHERE metric = 'queue_wait_seconds' GROUP BY zone ORDER BY zone"
    ),
    DifferentialCase(
        name: "first and last by time",
        kpid: "SELECT zone, first(value) AS f, last(value) AS l FROM occupancy WHERE site = 'JFK' GROUP BY zone ORDER BY zone",
        sqlite: """
            SELECT zone, (SELECT value FROM samples b WHERE b.metric = 'occupancy' AND b.site = 'JFK' AND b.zone = a.zone ORDER BY ts LIMIT 1),
                   (SELECT value FROM samples b WHERE b.metric = 'occupancy' AND b.site = 'JFK' AND b.zone = a.zone ORDER BY ts DESC LIMIT 1)
            FROM samples a WHERE metric = 'occupancy' AND site = 'JFK' GROUP BY zone ORDER BY zone
            """),
    DifferentialCase(
        name: "variance and stddev",
        kpid:
            "SELECT site, variance(value) AS v, stddev(value) * stddev(value) AS s2, stddev_pop(value) * stddev_pop(value) AS p2 FROM occupancy GROUP BY site ORDER BY site",
        sqlite: """
            SELECT site, (sum(value * value) - sum(value) * sum(value) / count(*)) / (count(*) - 1),
                   (sum(value * value) - sum(value) * sum(value) / count(*)) / (count(*) - 1),
                   (sum(value * value) - sum(value) * sum(value) / count(*)) / count(*)
            FROM samples WHERE metric = 'occupancy' GROUP BY site ORDER BY site
            """),
    DifferentialCase(
        name: "p95 per zone per day",
        kpid: "SELECT zone, quantile(0.95, value) AS p95 FROM queue_wait_seconds WHERE zone IS NOT NULL GROUP BY zone ORDER BY zone",
        sqlite: sqliteQuantile(0.95, keys: "zone", from: "samples WHERE metric = 'queue_wait_seconds' AND zone IS NOT NULL")),
    DifferentialCase(
        name: "count_if and sum_if",
        kpid:
            "SELECT zone, count_if(value > 100) AS crowded, sum_if(value, value > 100) AS crowd FROM occupancy GROUP BY zone ORDER BY zone",
        sqlite:
            "SELECT zone, sum(CASE WHEN value > 100 THEN 1 ELSE 0 END), sum(CASE WHEN value > 100 THEN value END) FROM samples WHERE metric = 'occupancy' GROUP BY zone ORDER BY zone"
    ),
    DifferentialCase(
        name: "CASE, arithmetic, ORDER BY with OFFSET",
        kpid: """
            SELECT ts, value * 2 + 1 AS doubled, value / 60 AS minutes,
                   CASE WHEN value > 500 THEN 'long' WHEN value > 100 THEN 'medium' ELSE 'short' END AS class
            FROM queue_wait_seconds WHERE zone = 'T4-A' ORDER BY value DESC, ts LIMIT 25 OFFSET 10
            """,
        sqlite: """
            SELECT ts, value * 2 + 1, value / 60,
                   CASE WHEN value > 500 THEN 'long' WHEN value > 100 THEN 'medium' ELSE 'short' END
            FROM samples WHERE metric = 'queue_wait_seconds' AND zone = 'T4-A' ORDER BY value DESC, ts LIMIT 25 OFFSET 10
            """),
    DifferentialCase(
        name: "IN, NOT IN, BETWEEN",
        kpid: """
            SELECT zone, count(*) AS n FROM occupancy
            WHERE zone IN ('T4-A', 'T5-A', 'T5-B') AND zone NOT IN ('T5-B') AND value BETWEEN 20 AND 40 GROUP BY zone ORDER BY zone
            """,
        sqlite: """
            SELECT zone, count(*) FROM samples WHERE metric = 'occupancy'
              AND zone IN ('T4-A', 'T5-A', 'T5-B') AND zone NOT IN ('T5-B') AND value BETWEEN 20 AND 40 GROUP BY zone ORDER BY zone
            """),
    DifferentialCase(
        name: "IS NULL on a missing label",
        kpid: "SELECT site, count(*) AS n, max(value) AS hi FROM queue_wait_seconds WHERE zone IS NULL GROUP BY site",
        sqlite: "SELECT site, count(*), max(value) FROM samples WHERE metric = 'queue_wait_seconds' AND zone IS NULL GROUP BY site"),
    DifferentialCase(
        name: "regular expression match",
        kpid: "SELECT zone, count(*) AS n FROM occupancy WHERE zone ~ '^T[45]-A$' GROUP BY zone ORDER BY zone",
        sqlite: "SELECT zone, count(*) FROM samples WHERE metric = 'occupancy' AND zone GLOB 'T[45]-A' GROUP BY zone ORDER BY zone"),
    DifferentialCase(
        name: "OR across labels with a value filter (per-row evaluation)",
        kpid: "SELECT count(*) AS n, sum(value) AS s FROM queue_wait_seconds WHERE (site = 'JFK' OR zone = 'T5-A') AND value > 300",
        sqlite:
            "SELECT count(*), sum(value) FROM samples WHERE metric = 'queue_wait_seconds' AND (site = 'JFK' OR zone = 'T5-A') AND value > 300"
    ),
    DifferentialCase(
        name: "integer CAST and modulo",
        kpid: "SELECT CAST(value AS integer) % 7 AS r, count(*) AS n FROM occupancy GROUP BY r ORDER BY r",
        sqlite: "SELECT CAST(value AS INTEGER) % 7 AS r, count(*) FROM samples WHERE metric = 'occupancy' GROUP BY r ORDER BY r"),
    DifferentialCase(
        name: "date_trunc day and week (Monday)",
        kpid: "SELECT date_trunc('day', ts) AS d, date_trunc('week', ts) AS w, count(*) AS n FROM occupancy GROUP BY d, w ORDER BY d",
        sqlite:
            "SELECT (ts / 86400000) * 86400000 AS d, \(weekStartSQLite) AS w, count(*) FROM samples WHERE metric = 'occupancy' GROUP BY d, w ORDER BY d"
    ),
    DifferentialCase(
        name: "date_part hour and isodow",
        kpid: """
            SELECT date_part('hour', ts) AS h, date_part('isodow', ts) AS dow, avg(value) AS a FROM occupancy
            WHERE date_part('hour', ts) BETWEEN 8 AND 19 GROUP BY h, dow ORDER BY dow, h
            """,
        sqlite: """
            SELECT CAST(strftime('%H', ts / 1000, 'unixepoch') AS INTEGER) AS h,
                   (CAST(strftime('%w', ts / 1000, 'unixepoch') AS INTEGER) + 6) % 7 + 1 AS dow, avg(value)
            FROM samples WHERE metric = 'occupancy' AND CAST(strftime('%H', ts / 1000, 'unixepoch') AS INTEGER) BETWEEN 8 AND 19
            GROUP BY h, dow ORDER BY dow, h
            """),
    DifferentialCase(
        name: "time_in_state: downtime per device",
        kpid: """
            SELECT device, time_in_state(value, value = 0) AS down, time_in_state(value = 1) AS up FROM device_up
            WHERE site = 'LHR' GROUP BY device ORDER BY device
            """,
        sqlite: """
            SELECT device, sum(CASE WHEN value = 0 THEN held ELSE 0 END), sum(CASE WHEN value = 1 THEN held ELSE 0 END)
            FROM (SELECT device, value, min(coalesce(nxt - ts, \(DifferentialFixture.staleMs)), \(DifferentialFixture.staleMs), \(DifferentialFixture.now) - ts) AS held
                  FROM (SELECT device, ts, value, lead(ts) OVER (PARTITION BY sid ORDER BY ts) AS nxt FROM samples
                        WHERE metric = 'device_up' AND site = 'LHR'))
            GROUP BY device ORDER BY device
            """),
    DifferentialCase(
        name: "uptime percent over a time range",
        kpid: """
            SELECT device, 100.0 * time_in_state(value = 1) / (time_in_state(value = 1) + time_in_state(value = 0)) AS uptime_pct
            FROM device_up WHERE ts >= TIMESTAMP '2026-11-17T00:00:00Z' AND ts < TIMESTAMP '2026-11-18T00:00:00Z' AND site = 'JFK'
            GROUP BY device ORDER BY device
            """,
        sqlite: """
            SELECT device, 100.0 * sum(CASE WHEN value = 1 THEN held ELSE 0 END) / sum(held)
            FROM (SELECT device, value,
                         max(0, min(coalesce(nxt, ts + \(DifferentialFixture.staleMs)), ts + \(DifferentialFixture.staleMs), \(DifferentialFixture.t0 + 2 * 86_400_000))
                                - max(ts, \(DifferentialFixture.t0 + 86_400_000))) AS held
                  FROM (SELECT device, ts, value, lead(ts) OVER (PARTITION BY sid ORDER BY ts) AS nxt FROM samples
                        WHERE metric = 'device_up' AND site = 'JFK'))
            GROUP BY device HAVING sum(held) > 0 ORDER BY device
            """),
    DifferentialCase(
        name: "intervals: each outage",
        kpid: "SELECT device, start, \"end\", duration FROM intervals(device_up, value = 0) WHERE site = 'JFK' ORDER BY device, start",
        sqlite: """
            \(DifferentialFixture.runs("device_up", "value = 0", "site = 'JFK'"))
            SELECT device, start, "end", "end" - start FROM spans ORDER BY device, start
            """),
    DifferentialCase(
        name: "intervals: MTTR and long outages per site",
        kpid: """
            SELECT site, count(*) AS incidents, avg(duration) AS mttr, count_if(duration >= INTERVAL '15 minutes') AS long_ones
            FROM intervals(device_up, value = 0) GROUP BY site ORDER BY site
            """,
        sqlite: """
            \(DifferentialFixture.runs("device_up", "value = 0", "1"))
            SELECT site, count(*), CAST(round(avg("end" - start)) AS INTEGER), sum(CASE WHEN "end" - start >= 900000 THEN 1 ELSE 0 END)
            FROM spans GROUP BY site ORDER BY site
            """),
    DifferentialCase(
        name: "increase and rate of counters (reset-aware)",
        kpid: "SELECT site, increase(value) AS inc, rate(value) AS per_second FROM requests_total GROUP BY site ORDER BY site",
        sqlite: """
            WITH s AS (SELECT sid, site, ts, value, lag(value) OVER (PARTITION BY sid ORDER BY ts) AS prev FROM samples WHERE metric = 'requests_total'),
                 per AS (SELECT sid, site, sum(CASE WHEN prev IS NULL THEN 0 WHEN value >= prev THEN value - prev ELSE value END) AS inc,
                                (max(ts) - min(ts)) / 1000.0 AS secs FROM s GROUP BY sid, site)
            SELECT site, sum(inc), sum(inc / secs) FROM per GROUP BY site ORDER BY site
            """),
    DifferentialCase(
        name: "hourly increase per zone (the step into a bucket counts in it: buckets add up)",
        kpid:
            "SELECT time_bucket('1h', ts) AS hour, zone, increase(value) AS inc FROM requests_total WHERE site = 'LHR' GROUP BY hour, zone ORDER BY hour, zone",
        sqlite: """
            WITH s AS (SELECT sid, zone, ts / 3600000 AS h, value, lag(value) OVER (PARTITION BY sid ORDER BY ts) AS prev
                       FROM samples WHERE metric = 'requests_total' AND site = 'LHR')
            SELECT h * 3600000, zone, sum(CASE WHEN prev IS NULL THEN 0 WHEN value >= prev THEN value - prev ELSE value END)
            FROM s GROUP BY h, zone ORDER BY h, zone
            """),
    DifferentialCase(
        name: "increase over a time range counts the step from the sample before the range",
        kpid: """
            SELECT time_bucket('1h', ts) AS hour, zone, increase(value) AS inc FROM requests_total
            WHERE site = 'JFK' AND ts >= TIMESTAMP '2026-11-17T06:30:00Z' AND ts < TIMESTAMP '2026-11-17T12:00:00Z'
            GROUP BY hour, zone ORDER BY hour, zone
            """,
        sqlite: """
            WITH s AS (SELECT sid, zone, ts, value, lag(value) OVER (PARTITION BY sid ORDER BY ts) AS prev,
                              lag(ts) OVER (PARTITION BY sid ORDER BY ts) AS prev_ts
                       FROM samples WHERE metric = 'requests_total' AND site = 'JFK')
            SELECT (ts / 3600000) * 3600000 AS h, zone,
                   sum(CASE WHEN prev IS NULL OR prev_ts < \(DifferentialFixture.t0 + 30 * 3_600_000 + 1_800_000) - 3600000 THEN 0
                            WHEN value >= prev THEN value - prev ELSE value END)
            FROM s WHERE ts >= \(DifferentialFixture.t0 + 30 * 3_600_000 + 1_800_000) AND ts < \(DifferentialFixture.t0 + 36 * 3_600_000)
            GROUP BY h, zone ORDER BY h, zone
            """),
    DifferentialCase(
        name: "FILL(0) over a gap",
        kpid: """
            SELECT time_bucket('1h', ts) AS hour, count(*) AS n FROM queue_wait_seconds
            WHERE zone = 'T1-A' AND ts >= TIMESTAMP '2026-11-16T06:00:00Z' AND ts < TIMESTAMP '2026-11-16T18:00:00Z'
            GROUP BY hour FILL(0) ORDER BY hour
            """,
        sqlite: """
            WITH RECURSIVE b(hour) AS (SELECT \(DifferentialFixture.t0 + 6 * 3_600_000) UNION ALL SELECT hour + 3600000 FROM b WHERE hour < \(DifferentialFixture.t0 + 17 * 3_600_000)),
                 c AS (SELECT (ts / 3600000) * 3600000 AS hour, count(*) AS n FROM samples WHERE metric = 'queue_wait_seconds' AND zone = 'T1-A' GROUP BY 1)
            SELECT b.hour, coalesce(c.n, 0) FROM b LEFT JOIN c ON c.hour = b.hour ORDER BY b.hour
            """),
    DifferentialCase(
        name: "FILL(previous) and FILL(null) keep every bucket",
        kpid: """
            SELECT time_bucket('1h', ts) AS hour, max(value) AS hi FROM occupancy
            WHERE zone = 'T1-A' AND ts >= TIMESTAMP '2026-11-16T08:00:00Z' AND ts <= TIMESTAMP '2026-11-16T16:30:00Z'
            GROUP BY hour FILL(previous) ORDER BY hour
            """,
        sqlite: """
            WITH RECURSIVE b(hour) AS (SELECT \(DifferentialFixture.t0 + 8 * 3_600_000) UNION ALL SELECT hour + 3600000 FROM b WHERE hour < \(DifferentialFixture.t0 + 16 * 3_600_000)),
                 c AS (SELECT (ts / 3600000) * 3600000 AS hour, max(value) AS hi FROM samples WHERE metric = 'occupancy' AND zone = 'T1-A'
                       AND ts <= \(DifferentialFixture.t0 + 16 * 3_600_000 + 1_800_000) GROUP BY 1)
            SELECT b.hour, (SELECT hi FROM c WHERE c.hour <= b.hour AND c.hour >= \(DifferentialFixture.t0 + 8 * 3_600_000) ORDER BY c.hour DESC LIMIT 1)
            FROM b ORDER BY b.hour
            """),
    DifferentialCase(
        name: "JOIN of bucketed subqueries USING (hour, zone)",
        kpid: """
            SELECT hour, zone, r.inc / o.avg_occ AS per_person FROM
              (SELECT time_bucket('6h', ts) AS hour, zone, increase(value) AS inc FROM requests_total WHERE site = 'JFK' GROUP BY hour, zone) AS r
              JOIN (SELECT time_bucket('6h', ts) AS hour, zone, avg(value) AS avg_occ FROM occupancy WHERE site = 'JFK' GROUP BY hour, zone) AS o
              USING (hour, zone)
            ORDER BY hour, zone
            """,
        sqlite: """
            WITH s AS (SELECT sid, zone, ts / 21600000 AS h, value, lag(value) OVER (PARTITION BY sid ORDER BY ts) AS prev
                       FROM samples WHERE metric = 'requests_total' AND site = 'JFK'),
                 r AS (SELECT h * 21600000 AS hour, zone, sum(CASE WHEN prev IS NULL THEN 0 WHEN value >= prev THEN value - prev ELSE value END) AS inc
                       FROM s GROUP BY h, zone),
                 o AS (SELECT (ts / 21600000) * 21600000 AS hour, zone, avg(value) AS avg_occ FROM samples WHERE metric = 'occupancy' AND site = 'JFK' GROUP BY 1, 2)
            SELECT r.hour, r.zone, r.inc / o.avg_occ FROM r JOIN o ON r.hour = o.hour AND r.zone = o.zone ORDER BY r.hour, r.zone
            """),
    DifferentialCase(
        name: "USING columns named through either side's alias (o.hour, r.zone)",
        kpid: """
            SELECT o.hour, r.zone, r.inc / o.avg_occ AS per_person FROM
              (SELECT time_bucket('6h', ts) AS hour, zone, increase(value) AS inc FROM requests_total WHERE site = 'JFK' GROUP BY hour, zone) AS r
              JOIN (SELECT time_bucket('6h', ts) AS hour, zone, avg(value) AS avg_occ FROM occupancy WHERE site = 'JFK' GROUP BY hour, zone) AS o
              USING (hour, zone)
            ORDER BY o.hour, r.zone
            """,
        sqlite: """
            WITH s AS (SELECT sid, zone, ts / 21600000 AS h, value, lag(value) OVER (PARTITION BY sid ORDER BY ts) AS prev
                       FROM samples WHERE metric = 'requests_total' AND site = 'JFK'),
                 r AS (SELECT h * 21600000 AS hour, zone, sum(CASE WHEN prev IS NULL THEN 0 WHEN value >= prev THEN value - prev ELSE value END) AS inc
                       FROM s GROUP BY h, zone),
                 o AS (SELECT (ts / 21600000) * 21600000 AS hour, zone, avg(value) AS avg_occ FROM samples WHERE metric = 'occupancy' AND site = 'JFK' GROUP BY 1, 2)
            SELECT o.hour, r.zone, r.inc / o.avg_occ FROM r JOIN o ON r.hour = o.hour AND r.zone = o.zone ORDER BY o.hour, r.zone
            """),
    DifferentialCase(
        name: "LEFT JOIN keeps unmatched rows with NULLs",
        kpid: """
            SELECT zone, q.n AS queue_samples, g.n AS gap_hours FROM
              (SELECT zone, count(*) AS n FROM queue_wait_seconds WHERE zone IS NOT NULL GROUP BY zone) AS q
              LEFT JOIN (SELECT zone, count(*) AS n FROM occupancy WHERE zone = 'T1-A' AND value > 60 GROUP BY zone) AS g USING (zone)
            ORDER BY zone
            """,
        sqlite: """
            SELECT q.zone, q.n, g.n FROM (SELECT zone, count(*) AS n FROM samples WHERE metric = 'queue_wait_seconds' AND zone IS NOT NULL GROUP BY zone) AS q
              LEFT JOIN (SELECT zone, count(*) AS n FROM samples WHERE metric = 'occupancy' AND zone = 'T1-A' AND value > 60 GROUP BY zone) AS g ON q.zone = g.zone
            ORDER BY q.zone
            """),
    DifferentialCase(
        name: "JOIN ON with an extra condition",
        kpid: """
            SELECT a.zone AS za, b.zone AS zb, a.hi AS hi FROM
              (SELECT site, zone, max(value) AS hi FROM occupancy GROUP BY site, zone) AS a
              JOIN (SELECT site, zone, min(value) AS lo FROM occupancy GROUP BY site, zone) AS b
              ON a.site = b.site AND a.zone < b.zone
            ORDER BY za, zb
            """,
        sqlite: """
            SELECT a.zone, b.zone, a.hi FROM
              (SELECT site, zone, max(value) AS hi FROM samples WHERE metric = 'occupancy' GROUP BY site, zone) AS a
              JOIN (SELECT site, zone, min(value) AS lo FROM samples WHERE metric = 'occupancy' GROUP BY site, zone) AS b
              ON a.site = b.site AND a.zone < b.zone
            ORDER BY a.zone, b.zone
            """),
    DifferentialCase(
        name: "aggregate over a subquery (average of hourly maxima)",
        kpid: """
            SELECT zone, avg(hi) AS avg_peak, max(hi) AS peak FROM
              (SELECT time_bucket('1h', ts) AS hour, zone, max(value) AS hi FROM occupancy GROUP BY hour, zone) AS h
            WHERE hi > 110 GROUP BY zone ORDER BY zone
            """,
        sqlite: """
            SELECT zone, avg(hi), max(hi) FROM (SELECT ts / 3600000 AS hour, zone, max(value) AS hi FROM samples WHERE metric = 'occupancy' GROUP BY 1, 2)
            WHERE hi > 110 GROUP BY zone ORDER BY zone
            """),
    DifferentialCase(
        name: "DISTINCT and count(DISTINCT)",
        kpid: "SELECT DISTINCT site, zone FROM occupancy WHERE value > 119 ORDER BY site, zone",
        sqlite: "SELECT DISTINCT site, zone FROM samples WHERE metric = 'occupancy' AND value > 119 ORDER BY site, zone"),
    DifferentialCase(
        name: "count(DISTINCT) of a label and a value",
        kpid: "SELECT site, count(DISTINCT zone) AS zones, count(DISTINCT value) AS levels FROM occupancy GROUP BY site ORDER BY site",
        sqlite:
            "SELECT site, count(DISTINCT zone), count(DISTINCT value) FROM samples WHERE metric = 'occupancy' GROUP BY site ORDER BY site"),
    DifferentialCase(
        name: "ORDER BY an expression not selected, by position, NULLS FIRST",
        kpid: "SELECT zone, count(*) AS n FROM queue_wait_seconds GROUP BY zone ORDER BY max(value) - min(value) DESC, 1 NULLS FIRST",
        sqlite:
            "SELECT zone, count(*) FROM samples WHERE metric = 'queue_wait_seconds' GROUP BY zone ORDER BY max(value) - min(value) DESC, zone"
    ),
    DifferentialCase(
        name: "scalar functions",
        kpid: """
            SELECT ts, coalesce(zone, 'none') AS z, round(value / 7, 2) AS r, floor(value / 7) AS f, ceil(value / 7) AS c, abs(value - 300) AS d,
                   greatest(value, 100) AS g, least(value, 100) AS l, nullif(site, 'LHR') AS s, upper(site) AS u, length(site) AS n
            FROM queue_wait_seconds WHERE site = 'LHR' ORDER BY ts, z LIMIT 50
            """,
        sqlite: """
            SELECT ts, coalesce(zone, 'none') AS z, round(value / 7 + 0.0, 2), CAST(value / 7 AS INTEGER) * 1.0,
                   CASE WHEN value / 7 = CAST(value / 7 AS INTEGER) THEN value / 7 ELSE CAST(value / 7 AS INTEGER) + 1.0 END,
                   abs(value - 300), max(value, 100), min(value, 100), nullif(site, 'LHR'), upper(site), length(site)
            FROM samples WHERE metric = 'queue_wait_seconds' AND site = 'LHR' ORDER BY ts, z LIMIT 50
            """),
    DifferentialCase(
        name: "interval arithmetic: span per zone, epoch functions",
        kpid:
            "SELECT zone, max(ts) - min(ts) AS span, epoch_ms(min(ts)) AS first_ms, epoch(max(ts)) AS last_s FROM occupancy GROUP BY zone ORDER BY zone",
        sqlite:
            "SELECT zone, max(ts) - min(ts), min(ts), max(ts) / 1000.0 FROM samples WHERE metric = 'occupancy' GROUP BY zone ORDER BY zone"),
    DifferentialCase(
        name: "named parameters, string timestamps and now() arithmetic",
        kpid: """
            SELECT count(*) AS n, avg(value) AS a FROM queue_wait_seconds
            WHERE site = :site AND ts >= :from AND ts < now() - INTERVAL '1 day' AND value >= :threshold
            """,
        sqlite: """
            SELECT count(*), avg(value) FROM samples WHERE metric = 'queue_wait_seconds' AND site = 'JFK'
              AND ts >= \(DifferentialFixture.t0 + 12 * 3_600_000) AND ts < \(DifferentialFixture.now - 86_400_000) AND value >= 250.5
            """,
        parameters: ["site": .string("JFK"), "from": .string("2026-11-16T12:00:00Z"), "threshold": .double(250.5)]),
    DifferentialCase(
        name: "count(x) skips NULLs; ts BETWEEN",
        kpid: """
            SELECT site, count(zone) AS with_zone, count(*) AS all_rows FROM queue_wait_seconds
            WHERE ts BETWEEN TIMESTAMP '2026-11-17T00:00:00Z' AND TIMESTAMP '2026-11-17T06:00:00Z' GROUP BY site ORDER BY site
            """,
        sqlite: """
            SELECT site, count(zone), count(*) FROM samples WHERE metric = 'queue_wait_seconds'
              AND ts BETWEEN \(DifferentialFixture.t0 + 86_400_000) AND \(DifferentialFixture.t0 + 86_400_000 + 6 * 3_600_000) GROUP BY site ORDER BY site
            """),
    DifferentialCase(
        name: "zones over 90 % of capacity for at least 15 minutes",
        kpid: """
            SELECT zone, count(*) AS events, sum(duration) AS total FROM intervals(occupancy, value > 0.9 * 120)
            WHERE duration >= INTERVAL '3 minutes' GROUP BY zone ORDER BY zone
            """,
        sqlite: """
            \(DifferentialFixture.runs("occupancy", "value > 108", "1"))
            SELECT zone, count(*), sum("end" - start) FROM spans WHERE "end" - start >= 180000 GROUP BY zone ORDER BY zone
            """),
    DifferentialCase(
        name: "time_bucket with an origin",
        kpid:
            "SELECT time_bucket(INTERVAL '1 day', ts, TIMESTAMP '2026-11-16T05:00:00Z') AS local_day, count(*) AS n FROM occupancy GROUP BY local_day ORDER BY local_day",
        sqlite: """
            SELECT ((ts - \(DifferentialFixture.t0 + 5 * 3_600_000) + 10 * 86400000) / 86400000 - 10) * 86400000 + \(DifferentialFixture.t0 + 5 * 3_600_000) AS d, count(*)
            FROM samples WHERE metric = 'occupancy' GROUP BY d ORDER BY d
            """),
]

@Suite(.serialized) struct DifferentialTests {
    @Test(arguments: differentialCases)
    func sameAnswerAsSQLite(_ c: DifferentialCase) throws {
        let fixture = DifferentialFixture.shared
        let ours = try QueryEngine(store: fixture.store).execute(
            c.kpid, options: DifferentialFixture.options(c.parameters))
        let statement = try fixture.sqlite.prepare(c.sqlite)
        var theirs: [[Value]] = []
        while try statement.step() {
            var row: [Value] = []
            for i in 0..<statement.columnCount {
                let type = ours.columns.indices.contains(i) ? ours.columns[i].type : .string
                if statement.isNull(at: i) {
                    row.append(.null)
                    continue
                }
                switch type {
                case .integer: row.append(.int(statement.int64(at: i)))
                case .timestamp: row.append(.timestamp(statement.int64(at: i)))
                case .interval: row.append(.interval(statement.int64(at: i)))
                case .double: row.append(.double(statement.double(at: i)))
                case .boolean: row.append(.bool(statement.int64(at: i) != 0))
                case .string, .null: row.append(.string(statement.string(at: i) ?? ""))
                }
            }
            theirs.append(row)
        }
        #expect(!theirs.isEmpty, "the SQLite side returned no rows: the case tests nothing")
        #expect(ours.rows.count == theirs.count, "row count")
        for (i, (a, b)) in zip(ours.rows, theirs).enumerated() {
            #expect(a.count == b.count, "row \(i) width")
            for (x, y) in zip(a, b) where !Self.same(x, y) {
                Issue.record("row \(i): kpid \(a) vs SQLite \(b)")
                break
            }
        }
    }

    static func same(_ x: Value, _ y: Value) -> Bool {
        if case .double(let a) = x, case .double(let b) = y {
            return abs(a - b) <= 1e-9 * max(1, abs(a), abs(b))
        }
        return x == y
    }
}

/// The columnar aggregation path against the row-at-a-time path on the same queries: a
/// per-sample predicate that is always true (`ts = ts`) forces the row path. Every query has a
/// WHERE clause to put it in.
@Suite(.serialized) struct ColumnarPathTests {
    static let queries = [
        "SELECT time_bucket('1h', ts) AS hour, zone, avg(value) AS a, min(value) AS lo, max(value) AS hi, count(*) AS n, sum(value) AS s FROM queue_wait_seconds WHERE site = 'JFK' GROUP BY hour, zone ORDER BY hour, zone",
        "SELECT date_trunc('day', ts, 'America/New_York') AS day, site, quantile(0.95, value) AS p95, median(value) AS p50, stddev(value) AS sd, variance(value) AS v FROM occupancy WHERE zone <> 'T4-B' GROUP BY day, site ORDER BY day, site",
        "SELECT device, first(value) AS f, last(value) AS l, time_in_state(value = 0) AS down, count_if(value = 0) AS zeros FROM device_up WHERE site = 'LHR' GROUP BY device ORDER BY device",
        "SELECT time_bucket('6h', ts) AS b, zone, increase(value) AS inc, rate(value) AS r FROM requests_total WHERE site = 'JFK' GROUP BY b, zone ORDER BY b, zone",
        "SELECT time_bucket('1h', ts) AS b, zone, increase(value) AS inc, rate(value) AS r FROM requests_total WHERE site = 'LHR' AND ts >= TIMESTAMP '2026-11-17T06:30:00Z' GROUP BY b, zone ORDER BY b, zone",
        "SELECT zone, sum_if(value, value > 100) AS s, count_if(value >= 110) AS c, stddev_pop(value) AS p FROM occupancy WHERE zone LIKE 'T%' GROUP BY zone ORDER BY zone",
        "SELECT count(*) AS n, avg(value) AS a FROM queue_wait_seconds WHERE site IS NOT NULL",
        "SELECT ts, max(value) AS m FROM occupancy WHERE zone = 'T5-A' AND ts < TIMESTAMP '2026-11-16T03:00:00Z' GROUP BY ts ORDER BY ts",
    ]

    @Test(arguments: queries)
    func sameAnswerOnBothPaths(_ sql: String) throws {
        let fixture = DifferentialFixture.shared
        let engine = QueryEngine(store: fixture.store)
        let options = QueryOptions(now: DifferentialFixture.now)
        let forced = sql.replacingOccurrences(of: "WHERE", with: "WHERE ts = ts AND")
        let plan = try engine.execute("EXPLAIN " + sql, options: options).rows.map(\.[0].description).joined(separator: "\n")
        #expect(plan.contains("Aggregate (columnar"), "\(plan)")
        let rowPlan = try engine.execute("EXPLAIN " + forced, options: options).rows.map(\.[0].description).joined(separator: "\n")
        #expect(!rowPlan.contains("columnar"), "\(rowPlan)")
        let a = try engine.execute(sql, options: options)
        let b = try engine.execute(forced, options: options)
        #expect(!a.rows.isEmpty)
        #expect(a.rows.count == b.rows.count)
        for (x, y) in zip(a.rows, b.rows) {
            #expect(zip(x, y).allSatisfy { DifferentialTests.same($0, $1) }, "\(x) vs \(y)")
        }
    }
}

/// Parallel columnar scans (shares of the series on several threads, merged) against one thread.
@Suite struct ParallelScanTests {
    static let store: ColumnarStore = {
        let store = ColumnarStore()
        var rng = SeededGenerator(seed: 7)
        for k in 0..<300 {
            let id = SeriesID(UInt32(k))
            let labels = Labels(metric: k % 3 == 0 ? "counter_total" : "gauge", ["site": "S\(k % 7)", "zone": "Z\(k % 11)", "n": "\(k)"])
            let ts = (0..<500).map { Int64($0) * 60_000 + Int64(rng.below(1000)) }
            var c = 0.0
            let vs = ts.map { _ -> Double in
                if k % 3 == 0 {
                    c = rng.below(200) == 0 ? 0 : c + Double(rng.below(10))
                    return c
                }
                return Double(rng.below(100_000)) / 100
            }
            store.apply(newSeries: [(id, labels)], series: [id], timestamps: [ts], values: [vs])
        }
        return store
    }()

    @Test(arguments: [
        "SELECT time_bucket('1h', ts) AS h, site, count(*) AS n, sum(value) AS s, min(value) AS lo, max(value) AS hi, avg(value) AS a, stddev(value) AS sd, quantile(0.9, value) AS q, first(value) AS f, last(value) AS l, count_if(value > 500) AS c, time_in_state(value > 500) AS t FROM gauge WHERE zone <> 'Z3' GROUP BY h, site ORDER BY h, site",
        "SELECT site, increase(value) AS inc, rate(value) AS r FROM counter_total WHERE site IS NOT NULL GROUP BY site ORDER BY site",
        "SELECT zone, variance(value) AS v, stddev_pop(value) AS p FROM gauge WHERE site IS NOT NULL GROUP BY zone ORDER BY zone",
    ])
    func sameAnswerOnOneAndManyThreads(_ sql: String) throws {
        let engine = QueryEngine(store: Self.store)
        var one = QueryOptions(now: 0)
        one.parallelism = 1
        var many = QueryOptions(now: 0)
        many.parallelism = 4
        let a = try engine.execute(sql, options: one)
        let b = try engine.execute(sql, options: many)
        #expect(!a.rows.isEmpty)
        #expect(a.rows.count == b.rows.count)
        #expect(a.stats.samplesScanned == b.stats.samplesScanned)
        for (x, y) in zip(a.rows, b.rows) {
            #expect(zip(x, y).allSatisfy { DifferentialTests.same($0, $1) }, "\(x) vs \(y)")
        }
    }
}
