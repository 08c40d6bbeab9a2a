import ArgumentParser
import Foundation
import KPICore
import KPIQuery
import KPIReport
import KPIRuntime
import KPIService
import KPIStorage
import KPITemplates
import Logging

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `kpid report --site JFK [--week 2026-W45] [--format md] [--out FILE]`: the weekly KPI review,
/// computed offline from a data directory, or fetched from a running kpid with `--url`.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the weekly KPI review of a site (offline from a data directory, or from a running kpid with --url).",
        discussion: """
            Examples:
              kpid report --site JFK --week 2026-W45 --format md
              kpid report --site JFK --format html --out jfk-review.html --data ./data
              kpid report --site JFK --url http://127.0.0.1:9464 --format csv

            Offline, the data directory's database is loaded into memory and left as it is; it
            must not be in use by a running kpid (ask that one with --url instead). Templates
            and sites come from --templates and --sites (defaults as for kpid serve, also from
            KPID_TEMPLATES_DIR and KPID_SITES_FILE), plus the sites registered over the API.
            """)

    @Option(help: "The site id, e.g. JFK.") var site: String
    @Option(help: "ISO week, e.g. 2026-W45 (default: the last complete week in the site's time zone).") var week: String?
    @Option(help: "html, json, csv or md (default md).") var format = "md"
    @Option(help: "Only this template of the site.") var template: String?
    @Option(help: "Write the review to this file instead of standard output.") var out: String?
    @Option(help: "Data directory (default $KPID_DATA or ./data).") var data: String?
    @Option(help: "KPI templates directory (default Queries/templates).") var templates: String?
    @Option(help: "Sites file (default Queries/sites.json).") var sites: String?
    @Option(help: "Fetch the review from this running kpid instead, e.g. http://127.0.0.1:9464.") var url: String?
    @Option(help: "API token for --url (default: $KPID_TOKEN).") var token: String?
    @Option(help: "Offline: evaluate as of this instant (RFC 3339 or Unix seconds; default now, or $KPID_NOW).") var now: String?

    func validate() throws {
        guard ReportFormat(name: format) != nil else { throw ValidationError("--format must be html, json, csv or md") }
        if let week {
            do {
                _ = try ISOWeek.parse(week)
            } catch {
                throw ValidationError("--week: \(error)")
            }
        }
        if url != nil && (data != nil || templates != nil || sites != nil || now != nil) {
            throw ValidationError("--url asks a running kpid; --data, --templates, --sites and --now are for offline reports")
        }
    }

    func run() throws {
        let format = ReportFormat(name: format)!
        let text = try url.map { try fetch($0, format: format) } ?? offline(format: format)
        if let out {
            try Data(text.utf8).write(to: URL(fileURLWithPath: out))
            FileHandle.standardError.write(Data("wrote \(out)\n".utf8))
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    /// GET /reports/weekly.<ext> of a running kpid.
    func fetch(_ base: String, format: ReportFormat) throws -> String {
        var items = [URLQueryItem(name: "site", value: site)]
        if let week { items.append(URLQueryItem(name: "week", value: week)) }
        if let template { items.append(URLQueryItem(name: "template", value: template)) }
        let (status, body) = try httpCall(
            try getRequest(base, "/reports/weekly.\(format.fileExtension)", items, token: token))
        guard status == 200 else {
            printError("HTTP \(status): \(String(decoding: body, as: UTF8.self))")
            throw ExitCode(1)
        }
        return String(decoding: body, as: UTF8.self)
    }

    /// Loads the data directory's store and evaluates the review here.
    func offline(format: ReportFormat) throws -> String {
        var flags: [String: String] = [:]
        if let data { flags["data"] = data }
        if let templates { flags["templates-dir"] = templates }
        if let sites { flags["sites-file"] = sites }
        if let now { flags["now"] = now }
        let config: ServiceConfiguration
        do {
            config = try ServiceConfiguration.resolve(
                flags: flags, environment: ProcessInfo.processInfo.environment, configFile: [:])
        } catch {
            throw ValidationError(error.description)
        }
        guard FileManager.default.fileExists(atPath: config.databasePath) else {
            printError("no kpid database at \(config.databasePath) (--data)")
            throw ExitCode(1)
        }
        // The runtime's lock keeps a server from starting (and writing) while the store is
        // read; in read mode nothing is written.
        var logger = Logger(label: "kpid")
        logger.logLevel = .error
        let runtime: Runtime
        do {
            runtime = try Runtime.open(config, logger: logger, mode: .read)
        } catch let error as DataDirectoryLockError {
            printError("\(error): ask the running kpid with --url instead")
            throw ExitCode(1)
        }
        defer { runtime.close() }
        let templateList: [KPITemplate]
        let siteList: [SiteDefinition]
        do {
            templateList = try runtime.catalog.templates()
            siteList = try runtime.catalog.sites(templateList)
        } catch {
            printError("\(error) (templates: \(config.templatesDirectory), sites: \(config.sitesFile))")
            throw ExitCode(1)
        }
        guard let site = siteList.first(where: { $0.site == self.site }) else {
            printError(
                "unknown site \"\(self.site)\"; known: \(siteList.map(\.site).joined(separator: ", "))")
            throw ExitCode(1)
        }
        if let template, !site.templates.contains(template) {
            printError("site \(site.site) uses \(site.templates.joined(separator: ", ")), not \"\(template)\"")
            throw ExitCode(1)
        }
        let zone = TimeZone(identifier: site.timeZone) ?? .gmt
        let now = config.clock.nowMilliseconds()
        let isoWeek = try week.map { try ISOWeek.parse($0) } ?? ISOWeek.lastComplete(at: now, in: zone)
        var options = runtime.queryOptions(scope: [], timeZone: zone)
        options.now = now
        let review: WeeklyReview
        do {
            let notes = try runtime.catalog.reviewNotes(site: site.site, week: isoWeek)
            review = try WeeklyReview.build(
                engine: QueryEngine(store: runtime.store), templates: templateList, site: site, week: isoWeek, options: options,
                only: template.map { [$0] }, notes: notes, generatedAt: now)
        } catch let error as TemplateEvaluationError {
            printError("KPI \(error.kpi): \(error.error.message)")
            throw ExitCode(1)
        } catch {
            printError("\(error)")
            throw ExitCode(1)
        }
        return review.render(format)
    }
}
