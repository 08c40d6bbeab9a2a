import Foundation
import Testing

@testable import KPITemplates

/// Site attributes (region, format, area, opening hours, labels) as the sites file and the
/// sites API write them, and groups selecting sites by them.
@Suite struct SiteGroupTests {
    static func parse(_ json: String) throws(TemplateError) -> [SiteDefinition] {
        try SiteCatalog.parse(Data(json.utf8), file: "sites.json", templates: [])
    }

    static let portfolio = #"""
        [{"site":"NY-1","region":"northeast","format":"flagship","area_m2":2400,
          "opening_hours":{"mon":"09:00-21:00","tue":"09:00-21:00","sat":["10:00-14:00","15:00-18:30"],"sun":"closed"},
          "labels":{"mall":"hudson","tier":"a"}},
         {"site":"NY-2","region":"northeast","format":"outlet","opening_hours":"24/7"},
         {"site":"CHI-1","region":"midwest","format":"flagship","labels":{"tier":"b"}},
         {"site":"BARE"}]
        """#

    @Test func attributesAreReadAsWritten() throws {
        let sites = try Self.parse(Self.portfolio)
        let ny1 = sites[0].attributes
        #expect(ny1.region == "northeast" && ny1.format == "flagship" && ny1.areaM2 == 2400)
        #expect(ny1.labels == ["mall": "hudson", "tier": "a"])
        // Hand-computed: 12 h Monday, 12 h Tuesday, 4 h + 3.5 h Saturday.
        #expect(ny1.openingHours?.weeklyHours == 31.5)
        #expect(ny1.openingHours?.days[6] == [.init(open: 600, close: 840), .init(open: 900, close: 1110)])
        #expect(ny1.openingHours?.days[7] == nil)
        #expect(sites[1].attributes.openingHours?.weeklyHours == 168)
        #expect(sites[3].attributes.isEmpty)
    }

    @Test func groupsSelectByAttributeAndLabel() throws {
        let sites = try Self.parse(Self.portfolio)
        func members(_ text: String) throws -> [String] {
            let group = try SiteGroup.parse(text)
            return sites.filter { group.contains($0) }.map(\.site)
        }
        #expect(try members("") == ["NY-1", "NY-2", "CHI-1", "BARE"])
        #expect(try members("region=northeast") == ["NY-1", "NY-2"])
        #expect(try members("format=flagship") == ["NY-1", "CHI-1"])
        #expect(try members("region=northeast, format=flagship") == ["NY-1"])
        #expect(try members("format!=outlet") == ["NY-1", "CHI-1", "BARE"])
        #expect(try members("tier=b") == ["CHI-1"])
        // A site without the attribute has the empty value.
        #expect(try members("region=") == ["BARE"])
        #expect(try members("site=BARE") == ["BARE"])
        #expect(try SiteGroup.parse(" region = northeast ,format!=outlet").description == "region=northeast,format!=outlet")
    }

    @Test func badGroupsSayWhy() {
        for (text, reason) in [
            ("region", "condition 1 \"region\" is not name=value"),
            ("region=a,9x=b", "condition 2: \"9x\" is not an attribute"),
            ("area_m2=5", "area_m2 is a number"),
            (String(repeating: "a=b,", count: 17) + "a=b", "at most 16 conditions"),
            (String(repeating: "x", count: 1025), "longer than 1024"),
        ] {
            #expect {
                try SiteGroup.parse(text)
            } throws: { ($0 as? SiteGroupError)?.reason.contains(reason) == true }
        }
    }

    @Test func badAttributesNameTheField() {
        for (json, field, reason) in [
            (#"[{"site":"A","area_m2":-3}]"#, "area_m2", "positive"),
            (#"[{"site":"A","area_m2":"big"}]"#, "area_m2", "positive"),
            (#"[{"site":"A","region":""}]"#, "region", "non-empty"),
            (#"[{"site":"A","format":7}]"#, "format", "string"),
            (#"[{"site":"A","opening_hours":{"mon":"21:00-09:00"}}]"#, "opening_hours.mon", "opening before the closing"),
            (#"[{"site":"A","opening_hours":{"mon":"09:00-24:30"}}]"#, "opening_hours.mon", "HH:MM-HH:MM"),
            (#"[{"site":"A","opening_hours":{"mon":["09:00-12:00","11:00-13:00"]}}]"#, "opening_hours.mon", "overlap"),
            (#"[{"site":"A","opening_hours":{"monday":"09:00-17:00"}}]"#, "opening_hours.monday", "days are"),
            (#"[{"site":"A","opening_hours":"always"}]"#, "opening_hours", "24/7"),
            (#"[{"site":"A","labels":{"bad-name":"x"}}]"#, "labels.bad-name", "label name"),
            (#"[{"site":"A","labels":{"region":"x"}}]"#, "labels.region", "not one of"),
            (#"[{"site":"A","labels":{"mall":3}}]"#, "labels.mall", "string"),
        ] {
            #expect {
                try Self.parse(json)
            } throws: { error in
                guard let e = error as? TemplateError else { return false }
                return e.field == field && e.kpi == "A" && e.reason.contains(reason)
            }
        }
    }

    /// A KPI owner per site and template: kept as written; an unknown template, KPI or a
    /// non-string owner is refused naming the field.
    @Test func ownersNameTheirKPIs() throws {
        let template = try TemplateLoader.parse(TemplateValidationTests.good, file: "demo.yaml")
        func parse(_ json: String) throws(TemplateError) -> SiteDefinition {
            try SiteCatalog.parse(Data(json.utf8), file: "sites.json", templates: [template])[0]
        }
        let site = try parse(#"[{"site":"A","template":"demo","owners":{"demo":{"sales":"Store manager","footfall":"Ops"}}}]"#)
        #expect(site.owners == ["demo": ["sales": "Store manager", "footfall": "Ops"]])
        for (json, field) in [
            (#"[{"site":"A","template":"demo","owners":{"other":{"sales":"x"}}}]"#, "owners.other"),
            (#"[{"site":"A","template":"demo","owners":{"demo":{"nope":"x"}}}]"#, "owners.demo.nope"),
            (#"[{"site":"A","template":"demo","owners":{"demo":{"sales":""}}}]"#, "owners.demo.sales"),
            (#"[{"site":"A","template":"demo","owners":["x"]}]"#, "owners"),
        ] {
            #expect {
                try parse(json)
            } throws: { ($0 as? TemplateError)?.field == field }
        }
    }
}
