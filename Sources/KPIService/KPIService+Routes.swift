import Foundation
import KPICore
import KPIHTTP
import KPIPromQL
import KPIRuntime
import KPIStorage
import KPIWire

extension KPIService {
    /// Entry point for every HTTP request (called on a server thread). Ingest answers later,
    /// from the writer thread, once its group commit is done; everything else answers at once.
    func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let started = DispatchTime.now()
        let answer: @Sendable (String, HTTPResponse) -> Void = { [metrics] route, response in
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
            metrics.request(route: route, code: response.status, seconds: seconds)
            responder.respond(KPIService.withSafetyHeaders(response, route: route))
        }
        if let (route, response) = dispatch(request, started: started, later: answer) { answer(route, response) }
    }

    /// `X-Content-Type-Options: nosniff` on every answer (a browser must not read a JSON or
    /// text answer as HTML), and `Cache-Control: no-store` on the API's (answers carry site
    /// data a shared cache must not keep); a handler's own headers win.
    static func withSafetyHeaders(_ response: HTTPResponse, route: String) -> HTTPResponse {
        var response = response
        func has(_ name: String) -> Bool { response.headers.contains { $0.name.lowercased() == name } }
        if !has("x-content-type-options") { response.headers.append((name: "X-Content-Type-Options", value: "nosniff")) }
        if route.hasPrefix("/api/") && !has("cache-control") { response.headers.append((name: "Cache-Control", value: "no-store")) }
        return response
    }

    /// Every endpoint. Each feature declares its routes next to its handlers and is listed here.
    static let routes: [Route] =
        coreRoutes + prometheusRoutes + tokenRoutes + auditRoutes + adminRoutes + promQLRoutes + sqlRoutes + savedQueryRoutes
        + retentionRoutes + kpiRoutes + rollingRoutes + siteRoutes + reportRoutes

    /// Liveness, readiness, the index, /metrics, ingest and export.
    static let coreRoutes: [Route] = [
        Route("/healthz", ["GET", "HEAD"], .open, .now { _, _, _ in .text(200, "ok\n") }),
        Route(
            "/readyz", ["GET", "HEAD"], .open,
            .now { service, _, _ in
                service.isReady ? .text(200, "ready\n") : .text(503, "starting: store is being loaded\n")
            }),
        Route("/", ["GET", "HEAD"], .open, .now { _, _, _ in .text(200, KPIService.indexText) }),
        Route(
            "/metrics", ["GET", "HEAD"], .read,
            .now { s, r, m in s.metricsResponse(accept: r.header("accept"), sites: m.principal.sites) }),
        Route(
            "/api/v1/ingest", ["POST"], .ingest,
            .later { s, r, m, respond throws(APIError) in try s.ingest(r, principal: m.principal, respond: respond) }),
        Route("/api/v1/export", ["GET"], .read, .now { s, r, m throws(APIError) in try s.export(r, m) }),
    ]

    /// The route and answer, or nil when `later` will be called with them.
    private func dispatch(
        _ request: HTTPRequest, started: DispatchTime, later: @escaping @Sendable (String, HTTPResponse) -> Void
    ) -> (String, HTTPResponse)? {
        let path = request.path
        var found: (route: Route, match: RouteMatch)? = nil
        // The first route of the path that takes the method (routes may share a path, e.g.
        // GET and DELETE /api/v1/series); else the first of the path, for a 405.
        for route in KPIService.routes {
            if let match = route.match(path) {
                if found == nil { found = (route, match) }
                if route.methods.contains(request.method) {
                    found = (route, match)
                    break
                }
            }
        }
        guard let found else {
            return ("other", APIError(status: 404, message: "no such endpoint: \(path)").response)
        }
        let route = found.route
        var match = found.match
        guard route.methods.contains(request.method) else {
            var response = APIError(status: 405, message: "method \(request.method) not allowed on \(path)").response
            response.headers.append((name: "Allow", value: route.methods.joined(separator: ", ")))
            return (match.route, response)
        }
        // Authentication and role (401 with a challenge, 403); refusals are audited.
        switch authorize(request, access: route.access) {
        case .allowed(let principal):
            match.principal = principal
            if let reason = KPIService.crossOriginWriteRefusal(request) {
                recordAudit(request, route: match.route, principal: principal, note: nil, status: 403, started: started)
                return (match.route, APIError(status: 403, message: reason).response)
            }
        case .refused(let error, let principal):
            metrics.authFailed(status: error.status)
            var response = error.response
            if error.status == 401 { response.headers.append((name: "WWW-Authenticate", value: KPIService.authenticateChallenge)) }
            recordAudit(request, route: match.route, principal: principal, note: nil, status: error.status, started: started)
            return (match.route, response)
        }
        if route.access != .open, let limiter = rateLimiter {
            let key = match.principal.tokenID.map { "token:\($0)" } ?? "address:\(request.remoteAddress ?? "unknown")"
            if let wait = limiter.take(key, kind: match.principal.tokenID == nil ? "address" : "token") {
                var response = APIError(
                    status: 429, message: "too many requests",
                    details: [
                        IngestIssue(
                            line: 0, field: "rate",
                            reason:
                                "over \(DoubleFormatter.string(limiter.rate)) requests a second (burst \(Int(limiter.burst))) for this client; retry later"
                        )
                    ]
                ).response
                response.headers.append((name: "Retry-After", value: String(max(1, Int(wait.rounded(.up))))))
                return (match.route, response)
            }
        }
        guard route.access == .open || isReady else {
            return (match.route, APIError(status: 503, message: "kpid is starting: the store is being loaded").response)
        }
        let audited = KPIService.isAudited(route)
        let routeMatch = match
        let audit: @Sendable (HTTPRequest, Int) -> Void = { [self] request, status in
            guard audited else { return }
            recordAudit(
                request, route: routeMatch.route, principal: routeMatch.principal, note: routeMatch.auditNote, status: status,
                started: started)
        }
        var formRequest = request
        do {
            formRequest = route.acceptsForm ? try withFormParameters(request) : request
            let request = formRequest
            switch route.handler {
            case .now(let handler):
                let response = try handler(self, request, match)
                audit(request, response.status)
                return (match.route, response)
            case .later(let handler):
                try handler(self, request, match) { response in
                    audit(request, response.status)
                    later(routeMatch.route, response)
                }
                return nil
            }
        } catch {
            audit(formRequest, error.status)
            return (match.route, error.response)
        }
    }

    /// Why a write is refused as cross-origin, or nil. A browser that holds credentials for
    /// kpid (basic auth, a cached token) sends them with any page's form or `fetch`, and a
    /// `text/plain` POST needs no preflight; so a state-changing request (POST, PUT, PATCH,
    /// DELETE) that a browser marks as coming from another origin is refused: an `Origin`
    /// header whose host and port are not this request's `Host` (or `Origin: null`), or
    /// `Sec-Fetch-Site: cross-site`. Clients that are not browsers send neither header.
    static func crossOriginWriteRefusal(_ request: HTTPRequest) -> String? {
        guard ["POST", "PUT", "PATCH", "DELETE"].contains(request.method) else { return nil }
        if request.header("sec-fetch-site")?.lowercased() == "cross-site" {
            return "cross-site write refused (Sec-Fetch-Site: cross-site): send it from kpid's own origin or without a browser"
        }
        guard let origin = request.header("origin") else { return nil }
        let host = (request.header("host") ?? "").lowercased()
        let originHost: Substring? = origin.lowercased().split(separator: "://", maxSplits: 1).dropFirst().first
        guard let originHost, !host.isEmpty, originHost == host[...] else {
            return "cross-origin write refused: Origin \"\(origin.prefix(200))\" is not this server (Host \"\(host.prefix(200))\")"
        }
        return nil
    }

    static let indexText = """
        kpid: time-series KPI analytics

        POST /api/v1/ingest      samples as ndjson, CSV or Prometheus text (by Content-Type)
        POST /api/v1/write       Prometheus remote write 1.0 (snappy-compressed protobuf)
        GET  /api/v1/series      ?match=<selector>: series and their labels
        GET  /api/v1/export      ?match=<selector>&start=&end=: raw samples (ndjson; CSV with Accept: text/csv)
        GET  /api/v1/labels      label names; /api/v1/label/<name>/values: its values (Prometheus API)
        GET  /api/v1/queries     saved queries; /api/v1/queries/<group>/<name>?site=...: run one
        GET  /api/v1/templates   KPI templates and their KPIs; /api/v1/sites: sites, time zones, templates
        POST /api/v1/sites       register or replace a site (JSON like one entry of sites.json; admin); DELETE /api/v1/sites/<id>
        GET  /api/v1/kpis        ?site=&template=&from=&to=&worst=: every KPI of a site, computed now, with status
        GET  /reports/weekly     ?site=&week=2026-W45&format=html|json|csv|md: the weekly KPI review (/reports: index)
        POST /api/v1/sql         SQL query (text body, or JSON {"query", "params"}); JSON, or CSV with Accept: text/csv
        GET  /api/v1/query       ?query=<PromQL>&time=: instant query (Prometheus API; POST form too)
        GET  /api/v1/query_range ?query=&start=&end=&step=: range query (Prometheus API; POST form too)
        GET  /api/v1/metadata    metric metadata (Prometheus API; empty: kpid keeps no HELP/TYPE)
        GET  /metrics            kpid's own metrics (Prometheus text 0.0.4)
        GET|POST /api/v1/tokens, DELETE /api/v1/tokens/<id>: API tokens (admin)
        GET  /api/v1/audit       ?from=&to=&principal=: the audit log (admin)
        POST /api/v1/admin/backup  online backup into <data>/backups/ (admin)
        DELETE /api/v1/series    ?match[]=&start=&end=: delete samples, durably (admin; also POST /api/v1/admin/tsdb/delete_series)
        GET  /healthz, /readyz   liveness, readiness

        """

    /// Text format 0.0.4 by default; OpenMetrics 1.0 when the Accept header prefers it (as
    /// Prometheus' scraper does by default); delimited MetricFamily protobuf when that is
    /// preferred (Prometheus with native histograms enabled).
    /// A site-scoped reader (`sites` not empty) sees only its sites' KPI series: kpid's own
    /// health, retention, forwarding and evaluation families describe every site, so they are
    /// for unscoped readers only.
    func metricsResponse(accept: String?, sites: [String] = []) -> HTTPResponse {
        if KPIService.prefersProtobuf(accept) { return protobufMetricsResponse(sites: sites) }
        let openMetrics = KPIService.prefersOpenMetrics(accept)
        let body = exposition(openMetrics: openMetrics, sites: sites)
        let type = openMetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8" : "text/plain; version=0.0.4; charset=utf-8"
        return HTTPResponse(status: 200, headers: [(name: "Content-Type", value: type)], body: .bytes(body))
    }

    /// Every metric on /metrics in the text format: kpid's health, retention, the rolling KPIs.
    func exposition(openMetrics: Bool, sites: [String] = []) -> [UInt8] {
        if !sites.isEmpty {
            var body: [UInt8] = openMetrics ? Array("# EOF\n".utf8) : []
            runtime.rollingKPIs.append(to: &body, openMetrics: openMetrics, sites: sites)
            return body
        }
        var body = metrics.render(
            store: store.stats, databaseBytes: runtime.databaseFileBytes, ready: isReady, openMetrics: openMetrics)
        runtime.retentionMetrics.append(to: &body, openMetrics: openMetrics)
        runtime.rollingKPIs.append(to: &body, openMetrics: openMetrics)
        runtime.forwarder?.append(to: &body, openMetrics: openMetrics)
        appendOperationalMetrics(to: &body, openMetrics: openMetrics)
        return body
    }

    /// Whether an Accept header ranks OpenMetrics text (version 1.0.0, or unversioned) above the
    /// 0.0.4 text format. Quality values decide; ties go to the earlier entry.
    static func prefersOpenMetrics(_ accept: String?) -> Bool {
        guard let accept else { return false }
        var best: (quality: Double, openMetrics: Bool)? = nil
        for entry in accept.split(separator: ",") {
            let parts = entry.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let type = parts.first else { continue }
            var quality = 1.0
            var version: String? = nil
            for parameter in parts.dropFirst() {
                if parameter.hasPrefix("q=") { quality = Double(parameter.dropFirst(2)) ?? 0 }
                if parameter.hasPrefix("version=") { version = String(parameter.dropFirst(8)) }
            }
            let isOpenMetrics = type == "application/openmetrics-text" && (version == nil || version == "1.0.0")
            let isText = type == "text/plain" || type == "*/*"
            guard isOpenMetrics || isText, quality > 0 else { continue }
            if best == nil || quality > best!.quality { best = (quality, isOpenMetrics) }
        }
        return best?.openMetrics ?? false
    }

    // MARK: Ingest

    /// Decodes on the calling thread; `respond` is called from the writer thread after the commit.
    func ingest(
        _ request: HTTPRequest, principal: Principal = .unrestricted, respond: @escaping @Sendable (HTTPResponse) -> Void
    ) throws(APIError) {
        let contentType = request.header("content-type") ?? ""
        guard let format = IngestFormat(contentType: contentType) else {
            metrics.rejected(samples: 0, reason: "unsupported_format")
            throw APIError(
                status: 415,
                message: "unsupported Content-Type \"\(contentType)\"",
                details: [
                    IngestIssue(
                        line: 0, field: "Content-Type",
                        reason:
                            "use application/x-ndjson, text/csv, text/plain (Prometheus text format) or application/x-protobuf (kpid.v1.Batch)"
                    )
                ])
        }
        var body = request.body
        switch request.header("content-encoding")?.lowercased() {
        case nil, "identity":
            break
        case "gzip", "x-gzip", "deflate":
            do {
                body = try GzipDecoder.inflate(body, limit: configuration.maxBodyBytes)
            } catch {
                switch error {
                case .tooLarge(let limit):
                    metrics.rejected(samples: 0, reason: "body_too_large")
                    throw APIError(
                        status: 413, message: "request body too large",
                        details: [
                            IngestIssue(line: 0, field: "body", reason: "decompressed body exceeds the limit of \(limit) bytes")
                        ])
                case .corrupt(let reason):
                    metrics.rejected(samples: 0, reason: "invalid_input")
                    throw APIError(
                        status: 400, message: "invalid compressed body",
                        details: [IngestIssue(line: 0, field: "Content-Encoding", reason: reason)])
                }
            }
        case let encoding?:
            metrics.rejected(samples: 0, reason: "unsupported_format")
            throw APIError(
                status: 415, message: "unsupported Content-Encoding \"\(encoding)\"",
                details: [IngestIssue(line: 0, field: "Content-Encoding", reason: "use gzip or send the body uncompressed")])
        }
        let options = configuration.decodeOptions(openMetrics: IngestFormat.isOpenMetrics(contentType: contentType))
        let batch: SampleBatch
        do {
            batch = try IngestDecoder.decode(body, format: format, options: options)
        } catch {
            metrics.rejected(samples: error.details.count, reason: error.kind.rawValue)
            throw APIError(status: 400, message: error.message, details: error.details, detailsTruncated: error.detailsTruncated)
        }
        try checkWriteScope(batch, principal: principal)
        guard let writer = self.writer else {
            throw APIError(status: 503, message: "kpid is shutting down; nothing was stored")
        }
        let metrics = self.metrics
        let formatName = KPIService.formatName(format)
        writer.submit(batch) { result in
            respond(
                KPIService.ingestResponse(result, sampleCount: batch.sampleCount, formatName: formatName, metrics: metrics) {
                    var w = JSONWriter()
                    w.raw("{\"samples\":\($0.samples),\"series_created\":\($0.seriesCreated)}\n")
                    return .json(200, w.bytes)
                })
        }
    }

    /// The answer to a committed or refused write, for every ingest path; `acknowledged` makes
    /// the success answer (its shape differs between formats).
    static func ingestResponse(
        _ result: Result<WriteResult, WriteError>, sampleCount: Int, formatName: String, metrics: ServiceMetrics,
        acknowledged: (WriteResult) -> HTTPResponse
    ) -> HTTPResponse {
        switch result {
        case .success(let result):
            metrics.ingested(samples: result.samples, format: formatName)
            return acknowledged(result)
        case .failure(.rejected(let error)):
            metrics.rejected(samples: sampleCount, reason: error.kind.rawValue)
            let status = error.kind == .limitExceeded ? 429 : 400
            return APIError(status: status, message: error.message, details: error.details, detailsTruncated: error.detailsTruncated)
                .response
        // The storage error (SQLite's message, which can quote SQL) is in the writer's log
        // ("group commit failed"), never in the answer.
        case .failure(.storage):
            metrics.rejected(samples: sampleCount, reason: "storage")
            return APIError(status: 503, message: "the write could not be committed; nothing was stored (see kpid's log)").response
        case .failure(.full):
            metrics.rejected(samples: sampleCount, reason: "storage_full")
            return APIError(
                status: 507, message: "no room to store the samples (disk or max-database-size full); nothing was stored"
            ).response
        case .failure(.unavailable):
            return APIError(status: 503, message: "kpid is shutting down; nothing was stored").response
        }
    }

    static func formatName(_ format: IngestFormat) -> String {
        switch format {
        case .ndjson: return "ndjson"
        case .csv: return "csv"
        case .prometheusText: return "prometheus_text"
        case .protobuf: return "protobuf"
        }
    }

    // MARK: Reading

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
    /// (`timeout`, at most `query-timeout`). Every read of samples goes through one.
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
            out = try select(KPIService.everySeries)
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
            out = out.filter { !querier.samples($0.id, start: start, end: end, limit: 1, staleness: .keepMarkers).timestamps.isEmpty }
        }
        return out
    }

    func series(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let selected = try selectSeries(request, principal: match.principal)
        audit(match, rows: selected.count)
        var w = JSONWriter(capacity: 64 + selected.count * 64)
        w.raw("{\"status\":\"success\",\"data\":[")
        for (i, entry) in selected.enumerated() {
            if i > 0 { w.raw(",") }
            w.object(entry.labels.pairs.map { ($0.name, $0.value) })
        }
        w.raw("]}\n")
        return .json(200, w.bytes)
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

    func export(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let querier = try querier(request, principal: match.principal)
        let selected = try selectSeries(request, querier: querier)
        audit(match, rows: selected.count)
        let start = try timeParameter(request, "start", default: .min)
        let end = try timeParameter(request, "end", default: .max)
        guard start <= end else { throw APIError.badParameter("end", "end is before start") }
        let accept = request.header("accept")?.lowercased() ?? ""
        let format = request.queryValue("format")?.lowercased()
        let csv = format == "csv" || (format == nil && accept.contains("text/csv"))
        if let format, format != "csv", format != "ndjson" {
            throw APIError.badParameter("format", "\"\(format)\" is not one of ndjson, csv")
        }
        let guarded = try !booleanParameter(request, "raw", default: false)
        let series = selected
        return HTTPResponse(
            status: 200,
            headers: [(name: "Content-Type", value: csv ? "text/csv; charset=utf-8" : "application/x-ndjson")],
            body: .stream { ExportStream(querier: querier, series: series, start: start, end: end, csv: csv, guarded: guarded) })
    }
}

/// Streams the samples of the selected series page by page, so an export of any size holds
/// only one page of samples and one buffer of output in memory.
final class ExportStream: HTTPBodyStream {
    private let querier: any Querier
    private let series: [(id: SeriesID, labels: Labels)]
    private let end: Int64
    private let csv: Bool
    private let guarded: Bool
    private let labelNames: [String]
    private var current = 0
    private var cursor: Int64
    private let start: Int64
    private var headerWritten = false
    static let pageSamples = 4096

    init(querier: any Querier, series: [(id: SeriesID, labels: Labels)], start: Int64, end: Int64, csv: Bool, guarded: Bool) {
        self.guarded = guarded
        self.querier = querier
        self.series = series
        self.start = start
        self.end = end
        self.cursor = start
        self.csv = csv
        var names = Set<String>()
        // Labels named like the fixed columns cannot be CSV columns (the header would repeat a
        // name); they are left out of CSV exports (ndjson carries them).
        let fixed: Set<String> = [Labels.metricNameLabel, "metric", "ts", "value"]
        if csv { for s in series { for p in s.labels.pairs where !fixed.contains(p.name) { names.insert(p.name) } } }
        labelNames = names.sorted()
    }

    func next() -> [UInt8]? {
        var out: [UInt8] = []
        if csv && !headerWritten {
            headerWritten = true
            SampleEncoder.appendCSVHeader(&out, labelNames: labelNames)
        }
        while current < series.count && out.count < 64 << 10 {
            let entry = series[current]
            // Export writes what is stored, staleness markers included (as "NaN"), so a re-ingest
            // ends series where they ended.
            let page = querier.samples(entry.id, start: cursor, end: end, limit: ExportStream.pageSamples, staleness: .keepMarkers)
            for k in page.timestamps.indices {
                if csv {
                    SampleEncoder.appendCSVRow(
                        &out, labels: entry.labels, labelNames: labelNames, timestamp: page.timestamps[k], value: page.values[k],
                        guarded: guarded)
                } else {
                    SampleEncoder.appendNDJSON(&out, labels: entry.labels, timestamp: page.timestamps[k], value: page.values[k])
                }
            }
            if page.timestamps.count < ExportStream.pageSamples || page.timestamps.last! == .max {
                current += 1
                cursor = start
            } else {
                cursor = page.timestamps.last! + 1
            }
        }
        return out.isEmpty ? nil : out
    }
}
