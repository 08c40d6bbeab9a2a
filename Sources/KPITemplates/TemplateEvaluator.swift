import Dispatch
import Foundation
import KPICore
import KPIQuery

/// The value of one KPI for a site over a range, with its thresholds, status and worst items.
public struct KPIResult: Sendable, Equatable {
    /// One breakdown item (a zone, gate, door, ...) and its value.
    public struct Item: Sendable, Equatable {
        public var item: String
        public var value: Double
    }

    public var kpi: KPIDefinition
    /// The value, nil when there was no data (e.g. an average of no samples) or an input failed.
    public var value: Double?
    /// Target and warning after the site's overrides, scaled to the range for totals
    /// (``KPIDefinition/targetWindowMs``).
    public var target: Double
    public var warning: Double
    /// nil when there is no value.
    public var status: KPIStatus?
    /// The share of the range in which the KPI's input series were known (a sample within its
    /// staleness limit); nil for formulas and KPIs without input series.
    public var coverage: Double? = nil
    /// The worst breakdown items first (lowest for higher_is_better, highest otherwise).
    public var worst: [Item]
    /// Why the KPI could not be computed (a query error), nil when it was.
    public var error: String?
}

/// Why a whole evaluation failed: a limit or timeout of the engine (other query errors are
/// reported per KPI in ``KPIResult/error``).
public struct TemplateEvaluationError: Error, Sendable {
    public var kpi: String
    public var error: QueryError
}

/// Computes every KPI of a template for one site over `[from, to)`: queries through the SQL
/// engine (with `:site`, `:from`, `:to` bound and the site's time zone), then formulas in
/// dependency order, then the status against target and warning.
public struct TemplateEvaluator: Sendable {
    public let engine: QueryEngine

    public init(engine: QueryEngine) {
        self.engine = engine
    }

    /// `options` carries the limits, time zone and series scope; its parameters are replaced.
    /// A limit or timeout stops the evaluation (``TemplateEvaluationError``); any other query
    /// error is kept in that KPI's result.
    public func evaluate(
        _ template: KPITemplate, site: String, from: Int64, to: Int64, options: QueryOptions,
        overrides: [String: SiteDefinition.Thresholds] = [:], worst: Int = 3
    ) throws(TemplateEvaluationError) -> [KPIResult] {
        var options = options
        options.parameters = ["site": .string(site), "from": .timestamp(from), "to": .timestamp(to)]
        // The template's staleness limits, under the operator's staleness-rules.
        options.staleness.rules.merge(template.staleness) { setting, _ in setting }
        // One time budget for the whole template: each query gets what the earlier ones left.
        let deadline =
            DispatchTime.now().uptimeNanoseconds + UInt64(max(0, options.limits.timeoutMilliseconds)) * 1_000_000
        var values: [String: Double] = [:]
        var results: [String: KPIResult] = [:]
        var coverages: [[String]: Double?] = [:]
        for id in template.evaluationOrder {
            guard let kpi = template.kpi(id) else { continue }
            let (target, warning) = kpi.thresholds(
                target: overrides[id]?.target ?? kpi.target, warning: overrides[id]?.warning ?? kpi.warning,
                rangeMs: to - from)
            var result = KPIResult(
                kpi: kpi, value: nil, target: target, warning: warning, status: nil, worst: [], error: nil)
            switch kpi.computation {
            case .query(let sql):
                do {
                    let value = try scalar(sql, options: options, kpi: id, deadline: deadline)
                    // No data is not zero: a count over a site (or week) in which none of the
                    // KPI's inputs was ever known is null and has no status, never 0 and green.
                    // (The query still runs, so an unknown metric is reported as its error.)
                    let metrics = kpi.coverageMetrics ?? Self.metricNames(sql)
                    if coverages[metrics] == nil {
                        coverages[metrics] = try coverage(metrics, site: site, from: from, to: to, options: options)
                    }
                    let known = coverages[metrics] ?? nil
                    result.coverage = known
                    if metrics.isEmpty || (known ?? 0) > 0 { result.value = value }
                } catch let error as TemplateEvaluationError {
                    throw error
                } catch {
                    result.error = "\(error)"
                }
            case .formula(let formula):
                result.value = formula.evaluate { values[$0] }
            }
            if let q = kpi.breakdownQuery, result.error == nil, worst > 0 {
                do {
                    result.worst = try items(
                        q, options: options, direction: kpi.direction, limit: worst, kpi: id, deadline: deadline)
                } catch let error as TemplateEvaluationError {
                    throw error
                } catch {
                    result.error = "breakdown: \(error)"
                }
            }
            if let v = result.value {
                values[id] = v
                result.status = KPIStatus.of(v, target: target, warning: warning, direction: kpi.direction)
                if let c = result.coverage, c < kpi.minCoverage { result.status = .insufficient }
            }
            results[id] = result
        }
        return template.kpis.compactMap { results[$0.id] }
    }

    /// The metrics a KPI query reads (its `FROM` metrics, joins, subqueries and `intervals()`
    /// argument), sorted; none when it does not parse (its error is reported when it runs).
    static func metricNames(_ sql: String) -> [String] {
        guard case .select(let statement) = try? QueryParser.parse(sql) else { return [] }
        return statement.metricNames.sorted()
    }

    /// The share of `[from, min(to, now))` in which the series of `site` of `metrics` were
    /// known, averaged over the series (read through the engine's querier, in the options'
    /// scope): a sample is known from its timestamp until the next sample or its staleness limit,
    /// whichever comes first, and the state at `from` is carried in. A series counts when it
    /// reported in the 35 days before the range's end; nil when none did (no input at all).
    /// The reads are charged to a budget of the options' sample limit.
    func coverage(_ metrics: [String], site: String, from: Int64, to: Int64, options: QueryOptions) throws(ReadError) -> Double? {
        let end = min(to, options.now)
        guard end > from, let siteMatcher = try? LabelMatcher("site", .equal, site) else { return nil }
        let querier = engine.source.querier(
            ReadScope(matchers: options.seriesScope, budget: SampleBudget(limit: options.limits.maxSamples)))
        let span = Double(end - from)
        var total = 0.0
        var series = 0
        for metric in metrics {
            guard let name = try? LabelMatcher(Labels.metricNameLabel, .equal, metric) else { continue }
            let lookback = options.staleness.lookbackMs(metric: metric)
            for entry in (try? querier.select([name, siteMatcher])) ?? [] {
                let ts = try querier.samples(entry.id, start: from &- lookback, end: end - 1, staleness: .dropMarkers).timestamps
                if ts.isEmpty {
                    // Silent for the whole range: known 0 % if it reported before, else not an input.
                    let before = try querier.samples(
                        entry.id, start: from &- SiteFreshness.lookbackMs, end: from - 1, limit: 1, staleness: .dropMarkers)
                    if !before.timestamps.isEmpty { series += 1 }
                    continue
                }
                series += 1
                let limit = options.staleness.limitMs(metric: metric, timestamps: ts)
                var known: Int64 = 0
                for i in ts.indices {
                    let next = i + 1 < ts.count ? ts[i + 1] : Int64.max
                    let a = max(ts[i], from)
                    let b = min(next, ts[i] &+ limit, end)
                    if b > a { known += b - a }
                }
                total += Double(known) / span
            }
        }
        return series == 0 ? nil : total / Double(series)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs one query within what is left of the evaluation's time budget.
    func run(_ sql: String, options: QueryOptions, kpi: String, deadline: UInt64) throws -> QueryResult {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now < deadline else {
            throw TemplateEvaluationError(
                kpi: kpi,
                error: QueryError(
                    message: "the KPI evaluation ran out of time before \(kpi)", position: .start, kind: .timeout))
        }
        var options = options
        options.limits.timeoutMilliseconds = max(1, Int64((deadline - now) / 1_000_000))
        do {
            return try engine.execute(sql, options: options)
        } catch {
            if error.kind == .limit || error.kind == .timeout {
                throw TemplateEvaluationError(kpi: kpi, error: error)
            }
            throw Failure(description: error.description)
        }
    }

    /// The `value` column of the first row as a Double; nil for no row, NULL or a non-finite number.
    func scalar(_ sql: String, options: QueryOptions, kpi: String, deadline: UInt64) throws -> Double? {
        let result = try run(sql, options: options, kpi: kpi, deadline: deadline)
        guard let column = result.columns.firstIndex(where: { $0.name == "value" }) else {
            throw Failure(description: "the query answers no column named value")
        }
        guard result.rows.count <= 1 else {
            throw Failure(
                description: "the query answers \(result.rows.count) rows; a KPI query must answer one")
        }
        guard let row = result.rows.first else { return nil }
        return try TemplateEvaluator.number(row[column])
    }

    func items(
        _ sql: String, options: QueryOptions, direction: KPIDirection, limit: Int, kpi: String, deadline: UInt64
    ) throws -> [KPIResult.Item] {
        let result = try run(sql, options: options, kpi: kpi, deadline: deadline)
        guard let itemColumn = result.columns.firstIndex(where: { $0.name == "item" }),
            let valueColumn = result.columns.firstIndex(where: { $0.name == "value" })
        else {
            throw Failure(description: "the breakdown query must answer the columns item and value")
        }
        var out: [KPIResult.Item] = []
        for row in result.rows {
            guard let v = try TemplateEvaluator.number(row[valueColumn]) else { continue }
            out.append(KPIResult.Item(item: row[itemColumn].description, value: v))
        }
        out.sort {
            if $0.value != $1.value {
                return direction == .higherIsBetter ? $0.value < $1.value : $0.value > $1.value
            }
            return $0.item < $1.item
        }
        return Array(out.prefix(limit))
    }

    static func number(_ value: Value) throws -> Double? {
        switch value {
        case .null: return nil
        case .int(let i): return Double(i)
        case .double(let d): return d.isFinite ? d : nil
        default: throw Failure(description: "value is a \(value.type.rawValue), not a number")
        }
    }
}
