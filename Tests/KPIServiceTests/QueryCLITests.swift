import Foundation
import KPIRuntime
import KPIService
import Testing

/// `kpid query` against a running service, as a real process.
@Suite(.serialized) struct QueryCLITests {
    func service() throws -> (TempDir, RunningService) {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        let body = """
            {"metric":"occupancy","labels":{"site":"JFK","zone":"T4-A"},"ts":1794787200000,"value":12}
            {"metric":"occupancy","labels":{"site":"JFK","zone":"T4-A"},"ts":1794787260000,"value":18}
            {"metric":"occupancy","labels":{"site":"JFK","zone":"Gate-10"},"ts":1794787200000,"value":140}
            """
        #expect(try kpid.ingest(body, contentType: "application/x-ndjson").status == 200)
        return (dir, kpid)
    }

    @Test func alignedTableByDefault() throws {
        let (_, kpid) = try service()
        let r = try runKpidCommand([
            "query", "--url", kpid.base, "--param", "site=JFK",
            "SELECT zone, avg(value) AS avg_occupancy, count(*) AS n FROM occupancy WHERE site = :site GROUP BY zone ORDER BY zone",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(
            r.stdout == """
                zone     avg_occupancy  n
                -------  -------------  -
                Gate-10            140  1
                T4-A                15  2

                """)
        #expect(r.stderr.contains("(2 rows"))
    }

    @Test func csvAndJSONFormats() throws {
        let (_, kpid) = try service()
        let csv = try runKpidCommand(["query", "--url", kpid.base, "--format", "csv", "SELECT max(value) AS peak FROM occupancy"])
        #expect(csv.stdout == "peak\r\n140\r\n")
        let json = try runKpidCommand(["query", "--url", kpid.base, "--format", "json", "SELECT max(value) AS peak FROM occupancy"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        #expect((object?["rows"] as? [[NSNumber]])?.first?.first?.doubleValue == 140)
    }

    @Test func errorsPointAtTheSpotWithACaret() throws {
        let (_, kpid) = try service()
        let r = try runKpidCommand(["query", "--url", kpid.base, "SELECT avg(valu) FROM occupancy"])
        #expect(r.status != 0)
        #expect(
            r.stderr.hasPrefix(
                """
                error: unknown column "valu"
                SELECT avg(valu) FROM occupancy
                           ^
                """), "\(r.stderr)")
    }
}

/// Every setting is a flag of `kpid serve`, as the README promises.
@Suite struct ServeFlagsTests {
    @Test func everySettingHasAFlag() throws {
        let run = try runKpidCommand(["serve", "--help"])
        let help = run.stdout + run.stderr
        for name in ServiceConfiguration.settingNames {
            #expect(help.contains("--\(name) "), "kpid serve has no --\(name) flag")
        }
    }
}

/// The README's Configuration table is the settings table, row for row.
@Suite struct SettingsTableTests {
    @Test func readmeTableIsTheSettingsTable() throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains(ServiceConfiguration.markdownTable))
        let run = try runKpidCommand(["settings"])
        #expect(run.status == 0)
        #expect(run.stdout == ServiceConfiguration.markdownTable)
    }

    @Test func everySettingComesFromFlagEnvironmentAndFile() throws {
        // Each setting is read from each source: a value it refuses is reported under its name
        // and source. Free-text settings (addresses, paths, tokens) take any value.
        let freeText: Set<String> = [
            "bind", "data", "demo-sites", "queries-dir", "templates-dir", "sites-file", "forward-bearer-token", "rule-files",
            "webhook-secret", "maintenance-file",
        ]
        let bad = "\u{1}not a value"
        for setting in ServiceConfiguration.settings {
            let sources: [(String, [String: String], [String: String], [String: String])] = [
                ("--\(setting.name)", [setting.name: bad], [:], [:]),
                (setting.environmentName, [:], [setting.environmentName: bad], [:]),
                ("config file", [:], [:], [setting.name.replacingOccurrences(of: "-", with: "_"): bad]),
            ]
            for (source, flags, environment, file) in sources {
                do {
                    _ = try ServiceConfiguration.resolve(flags: flags, environment: environment, configFile: file)
                    #expect(freeText.contains(setting.name), "\(setting.name) took \(bad.debugDescription) from \(source)")
                } catch {
                    #expect(!freeText.contains(setting.name))
                    // tls-cert and tls-key are refused alone, naming the missing partner.
                    if error.source == "settings" {
                        #expect(["tls-cert", "tls-key"].contains(setting.name), "\(error)")
                    } else {
                        #expect(error.setting == setting.name)
                        #expect(error.source == source, "\(error)")
                    }
                }
            }
        }
    }
}
