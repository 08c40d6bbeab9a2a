import Foundation
import KPICore

/// What a business owner knows about a site beyond its KPIs: where it is (`region`), what kind
/// it is (`format`: flagship, outlet, terminal ...), its floor area and opening hours (to
/// compare sites per m² or per open hour), and free-form `labels`. Groups select sites by these
/// (``SiteGroup``). All optional; written in a site's entry of the sites file or its
/// `POST /api/v1/sites` body.
public struct SiteAttributes: Sendable, Equatable {
    public var region: String?
    public var format: String?
    /// Floor area in m² (positive).
    public var areaM2: Double?
    public var openingHours: OpeningHours?
    /// Free-form labels, by label name (Prometheus' label name rule).
    public var labels: [String: String]

    public init(
        region: String? = nil, format: String? = nil, areaM2: Double? = nil, openingHours: OpeningHours? = nil,
        labels: [String: String] = [:]
    ) {
        self.region = region
        self.format = format
        self.areaM2 = areaM2
        self.openingHours = openingHours
        self.labels = labels
    }

    /// True when nothing is set.
    public var isEmpty: Bool { region == nil && format == nil && areaM2 == nil && openingHours == nil && labels.isEmpty }

    /// The longest attribute or label value accepted.
    public static let maxValueLength = 256
    /// The most labels a site may carry.
    public static let maxLabels = 32

    /// Reads the attribute fields of a site entry (`region`, `format`, `area_m2`,
    /// `opening_hours`, `labels`); errors name the site and the field.
    static func parse(_ map: [String: Any], file: String, site: String) throws(TemplateError) -> SiteAttributes {
        func text(_ field: String) throws(TemplateError) -> String? {
            guard let raw = map[field] else { return nil }
            guard let value = raw as? String, !value.isEmpty, value.count <= maxValueLength else {
                throw TemplateError(
                    file: file, kpi: site, field: field, reason: "must be a non-empty string of at most \(maxValueLength) characters")
            }
            return value
        }
        var out = SiteAttributes()
        out.region = try text("region")
        out.format = try text("format")
        if let raw = map["area_m2"] {
            guard let area = TemplateLoader.numeric(raw), area.isFinite, area > 0 else {
                throw TemplateError(file: file, kpi: site, field: "area_m2", reason: "must be a positive number of square metres")
            }
            out.areaM2 = area
        }
        if let raw = map["opening_hours"] {
            out.openingHours = try OpeningHours.parse(raw, file: file, site: site)
        }
        if let raw = map["labels"] {
            guard let labels = raw as? [String: Any], labels.count <= maxLabels else {
                throw TemplateError(
                    file: file, kpi: site, field: "labels", reason: "must be an object of at most \(maxLabels) name: value strings")
            }
            for (name, value) in labels {
                guard LabelValidator.isValidLabelName(name), !SiteGroup.fixedNames.contains(name) else {
                    throw TemplateError(
                        file: file, kpi: site, field: "labels.\(name)",
                        reason: "a label name is letters, digits and underscores, not starting with a digit, and not one of "
                            + SiteGroup.fixedNames.sorted().joined(separator: ", "))
                }
                guard let string = value as? String, !string.isEmpty, string.count <= maxValueLength else {
                    throw TemplateError(
                        file: file, kpi: site, field: "labels.\(name)",
                        reason: "must be a non-empty string of at most \(maxValueLength) characters")
                }
                out.labels[name] = string
            }
        }
        return out
    }
}

/// A site's weekly opening hours: per ISO weekday (1 Monday ... 7 Sunday) the spans it is open,
/// in minutes of the local day. Written `{"mon": "09:00-21:00", "sat": ["10:00-14:00",
/// "15:00-18:00"], "sun": "closed"}` (an unlisted day is closed) or `"24/7"`.
public struct OpeningHours: Sendable, Equatable {
    /// One open span, `[open, close)` in minutes after local midnight (close at most 1440).
    public struct Span: Sendable, Equatable {
        public var open: Int
        public var close: Int
    }

    /// Spans by ISO weekday, sorted, not overlapping.
    public var days: [Int: [Span]]

    public init(days: [Int: [Span]]) { self.days = days }

    /// Open around the clock.
    public static var always: OpeningHours {
        OpeningHours(days: Dictionary(uniqueKeysWithValues: (1...7).map { ($0, [Span(open: 0, close: 1440)]) }))
    }

    static let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    /// Hours open in a week.
    public var weeklyHours: Double {
        Double(days.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.close - $1.open } }) / 60
    }

    static func parse(_ raw: Any, file: String, site: String) throws(TemplateError) -> OpeningHours {
        if let text = raw as? String, text == "24/7" { return .always }
        guard let map = raw as? [String: Any] else {
            throw TemplateError(
                file: file, kpi: site, field: "opening_hours",
                reason: "must be \"24/7\" or an object such as {\"mon\": \"09:00-21:00\", \"sun\": \"closed\"}")
        }
        var days: [Int: [Span]] = [:]
        for (name, value) in map {
            let field = "opening_hours.\(name)"
            guard let index = dayNames.firstIndex(of: name) else {
                throw TemplateError(file: file, kpi: site, field: field, reason: "days are \(dayNames.joined(separator: ", "))")
            }
            var texts: [String]
            if let one = value as? String {
                texts = [one]
            } else if let list = value as? [String], list.count <= 8 {
                texts = list
            } else {
                throw TemplateError(
                    file: file, kpi: site, field: field, reason: "must be \"HH:MM-HH:MM\", a list of at most 8 of them, or \"closed\"")
            }
            if texts == ["closed"] { texts = [] }
            var spans: [Span] = []
            for text in texts {
                guard let span = parseSpan(text) else {
                    throw TemplateError(
                        file: file, kpi: site, field: field,
                        reason: "\"\(text)\" is not HH:MM-HH:MM with the opening before the closing (24:00 closes at midnight)")
                }
                spans.append(span)
            }
            spans.sort { $0.open < $1.open }
            for k in spans.indices.dropFirst() where spans[k].open < spans[k - 1].close {
                throw TemplateError(file: file, kpi: site, field: field, reason: "the spans overlap")
            }
            if !spans.isEmpty { days[index + 1] = spans }
        }
        return OpeningHours(days: days)
    }

    /// `HH:MM-HH:MM`, opening before closing, closing at most `24:00`.
    static func parseSpan(_ text: String) -> Span? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let open = minutes(parts[0]), let close = minutes(parts[1]), open < close else { return nil }
        return Span(open: open, close: close)
    }

    static func minutes(_ text: Substring) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let h = Int(parts[0]), let m = Int(parts[1]),
            (0...24).contains(h), (0...59).contains(m), h < 24 || m == 0
        else { return nil }
        return h * 60 + m
    }

    /// The spans as written back: `{"mon": ["09:00-21:00"], ...}` by day name.
    public var written: [(day: String, spans: [String])] {
        (1...7).compactMap { day in
            guard let spans = days[day] else { return nil }
            return (Self.dayNames[day - 1], spans.map { Self.format($0.open) + "-" + Self.format($0.close) })
        }
    }

    static func format(_ minutes: Int) -> String {
        String(format: "%02d:%02d", minutes / 60, minutes % 60)
    }
}
