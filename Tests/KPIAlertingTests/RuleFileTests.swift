import Foundation
import Testing

@testable import KPIAlerting

/// Rule files: kpid accepts what `promtool check rules` (Prometheus' own checker, a real peer)
/// accepts and refuses what it refuses, naming the file, line, group, rule and field.
@Suite struct RuleFileTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `promtool check rules FILE`: whether it accepts the text, and what it said.
    static func promtool(_ text: String) throws -> (ok: Bool, output: String) {
        let path = NSTemporaryDirectory() + "kpid-rules-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        process.arguments = ["check", "rules", path]
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key != "LD_PRELOAD" && !$0.key.hasPrefix("FAKETIME") }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus == 0, String(decoding: data, as: UTF8.self))
    }

    @Test func theShippedRuleFilesLoadInKpidAndPromtool() throws {
        let dir = Self.root.appendingPathComponent("Queries/rules").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 4)
        var alerts = Set<String>()
        for file in files {
            let text = try String(contentsOfFile: dir + "/" + file, encoding: .utf8)
            let groups = try RuleFileParser.parse(text, file: file)
            #expect(!groups.isEmpty, "\(file)")
            for g in groups { for r in g.rules { alerts.insert(r.name) } }
            let peer = try Self.promtool(text)
            #expect(peer.ok, "promtool refused \(file): \(peer.output)")
        }
        // What the issue asks the shipped files to cover.
        for name in ["DeviceDown", "SiteNotReporting", "QueueOverflow", "KPIRed", "ComplianceBelowTarget"] {
            #expect(alerts.contains(name), "\(name) is not shipped")
        }
    }

    @Test func aGoodFileParsesToItsRules() throws {
        let text = """
            groups:
              - name: doors
                interval: 30s
                rules:
                  - record: site:device_up:avg
                    expr: avg by (site) (device_up)
                    labels:
                      source: kpid
                  - alert: DoorOpen
                    expr: door_open == 1
                    for: 5m
                    keep_firing_for: 1m
                    labels:
                      severity: page
                      room: "{{ $labels.room }}"
                    annotations:
                      summary: "{{ $labels.door }} open: {{ $value | humanize }}"
            """
        let groups = try RuleFileParser.parse(text, file: "doors.yaml")
        #expect(groups.count == 1)
        let g = try #require(groups.first)
        #expect(g.name == "doors" && g.intervalMs == 30_000 && g.rules.count == 2)
        #expect(g.rules[0].kind == .recording && g.rules[0].name == "site:device_up:avg")
        #expect(g.rules[0].labelSources == ["source": "kpid"])
        #expect(g.rules[1].kind == .alerting && g.rules[1].forMs == 300_000 && g.rules[1].keepFiringForMs == 60_000)
        #expect(g.rules[1].annotations["summary"]?.source == "{{ $labels.door }} open: {{ $value | humanize }}")
        #expect(try Self.promtool(text).ok)
    }

    /// Each bad file: kpid refuses it with the line and field named, and so does promtool.
    @Test(
        arguments: [
            ("bad expression", "      - alert: A\n        expr: sum(\n", 5, "expr"),
            ("unknown field", "      - alert: A\n        expr: up == 0\n        severity: page\n", 6, nil),
            ("bad duration", "      - alert: A\n        expr: up == 0\n        for: 5 minutes\n", 6, "for"),
            (
                "template error", "      - alert: A\n        expr: up == 0\n        annotations:\n          s: \"{{ $labels.x \"\n", 7,
                "annotations.s"
            ),
            ("record and alert", "      - alert: A\n        record: b\n        expr: up\n", 4, nil),
            ("bad record name", "      - record: 1bad\n        expr: up\n", 4, "record"),
            (
                "annotations on a recording rule", "      - record: a\n        expr: up\n        annotations:\n          s: x\n", 7,
                "annotations"
            ),
            ("no expr", "      - alert: A\n", 4, "expr"),
            ("duplicate rule", "      - alert: A\n        expr: up == 0\n      - alert: A\n        expr: up == 0\n", 6, nil),
        ] as [(String, String, Int, String?)])
    func aBadFileIsRefusedWithItsPosition(_ name: String, _ rules: String, _ line: Int, _ field: String?) throws {
        let text = "groups:\n  - name: g\n    rules:\n" + rules
        do {
            _ = try RuleFileParser.parse(text, file: "bad.yaml")
            Issue.record("\(name): accepted")
        } catch {
            #expect(error.file == "bad.yaml" && error.group == "g", "\(name): \(error)")
            #expect(error.line == line, "\(name): \(error)")
            if let field { #expect(error.field == field, "\(name): \(error)") }
            #expect(error.description.hasPrefix("bad.yaml:\(line):"), "\(error)")
        }
        if name != "duplicate rule" {  // promtool only warns about duplicates; kpid refuses them
            let peer = try Self.promtool(text)
            #expect(!peer.ok, "promtool accepted the \(name) file")
        }
    }

    @Test func repeatedGroupNamesAreRefused() throws {
        let text = "groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n"
        #expect(throws: RuleFileError.self) { try RuleFileParser.parse(text, file: "f.yaml") }
        #expect(try !Self.promtool(text).ok)
    }
}
