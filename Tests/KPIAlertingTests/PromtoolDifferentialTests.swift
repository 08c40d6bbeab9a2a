import Foundation
import KPICore
import KPIPromQL
import Testing

@testable import KPIAlerting

/// kpid's rule evaluation against Prometheus' own, through `promtool test rules` (Debian's
/// promtool, a real peer): the same rule file and the same series; kpid evaluates the group
/// every minute as promtool does, and what kpid has firing (labels and expanded annotations)
/// and recorded at each checked instant is written as promtool's expectations. promtool then
/// evaluates the rules itself and fails on any difference. 24 rules cover `for`,
/// `keep_firing_for`, label and annotation templates, vector matching, `absent()`, recording
/// rules read by a later rule, rates, offsets and scalars.
@Suite struct PromtoolDifferentialTests {
    static let rules = """
        groups:
          - name: diff
            rules:
              - record: job:up:sum
                expr: sum by (job) (up)
              - record: site:queue:max
                expr: max by (site) (queue_length_people)
                labels:
                  source: rules
              - alert: InstanceDown
                expr: up == 0
                for: 3m
                labels:
                  severity: page
                annotations:
                  summary: "{{ $labels.instance }} of {{ $labels.job }} down"
                  value: "{{ $value }}"
              - alert: InstanceDownNow
                expr: up == 0
                annotations:
                  d: "{{ .Labels.instance }}/{{ .Value }}"
              - alert: KeepFiring
                expr: up == 0
                for: 1m
                keep_firing_for: 4m
              - alert: QueueLong
                expr: queue_length_people > 30
                for: 2m
                labels:
                  where: "{{ $labels.zone }}-queue"
                annotations:
                  s: "{{ $value | humanize }} people"
                  p: "{{ printf \\"%.2f\\" $value }}"
              - alert: QueueLongRecorded
                expr: site:queue:max > 30
                for: 1m
              - alert: JobPartlyDown
                expr: job:up:sum < 2
              - alert: AbsentMetric
                expr: absent(nonexistent_metric)
                for: 2m
                labels:
                  severity: info
              - alert: AbsentUp
                expr: absent(up{job="gone"})
              - alert: RatioHigh
                expr: queue_length_people / on (site, zone) group_left capacity > 0.5
                annotations:
                  r: "{{ $value | humanizePercentage }}"
              - alert: WaitHigh
                expr: avg_over_time(queue_wait_seconds[5m]) > 300
                for: 2m
                annotations:
                  d: "{{ $value | humanizeDuration }}"
              - alert: RateHigh
                expr: rate(entries_total[5m]) > 1
                annotations:
                  v: "{{ humanize $value }}/s"
              - alert: IncreaseZero
                expr: increase(entries_total[3m]) == 0
                for: 1m
              - alert: CountDown
                expr: count(up == 0) > 1
              - alert: SumBySite
                expr: sum by (site) (queue_length_people) > 50
                labels:
                  team: ops
              - alert: LabelOverride
                expr: up{job="cams"} == 0
                labels:
                  job: overridden
                  copy: "{{ $labels.instance }}"
              - alert: Formats
                expr: queue_length_people > 40
                annotations:
                  u: "{{ $labels.zone | toUpper }}"
                  l: "{{ toLower \\"ABC\\" }}"
                  t: "{{ title $labels.site }}"
                  e: "{{ $value }} {{ 1e6 }} {{ 0.00001 }}"
              - alert: ScalarAlways
                expr: vector(1) > 0
                for: 5m
              - alert: BoolFilter
                expr: (up == bool 0) > 0
              - alert: MaxOverTime
                expr: max_over_time(queue_length_people[10m]) > 45
                keep_firing_for: 2m
              - alert: DeltaGauge
                expr: delta(queue_wait_seconds[5m]) > 100
              - alert: Offset
                expr: up offset 5m == 0
              - alert: Comparison
                expr: queue_length_people > on (site, zone) capacity * 0.8
        """

    /// The input series, one value a minute from 0 to 30 (promtool's `values`).
    static func series() -> [(labels: Labels, values: [Double])] {
        func repeating(_ parts: [(Double, Int)]) -> [Double] { parts.flatMap { Array(repeating: $0.0, count: $0.1) } }
        let queueT4: [Double] = [
            10, 20, 31, 35, 40, 45, 50, 33, 31, 29, 10, 12, 35, 38, 41, 42, 44, 20, 10, 5, 31, 32, 33, 34, 35, 36, 10, 10, 10, 10, 10,
        ]
        let queueT5: [Double] = (0...30).map { Double(($0 * 7) % 23 + 10) }
        let wait: [Double] = (0...30).map { Double(100 + ($0 * 37) % 400) + 0.5 }
        var entries: [Double] = []
        var total = 0.0
        for m in 0...30 {
            total += m < 10 ? 90 : (m < 16 ? 0 : 45)
            entries.append(total)
        }
        return [
            (Labels(metric: "up", ["job": "cams", "instance": "c1"]), repeating([(1, 5), (0, 8), (1, 6), (0, 2), (1, 10)])),
            (Labels(metric: "up", ["job": "cams", "instance": "c2"]), repeating([(1, 10), (0, 3), (1, 18)])),
            (Labels(metric: "up", ["job": "readers", "instance": "r1"]), repeating([(1, 31)])),
            (Labels(metric: "queue_length_people", ["site": "JFK", "zone": "T4"]), queueT4),
            (Labels(metric: "queue_length_people", ["site": "JFK", "zone": "T5"]), queueT5),
            (Labels(metric: "capacity", ["site": "JFK", "zone": "T4"]), repeating([(60, 31)])),
            (Labels(metric: "capacity", ["site": "JFK", "zone": "T5"]), repeating([(25, 31)])),
            (Labels(metric: "queue_wait_seconds", ["site": "JFK", "zone": "T4"]), wait),
            (Labels(metric: "entries_total", ["site": "JFK"]), entries),
        ]
    }

    final class Store: @unchecked Sendable {
        let store = ColumnarStore()
        var next: UInt32 = 0

        func append(_ labels: Labels, _ ts: Int64, _ value: Double) {
            if let id = store.seriesID(for: labels) {
                store.apply(newSeries: [], series: [id], timestamps: [[ts]], values: [[value]])
            } else {
                let id = SeriesID(next)
                next += 1
                store.apply(newSeries: [(id, labels)], series: [id], timestamps: [[ts]], values: [[value]])
            }
        }
    }

    static func yamlString(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func selector(_ labels: Labels) -> String {
        let name = labels.metricName ?? ""
        let rest = labels.pairs.filter { $0.name != Labels.metricNameLabel }.map { "\($0.name)=\(yamlInner($0.value))" }
        return name + "{" + rest.joined(separator: ",") + "}"
    }

    static func yamlInner(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\"" }

    @Test func firingAlertsAndRecordedSeriesEqualPrometheus() throws {
        let group = try #require(try RuleFileParser.parse(Self.rules, file: "diff.yaml").first)
        #expect(group.rules.count >= 22)
        let data = Store()
        let input = Self.series()
        for (labels, values) in input {
            for (m, v) in values.enumerated() { data.append(labels, Int64(m) * 60_000, v) }
        }
        let engine = PromQLEngine(store: data.store)
        let env = RuleEnvironment(
            query: { expr, ts in try engine.instantQuery(expr, at: ts) },
            write: { samples, ts in for (l, v) in samples { data.append(l, ts, v) } },
            restore: { _, _ in nil }, externalURL: "http://kpid")
        var state = RuleGroupState(group: group)
        var alertTests = ""
        var exprTests = ""
        var firingSeen = Set<String>()
        for m in 0...30 {
            let ts = Int64(m) * 60_000
            state.evaluate(at: ts, env)
            for r in state.rules where r.health != "ok" { Issue.record("minute \(m): \(r.rule.name): \(r.lastError ?? "")") }
            guard m % 2 == 0 else { continue }
            for r in state.rules where r.rule.kind == .alerting {
                let firing = r.alerts.filter { $0.state == .firing }
                if !firing.isEmpty { firingSeen.insert(r.rule.name) }
                alertTests += "      - eval_time: \(m)m\n        alertname: \(r.rule.name)\n        exp_alerts:"
                if firing.isEmpty {
                    alertTests += " []\n"
                    continue
                }
                alertTests += "\n"
                for a in firing {
                    alertTests += "          - exp_labels:\n"
                    for p in a.labels.pairs where p.name != "alertname" {
                        alertTests += "              \(p.name): \(Self.yamlString(p.value))\n"
                    }
                    if !a.annotations.isEmpty {
                        alertTests += "            exp_annotations:\n"
                        for (k, v) in a.annotations.sorted(by: { $0.key < $1.key }) {
                            alertTests += "              \(k): \(Self.yamlString(v))\n"
                        }
                    }
                }
            }
            for record in ["job:up:sum", "site:queue:max"] {
                guard case .vector(let samples) = try engine.instantQuery(record, at: ts) else { continue }
                exprTests += "      - expr: \(record)\n        eval_time: \(m)m\n        exp_samples:"
                if samples.isEmpty {
                    exprTests += " []\n"
                    continue
                }
                exprTests += "\n"
                for s in samples {
                    exprTests +=
                        "          - labels: \(Self.yamlString(Self.selector(s.labels)))\n            value: \(GoFormat.float(s.value))\n"
                }
            }
        }
        // The data set is only a test when the alerts do fire.
        #expect(firingSeen.count >= 18, "only \(firingSeen.sorted()) fired")
        var inputText = ""
        for (labels, values) in input {
            inputText += "      - series: \(Self.yamlString(Self.selector(labels)))\n"
            inputText += "        values: \"\(values.map { GoFormat.float($0) }.joined(separator: " "))\"\n"
        }
        let dir = NSTemporaryDirectory() + "kpid-promtool-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.rules.write(toFile: dir + "/rules.yaml", atomically: true, encoding: .utf8)
        let test = """
            rule_files:
              - rules.yaml
            evaluation_interval: 1m
            tests:
              - interval: 1m
                input_series:
            \(inputText)    alert_rule_test:
            \(alertTests)    promql_expr_test:
            \(exprTests)
            """
        try test.write(toFile: dir + "/test.yaml", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        process.arguments = ["test", "rules", "test.yaml"]
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key != "LD_PRELOAD" && !$0.key.hasPrefix("FAKETIME") }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "promtool disagrees with kpid:\n\(output.prefix(6000))")
    }
}
