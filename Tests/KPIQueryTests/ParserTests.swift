import Testing

@testable import KPIQuery

@Suite struct ParserTests {
    static let example = """
        SELECT time_bucket('1h', ts) AS hour, zone,
               avg(value) AS avg_wait, max(value) AS worst_wait,
               quantile(0.95, value) AS p95, count(*) AS n
        FROM queue_wait_seconds
        WHERE site = 'JFK' AND zone LIKE 'T4-%' AND ts >= now() - INTERVAL '7 days'
        GROUP BY hour, zone
        HAVING count(*) > 10
        ORDER BY hour, worst_wait DESC
        LIMIT 100
        """

    @Test func issueExampleAST() {
        let expected = SelectStatement(
            items: [
                .expression(call("time_bucket", str("1h"), col("ts")), alias: "hour"),
                .expression(col("zone"), alias: nil),
                .expression(call("avg", col("value")), alias: "avg_wait"),
                .expression(call("max", col("value")), alias: "worst_wait"),
                .expression(call("quantile", dec(0.95), col("value")), alias: "p95"),
                .expression(call("count", star), alias: "n"),
            ],
            from: .metric("queue_wait_seconds", alias: nil),
            filter: bin(
                .and,
                bin(
                    .and, bin(.equal, col("site"), str("JFK")),
                    .like(col("zone"), pattern: str("T4-%"), negated: false, range: none)),
                bin(
                    .greaterEqual, col("ts"),
                    bin(.subtract, call("now"), .literal(.interval(milliseconds: 604_800_000), range: none)))),
            groupBy: [col("hour"), col("zone")],
            having: bin(.greater, call("count", star), int(10)),
            orderBy: [OrderItem(col("hour")), OrderItem(col("worst_wait"), descending: true)],
            limit: 100)
        #expect(select(Self.example) == expected)
    }

    @Test func issueExampleCanonicalPrint() {
        #expect(
            canonical(Self.example)
                == "SELECT time_bucket('1h', ts) AS hour, zone, avg(value) AS avg_wait, max(value) AS worst_wait, "
                + "quantile(0.95, value) AS p95, count(*) AS n FROM queue_wait_seconds "
                + "WHERE site = 'JFK' AND zone LIKE 'T4-%' AND ts >= now() - INTERVAL '7d' "
                + "GROUP BY hour, zone HAVING count(*) > 10 ORDER BY hour, worst_wait DESC LIMIT 100")
    }

    @Test func expressionRanges() throws {
        // "SELECT a + b * 2 FROM m\nWHERE x.y IS NOT NULL"
        let statement = try QueryParser.parse("SELECT a + b * 2 FROM m\nWHERE x.y IS NOT NULL")
        guard case .select(let s) = statement, case .expression(let e, _) = s.items[0],
            case .binary(.add, _, let product, _) = e, let filter = s.filter,
            case .isNull(let column, _, _) = filter
        else {
            Issue.record("unexpected shape")
            return
        }
        #expect(e.range.start == SourcePosition(line: 1, column: 8, offset: 7))
        #expect(e.range.end == SourcePosition(line: 1, column: 17, offset: 16))
        #expect(product.range.start.column == 12)
        #expect(filter.range.start == SourcePosition(line: 2, column: 7, offset: 30))
        #expect(filter.range.end == SourcePosition(line: 2, column: 22, offset: 45))
        #expect(column.range.end.column == 10)
    }

    @Test func precedence() {
        #expect(condition("a OR b AND c") == bin(.or, col("a"), bin(.and, col("b"), col("c"))))
        #expect(condition("a AND b OR c") == bin(.or, bin(.and, col("a"), col("b")), col("c")))
        #expect(condition("NOT a = b") == un(.not, bin(.equal, col("a"), col("b"))))
        #expect(condition("NOT a AND b") == bin(.and, un(.not, col("a")), col("b")))
        #expect(condition("-x * y > 0") == bin(.greater, bin(.multiply, un(.negate, col("x")), col("y")), int(0)))
        #expect(condition("a + b * c = d") == bin(.equal, bin(.add, col("a"), bin(.multiply, col("b"), col("c"))), col("d")))
        #expect(condition("a - b - c = 0") == bin(.equal, bin(.subtract, bin(.subtract, col("a"), col("b")), col("c")), int(0)))
        #expect(condition("a / b % c = 1") == bin(.equal, bin(.modulo, bin(.divide, col("a"), col("b")), col("c")), int(1)))
        #expect(
            condition("x BETWEEN 1 AND 2 AND y")
                == bin(.and, .between(col("x"), lower: int(1), upper: int(2), negated: false, range: none), col("y")))
        #expect(condition("(a OR b) AND c") == bin(.and, bin(.or, col("a"), col("b")), col("c")))
        #expect(condition("- - x = +y") == bin(.equal, un(.negate, un(.negate, col("x"))), un(.plus, col("y"))))
        #expect(condition("a = 1 = b") == bin(.equal, bin(.equal, col("a"), int(1)), col("b")))
    }

    @Test func comparisonOperators() {
        let ops: [(String, BinaryOperator)] = [
            ("=", .equal), ("!=", .notEqual), ("<>", .notEqual), ("<", .less), ("<=", .lessEqual),
            (">", .greater), (">=", .greaterEqual), ("~", .matches), ("!~", .notMatches),
        ]
        for (text, op) in ops {
            #expect(condition("zone \(text) 'x'") == bin(op, col("zone"), str("x")))
        }
    }

    @Test func likeInIsBetween() {
        #expect(condition("zone NOT LIKE 'T4-%'") == .like(col("zone"), pattern: str("T4-%"), negated: true, range: none))
        #expect(
            condition("site IN ('JFK', 'LHR', :other)")
                == .inList(col("site"), [str("JFK"), str("LHR"), param("other")], negated: false, range: none))
        #expect(
            condition("code NOT IN (1, 2 + 3)") == .inList(col("code"), [int(1), bin(.add, int(2), int(3))], negated: true, range: none))
        #expect(condition("zone IS NULL") == .isNull(col("zone"), negated: false, range: none))
        #expect(condition("zone IS NOT NULL") == .isNull(col("zone"), negated: true, range: none))
        #expect(
            condition("value NOT BETWEEN 0 AND 1.5")
                == .between(col("value"), lower: int(0), upper: dec(1.5), negated: true, range: none))
        #expect(condition("NOT zone LIKE 'a'") == un(.not, .like(col("zone"), pattern: str("a"), negated: false, range: none)))
    }

    @Test func primaries() {
        #expect(condition("flag = TRUE OR flag = false OR x IS NULL AND y = NULL") != nil)
        #expect(condition("a.zone = \"b\".zone") == bin(.equal, col("zone", table: "a"), col("zone", table: "b")))
        #expect(condition("\"quoted col\" = 'x'") == bin(.equal, col("quoted col"), str("x")))
        #expect(condition("site = :site") == bin(.equal, col("site"), param("site")))
        #expect(condition("v > 1.5e3") == bin(.greater, col("v"), dec(1500)))
        #expect(condition("s = 'it''s'") == bin(.equal, col("s"), str("it's")))
        #expect(condition("job:rate5m > 1") == bin(.greater, col("job:rate5m"), int(1)))
        // Deliberate comparisons with a quoted column: parenthesized or qualified.
        #expect(condition("a = (\"b c\")") == bin(.equal, col("a"), col("b c")))
        #expect(condition("a = t.\"b c\"") == bin(.equal, col("a"), col("b c", table: "t")))
    }

    @Test func functionCalls() {
        let items = select("SELECT count(*), count(DISTINCT zone), now(), quantile(0.5, value) FROM m")?.items
        #expect(
            items == [
                .expression(call("count", star), alias: nil),
                .expression(call("count", col("zone"), distinct: true), alias: nil),
                .expression(call("now"), alias: nil),
                .expression(call("quantile", dec(0.5), col("value")), alias: nil),
            ])
    }

    @Test func caseExpressions() {
        let searched = CaseExpression(
            branches: [
                .init(when: bin(.greater, col("v"), int(10)), then: str("high")),
                .init(when: bin(.greater, col("v"), int(5)), then: str("mid")),
            ],
            elseResult: str("low"))
        #expect(
            select("SELECT CASE WHEN v > 10 THEN 'high' WHEN v > 5 THEN 'mid' ELSE 'low' END FROM m")?.items
                == [.expression(.caseWhen(searched, range: none), alias: nil)])
        let simple = CaseExpression(operand: col("zone"), branches: [.init(when: str("a"), then: int(1))])
        #expect(
            select("SELECT case zone when 'a' then 1 end AS z FROM m")?.items
                == [.expression(.caseWhen(simple, range: none), alias: "z")])
    }

    @Test func castExpressions() {
        #expect(
            select("SELECT CAST(value AS BIGINT), CAST(x AS timestamp) FROM m")?.items == [
                .expression(.cast(col("value"), type: "bigint", range: none), alias: nil),
                .expression(.cast(col("x"), type: "timestamp", range: none), alias: nil),
            ])
    }

    @Test func intervalsInMilliseconds() {
        let cases: [(String, Int64)] = [
            ("7 days", 604_800_000), ("1h30m", 5_400_000), ("90 seconds", 90_000), ("250ms", 250),
            ("1 hour 15 min", 4_500_000), ("2w", 1_209_600_000), ("1d 2h 3m 4s 5ms", 93_784_005),
            ("1 DAY", 86_400_000), ("0s", 0), ("3 minutes", 180_000), ("1 sec", 1_000),
        ]
        for (text, ms) in cases {
            #expect(condition("ts > INTERVAL '\(text)'") == bin(.greater, col("ts"), .literal(.interval(milliseconds: ms), range: none)))
        }
    }

    @Test func timestampsInMilliseconds() {
        let cases: [(String, Int64)] = [
            ("2026-11-02T08:00:00Z", 1_793_606_400_000),
            ("2024-02-29T12:00:00+05:30", 1_709_188_200_000),
            ("1970-01-01T00:00:00Z", 0),
            ("1969-12-31T23:59:59.999Z", -1),
            ("2000-03-01", 951_868_800_000),
            ("2026-11-02 08:00:00.5-01:00", 1_793_610_000_500),
        ]
        for (text, ms) in cases {
            #expect(
                condition("ts >= TIMESTAMP '\(text)'") == bin(.greaterEqual, col("ts"), .literal(.timestamp(milliseconds: ms), range: none))
            )
        }
    }

    @Test func selectClauses() {
        let s = select(
            """
            SELECT DISTINCT zone FROM m AS q WHERE v > 0 GROUP BY zone HAVING max(v) > 1
            FILL(previous) ORDER BY zone ASC NULLS FIRST, 2 DESC NULLS LAST LIMIT 10 OFFSET 20;
            """)
        #expect(s?.distinct == true)
        #expect(s?.from == .metric("m", alias: "q"))
        #expect(s?.groupBy == [col("zone")])
        #expect(s?.having == bin(.greater, call("max", col("v")), int(1)))
        #expect(s?.fill == .previous)
        #expect(
            s?.orderBy == [
                OrderItem(col("zone"), descending: false, nulls: .first),
                OrderItem(int(2), descending: true, nulls: .last),
            ])
        #expect(s?.limit == 10)
        #expect(s?.offset == 20)
        #expect(select("SELECT * FROM m")?.items == [.wildcard])
        #expect(select("SELECT * FROM m")?.filter == nil)
    }

    @Test func fillVariants() {
        let cases: [(String, FillStrategy)] = [
            ("null", .null), ("NULL", .null), ("previous", .previous), ("PREVIOUS", .previous),
            ("linear", .linear), ("0", .value(0)), ("-1.5", .value(-1.5)), ("42", .value(42)),
        ]
        for (text, fill) in cases {
            #expect(select("SELECT avg(v) FROM m GROUP BY time_bucket('1m', ts) FILL(\(text))")?.fill == fill)
        }
    }

    @Test func sourceVariants() {
        #expect(select("SELECT * FROM \"weird metric\"")?.from == .metric("weird metric", alias: nil))
        #expect(select("SELECT * FROM job:rate5m")?.from == .metric("job:rate5m", alias: nil))
        #expect(
            select("SELECT x.start FROM intervals(door_open, value > 0) AS x")?.from
                == .function(name: "intervals", arguments: [col("door_open"), bin(.greater, col("value"), int(0))], alias: "x"))
        #expect(select("SELECT * FROM series()")?.from == .function(name: "series", arguments: [], alias: nil))
    }

    @Test func subquery() {
        let inner = SelectStatement(
            items: [.expression(call("avg", col("value")), alias: "a"), .expression(col("zone"), alias: nil)],
            from: .metric("m", alias: nil), groupBy: [col("zone")])
        #expect(
            select("SELECT max(a) FROM (SELECT avg(value) AS a, zone FROM m GROUP BY zone) AS per_zone")?.from
                == .subquery(inner, alias: "per_zone"))
    }

    @Test func joins() {
        #expect(
            select("SELECT * FROM a JOIN b USING (site, zone)")?.from
                == .join(
                    Join(
                        kind: .inner, left: .metric("a", alias: nil), right: .metric("b", alias: nil), condition: .using(["site", "zone"])))
        )
        #expect(
            select("SELECT * FROM a AS x LEFT JOIN b AS y ON x.site = y.site")?.from
                == .join(
                    Join(
                        kind: .left, left: .metric("a", alias: "x"), right: .metric("b", alias: "y"),
                        condition: .on(bin(.equal, col("site", table: "x"), col("site", table: "y"))))))
        // Chains associate to the left.
        #expect(
            select("SELECT * FROM a INNER JOIN b USING (s) LEFT OUTER JOIN c USING (t)")?.from
                == .join(
                    Join(
                        kind: .left,
                        left: .join(
                            Join(kind: .inner, left: .metric("a", alias: nil), right: .metric("b", alias: nil), condition: .using(["s"]))),
                        right: .metric("c", alias: nil), condition: .using(["t"]))))
    }

    @Test func explain() throws {
        let statement = try QueryParser.parse("explain SELECT v FROM m;")
        #expect(
            statement.strippingRanges()
                == .explain(SelectStatement(items: [.expression(col("v"), alias: nil)], from: .metric("m", alias: nil))))
        #expect(statement.sql == "EXPLAIN SELECT v FROM m")
    }

    @Test func keywordsAnyCase() {
        #expect(
            canonical("select zone from m where a is not null group by zone order by zone desc limit 1")
                == "SELECT zone FROM m WHERE a IS NOT NULL GROUP BY zone ORDER BY zone DESC LIMIT 1")
    }

    @Test func printerQuotesWhenNeeded() {
        #expect(
            canonical("SELECT \"select\", \"a b\", \"x\"\"y\", \"plain\" AS \"from\" FROM \"my-metric\"")
                == "SELECT \"select\", \"a b\", \"x\"\"y\", plain AS \"from\" FROM \"my-metric\"")
        #expect(canonical("SELECT 'it''s' FROM m") == "SELECT 'it''s' FROM m")
        #expect(canonical("SELECT - - x, -(-1), -(a + b), -a * b FROM m") == "SELECT -(-x), -(-1), -(a + b), -a * b FROM m")
        #expect(
            canonical("SELECT a - (b - c), (a - b) - c, NOT (a AND b) FROM m")
                == "SELECT a - (b - c), a - b - c, NOT (a AND b) FROM m")
        #expect(
            canonical("SELECT * FROM m WHERE ts > TIMESTAMP '2024-02-29T12:00:00.250+05:30' AND d < INTERVAL '90 seconds'")
                == "SELECT * FROM m WHERE ts > TIMESTAMP '2024-02-29T06:30:00.250Z' AND d < INTERVAL '1m30s'")
        #expect(canonical("SELECT * FROM m WHERE a <> 1 FILL(0)") == "SELECT * FROM m WHERE a != 1 FILL(0)")
    }

    @Test func wildcardMixedWithItems() {
        #expect(
            select("SELECT *, value * 2 AS double FROM m")?.items == [
                .wildcard, .expression(bin(.multiply, col("value"), int(2)), alias: "double"),
            ])
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "(", count: 90) + "1" + String(repeating: ")", count: 90)
        #expect(select("SELECT \(deep) FROM m")?.items == [.expression(int(1), alias: nil)])
        let tooDeep = String(repeating: "(", count: 5_000) + "1" + String(repeating: ")", count: 5_000)
        let error = parseError("SELECT \(tooDeep) FROM m")
        #expect(error?.message == "query nests too deeply (more than 100 levels)")
        #expect(parseError("SELECT " + String(repeating: "NOT ", count: 5_000) + "a FROM m") != nil)
        #expect(parseError("SELECT " + String(repeating: "- ", count: 5_000) + "a FROM m") != nil)
        let subqueries = String(repeating: "(SELECT * FROM ", count: 5_000) + "m"
        #expect(parseError("SELECT * FROM " + subqueries)?.message == "query nests too deeply (more than 100 levels)")
    }
}
