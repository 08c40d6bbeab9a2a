import Foundation
import KPICore
import KPIHTTP
import KPIQuery
import KPIRuntime
import KPITemplates
import KPIWire

/// KPI templates and on-demand KPI evaluation: `GET /api/v1/templates`,
/// `GET /api/v1/kpis?site=&template=&from=&to=&worst=` (sites: SiteController.swift).
///
/// Templates (`templates-dir`) and sites (`sites-file` and the `sites` table) are read on each
/// request, so edits take effect without a restart; an invalid file answers 500 naming the
/// file, KPI and field.
struct KPIController: Controller {
    let runtime: Runtime

    var routes: [Route] {
        [
            Route(
                "/api/v1/templates", [.get], .read,
                .now { _, m throws(APIError) in try self.listTemplates(m) }),
            Route("/api/v1/kpis", [.get], .read, .now { r, m throws(APIError) in try self.kpis(r, m) }),
        ]
    }

    /// The most breakdown items `worst=` may ask for.
    static let maxWorstItems = 100

    func listTemplates(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let templates = try loadTemplates()
        audit(match, rows: templates.count)
        var w = JSONWriter(capacity: 16_384)
        w.raw("{\"templates\":[")
        for (i, t) in templates.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"name\":")
            w.string(t.name)
            w.raw(",\"title\":")
            w.string(t.title)
            w.raw(",\"description\":")
            w.string(t.description)
            w.raw(",\"kpis\":[")
            for (k, kpi) in t.kpis.enumerated() {
                if k > 0 { w.raw(",") }
                KPIController.writeDefinition(&w, kpi)
                switch kpi.computation {
                case .query(let sql):
                    w.raw(",\"query\":")
                    w.string(sql)
                case .formula(let f):
                    w.raw(",\"formula\":")
                    w.string(f.description)
                }
                if let q = kpi.breakdownQuery {
                    w.raw(",\"breakdown_query\":")
                    w.string(q)
                }
                w.raw("}")
            }
            w.raw("]}")
        }
        w.raw("]}\n")
        return .json(200, w.bytes)
    }

    /// Every KPI of the site's templates (or of `template=`), computed now over `[from, to)`
    /// (default: the 7 days up to now) in the site's time zone, within the caller's sites.
    func kpis(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        guard let siteID = request.queryValue("site"), !siteID.isEmpty else {
            throw APIError.badParameter("site", "a site is required, e.g. site=JFK (see /api/v1/sites)")
        }
        let templates = try loadTemplates()
        let site = try self.site(siteID, principal: match.principal, templates: templates)
        var names = site.templates
        if let only = request.queryValue("template"), !only.isEmpty {
            guard site.templates.contains(only) else {
                throw APIError.badParameter(
                    "template",
                    "site \(siteID) uses \(site.templates.joined(separator: ", ")), not \"\(only)\"")
            }
            names = [only]
        }
        let now = configuration.clock.nowMilliseconds()
        if let windowName = request.queryValue("window") {
            return try rollingKPIs(
                site: site, templates: templates.filter { names.contains($0.name) }, window: windowName, now: now, request,
                match)
        }
        let to = try timeParameter(request, "to", default: now)
        let from = try timeParameter(request, "from", default: to - 7 * 86_400_000)
        guard from < to else { throw APIError.badParameter("from", "from must be before to") }
        var worst = 3
        if let text = request.queryValue("worst") {
            guard let n = Int(text), (0...KPIController.maxWorstItems).contains(n) else {
                throw APIError.badParameter(
                    "worst", "\"\(text)\" is not a whole number from 0 to \(KPIController.maxWorstItems)")
            }
            worst = n
        }
        let zone = TimeZone(identifier: site.timeZone) ?? TimeZone(identifier: "UTC")!
        var options = queryOptions(parameters: [:], principal: match.principal, timeZone: zone)
        options.now = now
        let evaluator = TemplateEvaluator(engine: QueryEngine(store: store))
        var w = JSONWriter(capacity: 8192)
        KPIController.writeSiteHeader(&w, site)
        w.raw(",\"from\":")
        w.string(TimestampLiteral.format(from))
        w.raw(",\"to\":")
        w.string(TimestampLiteral.format(to))
        w.raw(",\"templates\":[")
        var count = 0
        for (i, name) in names.enumerated() {
            guard let template = templates.first(where: { $0.name == name }) else { continue }
            let results: [KPIResult]
            do {
                results = try evaluator.evaluate(
                    template, site: site.site, from: from, to: to, options: options,
                    overrides: site.overrides[name] ?? [:],
                    worst: worst)
            } catch {
                audit(match, rows: nil, detail: "\(siteID) \(name) \(error.kpi)")
                throw SQLController.apiError(error.error)
            }
            count += results.count
            if i > 0 { w.raw(",") }
            KPIController.writeTemplateOpening(&w, template)
            for (k, r) in results.enumerated() {
                if k > 0 { w.raw(",") }
                KPIController.writeResult(&w, r)
            }
            w.raw("]}")
        }
        w.raw("]")
        let freshness = try siteFreshness(site.site, at: min(to, now), request, match)
        KPIController.writeFreshness(&w, freshness)
        w.raw("}\n")
        audit(match, rows: count, detail: "\(siteID) \(names.joined(separator: ","))")
        return .json(200, w.bytes)
    }

    /// The site's signals at `at` through the caller's scoped querier: newest sample, and the
    /// series that stopped reporting.
    func siteFreshness(_ site: String, at: Int64, _ request: HTTPRequest, _ match: RouteMatch) throws(APIError)
        -> SiteFreshness
    {
        let querier = try querier(request, principal: match.principal)
        do {
            return try SiteFreshness.evaluate(querier: querier, site: site, at: at, staleness: configuration.staleness)
        } catch {
            throw APIError(status: 503, message: "the freshness of site \(site) could not be read in time")
        }
    }

    /// `,"freshness":{"last_sample", "signals", "not_reporting":[{"name", "series", "last_sample",
    /// "unknown_since"}]}`.
    static func writeFreshness(_ w: inout JSONWriter, _ f: SiteFreshness) {
        w.raw(",\"freshness\":{\"last_sample\":")
        if let last = f.lastSampleMs { w.string(TimestampLiteral.format(last)) } else { w.raw("null") }
        w.raw(",\"signals\":\(f.seriesCount),\"not_reporting\":[")
        for (i, s) in f.silent.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"name\":")
            w.string(s.name)
            w.raw(",\"series\":")
            w.string(s.labels.description)
            w.raw(",\"last_sample\":")
            w.string(TimestampLiteral.format(s.lastSampleMs))
            w.raw(",\"unknown_since\":")
            w.string(TimestampLiteral.format(s.unknownSinceMs))
            w.raw("}")
        }
        w.raw("]}")
    }

    /// `window=`: the latest scheduled values over that rolling window (evaluated now when the
    /// schedule has none yet for the site, or is off), with the previous window's value and the
    /// change.
    func rollingKPIs(
        site: SiteDefinition, templates: [KPITemplate], window windowName: String, now: Int64, _ request: HTTPRequest,
        _ match: RouteMatch
    ) throws(APIError) -> HTTPResponse {
        for name in ["from", "to"] where request.queryValue(name) != nil {
            throw APIError.badParameter(name, "give either window= (a rolling window ending now) or from=/to=, not both")
        }
        guard let window = configuration.kpiWindows.first(where: { $0.name == windowName }) else {
            throw APIError.badParameter(
                "window",
                "\"\(windowName)\" is not one of the rolling windows \(configuration.kpiWindows.map(\.name).joined(separator: ", ")) (setting kpi-windows)"
            )
        }
        let stored = runtime.rollingKPIs.values(site: site.site)
        var values: [RollingValue] = []
        for template in templates {
            let kept = stored.filter { $0.template == template.name && $0.window == window }
            if !kept.isEmpty {
                values += kept
                continue
            }
            do {
                values += try runtime.evaluateWindows(
                    template, site: site, windows: [window], now: now,
                    scope: match.principal.scopeMatchers)
            } catch {
                audit(match, rows: nil, detail: "\(site.site) \(template.name) \(error.kpi)")
                throw SQLController.apiError(error.error)
            }
        }
        var w = JSONWriter(capacity: 8192)
        KPIController.writeSiteHeader(&w, site)
        w.raw(",\"window\":")
        w.string(window.name)
        w.raw(",\"evaluated_at\":")
        if let at = values.first?.evaluatedAt { w.string(TimestampLiteral.format(at)) } else { w.raw("null") }
        w.raw(",\"templates\":[")
        for (i, template) in templates.enumerated() {
            if i > 0 { w.raw(",") }
            KPIController.writeTemplateOpening(&w, template)
            for (k, v) in values.filter({ $0.template == template.name }).enumerated() {
                if k > 0 { w.raw(",") }
                KPIController.writeResult(&w, v.result)
                w.bytes.removeLast()  // the closing brace: add the rolling fields
                w.raw(",\"previous\":")
                if let p = v.previous { KPIController.writeNumber(&w, p) } else { w.raw("null") }
                w.raw(",\"change\":")
                if let p = v.previous, let x = v.result.value { KPIController.writeNumber(&w, x - p) } else { w.raw("null") }
                w.raw("}")
            }
            w.raw("]}")
        }
        w.raw("]}\n")
        audit(match, rows: values.count, detail: "\(site.site) window \(window.name)")
        return .json(200, w.bytes)
    }

    /// `{"site", "display_name", "time_zone"` (left open).
    static func writeSiteHeader(_ w: inout JSONWriter, _ site: SiteDefinition) {
        w.raw("{\"site\":")
        w.string(site.site)
        w.raw(",\"display_name\":")
        w.string(site.displayName)
        w.raw(",\"time_zone\":")
        w.string(site.timeZone)
    }

    /// `{"template", "title", "kpis":[` (left open for the KPIs).
    static func writeTemplateOpening(_ w: inout JSONWriter, _ template: KPITemplate) {
        w.raw("{\"template\":")
        w.string(template.name)
        w.raw(",\"title\":")
        w.string(template.title)
        w.raw(",\"kpis\":[")
    }

    /// `{"id", "title", "description", "unit", "direction", "target", "warning", "breakdown"` (left open).
    static func writeDefinition(_ w: inout JSONWriter, _ kpi: KPIDefinition) {
        w.raw("{\"id\":")
        w.string(kpi.id)
        w.raw(",\"title\":")
        w.string(kpi.title)
        w.raw(",\"description\":")
        w.string(kpi.description)
        w.raw(",\"unit\":")
        w.string(kpi.unit)
        w.raw(",\"direction\":")
        w.string(kpi.direction.rawValue)
        w.raw(",\"target\":")
        writeNumber(&w, kpi.target)
        w.raw(",\"warning\":")
        writeNumber(&w, kpi.warning)
        w.raw(",\"breakdown\":")
        if let b = kpi.breakdown { w.string(b) } else { w.raw("null") }
    }

    static func writeResult(_ w: inout JSONWriter, _ r: KPIResult) {
        w.raw("{\"id\":")
        w.string(r.kpi.id)
        w.raw(",\"title\":")
        w.string(r.kpi.title)
        w.raw(",\"unit\":")
        w.string(r.kpi.unit)
        w.raw(",\"direction\":")
        w.string(r.kpi.direction.rawValue)
        w.raw(",\"value\":")
        if let v = r.value { writeNumber(&w, v) } else { w.raw("null") }
        w.raw(",\"target\":")
        writeNumber(&w, r.target)
        w.raw(",\"warning\":")
        writeNumber(&w, r.warning)
        w.raw(",\"status\":")
        if let s = r.status { w.string(s.rawValue) } else { w.raw("null") }
        w.raw(",\"coverage\":")
        if let c = r.coverage { writeNumber(&w, c) } else { w.raw("null") }
        w.raw(",\"breakdown\":")
        if let b = r.kpi.breakdown { w.string(b) } else { w.raw("null") }
        w.raw(",\"worst\":[")
        for (i, item) in r.worst.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"item\":")
            w.string(item.item)
            w.raw(",\"value\":")
            writeNumber(&w, item.value)
            w.raw("}")
        }
        w.raw("]")
        if let e = r.error {
            w.raw(",\"error\":")
            w.string(e)
        }
        w.raw("}")
    }

    /// A finite number in the shortest round-trip form; null otherwise (JSON has no NaN).
    static func writeNumber(_ w: inout JSONWriter, _ d: Double) {
        if d.isFinite { DoubleFormatter.append(&w.bytes, d) } else { w.raw("null") }
    }
}
