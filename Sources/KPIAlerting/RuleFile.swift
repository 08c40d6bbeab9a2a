import KPICore
import KPIPromQL
import Yams

/// Why a rule file was refused: the file, the line and column, the group, the rule and the
/// field, and the reason.
public struct RuleFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var group: String?
    /// The rule, as `#n (alert X)` or `#n (record y)`.
    public var rule: String?
    public var field: String?
    public var reason: String

    public init(
        file: String, line: Int, column: Int, group: String? = nil, rule: String? = nil, field: String? = nil, reason: String
    ) {
        self.file = file
        self.line = line
        self.column = column
        self.group = group
        self.rule = rule
        self.field = field
        self.reason = reason
    }

    public var description: String {
        var out = "\(file):\(line):\(column)"
        if let group { out += ": group \"\(group)\"" }
        if let rule { out += ", rule \(rule)" }
        if let field { out += ": \(field)" }
        return out + ": " + reason
    }
}

/// One alerting or recording rule, as a Prometheus 2.x rule file writes it.
public struct Rule: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable {
        case alerting
        case recording
    }

    public var kind: Kind
    /// The `alert` or `record` name.
    public var name: String
    /// The PromQL expression, as written.
    public var expr: String
    /// `for`: how long an alert is pending before it fires, in ms.
    public var forMs: Int64 = 0
    /// `keep_firing_for`: how long a firing alert stays firing after its condition clears, in ms.
    public var keepFiringForMs: Int64 = 0
    /// `labels`, by name; for alerting rules each a template.
    public var labels: [String: AlertTemplate] = [:]
    /// `annotations`, by name (alerting rules only), each a template.
    public var annotations: [String: AlertTemplate] = [:]

    public init(kind: Kind, name: String, expr: String) {
        self.kind = kind
        self.name = name
        self.expr = expr
    }

    /// The labels as written (not expanded).
    public var labelSources: [String: String] { labels.mapValues(\.source) }
}

/// A group of rules evaluated together, one after the other, every `interval`.
public struct RuleGroup: Sendable, Equatable {
    public var name: String
    /// The file the group came from.
    public var file: String
    /// `interval` in ms; nil for the global default (`rule-evaluation-interval`).
    public var intervalMs: Int64?
    /// `limit`: the most alerts or series one rule may produce (0: no limit).
    public var limit: Int = 0
    public var rules: [Rule]

    public init(name: String, file: String, intervalMs: Int64?, limit: Int = 0, rules: [Rule]) {
        self.name = name
        self.file = file
        self.intervalMs = intervalMs
        self.limit = limit
        self.rules = rules
    }
}

/// Prometheus 2.x rule files (`groups:` of `alert`/`record` rules), checked as `promtool check
/// rules` checks them: unknown fields, missing or duplicate names, bad PromQL, durations, label
/// names and templates are refused with the file, line, group, rule and field.
public enum RuleFileParser {
    static let groupFields: Set<String> = ["name", "interval", "limit", "rules"]
    static let ruleFields: Set<String> = ["alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"]

    /// The groups of one file; `file` names it in errors.
    public static func parse(_ text: String, file: String) throws(RuleFileError) -> [RuleGroup] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw RuleFileError(file: file, line: 1, column: 1, reason: "not valid YAML: \(error)")
        } catch {
            throw RuleFileError(file: file, line: 1, column: 1, reason: "not valid YAML: \(error)")
        }
        guard let root else { return [] }  // an empty file has no groups, as in Prometheus
        func fail(_ node: Node?, _ reason: String, group: String? = nil, rule: String? = nil, field: String? = nil) -> RuleFileError {
            RuleFileError(
                file: file, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, group: group, rule: rule, field: field,
                reason: reason)
        }
        guard let top = root.mapping else { throw fail(root, "a rule file is a mapping with groups") }
        for (key, _) in top where key.string != "groups" {
            throw fail(key, "unknown field \"\(key.string ?? "?")\"; a rule file has groups")
        }
        guard let groupsNode = top["groups"] else { return [] }
        guard let groups = groupsNode.sequence else { throw fail(groupsNode, "groups must be a list", field: "groups") }
        var out: [RuleGroup] = []
        var names = Set<String>()
        for groupNode in groups {
            guard let g = groupNode.mapping else { throw fail(groupNode, "a group must be a mapping with name and rules") }
            for (key, _) in g where !groupFields.contains(key.string ?? "") {
                throw fail(
                    key, "unknown field \"\(key.string ?? "?")\"; a group has \(groupFields.sorted().joined(separator: ", "))",
                    group: g["name"]?.string)
            }
            guard let name = g["name"]?.string, !name.isEmpty else {
                throw fail(g["name"] ?? groupNode, "a group needs a name", field: "name")
            }
            guard names.insert(name).inserted else {
                throw fail(g["name"], "groupname \"\(name)\" is repeated in the same file", group: name, field: "name")
            }
            var group = RuleGroup(name: name, file: file, intervalMs: nil, rules: [])
            if let node = g["interval"] {
                guard let ms = duration(node), ms > 0 else {
                    throw fail(node, "\"\(node.string ?? "")\" is not a duration like 1m", group: name, field: "interval")
                }
                group.intervalMs = ms
            }
            if let node = g["limit"] {
                guard let s = node.string, let n = Int(s), n >= 0 else {
                    throw fail(node, "must be a whole number of alerts or series, 0 for none", group: name, field: "limit")
                }
                group.limit = n
            }
            guard let rulesNode = g["rules"] else { throw fail(groupNode, "a group needs rules", group: name, field: "rules") }
            guard let rules = rulesNode.sequence else { throw fail(rulesNode, "rules must be a list", group: name, field: "rules") }
            var seen = Set<String>()
            for (index, ruleNode) in rules.enumerated() {
                let rule = try parseRule(ruleNode, index: index, group: name, fail: fail)
                // The same name, labels and expression twice is a duplicate (promtool says so too).
                let key = "\(rule.kind)\u{0}\(rule.name)\u{0}\(rule.expr)\u{0}\(rule.labelSources.sorted { $0.key < $1.key })"
                guard seen.insert(key).inserted else {
                    throw fail(
                        ruleNode, "duplicate rule: the same name, labels and expression as an earlier rule of the group", group: name,
                        rule: "#\(index + 1) (\(rule.kind == .alerting ? "alert" : "record") \(rule.name))")
                }
                group.rules.append(rule)
            }
            out.append(group)
        }
        return out
    }

    private static func duration(_ node: Node) -> Int64? {
        guard let s = node.string else { return nil }
        if s == "0" { return 0 }
        return DurationParser.milliseconds(s, syntax: .promQL)
    }

    private static func parseRule(
        _ node: Node, index: Int, group: String,
        fail: (Node?, String, String?, String?, String?) -> RuleFileError
    ) throws(RuleFileError) -> Rule {
        let position = "#\(index + 1)"
        guard let r = node.mapping else { throw fail(node, "a rule must be a mapping", group, position, nil) }
        let alert = r["alert"]?.string
        let record = r["record"]?.string
        let label = alert.map { "\(position) (alert \($0))" } ?? record.map { "\(position) (record \($0))" } ?? position
        func refuse(_ n: Node?, _ reason: String, _ field: String? = nil) -> RuleFileError { fail(n ?? node, reason, group, label, field) }
        for (key, _) in r where !ruleFields.contains(key.string ?? "") {
            throw refuse(key, "unknown field \"\(key.string ?? "?")\"; a rule has \(ruleFields.sorted().joined(separator: ", "))")
        }
        switch (alert, record) {
        case (nil, nil): throw refuse(node, "one of 'record' or 'alert' must be set")
        case (.some, .some): throw refuse(node, "only one of 'record' and 'alert' must be set")
        default: break
        }
        guard let exprNode = r["expr"], let expr = exprNode.string, !expr.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw refuse(r["expr"], "field 'expr' must be set in rule", "expr")
        }
        do {
            _ = try PromQL.parse(expr)
        } catch {
            throw refuse(exprNode, "could not parse expression: \(error)", "expr")
        }
        var rule: Rule
        if let record {
            guard LabelValidator.isValidMetricName(record) else {
                throw refuse(r["record"], "invalid recording rule name: \(record)", "record")
            }
            for field in ["annotations", "for", "keep_firing_for"] where r[field] != nil {
                throw refuse(r[field], "invalid field '\(field)' in recording rule", field)
            }
            rule = Rule(kind: .recording, name: record, expr: expr)
        } else {
            guard let alert, !alert.isEmpty else { throw refuse(r["alert"], "the alert needs a name", "alert") }
            rule = Rule(kind: .alerting, name: alert, expr: expr)
            for (field, keyPath) in [("for", \Rule.forMs), ("keep_firing_for", \Rule.keepFiringForMs)] {
                guard let n = r[field] else { continue }
                guard let ms = duration(n) else { throw refuse(n, "\"\(n.string ?? "")\" is not a duration like 5m", field) }
                rule[keyPath: keyPath] = ms
            }
        }
        for (field, isLabels) in [("labels", true), ("annotations", false)] {
            guard let n = r[field] else { continue }
            if n.scalar?.string == "" || n.scalar?.tag.description == "tag:yaml.org,2002:null" { continue }
            guard let map = n.mapping else { throw refuse(n, "\(field) must be a mapping of names to strings", field) }
            var out: [String: AlertTemplate] = [:]
            for (k, v) in map {
                let name = k.string ?? ""
                guard LabelValidator.isValidLabelName(name) else {
                    throw refuse(k, "invalid \(isLabels ? "label" : "annotation") name: \(name)", "\(field).\(name)")
                }
                if isLabels && name == Labels.metricNameLabel {
                    throw refuse(k, "the label __name__ cannot be set by a rule", "\(field).\(name)")
                }
                guard let text = v.string else { throw refuse(v, "must be a string", "\(field).\(name)") }
                do {
                    let template = try AlertTemplate(text)
                    if rule.kind == .recording && !template.isPlain {
                        throw refuse(v, "recording rule labels are not templates", "\(field).\(name)")
                    }
                    out[name] = template
                } catch let error as AlertTemplateError {
                    throw refuse(v, "template: \(error)", "\(field).\(name)")
                } catch let error as RuleFileError {
                    throw error
                } catch {
                    throw refuse(v, "\(error)", "\(field).\(name)")
                }
            }
            if isLabels { rule.labels = out } else { rule.annotations = out }
        }
        return rule
    }
}
