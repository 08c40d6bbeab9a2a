import Foundation
import KPICore
import KPIHTTP
import KPIReport
import KPIRuntime
import KPIStorage
import KPITemplates

/// Notes on a KPI of a week ("lane 3 closed for repairs"), shown in the weekly review beside the
/// KPI: `GET /api/v1/notes?site=S[&week=2026-W49]` (read), `POST /api/v1/notes` with `site`,
/// `template`, `kpi`, `week`, `text` (creates or replaces that KPI's note of that week) and
/// `DELETE /api/v1/notes?site=&template=&kpi=&week=`. Who may write: an admin, or the KPI's
/// owner at that site (the site's `owners` names the token, by the token's name). Every change
/// is audited; notes are stored in SQLite (`kpi_notes`, schema version 8).
struct NoteController: Controller {
    let runtime: Runtime

    /// The longest note accepted, in bytes.
    static let maxTextBytes = 500

    var routes: [Route] {
        [
            Route("/api/v1/notes", [.get], .read, .now { r, m throws(APIError) in try self.list(r, m) }),
            Route("/api/v1/notes", [.post], .read, .now { r, m throws(APIError) in try self.put(r, m) }),
            Route("/api/v1/notes", [.delete], .read, .now { r, m throws(APIError) in try self.delete(r, m) }),
        ]
    }

    private func store() throws(APIError) -> KPINoteStore {
        do { return try runtime.catalog.requireNoteStore() } catch { throw APIError(error) }
    }

    /// The site (in the token's scope) and, when given, the week.
    private func siteAndWeek(_ values: [String: String], _ match: RouteMatch) throws(APIError) -> (
        site: SiteDefinition, templates: [KPITemplate], week: ISOWeek?
    ) {
        guard let siteID = values["site"], !siteID.isEmpty else { throw APIError.badParameter("site", "a site is required") }
        let templates = try loadTemplates()
        let site = try self.site(siteID, principal: match.principal, templates: templates)
        guard let text = values["week"], !text.isEmpty else { return (site, templates, nil) }
        do { return (site, templates, try ISOWeek.parse(text)) } catch { throw APIError.badParameter("week", error.description) }
    }

    /// The note a write names: the site (in the token's scope), a template it uses, a KPI of
    /// that template, and the week, all checked.
    private func target(_ values: [String: String], _ match: RouteMatch) throws(APIError) -> (
        site: SiteDefinition, template: String, kpi: String, week: ISOWeek
    ) {
        let (site, templates, week) = try siteAndWeek(values, match)
        guard let templateName = values["template"], site.templates.contains(templateName) else {
            throw APIError.badParameter("template", "site \(site.site) uses \(site.templates.joined(separator: ", "))")
        }
        guard let kpi = values["kpi"], templates.first(where: { $0.name == templateName })?.kpi(kpi) != nil else {
            throw APIError.badParameter("kpi", "template \(templateName) has no KPI \"\(values["kpi"] ?? "")\"")
        }
        guard let week else { throw APIError.badParameter("week", "an ISO week such as 2026-W49 is required") }
        return (site, templateName, kpi, week)
    }

    /// An admin, or the token the site names as the KPI's owner.
    private func authorize(_ match: RouteMatch, site: SiteDefinition, template: String, kpi: String) throws(APIError) {
        let principal = match.principal
        if principal.role == .admin { return }
        guard principal.role == .read, site.owners[template]?[kpi] == principal.name else {
            audit(match, rows: 0, detail: "refused note on \(site.site) \(template)/\(kpi)")
            throw APIError(
                status: 403, message: "forbidden",
                details: [
                    ErrorDetail(
                        field: "kpi",
                        reason: "only an admin or the KPI's owner at \(site.site) (its owners entry names this token) may write its notes")
                ])
        }
    }

    static func write(_ note: KPINote, to w: inout JSONWriter) {
        w.raw("{\"site\":")
        w.string(note.site)
        w.raw(",\"template\":")
        w.string(note.template)
        w.raw(",\"kpi\":")
        w.string(note.kpi)
        w.raw(",\"week\":")
        w.string(note.week)
        w.raw(",\"text\":")
        w.string(note.text)
        w.raw(",\"author\":")
        w.string(note.author)
        w.raw(",\"updated\":")
        w.string(AlertController.time(note.updatedMs))
        w.raw("}")
    }

    func list(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let values = ["site": request.queryValue("site") ?? "", "week": request.queryValue("week") ?? ""]
        let (site, _, week) = try siteAndWeek(values, match)
        let notes: [KPINote]
        do { notes = try store().notes(site: site.site, week: week?.description) } catch let e as APIError { throw e } catch {
            throw APIError(status: 503, message: "the notes could not be read: \(error)")
        }
        audit(match, rows: notes.count, detail: "notes \(site.site)")
        var w = JSONWriter(capacity: 1024)
        w.raw("{\"status\":\"success\",\"data\":[")
        for (k, note) in notes.enumerated() {
            if k > 0 { w.raw(",") }
            Self.write(note, to: &w)
        }
        w.raw("]}\n")
        return .json(200, w.bytes)
    }

    func put(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
            throw APIError.badParameter(
                "body",
                "expected a JSON object like {\"site\":\"JFK\",\"template\":\"airport\",\"kpi\":\"avg_queue_wait\","
                    + "\"week\":\"2026-W49\",\"text\":\"lane 3 closed for repairs\"}")
        }
        var values: [String: String] = [:]
        for (key, value) in object {
            guard ["site", "template", "kpi", "week", "text"].contains(key) else {
                throw APIError.badParameter(key, "unknown field; a note has site, template, kpi, week, text")
            }
            guard let text = value as? String else { throw APIError.badParameter(key, "must be a string") }
            values[key] = text
        }
        let (site, template, kpi, week) = try target(values, match)
        try authorize(match, site: site, template: template, kpi: kpi)
        let text = (values["text"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw APIError.badParameter("text", "a note needs text") }
        guard text.utf8.count <= Self.maxTextBytes else { throw APIError.badParameter("text", "at most \(Self.maxTextBytes) bytes") }
        let note = KPINote(
            site: site.site, template: template, kpi: kpi, week: week.description, text: text, author: match.principal.name,
            updatedMs: configuration.clock.nowMilliseconds())
        let previous: KPINote?
        do { previous = try store().put(note) } catch let e as APIError { throw e } catch {
            throw APIError(status: 503, message: "the note was not stored: \(error)")
        }
        audit(match, rows: 1, detail: "\(previous == nil ? "note" : "replace note") \(site.site) \(template)/\(kpi) \(note.week): \(text)")
        var w = JSONWriter(capacity: 512)
        w.raw("{\"status\":\"success\",\"data\":")
        Self.write(note, to: &w)
        w.raw("}\n")
        return .json(previous == nil ? 201 : 200, w.bytes)
    }

    func delete(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        var values: [String: String] = [:]
        for key in ["site", "template", "kpi", "week"] { values[key] = request.queryValue(key) ?? "" }
        let (site, template, kpi, week) = try target(values, match)
        try authorize(match, site: site, template: template, kpi: kpi)
        let deleted: Bool
        do { deleted = try store().delete(site: site.site, template: template, kpi: kpi, week: week.description) } catch let e as APIError {
            throw e
        } catch {
            throw APIError(status: 503, message: "the note was not deleted: \(error)")
        }
        audit(match, rows: deleted ? 1 : 0, detail: "delete note \(site.site) \(template)/\(kpi) \(week)")
        guard deleted else {
            throw APIError(
                status: 404, message: "no such note", details: [ErrorDetail(field: "kpi", reason: "no note on this KPI that week")])
        }
        return .json(200, Array("{\"status\":\"success\"}\n".utf8))
    }
}
