import KPITestSupport
import Testing

@testable import KPICore

@Suite struct SeriesIndexTests {
    /// 0: q{site=JFK,zone=A}  1: q{site=JFK,zone=B}  2: q{site=LHR,zone=A}  3: q{site=LHR}  4: occ{site=JFK,zone=A}
    func makeIndex() -> SeriesIndex {
        var index = SeriesIndex()
        let all = [
            Labels(metric: "q", ["site": "JFK", "zone": "A"]), Labels(metric: "q", ["site": "JFK", "zone": "B"]),
            Labels(metric: "q", ["site": "LHR", "zone": "A"]), Labels(metric: "q", ["site": "LHR"]),
            Labels(metric: "occ", ["site": "JFK", "zone": "A"]),
        ]
        for (i, l) in all.enumerated() { index.insert(l, id: SeriesID(UInt32(i))) }
        return index
    }

    /// The ids `matchers` select; a metric name first when `metric` is given.
    func ids(_ index: SeriesIndex, _ metric: String?, _ matchers: (String, LabelMatcher.Operator, String)...) throws -> [UInt32] {
        var all = try metric.map { [try LabelMatcher(Labels.metricNameLabel, .equal, $0)] } ?? []
        for (name, op, value) in matchers { all.append(try LabelMatcher(name, op, value)) }
        return index.select(all).map(\.rawValue)
    }

    @Test func selectsByEachMatcherKind() throws {
        let index = makeIndex()
        #expect(try ids(index, "q") == [0, 1, 2, 3])
        #expect(try ids(index, "q", ("site", .equal, "JFK")) == [0, 1])
        #expect(try ids(index, nil, ("site", .equal, "JFK")) == [0, 1, 4])
        #expect(try ids(index, "q", ("zone", .notEqual, "A")) == [1, 3])  // 3 lacks zone: "" != "A"
        #expect(try ids(index, "q", ("zone", .regexMatch, "A|B")) == [0, 1, 2])
        #expect(try ids(index, "q", ("zone", .regexNoMatch, "A")) == [1, 3])
        #expect(try ids(index, "q", ("zone", .equal, "")) == [3])
        #expect(try ids(index, "q", ("zone", .regexMatch, "A|")) == [0, 2, 3])
        #expect(try ids(index, nil, ("__name__", .regexMatch, "q|occ"), ("zone", .equal, "A")) == [0, 2, 4])
        #expect(try ids(index, "q", ("site", .equal, "NONE")) == [])
        #expect(try ids(index, "nosuch") == [])
    }

    @Test func lookupBothWaysAndLabelValues() {
        let index = makeIndex()
        #expect(index.id(for: Labels(metric: "q", ["site": "LHR"])) == SeriesID(3))
        #expect(index.labels(of: SeriesID(4)) == Labels(metric: "occ", ["site": "JFK", "zone": "A"]))
        #expect(index.labels(of: SeriesID(9)) == nil)
        #expect(index.values(of: "site") == ["JFK", "LHR"])
        #expect(index.labelNames == ["__name__", "site", "zone"])
        #expect(index.nextID == SeriesID(5))
    }

    @Test func selectionAgreesWithBruteForceOnRandomData() throws {
        // A second implementation: filter every series with the matchers directly.
        var rng = SeededGenerator(seed: 7)
        var index = SeriesIndex()
        var all: [Labels] = []
        var seen = Set<Labels>()
        // 2 metrics x 5^3 label combinations = 250 distinct series at most.
        while all.count < 200 {
            var d: [String: String] = [:]
            for name in ["site", "zone", "lane"] where rng.next() % 3 != 0 { d[name] = "v\(rng.next() % 4)" }
            let l = Labels(metric: "m\(rng.next() % 2)", d)
            if seen.insert(l).inserted {
                index.insert(l, id: SeriesID(UInt32(all.count)))
                all.append(l)
            }
        }
        let ops: [LabelMatcher.Operator] = [.equal, .notEqual, .regexMatch, .regexNoMatch]
        for _ in 0..<200 {
            var matchers = [try LabelMatcher("__name__", .equal, "m\(rng.next() % 2)")]
            for _ in 0..<Int(rng.next() % 3) {
                let name = ["site", "zone", "lane"][Int(rng.next() % 3)]
                let op = ops[Int(rng.next() % 4)]
                let value = op == .regexMatch || op == .regexNoMatch ? "v[0-\(rng.next() % 4)]|" : "v\(rng.next() % 4)"
                matchers.append(try LabelMatcher(name, op, value))
            }
            let expected = all.indices.filter { i in matchers.allSatisfy { $0.matches(all[i][$0.name] ?? "") } }
            #expect(index.select(matchers).map { Int($0.rawValue) } == expected)
        }
    }
}
