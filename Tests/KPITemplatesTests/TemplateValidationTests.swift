import Foundation
import Testing

@testable import KPITemplates

/// Each validation error names the file, the KPI and the field.
@Suite struct TemplateValidationTests {
    static let good = """
        template: demo
        title: Demo
        description: A demo template.
        kpis:
          - id: footfall
            title: Footfall
            description: People in.
            unit: count
            direction: higher_is_better
            target: 100
            warning: 80
            breakdown: door
            query: SELECT increase(value) AS value FROM entries_total WHERE site = :site AND ts >= :from AND ts < :to
            breakdown_query: SELECT door AS item, increase(value) AS value FROM entries_total WHERE site = :site GROUP BY door
          - id: sales
            title: Sales
            description: Transactions.
            unit: count
            direction: higher_is_better
            target: 20
            warning: 10
            query: SELECT increase(value) AS value FROM transactions_total WHERE site = :site
          - id: conversion
            title: Conversion
            description: Sales per visitor.
            unit: "%"
            direction: higher_is_better
            target: 20
            warning: 15
            formula: sales / footfall * 100

        """

    /// The error parsing `good` with `old` replaced by `new` (the replacement must happen).
    func error(replacing old: String, with new: String) -> TemplateError? {
        #expect(Self.good.contains(old), "test setup: \(old) not in the template")
        do {
            _ = try TemplateLoader.parse(
                Self.good.replacingOccurrences(of: old, with: new), file: "demo.yaml")
            return nil
        } catch {
            return error
        }
    }

    @Test func validTemplateParsesWithFormulasAfterInputs() throws {
        let t = try TemplateLoader.parse(Self.good, file: "demo.yaml")
        #expect(t.name == "demo")
        #expect(t.kpis.map(\.id) == ["footfall", "sales", "conversion"])
        #expect(
            t.evaluationOrder.firstIndex(of: "conversion")! > t.evaluationOrder.firstIndex(of: "sales")!)
        #expect(t.kpi("footfall")?.breakdown == "door")
        #expect(
            t.kpi("conversion")?.computation == .formula(try Formula.parse("sales / footfall * 100")))
    }

    @Test func unknownField() {
        let e = error(
            replacing: "    unit: count\n    direction: higher_is_better\n    target: 100",
            with: "    unit: count\n    colour: red\n    direction: higher_is_better\n    target: 100")
        #expect(
            e
                == TemplateError(
                    file: "demo.yaml", kpi: "footfall", field: "colour", reason: e?.reason ?? ""))
        #expect(e?.reason.hasPrefix("unknown field") == true)
        let top = error(replacing: "title: Demo\n", with: "title: Demo\nauthor: me\n")
        #expect(top?.field == "author" && top?.kpi == nil)
    }

    @Test func missingQueryAndFormula() {
        let e = error(replacing: "    formula: sales / footfall * 100\n", with: "")
        #expect(e?.kpi == "conversion" && e?.field == "query")
        #expect(e?.reason == "a KPI needs a query or a formula")
    }

    @Test func bothQueryAndFormula() {
        let e = error(
            replacing: "    formula: sales / footfall * 100\n",
            with: "    formula: sales / footfall * 100\n    query: SELECT 1 AS value\n")
        #expect(e?.kpi == "conversion" && e?.field == "formula")
        #expect(e?.reason == "a KPI has a query or a formula, not both")
    }

    @Test func badUnit() {
        let e = error(replacing: "    unit: \"%\"", with: "    unit: percent")
        #expect(e?.kpi == "conversion" && e?.field == "unit")
        #expect(e?.reason.hasPrefix("\"percent\" is not one of") == true)
    }

    @Test func missingRequiredField() {
        let e = error(replacing: "    title: Sales\n", with: "")
        #expect(e?.kpi == "sales" && e?.field == "title" && e?.reason == "the field is required")
        let n = error(
            replacing: "    target: 20\n    warning: 10", with: "    target: high\n    warning: 10")
        #expect(n?.kpi == "sales" && n?.field == "target")
    }

    @Test func badDirection() {
        let e = error(
            replacing: "    direction: higher_is_better\n    target: 20\n    warning: 10",
            with: "    direction: up\n    target: 20\n    warning: 10")
        #expect(e?.kpi == "sales" && e?.field == "direction")
    }

    @Test func unknownKPIInFormula() {
        let e = error(
            replacing: "formula: sales / footfall * 100", with: "formula: sales / visitors * 100")
        #expect(
            e
                == TemplateError(
                    file: "demo.yaml", kpi: "conversion", field: "formula",
                    reason: "unknown KPI \"visitors\" in the formula"))
    }

    @Test func formulaThatDoesNotParse() {
        let e = error(
            replacing: "formula: sales / footfall * 100", with: "formula: sales / (footfall * 100")
        #expect(e?.kpi == "conversion" && e?.field == "formula")
        #expect(e?.reason.contains("expected \")\"") == true)
        let op = error(replacing: "formula: sales / footfall * 100", with: "formula: sales ^ 2")
        #expect(op?.reason.hasPrefix("character 7: unexpected \"^\"") == true)
    }

    @Test func formulaCycle() {
        // footfall := conversion * 2 and conversion := sales / footfall: a cycle.
        let text = Self.good.replacingOccurrences(
            of: """
                    breakdown: door
                    query: SELECT increase(value) AS value FROM entries_total WHERE site = :site AND ts >= :from AND ts < :to
                    breakdown_query: SELECT door AS item, increase(value) AS value FROM entries_total WHERE site = :site GROUP BY door

                """, with: "    formula: conversion * 2\n")
        #expect(text != Self.good)
        #expect(throws: TemplateError.self) { try TemplateLoader.parse(text, file: "demo.yaml") }
        do {
            _ = try TemplateLoader.parse(text, file: "demo.yaml")
        } catch {
            #expect(error.field == "formula")
            #expect(error.reason == "the formulas form a cycle: footfall -> conversion -> footfall")
        }
        let selfCycle = error(
            replacing: "formula: sales / footfall * 100", with: "formula: conversion + 1")
        #expect(selfCycle?.reason == "the formulas form a cycle: conversion -> conversion")
    }

    @Test func queryThatDoesNotParse() {
        let e = error(
            replacing:
                "query: SELECT increase(value) AS value FROM transactions_total WHERE site = :site",
            with:
                "query: SELECT increase(value) AS value FROM transactions_total WHERE site = :site GROUP")
        #expect(e?.kpi == "sales" && e?.field == "query")
        #expect(e?.reason.hasPrefix("the SQL does not parse: ") == true)
        let b = error(replacing: "GROUP BY door", with: "GROUP door")
        #expect(b?.kpi == "footfall" && b?.field == "breakdown_query")
    }

    @Test func queryWithoutValueOrItemColumn() {
        let e = error(
            replacing: "query: SELECT increase(value) AS value FROM transactions_total",
            with: "query: SELECT increase(value) AS n FROM transactions_total")
        #expect(e?.kpi == "sales" && e?.field == "query")
        #expect(e?.reason == "the query must answer a column named value (... AS value)")
        let b = error(replacing: "SELECT door AS item,", with: "SELECT door,")
        #expect(b?.kpi == "footfall" && b?.field == "breakdown_query")
        #expect(b?.reason == "the query must answer a column named item (... AS item)")
    }

    @Test func parametersOtherThanSiteFromTo() {
        let e = error(
            replacing: "WHERE site = :site\n", with: "WHERE site = :site AND value > :threshold\n")
        #expect(e?.kpi == "sales" && e?.field == "query")
        #expect(e?.reason == "unknown parameter :threshold; only :site, :from and :to are bound")
    }

    @Test func warningOnTheWrongSide() {
        let high = error(
            replacing: "    target: 20\n    warning: 10", with: "    target: 20\n    warning: 30")
        #expect(high?.kpi == "sales" && high?.field == "warning")
        #expect(
            high?.reason
                == "30 is above the target 20; for higher_is_better the warning must not exceed the target")
        let low = error(
            replacing: "    direction: higher_is_better\n    target: 20\n    warning: 10",
            with: "    direction: lower_is_better\n    target: 20\n    warning: 10")
        #expect(
            low?.reason
                == "10 is below the target 20; for lower_is_better the warning must not be below the target"
        )
        #expect(
            error(replacing: "    target: 20\n    warning: 10", with: "    target: 20\n    warning: 20")
                == nil)
    }

    @Test func duplicateIDAndTemplateName() {
        let d = error(replacing: "  - id: sales", with: "  - id: footfall")
        #expect(d?.kpi == "footfall" && d?.field == "id")
        let n = error(replacing: "template: demo", with: "template: other")
        #expect(n?.field == "template" && n?.kpi == nil)
    }

    @Test func breakdownNeedsBothLabelAndQuery() {
        let e = error(replacing: "    breakdown: door\n", with: "")
        #expect(e?.kpi == "footfall" && e?.field == "breakdown")
        let q = error(
            replacing:
                "    breakdown_query: SELECT door AS item, increase(value) AS value FROM entries_total WHERE site = :site GROUP BY door\n",
            with: "")
        #expect(q?.kpi == "footfall" && q?.field == "breakdown_query")
    }

    @Test func errorDescriptionNamesFileKPIAndField() {
        let e = TemplateError(file: "retail.yaml", kpi: "conversion", field: "unit", reason: "bad")
        #expect(e.description == "retail.yaml: kpi conversion: field unit: bad")
    }

    @Test func formulaArithmetic() throws {
        let f = try Formula.parse("(a + b) * 2 - -c / 4")
        #expect(f.references == ["a", "b", "c"])
        // (1 + 2) * 2 - (-8 / 4) = 6 + 2 = 8
        #expect(f.evaluate { ["a": 1, "b": 2, "c": 8][$0] } == 8)
        #expect(try Formula.parse("a / b").evaluate { ["a": 1, "b": 0][$0] } == nil)
        #expect(try Formula.parse("a + 1").evaluate { _ in nil } == nil)
        #expect(try Formula.parse("2 + 3 * 4").evaluate { _ in nil } == 14)
        // Printed with only the parentheses precedence needs; printing and parsing round-trips.
        for text in ["a / b * 100", "a / (b + c)", "a - (b - c)", "(a - b) * -c", "-(a + b) / 2", "a - b - c"] {
            let parsed = try Formula.parse(text)
            #expect(parsed.description == text)
            #expect(try Formula.parse(parsed.description) == parsed)
        }
    }

    @Test func statusAgainstThresholds() {
        #expect(KPIStatus.of(20, target: 20, warning: 15, direction: .higherIsBetter) == .green)
        #expect(KPIStatus.of(17, target: 20, warning: 15, direction: .higherIsBetter) == .amber)
        #expect(KPIStatus.of(15, target: 20, warning: 15, direction: .higherIsBetter) == .amber)
        #expect(KPIStatus.of(14.9, target: 20, warning: 15, direction: .higherIsBetter) == .red)
        #expect(KPIStatus.of(5, target: 5, warning: 10, direction: .lowerIsBetter) == .green)
        #expect(KPIStatus.of(7, target: 5, warning: 10, direction: .lowerIsBetter) == .amber)
        #expect(KPIStatus.of(10.5, target: 5, warning: 10, direction: .lowerIsBetter) == .red)
    }

    @Test func sitesFileValidation() throws {
        let t = try TemplateLoader.parse(Self.good, file: "demo.yaml")
        func parse(_ json: String) throws(TemplateError) -> [SiteDefinition] {
            try SiteCatalog.parse(Data(json.utf8), file: "sites.json", templates: [t])
        }
        let ok = try parse(
            #"[{"site":"S1","time_zone":"Europe/Paris","template":"demo","capacities":{"x":1},"overrides":{"demo":{"sales":{"target":25}}}}]"#
        )
        #expect(
            ok == [
                SiteDefinition(
                    site: "S1", displayName: "S1", timeZone: "Europe/Paris", templates: ["demo"],
                    overrides: ["demo": ["sales": .init(target: 25)]])
            ])
        #expect(
            throws: TemplateError(
                file: "sites.json", kpi: "S1", field: "time_zone",
                reason: "\"Mars/Base\" is not an IANA time zone")
        ) {
            try parse(#"[{"site":"S1","time_zone":"Mars/Base","templates":["demo"]}]"#)
        }
        #expect(
            throws: TemplateError(
                file: "sites.json", kpi: "S1", field: "overrides.demo.nope",
                reason: "template demo has no KPI nope")
        ) {
            try parse(#"[{"site":"S1","templates":["demo"],"overrides":{"demo":{"nope":{"target":1}}}}]"#)
        }
        #expect(throws: TemplateError.self) {
            // warning above the (template's) target for a higher_is_better KPI
            try parse(
                #"[{"site":"S1","templates":["demo"],"overrides":{"demo":{"sales":{"warning":50}}}}]"#)
        }
        #expect(throws: TemplateError.self) { try parse(#"[{"site":"S1","templates":["nope"]}]"#) }
    }

    @Test func alertDeclarations() throws {
        let good = Self.good.replacingOccurrences(
            of: "    unit:", with: "    alert: {when: amber, for: 10m, window: 24h, severity: page}\n    unit:")
        let t = try TemplateLoader.parse(good, file: "demo.yaml")
        let spec = t.kpis.compactMap(\.alert).first
        #expect(spec == KPIAlertSpec(when: .amber, forMs: 600_000, window: "24h", severity: "page"))
        for (bad, field) in [
            ("{when: purple}", "alert.when"), ("{when: red, severity: loud}", "alert.severity"), ("{when: red, for: soon}", "alert.for"),
            ("{when: red, channel: x}", "alert.channel"),
        ] {
            let text = Self.good.replacingOccurrences(of: "    unit:", with: "    alert: \(bad)\n    unit:")
            do {
                _ = try TemplateLoader.parse(text, file: "demo.yaml")
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.field == field, "\(bad): \(error)")
            }
        }
    }
}
