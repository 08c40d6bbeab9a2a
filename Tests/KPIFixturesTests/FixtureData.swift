import Foundation
import KPIWire

@testable import KPIFixtures

/// The generated data of the committed fixture sites, parsed into series, shared by the suites.
final class FixtureData: Sendable {
    static let shared = FixtureData()

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// 2026-09-28T00:00:00Z .. 2026-11-23T00:00:00Z.
    static let start: Int64 = 1_790_553_600_000
    static let end: Int64 = 1_795_392_000_000
    static let step: Int64 = 900_000

    struct Series: Sendable {
        var metric: String
        var labels: [String: String]
        var ts: [Int64]
        var values: [Double]
    }

    /// Sites of Fixtures/sites.json, by id.
    let sites: [String: FixtureSite]
    /// `generate` output (56 days, seed 1) by site id.
    let bytes: [String: [UInt8]]
    /// Parsed series by site id.
    let series: [String: [Series]]

    private init() {
        let listed = try! FixtureSite.parse(Data(contentsOf: Self.root.appendingPathComponent("Fixtures/sites.json")))
        sites = Dictionary(uniqueKeysWithValues: listed.map { ($0.site, $0) })
        var bytes: [String: [UInt8]] = [:]
        var series: [String: [Series]] = [:]
        for (_, site, _) in FixtureSite.fixtureSites {
            let b = try! FixtureGenerator.generate(FixtureOptions(site: sites[site]!))
            bytes[site] = b
            series[site] = Self.parse(b)
        }
        self.bytes = bytes
        self.series = series
    }

    /// Parses ndjson lines: the part before `"ts":` (metric and labels) with JSONSerialization once
    /// per series, ts and value as plain numbers (independent of the generator's writer).
    static func parse(_ bytes: [UInt8]) -> [Series] {
        var out: [Series] = []
        var index: [ArraySlice<UInt8>: Int] = [:]
        for line in bytes.split(separator: 10) {
            // ...,"ts":<digits>,"value":<number>}
            let valueAt = line.lastIndex(of: UInt8(ascii: ":"))!
            let tsAt = line[..<(valueAt - 8)].lastIndex(of: UInt8(ascii: ":"))!
            precondition(line[(valueAt - 8)..<valueAt].elementsEqual(",\"value\"".utf8))
            precondition(line[(tsAt - 5)..<tsAt].elementsEqual(",\"ts\"".utf8))
            let prefix = line[..<(tsAt - 5)]
            let k: Int
            if let known = index[prefix] {
                k = known
            } else {
                let o = try! JSONSerialization.jsonObject(with: Data(prefix + [UInt8(ascii: "}")])) as! [String: Any]
                k = out.count
                index[prefix] = k
                out.append(Series(metric: o["metric"] as! String, labels: o["labels"] as! [String: String], ts: [], values: []))
            }
            out[k].ts.append(Int64(String(decoding: line[(tsAt + 1)..<(valueAt - 8)], as: UTF8.self))!)
            out[k].values.append(Double(String(decoding: line[(valueAt + 1)..<(line.endIndex - 1)], as: UTF8.self))!)
        }
        return out
    }

    func series(_ site: String, _ metric: String, _ filter: [String: String] = [:]) -> [Series] {
        (series[site] ?? []).filter { s in s.metric == metric && filter.allSatisfy { s.labels[$0.key] == $0.value } }
    }

    /// The value of a 0/1 (or any grid) series at `ts`, nil without a sample there.
    static func value(_ s: Series, at ts: Int64) -> Double? {
        guard let k = s.ts.firstIndex(of: ts) else { return nil }
        return s.values[k]
    }

    /// Unix ms of a local wall time in `zone`, computed with Foundation's calendar.
    static func local(_ zone: String, _ y: Int, _ m: Int, _ d: Int, _ h: Int = 0, _ minute: Int = 0) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone)!
        let date = calendar.date(from: DateComponents(year: y, month: m, day: d, hour: h, minute: minute))!
        return Int64(date.timeIntervalSince1970 * 1000)
    }

    /// The next 15-minute grid time at or after `ts`.
    static func grid(_ ts: Int64) -> Int64 { (ts + step - 1) / step * step }

    /// ISO week (2026) of a UTC ms timestamp, for the 8 fixture weeks (W40 starts at `start`).
    static func week(_ ts: Int64) -> Int { 40 + Int((ts - start) / (7 * 86_400_000)) }
}
