import Testing

@testable import KPICore

@Suite struct LabelsTests {
    @Test func sortsDropsEmptyValuesAndKeepsLastOfRepeatedNames() {
        let labels = Labels([
            Label(name: "zone", value: "A"), Label(name: "__name__", value: "occupancy_people"),
            Label(name: "floor", value: ""), Label(name: "site", value: "JFK"), Label(name: "zone", value: "B"),
        ])
        #expect(labels.pairs.map(\.name) == ["__name__", "site", "zone"])
        #expect(labels["zone"] == "B")
        #expect(labels["floor"] == nil)
        #expect(labels.metricName == "occupancy_people")
    }

    @Test func equalLabelSetsAreEqualWhateverTheOrder() {
        let a = Labels(metric: "m", ["a": "1", "b": "2"])
        let b = Labels([Label(name: "b", value: "2"), Label(name: "__name__", value: "m"), Label(name: "a", value: "1")])
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != Labels(metric: "m", ["a": "1"]))
    }

    @Test func prometheusTextFormWithEscapes() {
        #expect(Labels(metric: "up").description == "up")
        let labels = Labels(metric: "m", ["z": "a\"b", "a": "x\\y\nz"])
        #expect(labels.description == #"m{a="x\\y\nz",z="a\"b"}"#)
    }

    @Test func validatorAcceptsValidNamesAndRejectsEachBadCase() {
        let v = LabelValidator(maxLabelsPerSeries: 2, maxLabelNameLength: 8, maxLabelValueLength: 5)
        #expect(v.problem(with: Labels(metric: "ns:queue_wait_seconds", ["site": "JFK"])) == nil)
        #expect(v.problem(with: Labels([Label(name: "site", value: "x")]))?.field == "metric")
        #expect(v.problem(with: Labels(metric: "1bad"))?.field == "metric")
        #expect(v.problem(with: Labels(metric: "m", ["a": "1", "b": "2", "c": "3"]))?.field == "labels")
        #expect(v.problem(with: Labels(metric: "m", ["bad-name": "1"]))?.field == "labels.bad-name")
        #expect(v.problem(with: Labels(metric: "m", ["__x": "1"]))?.reason.contains("reserved") == true)
        #expect(v.problem(with: Labels(metric: "m", ["abcdefghi": "1"]))?.field == "labels.abcdefghi")
        #expect(v.problem(with: Labels(metric: "m", ["a": "123456"]))?.reason.contains("6 bytes") == true)
        #expect(LabelValidator.isValidLabelName("_a1"))
        #expect(!LabelValidator.isValidLabelName("a:b"))
        #expect(LabelValidator.isValidMetricName("a:b"))
        #expect(!LabelValidator.isValidMetricName(""))
    }
}

@Suite struct LabelMatcherTests {
    @Test func regexIsAnchoredAndEmptyValueSemantics() throws {
        let m = try LabelMatcher("zone", .regexMatch, "T4")
        #expect(m.matches("T4"))
        #expect(!m.matches("T4-security"))
        #expect(!m.matches("xT4"))
        #expect(try LabelMatcher("zone", .notEqual, "A").matchesEmpty)
        #expect(!(try LabelMatcher("zone", .equal, "A").matchesEmpty))
        #expect(try LabelMatcher("zone", .regexMatch, "A|").matchesEmpty)
        #expect(!(try LabelMatcher("zone", .regexNoMatch, "").matchesEmpty))
    }
}
