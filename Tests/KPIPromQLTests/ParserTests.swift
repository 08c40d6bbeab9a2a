import KPICore
import Testing

@testable import KPIPromQL

@Suite struct ParserTests {
    let engine = PromQLEngine(store: ColumnarStore())

    /// Precedence and associativity, checked through the values of scalar expressions whose
    /// results differ under any other grouping.
    @Test(arguments: [
        ("1 + 2 * 3", 7.0),
        ("10 - 2 - 3", 5),  // left-associative
        ("2 ^ 3 ^ 2", 512),  // right-associative
        ("-2 ^ 2", -4),  // unary minus binds looser than ^
        ("2 * 3 % 4", 2),
        ("(1 + 2) * 3", 9),
        ("1 < bool 2 + 1", 1),  // comparison looser than +
        ("3 > bool 2 == bool 1", 1),  // left-associative comparisons: (3 > 2) == 1
        ("2 * -3", -6),
        ("1 - -1", 2),
        ("0x10 + 1e1 + .5", 26.5),
    ])
    func precedence(_ query: String, _ expected: Double) throws {
        #expect(try engine.scalarValue(query) == expected, "\(query)")
    }

    @Test func atan2IsABinaryOperator() throws {
        #expect(close(try engine.scalarValue("1 atan2 1"), Double.pi / 4))
        // Same precedence as *, left-associative: (2 * 1) atan2 0.
        #expect(try engine.scalarValue("2 * 1 atan2 0") == Double.pi / 2)
    }

    @Test func selectorsModifiersAndSubqueries() throws {
        let e = try PromQL.parse(#"rate(http_requests_total{job="api", code!~"5.."}[5m] offset 1h @ 1700000000)"#)
        guard case .call("rate", let args) = e, case .matrixSelector(let sel, let range) = args[0] else {
            Issue.record("unexpected \(e)")
            return
        }
        #expect(range == 300_000)
        #expect(sel.offset == 3_600_000)
        #expect(sel.at == .time(1_700_000_000_000))
        #expect(sel.matchers.map(\.description) == [#"__name__="http_requests_total""#, #"job="api""#, #"code!~"5..""#])

        let sub = try PromQL.parse("max_over_time(deriv(x[5m])[1h30m:1m] offset -5m @ end())")
        guard case .call(_, let subArgs) = sub, case .subquery(_, let r, let step, let offset, let at) = subArgs[0] else {
            Issue.record("unexpected \(sub)")
            return
        }
        #expect(r == 5_400_000 && step == 60_000 && offset == -300_000 && at == .end)

        let agg = try PromQL.parse("sum without (a, b) (x) + topk by (c) (3, y)")
        guard case .binary(.add, .aggregate(.sum, _, nil, let g1, true), .aggregate(.topk, _, let p, let g2, false), _, _) = agg else {
            Issue.record("unexpected \(agg)")
            return
        }
        #expect(g1 == ["a", "b"] && g2 == ["c"] && p == .number(3))

        let after = try PromQL.parse("count_values(\"v\", x) by (site)")
        guard case .aggregate(.countValues, _, .string("v"), ["site"], false) = after else {
            Issue.record("unexpected \(after)")
            return
        }

        let matching = try PromQL.parse("a * on (x) group_left (y) b")
        guard case .binary(.multiply, _, _, let m, false) = matching else {
            Issue.record("unexpected \(matching)")
            return
        }
        #expect(m.on && m.labels == ["x"] && m.include == ["y"] && m.cardinality == .manyToOne)

        // Durations, strings with escapes, comments, Inf/NaN literals.
        #expect(try PromQL.parse("x[1h30m]") == PromQL.parse("x[90m]"))
        #expect(try PromQL.parse(#"x{a="\"q\"\n"}"#) == PromQL.parse("x{a='\"q\"\\n'}"))
        #expect(try PromQL.parse("# comment\n  x # trailing") == PromQL.parse("x"))
        #expect(try engine.scalarValue("-Inf") == -Double.infinity)
        #expect(try engine.scalarValue("NaN").isNaN)
        #expect(try PromQL.parse("x offset 5m @ start()") == PromQL.parse("x @ start() offset 5m"))
    }

    /// Every construct parses and has the type Prometheus gives it.
    @Test(arguments: [
        ("42", ValueType.scalar), ("-1.5e3", .scalar), ("0x1F", .scalar), ("Inf", .scalar), ("\"text\"", .string),
        ("'single'", .string), ("`raw\\n`", .string), ("m", .vector), ("m:recorded:rate5m", .vector), ("{job=\"a\"}", .vector),
        ("m{a=\"1\",b!=\"2\",c=~\"3.*\",d!~\"4\",}", .vector), ("m[5m]", .matrix), ("m[1h30m15s100ms]", .matrix),
        ("m offset 5m", .vector), ("m[5m] offset 1w", .matrix), ("m @ 100", .vector), ("m @ -100.5", .vector),
        ("m[1m] @ end()", .matrix), ("m[1d:1h]", .matrix), ("rate(m[5m])[1h:]", .matrix), ("(m)[5m:30s] offset 1m @ start()", .matrix),
        ("-m", .vector), ("+m", .vector), ("(((m)))", .vector), ("m + 1", .vector), ("1 + m", .vector), ("1 + 1", .scalar),
        ("m > bool 1", .vector), ("m == on(a) n", .vector), ("m * ignoring(a, b) group_left(c) n", .vector),
        ("m / on() group_right n", .vector), ("m and n", .vector), ("m or on(a) n", .vector), ("m unless ignoring(b) n", .vector),
        ("sum(m)", .vector), ("avg by (a) (m)", .vector), ("min(m) without (a)", .vector), ("max(m)", .vector),
        ("count(m)", .vector), ("stddev(m)", .vector), ("stdvar(m)", .vector), ("topk(3, m)", .vector),
        ("bottomk(1, m)", .vector), ("quantile(0.9, m)", .vector), ("count_values(\"v\", m)", .vector), ("group(m)", .vector),
        ("SUM(m)", .vector), ("time()", .scalar), ("pi()", .scalar), ("scalar(m)", .scalar), ("vector(1)", .vector),
        ("rate(m[5m])", .vector), ("quantile_over_time(0.5, m[5m])", .vector), ("predict_linear(m[5m], 60)", .vector),
        ("label_join(m, \"d\", \",\", \"a\", \"b\", \"c\")", .vector), ("label_join(m, \"d\", \",\")", .vector),
        ("histogram_quantile(0.9, rate(m_bucket[5m]))", .vector), ("round(m)", .vector), ("round(m, 5)", .vector),
        ("day_of_week()", .vector), ("hour(m)", .vector), ("sum(rate(m[5m])) by (a) / on(a) group_left sum(m) by (a)", .vector),
    ])
    func everyConstructParses(_ query: String, _ type: ValueType) throws {
        #expect(try PromQL.parse(query).type == type, "\(query)")
    }

    /// Errors name the position as Prometheus does: line:column, 1-based.
    @Test(arguments: [
        ("rate(x)", "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"),
        ("1 > 2", "1:3: parse error: comparisons between scalars must use BOOL modifier"),
        ("x{a=\"b\"", "1:8: parse error: unexpected end of input in label matching, expected \",\" or \"}\""),
        ("nosuch(x)", "1:1: parse error: unknown function with name \"nosuch\""),
        ("x offset 1m [5m]", "1:13: parse error: no offset or @ modifiers allowed before range"),
        ("sum(x, y)", "1:4: parse error: wrong number of arguments for aggregate expression provided, expected 1, got 2"),
        ("x and 1", "1:3: parse error: set operator \"and\" not allowed in binary scalar expression (right side)"),
        ("{a=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"),
        ("x +\n  (y", "2:5: parse error: unexpected end of input in paren expression, expected \")\""),
        ("x[5m] + 1", "1:7: parse error: binary expression must contain only scalar and instant vector types"),
        ("x[5x]", "1:3: parse error: bad number or duration syntax: \"5x\""),
        ("1 + ", "1:5: parse error: unexpected end of input"),
        ("x{a=~\"(\"}", "1:6: parse error: invalid regular expression \"(\" for label a"),
        // Limits that keep time arithmetic far from overflow.
        ("x offset 300y", "1:10: parse error: duration out of range"),
        ("x @ 1e300", "1:5: parse error: timestamp out of bounds for @ modifier: 1e+300"),
    ])
    func errors(_ query: String, _ expected: String) {
        #expect(throws: PromQLParseError.self) { try PromQL.parse(query) }
        do {
            _ = try PromQL.parse(query)
        } catch {
            #expect(error.description == expected, "\(query)")
        }
    }
}
