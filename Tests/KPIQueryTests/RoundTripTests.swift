import Testing

@testable import KPIQuery

@Suite struct RoundTripTests {
    static let queries: [String] = [
        ParserTests.example,
        "SELECT * FROM m",
        "SELECT DISTINCT zone, site FROM queue_wait_seconds;",
        "SELECT value AS v FROM job:rate5m WHERE v > 0",
        "select a from m where a or b and c",
        "SELECT a FROM m WHERE (a OR b) AND c",
        "SELECT a FROM m WHERE NOT a = b",
        "SELECT a FROM m WHERE NOT (a AND b) OR NOT NOT c",
        "SELECT -x * y, -(x * y), - - x, +x, -(-1) FROM m",
        "SELECT a + b * c, (a + b) * c, a - (b - c), a / (b / c), a % b FROM m",
        "SELECT a FROM m WHERE x BETWEEN 1 AND 2 AND y",
        "SELECT a FROM m WHERE x NOT BETWEEN -1 AND 1 + 1",
        "SELECT a FROM m WHERE x BETWEEN (a AND b) AND c",
        "SELECT a FROM m WHERE zone LIKE 'T4-%' AND zone NOT LIKE '%x'",
        "SELECT a FROM m WHERE zone ~ '^T[0-9]+' OR zone !~ 'x'",
        "SELECT a FROM m WHERE site IN ('JFK', 'LHR') AND code NOT IN (1, 2, 3)",
        "SELECT a FROM m WHERE zone IS NULL OR site IS NOT NULL",
        "SELECT a FROM m WHERE (a = b) = c AND a = (b = c)",
        "SELECT a FROM m WHERE a <> b AND a != c AND a < 1 AND a <= 2 AND a > 3 AND a >= 4",
        "SELECT a FROM m WHERE site = :site AND zone IN (:z1, :z2)",
        "SELECT a FROM m WHERE ts >= now() - INTERVAL '7 days' AND ts < now() - INTERVAL '1h30m'",
        "SELECT a FROM m WHERE ts BETWEEN TIMESTAMP '2026-11-02T08:00:00Z' AND TIMESTAMP '2024-02-29T12:00:00.123+05:30'",
        "SELECT a FROM m WHERE d = INTERVAL '0s' OR d = INTERVAL '1d 2h 3m 4s 5ms' OR d = INTERVAL '250 ms'",
        "SELECT 1, 2.5, 1e-7, 1.5E+300, 'it''s', '', TRUE, FALSE, NULL FROM m",
        "SELECT count(*), count(DISTINCT zone), now(), quantile(0.95, value) FROM m",
        "SELECT CASE WHEN v > 10 THEN 'high' WHEN v > 5 THEN 'mid' ELSE 'low' END AS level FROM m",
        "SELECT CASE zone WHEN 'a' THEN 1 WHEN 'b' THEN 2 END FROM m",
        "SELECT CAST(value AS bigint), CAST(a + 1 AS TIMESTAMP) FROM m",
        "SELECT \"select\", \"a b\" AS \"from\", \"x\"\"y\" FROM \"odd-metric\"",
        "SELECT a.zone, \"b\".\"site\" FROM m AS a JOIN n AS b USING (zone, site)",
        "SELECT * FROM a LEFT JOIN b ON a.site = b.site AND a.ts = b.ts",
        "SELECT * FROM a INNER JOIN b USING (s) LEFT OUTER JOIN c USING (t)",
        "SELECT max(a) FROM (SELECT avg(value) AS a, zone FROM m GROUP BY zone) AS per_zone",
        "SELECT * FROM (SELECT * FROM (SELECT v FROM m) AS i WHERE v > 0) AS o ORDER BY v",
        "SELECT x.start, x.stop FROM intervals(door_open, value > 0) AS x",
        "SELECT * FROM series()",
        "SELECT avg(v) FROM m GROUP BY time_bucket('1m', ts) FILL(null)",
        "SELECT avg(v) FROM m GROUP BY time_bucket('1m', ts) FILL(previous)",
        "SELECT avg(v) FROM m GROUP BY time_bucket('1m', ts) FILL(linear)",
        "SELECT avg(v) FROM m GROUP BY time_bucket('1m', ts) FILL(0)",
        "SELECT avg(v) FROM m GROUP BY time_bucket('1m', ts) FILL(-2.5)",
        "SELECT zone FROM m GROUP BY zone HAVING count(*) > 10 AND max(v) < 1",
        "SELECT a FROM m ORDER BY a ASC NULLS FIRST, b DESC NULLS LAST, c LIMIT 10 OFFSET 20",
        "EXPLAIN SELECT a FROM m WHERE a = 1 LIMIT 1",
        "SELECT a -- comment\nFROM /* block */ m",
        "SELECT a FROM m WHERE a = (\"b c\") AND x IN ((\"y\"), 1) AND z NOT LIKE (\"p\") AND v BETWEEN (\"lo\") AND (\"hi\") + 1",
    ]

    @Test(arguments: queries) func printThenParseIsStable(_ query: String) throws {
        let first = try QueryParser.parse(query)
        let printed = first.sql
        let second = try QueryParser.parse(printed)
        #expect(second.strippingRanges() == first.strippingRanges(), "printed: \(printed)")
        // Canonical output is a fixed point.
        #expect(second.sql == printed)
    }

    @Test func handBuiltTreesPrintParseable() throws {
        // Trees the parser never produces (negative literals, nested unary) still print to SQL
        // that parses back to an equivalent tree.
        let tree = SelectStatement(
            items: [
                .expression(un(.negate, int(-3)), alias: nil),
                .expression(bin(.multiply, dec(-0.5), un(.not, col("a"))), alias: "x y"),
            ],
            from: .metric("m", alias: nil))
        let printed = tree.sql
        #expect(printed == "SELECT -(-3), -0.5 * (NOT a) AS \"x y\" FROM m")
        #expect(throws: Never.self) { try QueryParser.parse(printed) }
    }
}
