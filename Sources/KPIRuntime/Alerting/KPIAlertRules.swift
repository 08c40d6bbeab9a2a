import KPIAlerting
import KPITemplates

/// The rules of the KPIs that declare `alert:` in their template: one group per template
/// (`kpi-alerts:<template>`), one alerting rule per KPI over the recorded `kpid_kpi_status`
/// series of its window, so each site alerts on its own.
enum KPIAlertRules {
    /// The status codes each `when` matches (0 green, 1 amber, 2 red, 3 insufficient data).
    static func condition(_ when: KPIAlertSpec.When) -> String {
        switch when {
        case .red: return "== 2"
        case .amber: return "> 0 < 3"
        case .insufficientData: return "== 3"
        }
    }

    /// The alert's name: the KPI's id in CamelCase and the status (`DeviceUptimeRed`).
    static func alertName(_ kpi: KPIDefinition, _ when: KPIAlertSpec.When) -> String {
        let camel = kpi.id.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        switch when {
        case .red: return camel + "Red"
        case .amber: return camel + "AmberOrRed"
        case .insufficientData: return camel + "InsufficientData"
        }
    }

    /// The groups of `templates` (read from `directory`); a window not among `windows` is an
    /// error naming the template and KPI.
    static func groups(_ templates: [KPITemplate], directory: String, windows: [String]) throws(RuleFileError) -> [RuleGroup] {
        var out: [RuleGroup] = []
        for template in templates {
            let file = directory + "/" + template.name + ".yaml"
            var rules: [Rule] = []
            for kpi in template.kpis {
                guard let spec = kpi.alert else { continue }
                guard windows.contains(spec.window) else {
                    throw RuleFileError(
                        file: file, line: 1, column: 1, group: "kpi-alerts:\(template.name)", rule: kpi.id, field: "alert.window",
                        reason: "\(spec.window) is not one of kpi-windows (\(windows.joined(separator: ", ")))")
                }
                let selector = "kpid_kpi_status{template=\"\(template.name)\",kpi=\"\(kpi.id)\",window=\"\(spec.window)\"}"
                var rule = Rule(kind: .alerting, name: alertName(kpi, spec.when), expr: selector + " " + condition(spec.when))
                rule.forMs = spec.forMs
                do throws(AlertTemplateError) {
                    rule.labels = ["severity": try AlertTemplate(spec.severity)]
                    let status = spec.when == .insufficientData ? "has too little data to judge" : "is \(spec.when.rawValue)"
                    rule.annotations = [
                        "summary": try AlertTemplate(
                            "\(kpi.title) (\(template.title)) \(status) at {{ $labels.site }} over the last \(spec.window)"),
                        "description": try AlertTemplate(kpi.description),
                    ]
                } catch {
                    throw RuleFileError(
                        file: file, line: 1, column: 1, group: "kpi-alerts:\(template.name)", rule: kpi.id, field: "alert",
                        reason: "the generated templates do not parse: \(error)")
                }
                rules.append(rule)
            }
            if !rules.isEmpty { out.append(RuleGroup(name: "kpi-alerts:\(template.name)", file: file, intervalMs: nil, rules: rules)) }
        }
        return out
    }
}
