import Foundation

/// A site: its id (the `site` label), display name, local time zone, templates, per-site
/// threshold overrides and its attributes (region, format, area, opening hours, labels).
public struct SiteDefinition: Sendable, Equatable {
    /// Target and warning of one KPI at one site, replacing the template's.
    public struct Thresholds: Sendable, Equatable {
        public var target: Double?
        public var warning: Double?

        public init(target: Double? = nil, warning: Double? = nil) {
            self.target = target
            self.warning = warning
        }
    }

    public var site: String
    public var displayName: String
    /// IANA name, e.g. America/New_York.
    public var timeZone: String
    public var templates: [String]
    /// Overrides by template name, then KPI id.
    public var overrides: [String: [String: Thresholds]]
    /// What groups select it by and portfolio figures normalize by.
    public var attributes: SiteAttributes
    /// Who answers for a KPI at this site, by template name, then KPI id (a name, a team, an
    /// address: free text shown in the reviews).
    public var owners: [String: [String: String]]

    public init(
        site: String, displayName: String, timeZone: String, templates: [String],
        overrides: [String: [String: Thresholds]] = [:], attributes: SiteAttributes = SiteAttributes(),
        owners: [String: [String: String]] = [:]
    ) {
        self.site = site
        self.displayName = displayName
        self.timeZone = timeZone
        self.templates = templates
        self.overrides = overrides
        self.attributes = attributes
        self.owners = owners
    }
}

/// Reads a `sites.json`: an array of sites shaped like `Fixtures/sites.json` (`site`,
/// `display_name`, `time_zone`, `template` or `templates`, optional `overrides`, `owners` and the
/// attributes `region`, `format`, `area_m2`, `opening_hours`, `labels` (``SiteAttributes``);
/// other fields such as capacities are allowed and ignored).
public enum SiteCatalog {
    /// Parses and validates the file against the templates (names, KPI ids, threshold sides).
    public static func parse(_ data: Data, file: String, templates: [KPITemplate])
        throws(TemplateError) -> [SiteDefinition]
    {
        guard let list = (try? JSONSerialization.jsonObject(with: data)) as? [Any] else {
            throw TemplateError(file: file, reason: "the file must be a JSON array of sites")
        }
        var out: [SiteDefinition] = []
        var seen = Set<String>()
        for (index, entry) in list.enumerated() {
            guard let map = entry as? [String: Any] else {
                throw TemplateError(
                    file: file, kpi: "site #\(index + 1)", reason: "a site must be an object")
            }
            let site = try parseOne(map, file: file, label: "site #\(index + 1)", templates: templates)
            guard seen.insert(site.site).inserted else {
                throw TemplateError(
                    file: file, kpi: site.site, field: "site", reason: "the site is listed twice")
            }
            out.append(site)
        }
        return out
    }

    /// Parses and validates one site entry (a JSON object shaped like one element of the file)
    /// against the templates; `label` names the entry in errors until its id is known (e.g.
    /// `site #3`). The same rules for the sites file and `POST /api/v1/sites`.
    public static func parseOne(
        _ map: [String: Any], file: String, label: String, templates: [KPITemplate]
    ) throws(TemplateError) -> SiteDefinition {
        var byName: [String: KPITemplate] = [:]
        for t in templates { byName[t.name] = t }
        guard let site = map["site"] as? String, !site.isEmpty else {
            throw TemplateError(
                file: file, kpi: label, field: "site",
                reason: "a site id string is required")
        }
        var displayName = site
        if let value = map["display_name"] {
            guard let text = value as? String else {
                throw TemplateError(
                    file: file, kpi: site, field: "display_name", reason: "must be a string")
            }
            displayName = text
        }
        var zone = "UTC"
        if let value = map["time_zone"] {
            guard let text = value as? String else {
                throw TemplateError(
                    file: file, kpi: site, field: "time_zone", reason: "must be a string such as \"Europe/Berlin\"")
            }
            zone = text
        }
        guard TimeZone(identifier: zone) != nil else {
            throw TemplateError(
                file: file, kpi: site, field: "time_zone", reason: "\"\(zone)\" is not an IANA time zone")
        }
        var names: [String] = []
        if let list = map["templates"] {
            guard let strings = list as? [String] else {
                throw TemplateError(
                    file: file, kpi: site, field: "templates", reason: "must be a list of template names")
            }
            names = strings
        } else if let value = map["template"] {
            guard let one = value as? String else {
                throw TemplateError(file: file, kpi: site, field: "template", reason: "must be a template name")
            }
            names = [one]
        }
        if let twice = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
            throw TemplateError(
                file: file, kpi: site, field: "templates", reason: "template \"\(twice)\" is listed twice")
        }
        for name in names where byName[name] == nil {
            throw TemplateError(
                file: file, kpi: site, field: "templates",
                reason:
                    "unknown template \"\(name)\"; known: \(byName.keys.sorted().joined(separator: ", "))")
        }
        var overrides: [String: [String: SiteDefinition.Thresholds]] = [:]
        if let raw = map["overrides"] {
            guard let perTemplate = raw as? [String: Any] else {
                throw TemplateError(
                    file: file, kpi: site, field: "overrides",
                    reason: "must map template names to {kpi: {target, warning}}")
            }
            for (templateName, kpisRaw) in perTemplate {
                guard let template = byName[templateName], names.contains(templateName) else {
                    throw TemplateError(
                        file: file, kpi: site, field: "overrides.\(templateName)",
                        reason: "the site does not use this template")
                }
                guard let kpis = kpisRaw as? [String: Any] else {
                    throw TemplateError(
                        file: file, kpi: site, field: "overrides.\(templateName)",
                        reason: "must map KPI ids to {target, warning}")
                }
                for (kpiID, valuesRaw) in kpis {
                    let field = "overrides.\(templateName).\(kpiID)"
                    guard let kpi = template.kpi(kpiID) else {
                        throw TemplateError(
                            file: file, kpi: site, field: field,
                            reason: "template \(templateName) has no KPI \(kpiID)")
                    }
                    guard let values = valuesRaw as? [String: Any] else {
                        throw TemplateError(
                            file: file, kpi: site, field: field,
                            reason: "must be {\"target\": n, \"warning\": n}")
                    }
                    var thresholds = SiteDefinition.Thresholds()
                    for (key, value) in values {
                        guard key == "target" || key == "warning" else {
                            throw TemplateError(
                                file: file, kpi: site, field: field + "." + key,
                                reason: "unknown field; use target or warning")
                        }
                        guard let n = TemplateLoader.numeric(value), n.isFinite else {
                            throw TemplateError(
                                file: file, kpi: site, field: field + "." + key, reason: "must be a number")
                        }
                        if key == "target" { thresholds.target = n } else { thresholds.warning = n }
                    }
                    do {
                        try TemplateLoader.checkThresholds(
                            target: thresholds.target ?? kpi.target, warning: thresholds.warning ?? kpi.warning,
                            direction: kpi.direction, file: file, kpi: site + " " + kpiID)
                    } catch {
                        throw TemplateError(
                            file: file, kpi: site, field: field + "." + (error.field ?? "warning"), reason: error.reason)
                    }
                    overrides[templateName, default: [:]][kpiID] = thresholds
                }
            }
        }
        var owners: [String: [String: String]] = [:]
        if let raw = map["owners"] {
            guard let perTemplate = raw as? [String: Any] else {
                throw TemplateError(
                    file: file, kpi: site, field: "owners", reason: "must map template names to {kpi: \"owner\"}")
            }
            for (templateName, kpisRaw) in perTemplate {
                guard let template = byName[templateName], names.contains(templateName) else {
                    throw TemplateError(
                        file: file, kpi: site, field: "owners.\(templateName)", reason: "the site does not use this template")
                }
                guard let kpis = kpisRaw as? [String: Any] else {
                    throw TemplateError(
                        file: file, kpi: site, field: "owners.\(templateName)", reason: "must map KPI ids to an owner's name")
                }
                for (kpiID, ownerRaw) in kpis {
                    let field = "owners.\(templateName).\(kpiID)"
                    guard template.kpi(kpiID) != nil else {
                        throw TemplateError(
                            file: file, kpi: site, field: field, reason: "template \(templateName) has no KPI \(kpiID)")
                    }
                    guard let owner = ownerRaw as? String, !owner.isEmpty, owner.count <= SiteAttributes.maxValueLength else {
                        throw TemplateError(
                            file: file, kpi: site, field: field,
                            reason: "must be a non-empty string of at most \(SiteAttributes.maxValueLength) characters")
                    }
                    owners[templateName, default: [:]][kpiID] = owner
                }
            }
        }
        return SiteDefinition(
            site: site, displayName: displayName, timeZone: zone, templates: names,
            overrides: overrides, attributes: try SiteAttributes.parse(map, file: file, site: site), owners: owners)
    }
}
