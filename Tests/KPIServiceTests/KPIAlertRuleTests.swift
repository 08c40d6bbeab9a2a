import Foundation
import KPIAlerting
import KPICore
import KPITemplates
import Testing

@testable import KPIRuntime

/// KPIs that declare `alert:` in their template become alerting rules over `kpid_kpi_status`:
/// the generated rules load in kpid and in `promtool check rules`, and one fires for a site
/// whose KPI stays red for the declared time.
@Suite struct KPIAlertRuleTests {
    static let templatesDir = packageRoot.appendingPathComponent("Queries/templates").path

    /// The generated groups written as a rule file.
    static func yaml(_ groups: [RuleGroup]) -> String {
        func q(_ s: String) -> String {
            "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var out = "groups:\n"
        for g in groups {
            out += "  - name: \(q(g.name))\n    rules:\n"
            for r in g.rules {
                out += "      - alert: \(q(r.name))\n        expr: \(q(r.expr))\n        for: \(r.forMs / 1000)s\n"
                out +=
                    "        labels:\n"
                    + r.labels.sorted { $0.key < $1.key }.map { "          \($0.key): \(q($0.value.source))\n" }.joined()
                out += "        annotations:\n"
                out += r.annotations.sorted { $0.key < $1.key }.map { "          \($0.key): \(q($0.value.source))\n" }.joined()
            }
        }
        return out
    }

    @Test func theShippedDeclarationsBecomeRulesPromtoolAccepts() throws {
        let templates = try TemplateLoader.loadDirectory(Self.templatesDir)
        let groups = try KPIAlertRules.groups(templates, directory: Self.templatesDir, windows: ["1h", "24h", "7d", "28d"])
        let rules = groups.flatMap(\.rules)
        #expect(rules.map(\.name).sorted() == ["AvgQueueWaitRed", "ConversionRateRed", "DeviceUptimeRed"])
        let uptime = try #require(rules.first { $0.name == "DeviceUptimeRed" })
        #expect(uptime.expr == #"kpid_kpi_status{template="security-operations",kpi="device_uptime",window="24h"} == 2"#)
        #expect(uptime.forMs == 30 * 60_000 && uptime.labels["severity"]?.source == "page")
        let text = Self.yaml(groups)
        let parsed = try RuleFileParser.parse(text, file: "generated.yaml")
        #expect(parsed.flatMap(\.rules).map(\.expr) == rules.map(\.expr))
        let path = NSTemporaryDirectory() + "kpid-kpi-rules-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let check = try runTool("/usr/bin/promtool", ["check", "rules", path])
        #expect(check.status == 0, "\(check.output)")
        // A window kpid does not compute is refused, naming the template and KPI.
        #expect(throws: RuleFileError.self) {
            try KPIAlertRules.groups(templates, directory: Self.templatesDir, windows: ["1h", "7d"])
        }
    }

    @Test func aKPIRedForItsDeclaredTimeFires() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.templatesDirectory = Self.templatesDir
        }
        defer { kpid.stop() }
        awaitFirstRuleEvaluation { try? http("GET", kpid.base + "/api/v1/rules").text }
        let t0 = fixturesEndMs
        var lines = ""
        for m in stride(from: 0, through: 30, by: 5) {
            lines +=
                #"{"metric":"kpid_kpi_status","labels":{"site":"S1","template":"security-operations","kpi":"device_uptime","window":"24h"},"ts":\#(t0 + Int64(m) * 60_000),"value":2}"#
                + "\n"
            lines +=
                #"{"metric":"kpid_kpi_status","labels":{"site":"S2","template":"security-operations","kpi":"device_uptime","window":"24h"},"ts":\#(t0 + Int64(m) * 60_000),"value":1}"#
                + "\n"
        }
        #expect(try kpid.ingest(lines, contentType: "application/x-ndjson").status == 200)
        for m in [0, 15, 30] {
            let r = try http("POST", kpid.base + "/api/v1/admin/rules/evaluate?time=\(Double(t0 + Int64(m) * 60_000) / 1000)")
            #expect(r.status == 200, "\(r.text)")
        }
        let alerts = try http("GET", kpid.base + "/api/v1/alerts")
        let list =
            ((try JSONSerialization.jsonObject(with: alerts.body) as? [String: Any])?["data"] as? [String: Any])?["alerts"]
            as? [[String: Any]] ?? []
        // S1 was red from minute 0: firing at 30 (for 30m); S2 amber: nothing.
        #expect(list.count == 1, "\(alerts.text)")
        let labels = list.first?["labels"] as? [String: String]
        #expect(labels?["alertname"] == "DeviceUptimeRed" && labels?["site"] == "S1" && labels?["severity"] == "page")
        #expect(list.first?["state"] as? String == "firing")
        #expect(((list.first?["annotations"] as? [String: String])?["summary"] ?? "").contains("at S1 over the last 24h"))
    }
}
