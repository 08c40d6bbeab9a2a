import Foundation
import KPICore

/// A selection of sites by their attributes, written `region=northeast,format=flagship`: every
/// condition must hold (`name=value`, or `name!=value`). Names are `site`, `region`, `format`,
/// `time_zone`, `template` (the site uses it) or one of the site's `labels`; a site without the
/// attribute has the empty value, so `region!=west` keeps sites with no region. The empty text
/// selects every site.
public struct SiteGroup: Sendable, Equatable, CustomStringConvertible {
    public struct Condition: Sendable, Equatable {
        public var name: String
        public var value: String
        public var negated: Bool
    }

    public var conditions: [Condition]

    /// Attribute names that are not labels (a label may not take one of these names).
    public static let fixedNames: Set<String> = ["site", "region", "format", "time_zone", "template", "area_m2", "opening_hours"]
    /// Longest selector text and most conditions accepted.
    public static let maxLength = 1024
    public static let maxConditions = 16

    public init(conditions: [Condition] = []) { self.conditions = conditions }

    /// Every site.
    public static var all: SiteGroup { SiteGroup() }

    /// Parses `name=value[,name!=value...]`; the error says which condition and why.
    public static func parse(_ text: String) throws(SiteGroupError) -> SiteGroup {
        guard text.count <= maxLength else { throw SiteGroupError("the group is longer than \(maxLength) characters") }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return .all }
        let parts = trimmed.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count <= maxConditions else { throw SiteGroupError("a group has at most \(maxConditions) conditions") }
        var conditions: [Condition] = []
        for (k, part) in parts.enumerated() {
            let item = part.trimmingCharacters(in: .whitespaces)
            guard let equals = item.firstIndex(of: "=") else {
                throw SiteGroupError("condition \(k + 1) \"\(item)\" is not name=value or name!=value")
            }
            var name = String(item[..<equals]).trimmingCharacters(in: .whitespaces)
            let negated = name.hasSuffix("!")
            if negated { name = String(name.dropLast()).trimmingCharacters(in: .whitespaces) }
            let value = String(item[item.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
            guard fixedNames.contains(name) || LabelValidator.isValidLabelName(name) else {
                throw SiteGroupError(
                    "condition \(k + 1): \"\(name)\" is not an attribute (site, region, format, time_zone, template) or a label name")
            }
            guard name != "area_m2", name != "opening_hours" else {
                throw SiteGroupError("condition \(k + 1): \(name) is a number, not a group attribute")
            }
            conditions.append(Condition(name: name, value: value, negated: negated))
        }
        return SiteGroup(conditions: conditions)
    }

    /// Whether `site` is in the group.
    public func contains(_ site: SiteDefinition) -> Bool {
        conditions.allSatisfy { c in
            let matches: Bool
            switch c.name {
            case "site": matches = site.site == c.value
            case "region": matches = (site.attributes.region ?? "") == c.value
            case "format": matches = (site.attributes.format ?? "") == c.value
            case "time_zone": matches = site.timeZone == c.value
            case "template": matches = site.templates.contains(c.value)
            default: matches = (site.attributes.labels[c.name] ?? "") == c.value
            }
            return matches != c.negated
        }
    }

    /// The selector as written back (`region=northeast,format!=outlet`).
    public var description: String {
        conditions.map { "\($0.name)\($0.negated ? "!=" : "=")\($0.value)" }.joined(separator: ",")
    }
}

/// A group selector that does not parse.
public struct SiteGroupError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
