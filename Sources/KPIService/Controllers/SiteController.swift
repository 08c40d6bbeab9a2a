import Foundation
import KPICore
import KPIHTTP
import KPIRuntime
import KPIStorage
import KPITemplates

/// Sites: the sites file merged with the sites registered over the API.
///
/// - `GET /api/v1/sites` (read): every site, each with `"source": "file"` or `"api"`; a
///   site-scoped token sees only its sites. `GET /api/v1/sites/<id>`: one site.
/// - `POST /api/v1/sites` (admin): a JSON object shaped like one entry of `sites.json`,
///   validated by the same rules (`SiteCatalog.parseOne`); 201 when the id is new, 200 when
///   it replaces a site. A stored site with the id of a file site replaces the file's entry
///   (in its place in the list) until it is deleted.
/// - `DELETE /api/v1/sites/<id>` (admin): deletes a stored site (a file site it replaced comes
///   back); 404 for an unknown id, 409 for a site of the sites file (edit the file instead).
///
/// Every handler gets the sites from ``loadSites(_:)``, read on each call, so a change is seen
/// by the next request and the next KPI round without a restart.
struct SiteController: Controller {
    let runtime: Runtime

    var routes: [Route] {
        [
            Route("/api/v1/sites", [.get], .read, .now { r, m throws(APIError) in try self.listSites(r, m) }),
            Route("/api/v1/sites", [.post], .admin, .now { r, m throws(APIError) in try self.putSite(r, m) }),
            Route("/api/v1/sites/:id", [.get], .read, .now { _, m throws(APIError) in try self.getSite(m) }),
            Route("/api/v1/sites/:id", [.delete], .admin, .now { _, m throws(APIError) in try self.deleteSite(m) }),
        ]
    }

    /// Longest site id accepted over the API, in bytes (as for a token's site names).
    static let maxSiteIDBytes = 1024

    /// The name API-registered sites carry in validation errors.
    static let siteBodyName = "request body"

    // MARK: Handlers

    /// `GET /api/v1/sites[?group=region=northeast,format=flagship]`: the sites the token may
    /// see, only those of the group when one is given.
    func listSites(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let allowed = match.principal.allowedSites
        let group: SiteGroup
        do {
            group = try SiteGroup.parse(request.queryValue("group") ?? "")
        } catch {
            throw APIError.badParameter("group", error.reason)
        }
        let entries = try loadSiteEntries(try loadTemplates()).filter {
            (allowed?.contains($0.site.site) ?? true) && group.contains($0.site)
        }
        audit(match, rows: entries.count)
        var w = JSONWriter(capacity: 4096)
        w.raw("{\"sites\":[")
        for (i, entry) in entries.enumerated() {
            if i > 0 { w.raw(",") }
            SiteController.writeSite(&w, entry.site, source: entry.source, replacesFileSite: entry.replacesFileSite)
        }
        w.raw("]}\n")
        return .json(200, w.bytes)
    }

    /// `GET /api/v1/sites/<id>`: one site (404 unknown or outside the token's sites).
    func getSite(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let id = match.parameters["id"] ?? ""
        let allowed = match.principal.allowedSites
        guard allowed?.contains(id) ?? true,
            let entry = try loadSiteEntries(try loadTemplates()).first(where: { $0.site.site == id })
        else {
            audit(match, rows: 0, detail: "site \(id)")
            throw SiteController.unknownSite(id)
        }
        audit(match, rows: 1, detail: "site \(id)")
        var w = JSONWriter(capacity: 1024)
        w.raw("{\"status\":\"success\",\"data\":")
        SiteController.writeSite(&w, entry.site, source: entry.source, replacesFileSite: entry.replacesFileSite)
        w.raw("}\n")
        return .json(200, w.bytes)
    }

    /// `POST /api/v1/sites`: creates or replaces a stored site.
    func putSite(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        guard !request.body.isEmpty,
            let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any]
        else {
            throw APIError.badParameter(
                "body",
                "expected a JSON object like {\"site\":\"LHR\",\"display_name\":\"Heathrow\",\"time_zone\":\"Europe/London\","
                    + "\"templates\":[\"airport\"],\"overrides\":{\"airport\":{\"avg_queue_wait\":{\"target\":5}}}}")
        }
        let id = object["site"] as? String ?? "?"
        if let problem = SiteController.siteIDProblem(id), object["site"] is String {
            audit(match, rows: 0, detail: "refused site \(id): site")
            throw APIError.badParameter("site", problem)
        }
        let templates = try loadTemplates()
        let site: SiteDefinition
        do {
            site = try SiteCatalog.parseOne(object, file: Self.siteBodyName, label: "the site", templates: templates)
        } catch {
            audit(match, rows: 0, detail: "refused site \(id): \(error.field ?? "body")")
            throw APIError(
                status: 400, message: "invalid site",
                details: [ErrorDetail(field: error.field ?? "body", reason: error.reason)])
        }
        let fileSites: [SiteDefinition]
        do { fileSites = try runtime.catalog.fileSites(templates) } catch { throw APIError(error) }
        let definition: String
        do {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            definition = String(decoding: data, as: UTF8.self)
        } catch {
            throw APIError.badParameter("body", "the object cannot be stored as JSON: \(error)")
        }
        let previous: SiteRecord?
        do {
            previous = try requireSiteStore().put(site: site.site, definition: definition, nowMs: configuration.clock.nowMilliseconds())
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(status: 503, message: "the site could not be stored: \(error)")
        }
        let replaced: SiteSource? =
            previous != nil ? .api : fileSites.contains(where: { $0.site == site.site }) ? .file : nil
        let verb = replaced == nil ? "create" : "replace"
        audit(
            match, rows: 1,
            detail:
                "\(verb) site \(site.site) templates=\(site.templates.joined(separator: ","))"
                + (replaced.map { " (replaces the \($0.rawValue) site)" } ?? ""))
        var w = JSONWriter(capacity: 1024)
        w.raw("{\"status\":\"success\",\"data\":")
        SiteController.writeSite(
            &w, site, source: .api, replacesFileSite: fileSites.contains(where: { $0.site == site.site }))
        w.raw(",\"replaced\":")
        if let replaced { w.string(replaced.rawValue) } else { w.raw("null") }
        w.raw("}\n")
        return .json(replaced == nil ? 201 : 200, w.bytes)
    }

    /// `DELETE /api/v1/sites/<id>`: deletes a stored site.
    func deleteSite(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let id = match.parameters["id"] ?? ""
        let deleted: Bool
        do {
            deleted = try requireSiteStore().delete(site: id)
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(status: 503, message: "the site could not be deleted: \(error)")
        }
        // Whether the sites file has the id (a deleted stored site may have replaced it). The
        // file is only looked up, not validated: a broken file must not block a deletion.
        let inFile = runtime.catalog.fileSiteIDs().contains(id)
        audit(match, rows: deleted ? 1 : 0, detail: "delete site \(id)")
        guard deleted else {
            if inFile {
                throw APIError(
                    status: 409, message: "site \(id) is defined in the sites file",
                    details: [
                        ErrorDetail(
                            field: "site",
                            reason:
                                "a site of the sites file (\(configuration.sitesFile)) cannot be deleted over the API; remove it from the file"
                        )
                    ])
            }
            throw SiteController.unknownSite(id)
        }
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":{\"site\":")
        w.string(id)
        w.raw(",\"deleted\":true,\"file_site_restored\":\(inFile)}}\n")
        return .json(200, w.bytes)
    }

    // MARK: Helpers

    /// Why `id` cannot be a site registered over the API (it appears in URL paths and in
    /// token scopes), nil when it can.
    static func siteIDProblem(_ id: String) -> String? {
        if id.isEmpty || id.utf8.count > maxSiteIDBytes { return "a site id must be 1 to \(maxSiteIDBytes) bytes" }
        if id.contains("/") { return "a site id must not contain \"/\"" }
        if id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "a site id must not contain control characters"
        }
        if id.trimmingCharacters(in: .whitespaces) != id { return "a site id must not begin or end with a space" }
        return nil
    }

    static func unknownSite(_ id: String) -> APIError {
        APIError(
            status: 404, message: "unknown site",
            details: [ErrorDetail(field: "site", reason: "no site \"\(id)\"; see /api/v1/sites")])
    }

    /// One site as JSON: `{"site", "display_name", "time_zone", "templates", "overrides",
    /// "attributes", "source"}`, plus `"replaces_file_site": true` for a stored site that replaces a file site.
    static func writeSite(_ w: inout JSONWriter, _ s: SiteDefinition, source: SiteSource, replacesFileSite: Bool) {
        w.raw("{\"site\":")
        w.string(s.site)
        w.raw(",\"display_name\":")
        w.string(s.displayName)
        w.raw(",\"time_zone\":")
        w.string(s.timeZone)
        w.raw(",\"templates\":[")
        for (k, t) in s.templates.enumerated() {
            if k > 0 { w.raw(",") }
            w.string(t)
        }
        w.raw("],\"overrides\":{")
        for (k, template) in s.overrides.keys.sorted().enumerated() {
            if k > 0 { w.raw(",") }
            w.string(template)
            w.raw(":{")
            for (j, (kpi, thresholds)) in s.overrides[template]!.sorted(by: { $0.key < $1.key }).enumerated() {
                if j > 0 { w.raw(",") }
                w.string(kpi)
                w.raw(":{")
                var first = true
                if let t = thresholds.target {
                    w.raw("\"target\":")
                    KPIController.writeNumber(&w, t)
                    first = false
                }
                if let v = thresholds.warning {
                    w.raw(first ? "\"warning\":" : ",\"warning\":")
                    KPIController.writeNumber(&w, v)
                }
                w.raw("}")
            }
            w.raw("}")
        }
        w.raw("},\"owners\":{")
        for (k, template) in s.owners.keys.sorted().enumerated() {
            if k > 0 { w.raw(",") }
            w.string(template)
            w.raw(":")
            w.object(s.owners[template]!.sorted { $0.key < $1.key })
        }
        w.raw("},\"attributes\":")
        writeAttributes(&w, s.attributes)
        w.raw(",\"source\":")
        w.string(source.rawValue)
        if replacesFileSite { w.raw(",\"replaces_file_site\":true") }
        w.raw("}")
    }

    /// A site's attributes as written in the sites file: only the ones set, opening hours by day.
    static func writeAttributes(_ w: inout JSONWriter, _ a: SiteAttributes) {
        var first = true
        func key(_ name: String, _ w: inout JSONWriter) {
            w.raw(first ? "{" : ",")
            first = false
            w.string(name)
            w.raw(":")
        }
        if let region = a.region {
            key("region", &w)
            w.string(region)
        }
        if let format = a.format {
            key("format", &w)
            w.string(format)
        }
        if let area = a.areaM2 {
            key("area_m2", &w)
            KPIController.writeNumber(&w, area)
        }
        if let hours = a.openingHours {
            key("opening_hours", &w)
            w.raw("{")
            for (k, day) in hours.written.enumerated() {
                if k > 0 { w.raw(",") }
                w.string(day.day)
                w.raw(":[")
                for (j, span) in day.spans.enumerated() {
                    if j > 0 { w.raw(",") }
                    w.string(span)
                }
                w.raw("]")
            }
            w.raw("}")
            key("weekly_open_hours", &w)
            KPIController.writeNumber(&w, hours.weeklyHours)
        }
        if !a.labels.isEmpty {
            key("labels", &w)
            w.object(a.labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
        w.raw(first ? "{}" : "}")
    }
}
