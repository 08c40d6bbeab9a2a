import Foundation
import KPICore
import KPIHTTP
import KPIQuery
import KPIReport
import KPIRuntime
import KPITemplates

/// The weekly KPI review: `GET /reports/weekly?site=JFK&week=2026-W45[&format=html|json|csv|md]`,
/// also `/reports/weekly.json|.csv|.md|.html?...`, and the `/reports` index of sites.
///
/// Access is `read`; a token limited to sites gets 403 for another site, and the review's queries
/// see only its sites' series. Templates and sites are read on each request, as for
/// `/api/v1/kpis`.
struct ReportController: Controller {
    let runtime: Runtime

    var routes: [Route] {
        [
            Route("/reports", [.get], .read, .now { _, m throws(APIError) in try self.reportIndex(m) }),
            Route(
                "/reports/weekly", [.get], .read,
                .now { r, m throws(APIError) in try self.weeklyReport(r, m, pathFormat: nil) }),
        ]
            + ReportFormat.allCases.map { format in
                Route(
                    "/reports/weekly.\(format.fileExtension)", [.get], .read,
                    .now { r, m throws(APIError) in try self.weeklyReport(r, m, pathFormat: format) })
            }
    }

    /// Headers of every report page: the HTML needs no script and nothing from elsewhere, so the
    /// policy forbids both (a defence in depth behind the escaping).
    static func reportHeaders(_ format: ReportFormat, filename: String?) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [
            (name: "Content-Type", value: format.contentType), (name: "X-Content-Type-Options", value: "nosniff"),
            (name: "Cache-Control", value: "no-store"),
        ]
        if format == .html {
            headers.append(
                (
                    name: "Content-Security-Policy",
                    value:
                        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
                ))
        }
        if let filename { headers.append((name: "Content-Disposition", value: "inline; filename=\"\(filename)\"")) }
        return headers
    }

    /// `/reports`: the sites the caller may read, with links to their last complete week.
    func reportIndex(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let allowed = match.principal.allowedSites
        let sites = try loadSites(try loadTemplates()).filter { allowed?.contains($0.site) ?? true }
        audit(match, rows: sites.count)
        let now = configuration.clock.nowMilliseconds()
        let entries = sites.map { s in
            ReportIndex.Site(
                site: s.site, displayName: s.displayName, timeZone: s.timeZone, templates: s.templates,
                lastWeek: ISOWeek.lastComplete(at: now, in: TimeZone(identifier: s.timeZone) ?? .gmt))
        }
        return HTTPResponse(
            status: 200, headers: ReportController.reportHeaders(.html, filename: nil),
            body: .bytes(Array(ReportIndex.html(sites: entries).utf8)))
    }

    /// The review of one site and week. The format is the path's extension, else `format=`,
    /// else HTML; the week is `week=` (ISO `2026-W45`), else the last complete week in the
    /// site's zone; `template=` keeps one of the site's templates.
    func weeklyReport(_ request: HTTPRequest, _ match: RouteMatch, pathFormat: ReportFormat?) throws(APIError)
        -> HTTPResponse
    {
        var format = pathFormat ?? .html
        if let text = request.queryValue("format"), !text.isEmpty {
            guard let asked = ReportFormat(name: text) else {
                throw APIError.badParameter("format", "\"\(text)\" is not one of html, json, csv, md")
            }
            if let pathFormat, pathFormat != asked {
                throw APIError.badParameter(
                    "format", "format=\(text) contradicts the path's .\(pathFormat.fileExtension); give one of them")
            }
            format = asked
        }
        guard let siteID = request.queryValue("site"), !siteID.isEmpty else {
            throw APIError.badParameter("site", "a site is required, e.g. site=JFK (see /reports or /api/v1/sites)")
        }
        let templates = try loadTemplates()
        let site = try self.site(siteID, principal: match.principal, templates: templates)
        var only: [String]? = nil
        if let name = request.queryValue("template"), !name.isEmpty {
            guard site.templates.contains(name) else {
                throw APIError.badParameter(
                    "template", "site \(siteID) uses \(site.templates.joined(separator: ", ")), not \"\(name)\"")
            }
            only = [name]
        }
        let zone = TimeZone(identifier: site.timeZone) ?? .gmt
        let now = configuration.clock.nowMilliseconds()
        let week: ISOWeek
        if let text = request.queryValue("week"), !text.isEmpty {
            do {
                week = try ISOWeek.parse(text)
            } catch {
                throw APIError.badParameter("week", error.description)
            }
            guard week.range(in: zone).from <= now else {
                throw APIError.badParameter(
                    "week", "\(week) has not started yet in \(site.timeZone) (it starts on \(week.firstDay))")
            }
        } else {
            week = ISOWeek.lastComplete(at: now, in: zone)
        }
        var options = queryOptions(parameters: [:], principal: match.principal, timeZone: zone)
        options.now = now
        let notes: [String: WeeklyReview.KPINoteText]
        do { notes = try runtime.catalog.reviewNotes(site: siteID, week: week) } catch { throw APIError(error) }
        let review: WeeklyReview
        do {
            review = try WeeklyReview.build(
                engine: QueryEngine(store: store), templates: templates, site: site, week: week, options: options,
                only: only, notes: notes, generatedAt: now)
        } catch {
            audit(match, rows: nil, detail: "\(siteID) \(week) \(error.kpi)")
            throw SQLController.apiError(error.error)
        }
        audit(
            match, rows: review.sections.reduce(0) { $0 + $1.rows.count },
            detail: "\(siteID) \(week) \(format.fileExtension)")
        var alternates: [(label: String, href: String)] = []
        if format == .html {
            var query = "?site=" + (siteID.addingPercentEncoding(withAllowedCharacters: ReportController.queryValueCharacters) ?? siteID)
            query += "&week=\(week)"
            if let only {
                query += "&template=" + (only[0].addingPercentEncoding(withAllowedCharacters: ReportController.queryValueCharacters) ?? "")
            }
            alternates = [
                ("JSON", "weekly.json" + query), ("CSV", "weekly.csv" + query), ("Markdown", "weekly.md" + query),
            ]
        }
        let body = review.render(format, alternates: alternates)
        let filename = "kpid-review-\(ReportController.fileSafe(siteID))-\(week).\(format.fileExtension)"
        return HTTPResponse(
            status: 200, headers: ReportController.reportHeaders(format, filename: filename), body: .bytes(Array(body.utf8)))
    }

    /// RFC 3986 unreserved characters: safe unescaped in a query value.
    static let queryValueCharacters: CharacterSet = {
        var set = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        set.insert(charactersIn: "-._~")
        return set
    }()

    /// A site id reduced to characters safe in a file name and a quoted header value.
    static func fileSafe(_ s: String) -> String {
        String(s.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "_" })
    }
}
