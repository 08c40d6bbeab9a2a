import Foundation
import KPICore
import KPIReport
import KPIStorage
import KPITemplates
import Synchronization

/// Where a site's definition comes from.
public enum SiteSource: String, Sendable {
    /// The sites file (setting `sites-file`).
    case file
    /// Registered with `POST /api/v1/sites`, stored in SQLite (table `sites`).
    case api
}

/// One site of the catalog, with where it comes from.
public struct SiteEntry: Sendable {
    /// The site, validated against the templates.
    public var site: SiteDefinition
    /// The sites file or the sites table.
    public var source: SiteSource
    /// A stored site that takes the place of the sites file's site of the same id.
    public var replacesFileSite: Bool
}

/// The templates or the sites cannot be read or do not validate.
public struct CatalogError: Error, CustomStringConvertible {
    /// Whether the definitions are wrong (an operator must fix a file or a stored site) or
    /// the sites table cannot be reached now.
    public enum Kind: Sendable {
        case invalid
        case unavailable
    }

    public var kind: Kind
    /// What is wrong, naming the file or the stored site.
    public var message: String
    /// The field at fault and why, when known.
    public var field: String?
    public var reason: String?

    public var description: String {
        [message, field.map { "\($0): \(reason ?? "")" }].compactMap { $0 }.joined(separator: ": ")
    }
}

/// The KPI templates (read from `templates-dir` on each call) and the sites: the sites file's,
/// merged with those registered over the API (a stored site takes the place of the file's site
/// of the same id). Read on every call, so a changed file or a registered site is seen by the
/// next request and the next KPI round without a restart. Owns the `sites` and `kpi_notes`
/// tables' connections.
public final class KPICatalog: Sendable {
    private let configuration: ServiceConfiguration
    private let siteStore = Mutex<SiteStore?>(nil)
    private let noteStore = Mutex<KPINoteStore?>(nil)

    init(configuration: ServiceConfiguration) {
        self.configuration = configuration
    }

    /// Opens the sites table on a connection of its own (the database is migrated already).
    func open(databasePath: String) throws {
        let store = try SiteStore(path: databasePath)
        siteStore.withLock { $0 = store }
        let notes = try KPINoteStore(path: databasePath)
        noteStore.withLock { $0 = notes }
    }

    /// Closes the sites table's connection. Idempotent.
    func close() {
        siteStore.withLock { s -> SiteStore? in
            defer { s = nil }
            return s
        }?.close()
        noteStore.withLock { s -> KPINoteStore? in
            defer { s = nil }
            return s
        }?.close()
    }

    /// The notes of `site` for `week`, by `template/kpi`, as the weekly review takes them.
    public func reviewNotes(site: String, week: ISOWeek) throws(CatalogError) -> [String: WeeklyReview.KPINoteText] {
        let notes: [KPINote]
        do {
            notes = try requireNoteStore().notes(site: site, week: week.description)
        } catch let error as CatalogError {
            throw error
        } catch {
            throw CatalogError(kind: .unavailable, message: "the KPI notes could not be read: \(error)")
        }
        return Dictionary(
            notes.map { ($0.template + "/" + $0.kpi, WeeklyReview.KPINoteText(text: $0.text, author: $0.author)) },
            uniquingKeysWith: { a, _ in a })
    }

    /// The KPI notes table, while the runtime is open.
    public func requireNoteStore() throws(CatalogError) -> KPINoteStore {
        guard let store = noteStore.withLock({ $0 }) else {
            throw CatalogError(kind: .unavailable, message: "kpid is starting or stopping: the KPI notes table is not open")
        }
        return store
    }

    /// The sites table, while the runtime is open.
    public func requireSiteStore() throws(CatalogError) -> SiteStore {
        guard let store = siteStore.withLock({ $0 }) else {
            throw CatalogError(kind: .unavailable, message: "kpid is starting or stopping: the sites table is not open")
        }
        return store
    }

    /// Every template of the templates directory, validated.
    public func templates() throws(CatalogError) -> [KPITemplate] {
        do {
            return try TemplateLoader.loadDirectory(configuration.templatesDirectory)
        } catch {
            throw CatalogError(kind: .invalid, message: "invalid KPI template", field: error.field, reason: error.description)
        }
    }

    /// Every site, validated against `templates`.
    public func sites(_ templates: [KPITemplate]) throws(CatalogError) -> [SiteDefinition] {
        try siteEntries(templates).map(\.site)
    }

    /// Every site with its source: the sites file's, then those registered over the API.
    public func siteEntries(_ templates: [KPITemplate]) throws(CatalogError) -> [SiteEntry] {
        var entries = try fileSites(templates).map { SiteEntry(site: $0, source: .file, replacesFileSite: false) }
        for site in try storedSites(templates) {
            if let index = entries.firstIndex(where: { $0.site.site == site.site }) {
                entries[index] = SiteEntry(site: site, source: .api, replacesFileSite: true)
            } else {
                entries.append(SiteEntry(site: site, source: .api, replacesFileSite: false))
            }
        }
        return entries
    }

    /// The sites of the sites file, validated against `templates`; none when `sites-file` is
    /// set to the empty string.
    public func fileSites(_ templates: [KPITemplate]) throws(CatalogError) -> [SiteDefinition] {
        let path = configuration.sitesFile
        guard !path.isEmpty else { return [] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CatalogError(kind: .invalid, message: "the sites file \(path) cannot be read (setting sites-file)")
        }
        do {
            return try SiteCatalog.parse(data, file: (path as NSString).lastPathComponent, templates: templates)
        } catch {
            throw CatalogError(kind: .invalid, message: "invalid sites file", field: error.field, reason: error.description)
        }
    }

    /// The sites stored in SQLite, validated against today's templates: one that no longer
    /// fits them (a template or KPI removed) is an error naming the site and the field; replace
    /// it with `POST /api/v1/sites` or remove it with `DELETE /api/v1/sites/<id>`.
    public func storedSites(_ templates: [KPITemplate]) throws(CatalogError) -> [SiteDefinition] {
        let records: [SiteRecord]
        do {
            records = try requireSiteStore().all()
        } catch let error as CatalogError {
            throw error
        } catch {
            throw CatalogError(kind: .unavailable, message: "the sites table cannot be read: \(error)")
        }
        var out: [SiteDefinition] = []
        out.reserveCapacity(records.count)
        for record in records {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(record.definition.utf8))) as? [String: Any]
            else {
                throw CatalogError(kind: .invalid, message: "the stored site \"\(record.site)\" is not a JSON object")
            }
            do {
                out.append(try SiteCatalog.parseOne(object, file: "sites table", label: record.site, templates: templates))
            } catch {
                throw CatalogError(
                    kind: .invalid,
                    message:
                        "the stored site \"\(record.site)\" no longer fits the templates; replace it (POST /api/v1/sites) or delete it",
                    field: error.field, reason: error.description)
            }
        }
        return out
    }

    /// The ids listed in the sites file (empty when there is no readable file).
    public func fileSiteIDs() -> Set<String> {
        let path = configuration.sitesFile
        guard !path.isEmpty, let data = FileManager.default.contents(atPath: path),
            let list = (try? JSONSerialization.jsonObject(with: data)) as? [Any]
        else { return [] }
        return Set(list.compactMap { ($0 as? [String: Any])?["site"] as? String })
    }
}
