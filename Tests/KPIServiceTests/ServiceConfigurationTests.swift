import Foundation
import KPICore
import KPIRuntime
import KPIService
import KPIStorage
import Testing

@Suite struct ServiceConfigurationTests {
    @Test func defaults() throws {
        let c = try ServiceConfiguration.resolve(flags: [:], environment: [:], configFile: [:])
        #expect(c.bind == "127.0.0.1")
        #expect(c.port == 9464)
        #expect(c.dataDirectory == "./data")
        #expect(c.databasePath == "./data/kpid.sqlite")
        #expect(c.durability == .process)
        #expect(c.maxBodyBytes == 64 << 20)
        #expect(c.outOfOrderWindowMs == 3_600_000)
    }

    @Test func flagsBeatEnvironmentBeatFile() throws {
        let file = ["port": "1000", "durability": "power", "max-series": "10", "out-of-order-window": "30m"]
        let env = ["KPID_PORT": "2000", "KPID_MAX_SERIES": "20"]
        let flags = ["port": "3000"]
        let c = try ServiceConfiguration.resolve(flags: flags, environment: env, configFile: file)
        #expect(c.port == 3000)
        #expect(c.maxSeries == 20)
        #expect(c.durability == .power)
        #expect(c.outOfOrderWindowMs == 30 * 60_000)
    }

    @Test func configFileSyntax() throws {
        let dir = TempDir()
        let path = dir.path + "/kpid.conf"
        try """
        # kpid settings
        bind = "0.0.0.0"
        max_body_bytes = 1048576   # 1 MiB
        checkpoint-interval = 5s

        """.write(toFile: path, atomically: true, encoding: .utf8)
        let file = try ServiceConfiguration.readConfigFile(path)
        #expect(file == ["bind": "0.0.0.0", "max-body-bytes": "1048576", "checkpoint-interval": "5s"])
        let c = try ServiceConfiguration.resolve(flags: [:], environment: [:], configFile: file)
        #expect(c.maxBodyBytes == 1_048_576)
        #expect(c.checkpointIntervalSeconds == 5)

        try "no_such_setting = 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ServiceConfiguration.Invalid.self) { try ServiceConfiguration.readConfigFile(path) }
        try "port 9464\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ServiceConfiguration.Invalid.self) { try ServiceConfiguration.readConfigFile(path) }
    }

    @Test(arguments: [
        ("port", "70000"), ("port", "x"), ("durability", "disk"), ("out-of-order-window", "1 hour"),
        ("chunk-size", "1"), ("log-level", "loud"), ("checkpoint-interval", "0s"),
    ])
    func invalidValuesNameTheSettingAndSource(name: String, value: String) {
        do {
            _ = try ServiceConfiguration.resolve(
                flags: [:], environment: ["KPID_" + name.uppercased().replacingOccurrences(of: "-", with: "_"): value], configFile: [:])
            Issue.record("accepted \(name)=\(value)")
        } catch {
            #expect(error.setting == name)
            #expect(error.source.hasPrefix("KPID_"))
            #expect(error.description.contains(value))
        }
    }

    @Test func durations() {
        #expect(DurationParser.milliseconds("500ms") == 500)
        #expect(DurationParser.milliseconds("90s") == 90_000)
        #expect(DurationParser.milliseconds("1h30m") == 5_400_000)
        #expect(DurationParser.milliseconds("7d") == 604_800_000)
        #expect(DurationParser.milliseconds("2w") == 1_209_600_000)
        #expect(DurationParser.milliseconds("0s") == 0)
        #expect(DurationParser.milliseconds("") == nil)
        #expect(DurationParser.milliseconds("5") == nil)
        #expect(DurationParser.milliseconds("m") == nil)
        #expect(DurationParser.milliseconds("5y") == nil)
        #expect(DurationParser.milliseconds("99999999999999999999s") == nil)
    }

    @Test func stalenessRulesShareTheRulesSyntax() throws {
        let c = try ServiceConfiguration.resolve(
            flags: ["staleness-rules": "device_up=6h; door_open=30m # change-only", "staleness-max": "15m"], environment: [:],
            configFile: [:])
        #expect(c.staleness.rules == ["device_up": 21_600_000, "door_open": 1_800_000])
        #expect(c.staleness.maximumMs == 900_000)
        for bad in ["device_up=0", "device_up", "bad-name=1h", "device_up=1h,device_up=2h"] {
            #expect(throws: ServiceConfiguration.Invalid.self, "\(bad)") {
                try ServiceConfiguration.resolve(flags: ["staleness-rules": bad], environment: [:], configFile: [:])
            }
        }
    }
}
