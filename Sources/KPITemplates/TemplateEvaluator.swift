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
        // One time budget for the whole template: each query gets what the earlier ones left.
        let deadline =
            DispatchTime.now().uptimeNanoseconds + UInt64(max(0, options.limits.timeoutMilliseconds)) * 1_000_000
        var values: [String: Double] = [:]
        var results: [String: KPIResult] = [:]
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
                    // No data is not zero: a count over a site (or week) without a single sample
                    // of the KPI's inputs is null and has no status, never 0 and green. (The
                    // query still runs, so an unknown metric is reported as its error.)
                    if hasInput(sql, site: site, from: from, to: to, options: options) { result.value = value }
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
            }
            results[id] = result
        }
        return template.kpis.compactMap { results[$0.id] }
    }

    /// Whether any metric the KPI's query reads has a sample of `site` in `[from, to)` (read
    /// through the engine's querier, in the options' scope). A query that does not parse has
    /// "input" (its error is reported when it runs).
    func hasInput(_ sql: String, site: String, from: Int64, to: Int64, options: QueryOptions) -> Bool {
        guard to > from, case .select(let statement) = try? QueryParser.parse(sql) else { return true }
        guard let siteMatcher = try? LabelMatcher("site", .equal, site) else { return true }
        let querier = engine.source.querier(ReadScope(matchers: options.seriesScope))
        let page = 256
        for metric in statement.metricNames.sorted() {
            guard let name = try? LabelMatcher(Labels.metricNameLabel, .equal, metric) else { continue }
            for entry in (try? querier.select([name, siteMatcher])) ?? [] {
                var cursor = from
                while cursor < to {
                    let read = querier.samples(entry.id, start: cursor, end: to - 1, limit: page, staleness: .keepMarkers)
                    if read.values.contains(where: { !StaleMarker.isMarker($0) }) { return true }
                    guard read.timestamps.count == page, let last = read.timestamps.last, last < to - 1 else { break }
                    cursor = last + 1
                }
            }
        }
        return false
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
