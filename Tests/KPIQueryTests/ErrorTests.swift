import Testing

@testable import KPIQuery

@Suite struct ErrorTests {
    struct Case: Sendable, CustomStringConvertible {
        var query: String
        var message: String
        var line: Int
        var column: Int
        var hint: String? = nil
        var description: String { query }
    }

    static let cases: [Case] = [
        Case(query: "SELECT a WHERE x = 1", message: "expected FROM after select list, found 'WHERE'", line: 1, column: 10),
        Case(
            query: "SELECT a,\n  b\nFORM m", message: "expected FROM after select list, found 'FORM'", line: 3, column: 1,
            hint: "did you mean FROM?"),
        Case(
            query: "SELECT a b FROM m", message: "expected ',' or FROM after select item, found 'b'", line: 1, column: 10,
            hint: "missing comma between select items? (aliases need AS)"),
        Case(
            query: "SELECT a FROM m\nGRUOP BY a", message: "unexpected 'GRUOP' after FROM clause", line: 2, column: 1,
            hint: "did you mean GROUP?"),
        Case(
            query: "SELECT a FROM m WHERE x = 1 ODRER BY a", message: "unexpected 'ODRER' after WHERE clause", line: 1, column: 29,
            hint: "did you mean ORDER?"),
        Case(
            query: "SELECT * FROM m WHERE site = \"JFK\"", message: "\"JFK\" is a column name, not a string value", line: 1, column: 30,
            hint: "use single quotes for strings: 'JFK'"),
        Case(
            query: "SELECT * FROM m WHERE site IN ('a', \"b\")", message: "\"b\" is a column name, not a string value", line: 1, column: 37,
            hint: "use single quotes for strings: 'b'"),
        Case(
            query: "SELEC a FROM m", message: "expected SELECT or EXPLAIN at start of query, found 'SELEC'", line: 1, column: 1,
            hint: "did you mean SELECT?"),
        Case(
            query: "SELECT a, FROM m", message: "expected expression, found 'FROM'", line: 1, column: 11,
            hint: "remove the trailing comma before FROM"),
        Case(
            query: "SELECT a FROM m WHERE a = 1 ADN b = 2", message: "unexpected 'ADN' after WHERE clause", line: 1, column: 29,
            hint: "did you mean AND?"),
        Case(
            query: "SELECT a FROM m ORDER BY a LIMT 5", message: "unexpected 'LIMT' after ORDER BY clause", line: 1, column: 28,
            hint: "did you mean LIMIT?"),
        Case(
            query: "SELECT a FROM m GROUP BY a HAVNG count(*) > 1", message: "unexpected 'HAVNG' after GROUP BY clause", line: 1,
            column: 28, hint: "did you mean HAVING?"),
        Case(
            query: "SELECT a FROM m WHERE ts > now() - INTERVAL \"7 days\"",
            message: "expected duration string after INTERVAL, found \"7 days\"", line: 1, column: 45,
            hint: "use single quotes for strings: '7 days'"),
        Case(
            query: "SELECT a FROM m WHERE zone LIKE \"T4-%\"", message: "\"T4-%\" is a column name, not a string value", line: 1,
            column: 33, hint: "use single quotes for strings: 'T4-%'"),
        Case(
            query: "SELECT avg(v) max(v) FROM m", message: "expected ',' or FROM after select item, found 'max'", line: 1, column: 15,
            hint: "missing comma between select items? (aliases need AS)"),
        Case(
            query: "SELECT a FROM m LIMIT 5 WHERE x = 1", message: "unexpected 'WHERE' after LIMIT clause", line: 1, column: 25,
            hint: "clauses go in the order WHERE, GROUP BY, HAVING, FILL, ORDER BY, LIMIT"),
        Case(query: "SELECT a FROM m GROUP a", message: "expected BY after GROUP, found 'a'", line: 1, column: 23),
        Case(query: "SELECT a FROM m ORDER a", message: "expected BY after ORDER, found 'a'", line: 1, column: 23),
        Case(query: "SELECT a FROM m WHERE", message: "expected expression, found end of input", line: 1, column: 22),
        Case(query: "SELECT (a + 1 FROM m", message: "expected ')' to close parenthesis, found 'FROM'", line: 1, column: 15),
        Case(
            query: "SELECT a FROM m WHERE ts > INTERVAL '7 dayz'", message: "unknown interval unit 'dayz'", line: 1, column: 40,
            hint: "units are ms, s, m, h, d, w (or sec, min, hour, day, week)"),
        Case(
            query: "SELECT a FROM m\nWHERE ts > INTERVAL '1h30'", message: "missing unit after '30' in interval", line: 2, column: 26,
            hint: "units are ms, s, m, h, d, w (or sec, min, hour, day, week)"),
        Case(
            query: "SELECT a FROM m WHERE ts > INTERVAL 7", message: "expected duration string after INTERVAL, found '7'", line: 1,
            column: 37, hint: "e.g. INTERVAL '7 days' or INTERVAL '1h30m'"),
        Case(
            query: "SELECT a FROM m WHERE ts > TIMESTAMP '2026-02-30T00:00:00Z'",
            message: "invalid timestamp '2026-02-30T00:00:00Z': day 30 out of range", line: 1, column: 38,
            hint: "use RFC 3339, e.g. '2026-11-02T08:00:00Z' or '2026-11-02T09:00:00+01:00'"),
        Case(
            query: "SELECT a FROM m WHERE ts > TIMESTAMP '2026-11-02T08:00:00'",
            message: "invalid timestamp '2026-11-02T08:00:00': missing time zone (Z or +HH:MM)", line: 1, column: 38,
            hint: "use RFC 3339, e.g. '2026-11-02T08:00:00Z' or '2026-11-02T09:00:00+01:00'"),
        Case(
            query: "SELECT a FROM m WHERE ts > now() - 1h", message: "invalid number '1h'", line: 1, column: 36,
            hint: "write durations as INTERVAL '1h'"),
        Case(
            query: "SELECT a FROM m WHERE x == 1", message: "unexpected '=='", line: 1, column: 25, hint: "SQL compares with a single '='"),
        Case(query: "SELECT a FROM m WHERE s = 'abc", message: "unterminated string literal", line: 1, column: 27),
        Case(query: "SELECT a FROM m /* never closed", message: "unterminated block comment", line: 1, column: 17),
        Case(
            query: "SELECT a FROM m FILL(nearest)", message: "expected null, previous, linear or a number in FILL, found 'nearest'",
            line: 1, column: 22),
        Case(query: "SELECT a FROM m LIMIT ten", message: "expected a non-negative integer after LIMIT, found 'ten'", line: 1, column: 23),
        Case(
            query: "SELECT a FROM m ORDER BY a NULLS LAST2", message: "expected FIRST or LAST after NULLS, found 'LAST2'", line: 1,
            column: 34, hint: "did you mean LAST?"),
        Case(
            query: "SELECT a FROM (SELECT b FROM m)", message: "expected AS alias after subquery, found end of input", line: 1, column: 32,
            hint: "a subquery in FROM needs a name: (SELECT ...) AS q"),
        Case(query: "SELECT a FROM (SELECT b FROM m", message: "expected ')' to close subquery, found end of input", line: 1, column: 31),
        Case(query: "SELECT a FROM x JOIN y", message: "expected USING or ON after joined source, found end of input", line: 1, column: 23),
        Case(query: "SELECT a FROM m WHERE x IN ()", message: "IN list must not be empty", line: 1, column: 29),
        Case(
            query: "SELECT a FROM m WHERE x IN (SELECT b FROM n)", message: "subqueries are only supported in FROM", line: 1, column: 29,
            hint: "list values: IN ('a', 'b')"),
        Case(
            query: "SELECT a FROM m WHERE x BETWEEN 1 OR 2", message: "expected AND between BETWEEN bounds, found 'OR'", line: 1, column: 35
        ),
        Case(
            query: "SELECT CASE WHEN a THEN 1 FROM m", message: "expected END to close CASE expression, found 'FROM'", line: 1, column: 27),
        Case(query: "SELECT CASE ELSE 1 END FROM m", message: "expected expression, found 'ELSE'", line: 1, column: 13),
        Case(
            query: "SELECT a AS FROM m", message: "expected alias after AS, found 'FROM'", line: 1, column: 13,
            hint: "FROM is a reserved word; quote it to use it as a name: \"FROM\""),
        Case(
            query: "SELECT a FROM 'metric'", message: "expected metric name after FROM, found 'metric'", line: 1, column: 15,
            hint: "metric names are identifiers; write metric or \"metric\""),
        Case(query: "SELECT a FROM m x", message: "unexpected 'x' after FROM clause", line: 1, column: 17, hint: "aliases need AS: AS x"),
        Case(query: "SELECT a FROM m;\nSELECT b FROM n", message: "unexpected 'SELECT' after end of statement", line: 2, column: 1),
        Case(query: "SELECT count(* FROM m", message: "expected ')' to close arguments of count, found 'FROM'", line: 1, column: 16),
        Case(query: "SELECT a * FROM m", message: "expected expression, found 'FROM'", line: 1, column: 12),
        Case(query: "SELECT a FROM m WHERE a = 1 AND\n\t*", message: "'*' is only allowed as SELECT * or count(*)", line: 2, column: 2),
        Case(query: "EXPLAIN FROM m", message: "expected SELECT after EXPLAIN, found 'FROM'", line: 1, column: 9),
        Case(
            query: "SELECT \"\" FROM m", message: "empty quoted identifier", line: 1, column: 8, hint: "use single quotes for strings: ''"),
        Case(query: "SELECT a FROM m WHERE x IS 1", message: "expected NULL after IS, found '1'", line: 1, column: 28),
        Case(query: "SELECT a FROM m WHERE x.", message: "expected column name after 'x.', found end of input", line: 1, column: 25),
        Case(query: "SELECT CAST(a AS 5) FROM m", message: "expected type name in CAST, found '5'", line: 1, column: 18),
        Case(
            query: "SELECT a FROM m WHERE ts > INTERVAL ''", message: "empty interval", line: 1, column: 38, hint: "e.g. INTERVAL '7 days'"),
        Case(
            query: "SELECT a FROM m WHERE ts > INTERVAL '1.5h'", message: "fractional interval amounts are not supported", line: 1,
            column: 39, hint: "combine units instead, e.g. '1h30m'"),
        Case(
            query: "SELECT a FROM m WHERE ts > INTERVAL '-1h'", message: "expected a number in interval", line: 1, column: 38,
            hint: "intervals cannot be negative"),
        Case(
            query: "SELECT a FROM m WHERE x = `y`", message: "unexpected character '`'", line: 1, column: 27,
            hint: "quote names with double quotes and strings with single quotes"),
        Case(
            query: "SELECT a FROM m WHERE zone NOT NULL", message: "unexpected 'NOT' after WHERE clause", line: 1, column: 28,
            hint: "test for missing values with IS NOT NULL"),
        Case(query: "", message: "expected SELECT or EXPLAIN at start of query, found end of input", line: 1, column: 1),
        Case(query: "-- only a comment\n", message: "expected SELECT or EXPLAIN at start of query, found end of input", line: 2, column: 1),
        Case(query: "SELECT zöne FROM m", message: "unexpected character 'ö'", line: 1, column: 9),
    ]

    @Test(arguments: cases) func malformedQuery(_ c: Case) {
        guard let error = parseError(c.query) else { return }
        #expect(error.message == c.message)
        #expect(error.message.contains(c.message))
        #expect(error.position.line == c.line)
        #expect(error.position.column == c.column)
        #expect(error.hint == c.hint)
    }

    @Test func offsetsAreBytes() {
        // 'é' is two UTF-8 bytes but one column.
        let error = parseError("SELECT 'é' x FROM m")
        #expect(error?.position == SourcePosition(line: 1, column: 12, offset: 12))
    }

    @Test func caretDiagram() {
        let query = "SELECT a\nFROM m\nWHERE site = \"JFK\""
        guard let error = parseError(query) else { return }
        #expect(error.caretDiagram(source: query) == "WHERE site = \"JFK\"\n             ^")
        #expect(
            error.description
                == "\"JFK\" is a column name, not a string value at line 3, column 14 (hint: use single quotes for strings: 'JFK')")
    }

    @Test func caretDiagramKeepsTabsAndHandlesEndOfInput() {
        let query = "SELECT a FROM m\r\n\tWHERE"
        guard let error = parseError(query) else { return }
        #expect(error.position.line == 2)
        #expect(error.position.column == 7)
        #expect(error.caretDiagram(source: query) == "\tWHERE\n\t     ^")
    }

    @Test func caretDiagramOutOfRangeIsEmpty() {
        let error = QueryError(message: "x", position: SourcePosition(line: 9, column: 1, offset: 0))
        #expect(error.caretDiagram(source: "SELECT") == "")
    }

    @Test func editDistanceCountsTranspositionsOnce() {
        #expect(Parser.editDistance(Array("GRUOP"), Array("GROUP")) == 1)
        #expect(Parser.editDistance(Array("FORM"), Array("FROM")) == 1)
        #expect(Parser.editDistance(Array("WHER"), Array("WHERE")) == 1)
        #expect(Parser.editDistance(Array(""), Array("AB")) == 2)
        #expect(Parser.editDistance(Array("ZONE"), Array("FROM")) == 4)
    }
}
