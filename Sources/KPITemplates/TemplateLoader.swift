import Foundation
import KPICore
import KPIQuery
import Yams

/// Reads and validates template files. Every problem is a ``TemplateError`` naming the file,
/// the KPI and the field.
public enum TemplateLoader {
    /// Units a KPI may have.
    public static let units: Set<String> = [
        "%", "s", "min", "h", "d", "count", "people", "per_hour", "per_day", "usd", "ratio",
    ]
    static let topFields: Set<String> = ["template", "title", "description", "kpis", "min_coverage", "staleness"]
    static let kpiFields: Set<String> = [
        "id", "title", "description", "unit", "query", "formula", "direction", "target", "warning",
        "breakdown",
        "breakdown_query", "target_window", "min_coverage", "coverage_of", "alert",
    ]

    /// Every `*.yaml` template in `directory`, sorted by name.
    public static func loadDirectory(_ directory: String) throws(TemplateError) -> [KPITemplate] {
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw TemplateError(file: directory, reason: "the templates directory cannot be read")
        }
        var out: [KPITemplate] = []
        for file in files.sorted() where file.hasSuffix(".yaml") || file.hasSuffix(".yml") {
            let path = (directory as NSString).appendingPathComponent(file)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw TemplateError(file: file, reason: "the file cannot be read as UTF-8")
            }
            out.append(try parse(text, file: file))
        }
        return out
    }

    /// Parses and validates one template; `file` names it in errors, and its name without the
    /// extension must equal the `template` field.
    public static func parse(_ text: String, file: String) throws(TemplateError) -> KPITemplate {
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw TemplateError(file: file, reason: "not valid YAML: \(error)")
        }
        guard let top = root as? [String: Any] else {
            throw TemplateError(
                file: file, reason: "the file must be a mapping with template, title, description and kpis")
        }
        for key in top.keys.sorted() where !topFields.contains(key) {
            throw TemplateError(
                file: file, field: key,
                reason: "unknown field; a template has \(topFields.sorted().joined(separator: ", "))")
        }
        let name = try string(top, "template", file: file, kpi: nil)
        let stem = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        if stem != name {
            throw TemplateError(
                file: file, field: "template", reason: "\"\(name)\" differs from the file name \"\(stem)\"")
        }
        let title = try string(top, "title", file: file, kpi: nil)
        let description = try string(top, "description", file: file, kpi: nil)
        guard let list = top["kpis"] as? [Any], !list.isEmpty else {
            throw TemplateError(file: file, field: "kpis", reason: "a non-empty list of KPIs is required")
        }
        var kpis: [KPIDefinition] = []
        var seen = Set<String>()
        let templateCoverage = try coverage(top, file: file, kpi: nil) ?? KPIDefinition.defaultMinCoverage
        for (index, entry) in list.enumerated() {
            var kpi = try parseKPI(entry, index: index, file: file)
            kpi.minCoverage = try coverage(entry as? [String: Any] ?? [:], file: file, kpi: kpi.id) ?? templateCoverage
            kpi.coverageMetrics = try coverageMetrics(entry as? [String: Any] ?? [:], kpi: kpi, file: file)
            kpi.alert = try alertSpec(entry as? [String: Any] ?? [:], kpi: kpi.id, file: file)
            guard seen.insert(kpi.id).inserted else {
                throw TemplateError(
                    file: file, kpi: kpi.id, field: "id",
                    reason: "the id is used by another KPI of the template")
            }
            kpis.append(kpi)
        }
        let order = try evaluationOrder(kpis, file: file)
        var template = KPITemplate(
            name: name, title: title, description: description, kpis: kpis, evaluationOrder: order)
        template.staleness = try staleness(top, file: file, reads: template.metricNames)
        return template
    }

    /// `staleness`: a mapping of metric names (read by the template) to staleness limits, like
    /// `device_up: 6h`, when given.
    static func staleness(_ top: [String: Any], file: String, reads: Set<String>) throws(TemplateError) -> [String: Int64] {
        guard let value = top["staleness"] else { return [:] }
        guard let map = value as? [String: Any] else {
            throw TemplateError(
                file: file, field: "staleness", reason: "must be a mapping of metric names to durations, like device_up: 6h")
        }
        var rules: [String: Int64] = [:]
        for (metric, raw) in map.sorted(by: { $0.key < $1.key }) {
            guard reads.contains(metric) else {
                throw TemplateError(
                    file: file, field: "staleness.\(metric)",
                    reason: "is not a metric the template reads (\(reads.sorted().joined(separator: ", ")))")
            }
            guard let text = raw as? String, let ms = DurationParser.milliseconds(text), ms >= 1000 else {
                throw TemplateError(
                    file: file, field: "staleness.\(metric)", reason: "\"\(raw)\" is not a duration of at least 1s, like 15m or 6h")
            }
            rules[metric] = ms
        }
        return rules
    }

    static func parseKPI(_ entry: Any, index: Int, file: String) throws(TemplateError)
        -> KPIDefinition
    {
        guard let map = entry as? [String: Any] else {
            throw TemplateError(
                file: file, kpi: "#\(index + 1)", reason: "a KPI must be a mapping of fields")
        }
        guard let id = map["id"] as? String, !id.isEmpty else {
            throw TemplateError(
                file: file, kpi: "#\(index + 1)", field: "id", reason: "a string id is required")
        }
        guard isIdentifier(id) else {
            throw TemplateError(
                file: file, kpi: id, field: "id",
                reason: "use lower-case letters, digits and _, starting with a letter")
        }
        for key in map.keys.sorted() where !kpiFields.contains(key) {
            throw TemplateError(
                file: file, kpi: id, field: key,
                reason: "unknown field; a KPI has \(kpiFields.sorted().joined(separator: ", "))")
        }
        let title = try string(map, "title", file: file, kpi: id)
        let description = try string(map, "description", file: file, kpi: id)
        let unit = try string(map, "unit", file: file, kpi: id)
        guard units.contains(unit) else {
            throw TemplateError(
                file: file, kpi: id, field: "unit",
                reason: "\"\(unit)\" is not one of \(units.sorted().joined(separator: ", "))")
        }
        let directionText = try string(map, "direction", file: file, kpi: id)
        guard let direction = KPIDirection(rawValue: directionText) else {
            throw TemplateError(
                file: file, kpi: id, field: "direction",
                reason: "\"\(directionText)\" is not higher_is_better or lower_is_better")
        }
        let target = try number(map, "target", file: file, kpi: id)
        let warning = try number(map, "warning", file: file, kpi: id)
        try checkThresholds(target: target, warning: warning, direction: direction, file: file, kpi: id)
        let computation: KPIComputation
        switch (map["query"], map["formula"]) {
        case (nil, nil):
            throw TemplateError(
                file: file, kpi: id, field: "query", reason: "a KPI needs a query or a formula")
        case (.some, .some):
            throw TemplateError(
                file: file, kpi: id, field: "formula", reason: "a KPI has a query or a formula, not both")
        case (.some, nil):
            let sql = try string(map, "query", file: file, kpi: id)
            try checkQuery(sql, field: "query", file: file, kpi: id)
            computation = .query(sql)
        case (nil, .some):
            let text = try string(map, "formula", file: file, kpi: id)
            do {
                computation = .formula(try Formula.parse(text))
            } catch {
                throw TemplateError(
                    file: file, kpi: id, field: "formula",
                    reason: "character \(error.column): \(error.reason)")
            }
        }
        let breakdown = try optionalString(map, "breakdown", file: file, kpi: id)
        let breakdownQuery = try optionalString(map, "breakdown_query", file: file, kpi: id)
        if let breakdownQuery {
            guard breakdown != nil else {
                throw TemplateError(
                    file: file, kpi: id, field: "breakdown",
                    reason:
                        "a breakdown_query needs a breakdown label saying what its items are (zone, gate, ...)")
            }
            try checkQuery(breakdownQuery, field: "breakdown_query", file: file, kpi: id)
        } else if breakdown != nil {
            throw TemplateError(
                file: file, kpi: id, field: "breakdown_query",
                reason: "a breakdown label needs a breakdown_query answering item and value rows")
        }
        var targetWindowMs: Int64? = nil
        if let text = try optionalString(map, "target_window", file: file, kpi: id) {
            guard let ms = windowMilliseconds(text) else {
                throw TemplateError(
                    file: file, kpi: id, field: "target_window",
                    reason: "\"\(text)\" is not a window like 1h, 24h, 7d or 4w")
            }
            targetWindowMs = ms
        }
        return KPIDefinition(
            id: id, title: title, description: description, unit: unit, computation: computation,
            direction: direction,
            target: target, warning: warning, breakdown: breakdown, breakdownQuery: breakdownQuery,
            targetWindowMs: targetWindowMs)
    }

    /// `coverage_of`: a list of metrics the KPI's query reads, when given.
    static func coverageMetrics(_ map: [String: Any], kpi: KPIDefinition, file: String) throws(TemplateError) -> [String]? {
        guard let value = map["coverage_of"] else { return nil }
        guard let list = value as? [Any], !list.isEmpty, list.allSatisfy({ $0 is String }) else {
            throw TemplateError(file: file, kpi: kpi.id, field: "coverage_of", reason: "must be a non-empty list of metric names")
        }
        let names = list.map { $0 as! String }
        let read: Set<String>
        if case .query(let sql) = kpi.computation { read = Set(TemplateEvaluator.metricNames(sql)) } else { read = [] }
        for name in names where !read.contains(name) {
            throw TemplateError(
                file: file, kpi: kpi.id, field: "coverage_of",
                reason: "\"\(name)\" is not a metric the query reads (\(read.sorted().joined(separator: ", ")))")
        }
        return names.sorted()
    }

    /// `alert`: `when` (red, amber, insufficient_data), `for` (a duration, default 0), `window`
    /// (a rolling window name such as 1h or 24h, default 1h), `severity` (page, ticket, info,
    /// default ticket), when given.
    static func alertSpec(_ map: [String: Any], kpi: String, file: String) throws(TemplateError) -> KPIAlertSpec? {
        guard let value = map["alert"] else { return nil }
        guard let a = value as? [String: Any] else {
            throw TemplateError(file: file, kpi: kpi, field: "alert", reason: "must be a mapping with when, for, window and severity")
        }
        for key in a.keys.sorted() where !["when", "for", "window", "severity"].contains(key) {
            throw TemplateError(file: file, kpi: kpi, field: "alert.\(key)", reason: "unknown field; alert has when, for, window, severity")
        }
        guard let whenText = a["when"] as? String, let when = KPIAlertSpec.When(rawValue: whenText) else {
            throw TemplateError(
                file: file, kpi: kpi, field: "alert.when",
                reason: "must be one of \(KPIAlertSpec.When.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var forMs: Int64 = 0
        if let f = a["for"] {
            guard let text = f as? String, let ms = DurationParser.milliseconds(text, syntax: .promQL) else {
                throw TemplateError(file: file, kpi: kpi, field: "alert.for", reason: "\"\(f)\" is not a duration like 30m")
            }
            forMs = ms
        }
        let window = (a["window"] as? String) ?? "1h"
        guard DurationParser.milliseconds(window) != nil else {
            throw TemplateError(file: file, kpi: kpi, field: "alert.window", reason: "\"\(window)\" is not a rolling window like 1h or 24h")
        }
        let severity = (a["severity"] as? String) ?? "ticket"
        guard KPIAlertSpec.severities.contains(severity) else {
            throw TemplateError(
                file: file, kpi: kpi, field: "alert.severity", reason: "must be one of \(KPIAlertSpec.severities.joined(separator: ", "))")
        }
        return KPIAlertSpec(when: when, forMs: forMs, window: window, severity: severity)
    }

    /// `min_coverage`: a share from 0 to 1, when given.
    static func coverage(_ map: [String: Any], file: String, kpi: String?) throws(TemplateError) -> Double? {
        guard map["min_coverage"] != nil else { return nil }
        let value = try number(map, "min_coverage", file: file, kpi: kpi)
        guard (0...1).contains(value) else {
            throw TemplateError(file: file, kpi: kpi, field: "min_coverage", reason: "must be a share from 0 to 1, like 0.8")
        }
        return value
    }

    /// A KPI window: a duration (``DurationParser``'s settings syntax) of at least a minute and
    /// at most 100,000 weeks, in milliseconds: `15m`, `1h`, `24h`, `7d`, `4w`, `1h30m`. nil for
    /// anything else.
    public static func windowMilliseconds(_ text: String) -> Int64? {
        guard let ms = DurationParser.milliseconds(text), ms >= 60_000, ms <= 100_000 * 604_800_000 else { return nil }
        return ms
    }

    /// The warning threshold must lie on the bad side of the target (equal is allowed: no amber band).
    public static func checkThresholds(
        target: Double, warning: Double, direction: KPIDirection, file: String, kpi: String
    ) throws(TemplateError) {
        switch direction {
        case .higherIsBetter where warning > target:
            throw TemplateError(
                file: file, kpi: kpi, field: "warning",
                reason:
                    "\(format(warning)) is above the target \(format(target)); for higher_is_better the warning must not exceed the target"
            )
        case .lowerIsBetter where warning < target:
            throw TemplateError(
                file: file, kpi: kpi, field: "warning",
                reason:
                    "\(format(warning)) is below the target \(format(target)); for lower_is_better the warning must not be below the target"
            )
        default: break
        }
    }

    /// The query parses and uses no parameters besides :site, :from and :to.
    static func checkQuery(_ sql: String, field: String, file: String, kpi: String)
        throws(TemplateError)
    {
        let statement: Statement
        do {
            statement = try QueryParser.parse(sql)
        } catch {
            throw TemplateError(
                file: file, kpi: kpi, field: field, reason: "the SQL does not parse: \(error.description)")
        }
        // The columns the evaluator reads: value, and item for a breakdown.
        guard case .select(let select) = statement else {
            throw TemplateError(file: file, kpi: kpi, field: field, reason: "must be a SELECT, not EXPLAIN")
        }
        var names = Set<String>()
        var wildcard = false
        for item in select.items {
            switch item {
            case .wildcard: wildcard = true
            case .expression(_, let alias?): names.insert(alias.lowercased())
            case .expression(.column(let column, _), nil): names.insert(column.name.lowercased())
            case .expression: break
            }
        }
        for required in field == "query" ? ["value"] : ["item", "value"] where !wildcard && !names.contains(required) {
            throw TemplateError(
                file: file, kpi: kpi, field: field,
                reason: "the query must answer a column named \(required) (... AS \(required))")
        }
        let unknown = SavedQuery.parameterNames(in: sql).subtracting(KPITemplates.queryParameters)
        if !unknown.isEmpty {
            throw TemplateError(
                file: file, kpi: kpi, field: field,
                reason:
                    "unknown parameter \(unknown.sorted().map { ":" + $0 }.joined(separator: ", ")); only :site, :from and :to are bound"
            )
        }
    }

    /// Formulas after their inputs; unknown ids and cycles are errors.
    static func evaluationOrder(_ kpis: [KPIDefinition], file: String) throws(TemplateError)
        -> [String]
    {
        var byID: [String: KPIDefinition] = [:]
        for k in kpis { byID[k.id] = k }
        for k in kpis {
            guard case .formula(let f) = k.computation else { continue }
            for ref in f.references.sorted() where byID[ref] == nil {
                throw TemplateError(
                    file: file, kpi: k.id, field: "formula", reason: "unknown KPI \"\(ref)\" in the formula")
            }
        }
        var order: [String] = []
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        func visit(_ id: String, path: [String]) throws(TemplateError) {
            if state[id] == 2 { return }
            if state[id] == 1 {
                let cycle = (path.drop { $0 != id } + [id]).joined(separator: " -> ")
                throw TemplateError(
                    file: file, kpi: id, field: "formula", reason: "the formulas form a cycle: \(cycle)")
            }
            state[id] = 1
            if case .formula(let f) = byID[id]!.computation {
                for ref in f.references.sorted() { try visit(ref, path: path + [id]) }
            }
            state[id] = 2
            order.append(id)
        }
        for k in kpis { try visit(k.id, path: []) }
        return order
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return s.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
        }
    }

    static func string(_ map: [String: Any], _ key: String, file: String, kpi: String?)
        throws(TemplateError) -> String
    {
        guard let value = map[key] else {
            throw TemplateError(file: file, kpi: kpi, field: key, reason: "the field is required")
        }
        guard let s = value as? String, !s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        else {
            throw TemplateError(file: file, kpi: kpi, field: key, reason: "must be a non-empty string")
        }
        return s
    }

    static func optionalString(_ map: [String: Any], _ key: String, file: String, kpi: String?)
        throws(TemplateError) -> String?
    {
        guard map[key] != nil else { return nil }
        return try string(map, key, file: file, kpi: kpi)
    }

    static func number(_ map: [String: Any], _ key: String, file: String, kpi: String?)
        throws(TemplateError) -> Double
    {
        guard let value = map[key] else {
            throw TemplateError(file: file, kpi: kpi, field: key, reason: "the field is required")
        }
        if let n = numeric(value), n.isFinite { return n }
        throw TemplateError(
            file: file, kpi: kpi, field: key, reason: "must be a number, not \"\(value)\"")
    }

    /// A YAML or JSON scalar as a number (integers and floats; not booleans or strings).
    static func numeric(_ value: Any) -> Double? {
        if type(of: value) == Bool.self { return nil }
        if let i = value as? Int, type(of: value) == Int.self { return Double(i) }
        if let d = value as? Double, type(of: value) == Double.self { return d }
        if let n = value as? NSNumber {
            let text = n.stringValue
            return text == "true" || text == "false" ? nil : n.doubleValue
        }
        return nil
    }

    static func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }
}
