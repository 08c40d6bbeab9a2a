import ArgumentParser
import Foundation
import KPIFixtures
import KPIWire

/// `kpid fixtures ...`: the deterministic sample data behind `Fixtures/`.
struct Fixtures: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deterministic sample data for the KPI templates (see Fixtures/README.md).",
        subcommands: [FixturesGenerate.self])
}

/// `kpid fixtures generate --template airport --site JFK --days 56 --seed 1 [--out FILE]`.
struct FixturesGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write one site's samples as ndjson (sorted by time; the same options give the same bytes).",
        discussion: """
            Examples:
              kpid fixtures generate --template airport --site JFK --days 56 --seed 1 --out Fixtures/airport/jfk.ndjson.gz
              kpid fixtures generate --template retail --site DEMO --days 7 --out demo.ndjson
            The site's time zone and capacities come from --sites when it lists the site, else the template's defaults.
            """)

    @Option(help: "airport, retail, campus, stadium, logistics or manufacturing.") var template: String
    @Option(help: "Site id (the `site` label).") var site: String
    @Option(help: "Days of data, ending at --end.") var days = 56
    @Option(help: "Seed of the random generator (a non-negative integer).") var seed: UInt64 = 1
    @Option(help: "Exclusive end date (UTC midnight), YYYY-MM-DD.") var end = "2026-11-23"
    @Option(name: .customLong("step-minutes"), help: "Grid of gauges, counters and states in minutes (divides 60).")
    var stepMinutes = 15
    @Option(help: "Sites file (shape of Fixtures/sites.json); a site it does not list gets the template's defaults.")
    var sites = "Fixtures/sites.json"
    @Option(help: "Output file (default: standard output); a name ending .gz is gzip-compressed.") var out: String?

    func validate() throws {
        guard FixtureSite.templates.contains(template) else {
            throw ValidationError("--template must be one of \(FixtureSite.templates.joined(separator: ", "))")
        }
        guard !site.isEmpty else { throw ValidationError("--site must not be empty") }
        guard endMilliseconds != nil else { throw ValidationError("--end must be a date YYYY-MM-DD") }
    }

    /// Unix ms of `end` at 00:00 UTC.
    var endMilliseconds: Int64? {
        let parts = end.split(separator: "-")
        guard parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m),
            (1...31).contains(d)
        else { return nil }
        return epochDay(y, m, d) * 86_400_000
    }

    func run() throws {
        var definition = FixtureSite.defaults(template: template, site: site)!
        if FileManager.default.fileExists(atPath: sites) {
            let listed: [FixtureSite]
            do {
                listed = try FixtureSite.parse(Data(contentsOf: URL(fileURLWithPath: sites)))
            } catch {
                throw ValidationError("--sites \(sites): \(error)")
            }
            if let found = listed.first(where: { $0.site == site }) {
                guard found.template == template else {
                    throw ValidationError("--sites \(sites) lists \(site) with template \(found.template), not \(template)")
                }
                definition = found
            }
        }
        let options = FixtureOptions(site: definition, days: days, seed: seed, end: endMilliseconds!, stepMinutes: stepMinutes)
        let bytes: [UInt8]
        do {
            bytes = try FixtureGenerator.generate(options)
        } catch {
            throw ValidationError(error.description)
        }
        guard let out else {
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        if out.hasSuffix(".gz") {
            try gzip(bytes, to: out)
        } else {
            try Data(bytes).write(to: URL(fileURLWithPath: out))
        }
    }

    /// Compresses at level 9 in process (no name or time stamp in the header: the same bytes every run).
    func gzip(_ bytes: [UInt8], to path: String) throws {
        guard let compressed = GzipEncoder.deflate(bytes, level: 9) else {
            throw ValidationError("--out \(path): compression failed")
        }
        do {
            try Data(compressed).write(to: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("--out \(path): cannot write the file: \(error.localizedDescription)")
        }
    }
}
