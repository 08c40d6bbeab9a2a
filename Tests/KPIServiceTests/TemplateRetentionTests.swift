import Foundation
import KPIRuntime
import KPIStorage
import Testing

@testable import KPIService

/// Retention rules per KPI template (`template/<name>=<duration>`): expanded to the metrics the
/// template's queries read.
@Suite(.serialized) struct TemplateRetentionTests {
    static let template = """
        template: demo
        title: Demo
        description: Reads a (query) and b (breakdown, through intervals).
        kpis:
          - id: mean_a
            title: Mean of a
            description: Mean of a.
            unit: count
            direction: higher_is_better
            target: 1
            warning: 0
            breakdown: zone
            query: |
              SELECT avg(value) AS value FROM a WHERE site = :site AND ts >= :from AND ts < :to
            breakdown_query: |
              SELECT zone AS item, count(*) AS value FROM intervals(b, value > 0, :from, :to) WHERE site = :site GROUP BY zone

        """

    @Test func expansionPrefersMetricRulesAndTheLongestTemplateRule() throws {
        let policy = RetentionPolicy(
            defaultMs: 0, rules: ["template/x": 7_200_000, "template/y": 86_400_000, "template/z": 0, "m2": 3_600_000, "template/nope": 5])
        let metrics: [String: Set<String>] = ["x": ["m1", "m2", "m3"], "y": ["m3", "m4"], "z": ["m4"]]
        let (expanded, unknown) = policy.expandingTemplates { metrics[$0] }
        #expect(unknown == ["nope"])
        #expect(expanded.rules == ["m1": 7_200_000, "m2": 3_600_000, "m3": 86_400_000, "m4": 0])
    }

    @Test func rulesParse() throws {
        let c = try ServiceConfiguration.resolve(
            flags: ["retention-rules": "template/airport=35d, queue_wait_seconds=400d"], environment: [:], configFile: [:])
        #expect(c.retention.templateRules == ["airport": 35 * 86_400_000])
        let explicit: Int64? = c.retention.rules["queue_wait_seconds"]
        #expect(explicit == Int64(400) * 86_400_000)
        #expect(throws: ServiceConfiguration.Invalid.self) {
            try ServiceConfiguration.resolve(flags: ["retention-rules": "template/=1d"], environment: [:], configFile: [:])
        }
    }

    @Test func aTemplateRuleExpiresTheTemplatesMetricsOnly() throws {
        let dir = TempDir()
        try FileManager.default.createDirectory(atPath: dir.path + "/templates", withIntermediateDirectories: true)
        try Self.template.write(toFile: dir.path + "/templates/demo.yaml", atomically: true, encoding: .utf8)
        let kpid = try RunningService(data: dir.path + "/data") { c in
            c.templatesDirectory = dir.path + "/templates"
            c.retention.rules = ["template/demo": 7_200_000, "b": 0]
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var lines: [String] = []
        for metric in ["a", "b", "c"] {
            for age in [3 * 3_600_000, 60_000] as [Int64] {
                lines.append(#"{"metric":"\#(metric)","labels":{"site":"S","zone":"z"},"ts":\#(now - age),"value":1}"#)
            }
        }
        #expect(try kpid.ingest(lines.joined(separator: "\n"), contentType: "application/x-ndjson").status == 200)
        let r = try http("POST", kpid.base + "/api/v1/admin/retention")
        #expect(r.status == 200, "\(r.text)")
        // a: the template's 2 h apply; b: its own rule (for ever) wins; c: no rule.
        #expect(try kpid.exportedSamples("a").count == 1)
        #expect(try kpid.exportedSamples("b").count == 2)
        #expect(try kpid.exportedSamples("c").count == 2)
    }
}
