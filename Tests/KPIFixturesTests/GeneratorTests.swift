import Foundation
import KPIWire
import Testing

@testable import KPIFixtures

/// Determinism, the committed files, and the shortest decimal form of the values.
@Suite struct GeneratorTests {
    let data = FixtureData.shared

    @Test func sameSeedSameBytesOtherSeedOtherData() throws {
        for template in FixtureSite.templates {
            let site = FixtureSite.defaults(template: template, site: "T-" + template)!
            let a = try FixtureGenerator.generate(FixtureOptions(site: site, days: 7, seed: 7))
            let b = try FixtureGenerator.generate(FixtureOptions(site: site, days: 7, seed: 7))
            let c = try FixtureGenerator.generate(FixtureOptions(site: site, days: 7, seed: 8))
            #expect(a == b, "\(template)")
            #expect(!a.isEmpty && a != c, "\(template)")
            // Another seed changes the values, not the shape: the same series.
            let seriesA = Set(FixtureData.parse(a).map { $0.metric + "\($0.labels.sorted { $0.key < $1.key })" })
            let seriesC = Set(FixtureData.parse(c).map { $0.metric + "\($0.labels.sorted { $0.key < $1.key })" })
            #expect(seriesA == seriesC, "\(template)")
        }
        // The generator keeps no state between runs: a site's data does not depend on what ran before.
        let jfk = try FixtureGenerator.generate(FixtureOptions(site: data.sites["JFK"]!))
        #expect(jfk == data.bytes["JFK"])
    }

    @Test func committedFilesAreTheGeneratorsOutput() throws {
        for (template, site, file) in FixtureSite.fixtureSites {
            let path = FixtureData.root.appendingPathComponent("Fixtures/\(template)/\(file).ndjson.gz")
            let compressed = try [UInt8](Data(contentsOf: path))
            #expect(compressed.count < 3 << 20, "\(file): \(compressed.count) bytes, over the 3 MB budget")
            let committed = try GzipDecoder.inflate(compressed, limit: 1 << 30)
            #expect(committed == data.bytes[site], "\(file) differs from `kpid fixtures generate`: run scripts/make-fixtures.sh")
        }
    }

    @Test func everySiteOfSitesJSONNamesItsFile() throws {
        let json =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: FixtureData.root.appendingPathComponent("Fixtures/sites.json"))) as! [[String: Any]]
        for (template, site, file) in FixtureSite.fixtureSites {
            let entry = json.first { $0["site"] as? String == site }
            #expect(entry?["file"] as? String == "Fixtures/\(template)/\(file).ndjson.gz")
            #expect(data.sites[site]?.template == template)
        }
    }

    @Test func linesAreSortedAndValuesAreShortestDecimals() throws {
        for (_, site, _) in FixtureSite.fixtureSites {
            var last: Int64 = .min
            for line in data.bytes[site]!.split(separator: 10) {
                let valueAt = line.lastIndex(of: UInt8(ascii: ":"))!
                let tsAt = line[..<(valueAt - 8)].lastIndex(of: UInt8(ascii: ":"))!
                let ts = Int64(String(decoding: line[(tsAt + 1)..<(valueAt - 8)], as: UTF8.self))!
                #expect(ts >= last)
                last = ts
                // The printed value is what Swift's shortest round-trip printing gives for the same Double.
                let text = String(decoding: line[(valueAt + 1)..<(line.endIndex - 1)], as: UTF8.self)
                let value = Double(text)!
                let expected = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
                if text != expected {
                    Issue.record("\(site): value \(text), expected \(expected)")
                    return
                }
            }
        }
    }

    @Test func badOptionsAreRefused() {
        let site = FixtureSite.defaults(template: "airport", site: "X")!
        #expect(throws: FixtureError.self) { try FixtureGenerator.generate(FixtureOptions(site: site, stepMinutes: 7)) }
        #expect(throws: FixtureError.self) { try FixtureGenerator.generate(FixtureOptions(site: site, days: 0)) }
        #expect(throws: FixtureError.self) { try FixtureGenerator.generate(FixtureOptions(site: site, end: FixtureOptions.defaultEnd + 1)) }
        var other = site
        other.template = "casino"
        #expect(throws: FixtureError.self) { try FixtureGenerator.generate(FixtureOptions(site: other)) }
        other = site
        other.timeZone = "Mars/Olympus"
        #expect(throws: FixtureError.self) { try FixtureGenerator.generate(FixtureOptions(site: other)) }
    }

    @Test func aCoarserGridHasFewerSamplesOnItsOwnGrid() throws {
        let site = FixtureSite.defaults(template: "retail", site: "R")!
        let bytes = try FixtureGenerator.generate(FixtureOptions(site: site, days: 7, stepMinutes: 60))
        let series = FixtureData.parse(bytes)
        let open = series.first { $0.metric == "lane_open" }!
        #expect(open.ts.count == 7 * 24)
        #expect(open.ts.allSatisfy { $0 % 3_600_000 == 0 })
    }
}
