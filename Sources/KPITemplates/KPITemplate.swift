import Foundation
import KPIQuery

/// KPI templates: declarative YAML files of KPIs per industry (`Queries/templates/<name>.yaml`),
/// validated by ``TemplateLoader`` and computed by ``TemplateEvaluator`` through the SQL engine.
public enum KPITemplates {
    /// The parameters a KPI query may use: the site id and the half-open range `[from, to)`.
    public static let queryParameters: Set<String> = ["site", "from", "to"]
}

/// Whether a higher or a lower value of a KPI is better; decides the side of the thresholds,
/// the status and which breakdown items are the worst.
public enum KPIDirection: String, Sendable, Equatable, CaseIterable {
    case higherIsBetter = "higher_is_better"
    case lowerIsBetter = "lower_is_better"
}

/// Red / amber / green against a KPI's target and warning threshold.
public enum KPIStatus: String, Sendable, Equatable, CaseIterable {
    case green, amber, red
    /// The KPI's inputs were known for less of the range than its minimum coverage: the value
    /// is shown (with its coverage) but judged neither good nor bad, and never green.
    case insufficient = "insufficient_data"

    /// The status of `value`: green when it meets the target, amber when it is at least as good
    /// as the warning threshold, red otherwise.
    public static func of(_ value: Double, target: Double, warning: Double, direction: KPIDirection)
        -> KPIStatus
    {
        switch direction {
        case .higherIsBetter:
            if value >= target { return .green }
            return value >= warning ? .amber : .red
        case .lowerIsBetter:
            if value <= target { return .green }
            return value <= warning ? .amber : .red
        }
    }
}

/// How a KPI is computed: a SQL query over the raw series, or a formula over other KPIs.
public enum KPIComputation: Sendable, Equatable {
    /// SQL with `:site`, `:from`, `:to` answering one row with a numeric column `value`.
    case query(String)
    /// Arithmetic over other KPIs of the same template.
    case formula(Formula)
}

/// One KPI of a template.
public struct KPIDefinition: Sendable, Equatable {
    /// Identifier, unique in its template (`[a-z][a-z0-9_]*`).
    public var id: String
    public var title: String
    public var description: String
    /// One of ``TemplateLoader/units``.
    public var unit: String
    public var computation: KPIComputation
    public var direction: KPIDirection
    /// The value the KPI should reach (green at or beyond it).
    public var target: Double
    /// The amber threshold: between target and warning is amber, beyond warning red.
    public var warning: Double
    /// What the breakdown items are (zone, gate, door, ...), when the KPI has a breakdown.
    public var breakdown: String?
    /// SQL answering rows of `item` (string) and `value` (number), one per breakdown item.
    public var breakdownQuery: String?
    /// For totals (entries, hours of downtime): the range length target and warning are written
    /// for (`target_window: 7d`); over another range they scale in proportion. nil: the
    /// thresholds hold for any range (percentages, averages, rates).
    public var targetWindowMs: Int64?
    /// The least share of the range in which the KPI's inputs must be known for a status
    /// (`min_coverage`, per KPI or per template; default ``defaultMinCoverage``); below it the
    /// status is ``KPIStatus/insufficient``.
    public var minCoverage: Double = KPIDefinition.defaultMinCoverage
    /// The metrics whose coverage is judged (`coverage_of`); nil for every metric the query
    /// reads. Slowly changing gauges read as of the range's end (a room's capacity sent once)
    /// are left out this way.
    public var coverageMetrics: [String]? = nil
    /// The alert the KPI declares (`alert:`), turned into a rule over the recorded
    /// `kpid_kpi_status` series, one alert per site; nil for none.
    public var alert: KPIAlertSpec? = nil

    /// 80 %: a week with more than about a day and a half of silence is not judged.
    public static let defaultMinCoverage = 0.8

    public init(
        id: String, title: String, description: String, unit: String, computation: KPIComputation,
        direction: KPIDirection,
        target: Double, warning: Double, breakdown: String? = nil, breakdownQuery: String? = nil,
        targetWindowMs: Int64? = nil
    ) {
        self.id = id
        self.title = title
        self.description = description
        self.unit = unit
        self.computation = computation
        self.direction = direction
        self.target = target
        self.warning = warning
        self.breakdown = breakdown
        self.breakdownQuery = breakdownQuery
        self.targetWindowMs = targetWindowMs
    }

    /// Target and warning for a range of `rangeMs` (scaled when the KPI has a target window).
    public func thresholds(target: Double, warning: Double, rangeMs: Int64) -> (target: Double, warning: Double) {
        guard let window = targetWindowMs, window > 0, rangeMs > 0 else { return (target, warning) }
        let factor = Double(rangeMs) / Double(window)
        return (target * factor, warning * factor)
    }
}

/// A template: the KPIs of one industry (or of security operations), in file order.
public struct KPITemplate: Sendable, Equatable {
    /// The template's name, equal to its file name without `.yaml`.
    public var name: String
    public var title: String
    public var description: String
    public var kpis: [KPIDefinition]
    /// KPI ids in an order where every formula comes after the KPIs it uses.
    public var evaluationOrder: [String]
    /// Staleness limits of the template's metrics (`staleness`, e.g. `device_up: 6h`), in ms:
    /// they replace the derived limit when the template is evaluated; the `staleness-rules`
    /// setting, the operator's word, still wins over them.
    public var staleness: [String: Int64] = [:]

    public init(
        name: String, title: String, description: String, kpis: [KPIDefinition],
        evaluationOrder: [String]
    ) {
        self.name = name
        self.title = title
        self.description = description
        self.kpis = kpis
        self.evaluationOrder = evaluationOrder
    }

    /// The KPI with this id.
    public func kpi(_ id: String) -> KPIDefinition? { kpis.first { $0.id == id } }

    /// Every metric the template's queries and breakdown queries read (for retention rules of
    /// the form `template/<name>=<duration>`).
    public var metricNames: Set<String> {
        var out = Set<String>()
        for kpi in kpis {
            var texts: [String] = kpi.breakdownQuery.map { [$0] } ?? []
            if case .query(let sql) = kpi.computation { texts.append(sql) }
            for text in texts {
                if case .select(let statement)? = try? QueryParser.parse(text) { out.formUnion(statement.metricNames) }
            }
        }
        return out
    }
}

/// A problem in a template or sites file, naming where it is.
public struct TemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file (its name as given to the loader).
    public var file: String
    /// The KPI (or site) concerned, nil for the file as a whole.
    public var kpi: String?
    /// The field concerned, nil when the problem is not one field's.
    public var field: String?
    public var reason: String

    public init(file: String, kpi: String? = nil, field: String? = nil, reason: String) {
        self.file = file
        self.kpi = kpi
        self.field = field
        self.reason = reason
    }

    public var description: String {
        var out = file
        if let kpi { out += ": kpi \(kpi)" }
        if let field { out += ": field \(field)" }
        return out + ": " + reason
    }
}

/// A KPI's `alert:` declaration: alert when the KPI's status over a rolling `window` has been
/// `when` for `for`.
public struct KPIAlertSpec: Sendable, Equatable {
    /// The status that alerts.
    public enum When: String, Sendable, CaseIterable {
        /// Red.
        case red
        /// Amber or red.
        case amber
        /// Insufficient data (coverage below the KPI's minimum).
        case insufficientData = "insufficient_data"
    }

    public var when: When
    /// How long the status must hold, in ms.
    public var forMs: Int64
    /// The rolling window whose status is read (one of `kpi-windows`, e.g. `1h`).
    public var window: String
    /// `page`, `ticket` or `info`.
    public var severity: String

    public static let severities = ["page", "ticket", "info"]

    public init(when: When, forMs: Int64, window: String, severity: String) {
        self.when = when
        self.forMs = forMs
        self.window = window
        self.severity = severity
    }
}
