import Foundation
import KPICore
import KPIHTTP
import KPIPromQL
import KPIQuery
import KPIRuntime
import KPIStorage
import KPITemplates
import KPIWire
import Logging

/// One feature's HTTP endpoints: its ``routes`` and their handlers, over the ``Runtime``.
///
/// A controller holds no state of its own beyond the runtime (and, where it builds on another
/// feature, that feature's controller). Authentication, rate limits, readiness and the audit
/// entry of each request are the ``Router``'s, before and after a handler runs; a handler gets
/// the caller as ``RouteMatch/principal`` and reads samples only through a `Querier` scoped to
/// it (``querier(_:principal:)``, ``queryOptions(parameters:principal:timeZone:)``).
/// Selects every series: a metric name is never empty (built once: its regex is compiled once).
let everySeries = [try! LabelMatcher(Labels.metricNameLabel, .regexMatch, ".+")]

protocol Controller: Sendable {
    var runtime: Runtime { get }
    /// The endpoints, each with its methods, access level and handler.
    var routes: [Route] { get }
}

extension Controller {
    var configuration: ServiceConfiguration { runtime.configuration }
    var store: ColumnarStore { runtime.store }
    var metrics: ServiceMetrics { runtime.metrics }
    var logger: Logger { runtime.logger }
    /// The writer, once the store is loaded; nil before and while stopping.
    var writer: GroupCommitWriter? { runtime.writer }
    var isReady: Bool { runtime.isReady }

    /// Series matching any of the `match` / `match[]` selectors (union), ascending by id. With
    /// `required: false` and no selector, every series. With `start`/`end`, only series holding
    /// a sample in that range (as Prometheus' series and label endpoints). Only series within
    /// `principal`'s sites are selected.
    func selectSeries(
        _ request: HTTPRequest, principal: Principal, required: Bool = true
    ) throws(APIError) -> [(id: SeriesID, labels: Labels)] {
        try selectSeries(request, querier: try querier(request, principal: principal), required: required)
    }

    /// The querier of one read request: the principal's site scope and the request's deadline
    /// (`timeout`, at most `query-timeout`). Every read of samples goes through one. Its sample
    /// budget is unlimited: the series API reads one sample per series and export streams a
    /// page at a time (the query engines open their own, with `query-max-samples`).
    func querier(_ request: HTTPRequest, principal: Principal) throws(APIError) -> any Querier {
        store.querier(ReadScope(matchers: principal.scopeMatchers, deadline: QueryDeadline(try queryDeadline(request))))
    }

    /// ``selectSeries(_:principal:required:)`` through an opened querier (its scope applies).
    func selectSeries(
        _ request: HTTPRequest, querier: any Querier, required: Bool = true
    ) throws(APIError) -> [(id: SeriesID, labels: Labels)] {
        let selectors = request.queryValues("match") + request.queryValues("match[]")
        func select(_ matchers: [LabelMatcher]) throws(APIError) -> [(id: SeriesID, labels: Labels)] {
            do {
                return try querier.select(matchers)
            } catch {
                throw APIError(status: 503, message: "the series selector timed out matching label regular expressions")
            }
        }
        var out: [(id: SeriesID, labels: Labels)] = []
        if selectors.isEmpty {
            guard !required else {
                throw APIError.badParameter("match", "a series selector is required, e.g. match=queue_wait_seconds{site=\"JFK\"}")
            }
            out = try select(everySeries)
        }
        var seen = Set<SeriesID>()
        for selector in selectors {
            let matchers: [LabelMatcher]
            do {
                matchers = try PromQL.parseSeriesSelector(selector)
            } catch {
                throw APIError.badParameter("match", "\(error.message) at character \(error.position + 1) of \"\(selector)\"")
            }
            // (The parser refuses a selector whose every matcher matches the empty string.)
            for entry in try select(matchers) where seen.insert(entry.id).inserted { out.append(entry) }
        }
        out.sort { $0.id < $1.id }
        if request.queryValue("start") != nil || request.queryValue("end") != nil {
            let start = try timeParameter(request, "start", default: .min)
            let end = try timeParameter(request, "end", default: .max)
            out = out.filter {
                !((try? querier.samples($0.id, start: start, end: end, limit: 1, staleness: .keepMarkers))?.timestamps.isEmpty ?? true)
            }
        }
        return out
    }

    func timeParameter(_ request: HTTPRequest, _ name: String, default value: Int64) throws(APIError) -> Int64 {
        guard let text = request.queryValue(name), !text.isEmpty else { return value }
        guard let ms = TimestampParser.parseAPITime(text) else {
            throw APIError.badParameter(name, "\"\(text)\" is not an RFC 3339 time or unix seconds")
        }
        return ms
    }

    /// A `true`/`false` query parameter, `value` when absent; anything else is a 400 naming it.
    func booleanParameter(_ request: HTTPRequest, _ name: String, default value: Bool) throws(APIError) -> Bool {
        guard let text = request.queryValue(name) else { return value }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw APIError.badParameter(name, "\"\(text)\" is not true or false")
        }
    }

    /// The configured query timeout, shortened by a `timeout` parameter (a duration, or float
    /// seconds with sub-millisecond precision).
    func queryDeadline(_ request: HTTPRequest) throws(APIError) -> ContinuousClock.Instant {
        var timeout = Duration.milliseconds(configuration.queryTimeoutMs)
        if let text = request.queryValue("timeout"), !text.isEmpty {
            let requested: Duration
            if let seconds = Double(text), seconds.isFinite, seconds > 0, seconds < 1e9 {
                requested = .nanoseconds(Int64((seconds * 1e9).rounded(.up)))
            } else if let ms = DurationParser.milliseconds(text), ms > 0 {
                requested = .milliseconds(ms)
            } else {
                throw APIError.badParameter("timeout", "cannot parse \"\(text)\" to a valid positive duration")
            }
            timeout = min(timeout, requested)
        }
        return ContinuousClock.now.advanced(by: timeout)
    }

    /// After a query refused for a limit or its timeout: memory it grew back to the system.
    func reclaimMemoryAfterRefusal() {
        if configuration.trimMemoryAfterRefusedQueries { MemoryReclaimer.afterRefusedQuery() }
    }

    /// The engine's limits and time zone from the configuration.
    func queryOptions(parameters: [String: Value], principal: Principal, timeZone: TimeZone? = nil) -> QueryOptions {
        runtime.queryOptions(parameters: parameters, scope: principal.scopeMatchers, timeZone: timeZone)
    }

    /// Every site (the catalog's), as an API error when they cannot be read.
    func loadSites(_ templates: [KPITemplate]) throws(APIError) -> [SiteDefinition] {
        do { return try runtime.catalog.sites(templates) } catch { throw APIError(error) }
    }

    /// Site `siteID` of the merged catalog as `principal` may see it: 403 naming `site` for a
    /// site outside the token's sites, 404 for an unknown one.
    func site(_ siteID: String, principal: Principal, templates: [KPITemplate]) throws(APIError) -> SiteDefinition {
        if let allowed = principal.allowedSites, !allowed.contains(siteID) {
            throw APIError(
                status: 403, message: "forbidden",
                details: [ErrorDetail(field: "site", reason: "this token may not read site \"\(siteID)\"")])
        }
        guard let site = try loadSites(templates).first(where: { $0.site == siteID }) else {
            throw SiteController.unknownSite(siteID)
        }
        return site
    }

    /// ``loadSites(_:)`` with each site's source, and whether a stored site replaces a file site.
    func loadSiteEntries(_ templates: [KPITemplate]) throws(APIError) -> [SiteEntry] {
        do { return try runtime.catalog.siteEntries(templates) } catch { throw APIError(error) }
    }

    func requireSiteStore() throws(APIError) -> SiteStore {
        do { return try runtime.catalog.requireSiteStore() } catch { throw APIError(error) }
    }

    /// Every template of the templates directory, validated.
    func loadTemplates() throws(APIError) -> [KPITemplate] {
        do { return try runtime.catalog.templates() } catch { throw APIError(error) }
    }

    /// Adds the row count and a description (the statement run) to the audit entry of the
    /// request `match` belongs to; the dispatcher writes the entry when the answer goes out,
    /// with status and elapsed time. Call it from any handler of a `read` or `admin` route.
    func audit(_ match: RouteMatch, rows: Int?, detail: String? = nil) {
        match.auditNote.set(rows: rows, detail: detail)
    }
}
