import KPIStorage

/// Retention rules that name a KPI template (`template/airport=35d`): every metric the
/// template's queries read gets the rule, unless a rule names the metric itself. The storage
/// layer keeps rules by metric name only; the runtime, which knows the templates, expands these
/// (``Runtime/effectiveRetention()``).
extension RetentionPolicy {
    /// Rule keys naming a KPI template (`template/airport=35d`): every metric the template's
    /// queries read, unless a rule names the metric itself (see ``expandingTemplates(_:)``).
    public static let templatePrefix = "template/"

    /// The templates named by `template/<name>` rules.
    public var templateRules: [String: Int64] {
        var out: [String: Int64] = [:]
        for (key, ms) in rules where key.hasPrefix(Self.templatePrefix) {
            out[String(key.dropFirst(Self.templatePrefix.count))] = ms
        }
        return out
    }

    /// The policy with each `template/<name>` rule replaced by rules for the metrics of that
    /// template (`metricsOf` returns them, nil for an unknown template). A rule naming a metric
    /// wins; a metric of several templates keeps the longest of their retentions (0 = for ever
    /// is the longest). Returns the names of unknown templates too.
    public func expandingTemplates(_ metricsOf: (String) -> Set<String>?) -> (policy: RetentionPolicy, unknown: [String]) {
        var out = RetentionPolicy(defaultMs: defaultMs, rules: rules.filter { !$0.key.hasPrefix(Self.templatePrefix) })
        var fromTemplates: [String: Int64] = [:]
        var unknown: [String] = []
        for (template, ms) in templateRules.sorted(by: { $0.key < $1.key }) {
            guard let metrics = metricsOf(template) else {
                unknown.append(template)
                continue
            }
            for metric in metrics {
                if let current = fromTemplates[metric] {
                    fromTemplates[metric] = (current == 0 || ms == 0) ? 0 : max(current, ms)
                } else {
                    fromTemplates[metric] = ms
                }
            }
        }
        for (metric, ms) in fromTemplates where out.rules[metric] == nil { out.rules[metric] = ms }
        return (out, unknown)
    }

    /// Why a rule key that is not a metric name is refused, nil for `template/<name>`.
    static func templateKeyProblem(_ key: String) -> String? {
        guard key.hasPrefix(templatePrefix) else { return "is not a metric name" }
        let name = key.dropFirst(templatePrefix.count)
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            return "does not name a template (template/<name>)"
        }
        return nil
    }
}
