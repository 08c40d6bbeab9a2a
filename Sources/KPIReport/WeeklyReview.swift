import Dispatch
import Foundation
import KPICore
import KPIQuery
import KPITemplates
import Synchronization

/// The weekly KPI review of one site: for each of its templates, every KPI's value over one ISO
/// week in the site's local time, with target, status, the change against last week and against
/// the average of the 4 weeks before, an 8-week trend and the worst breakdown items.
///
/// Built by ``build(engine:templates:site:week:options:only:worst:notes:generatedAt:)``, rendered by
/// ``render(_:)`` as HTML, JSON, CSV or Markdown.
public struct WeeklyReview: Sendable {
    /// Who and when the review is for.
    public struct Header: Sendable {
        /// The site id (its `site` label).
        public var site: String
        public var displayName: String
        /// IANA name of the site's zone; the week runs from Monday 00:00 to Monday 00:00 there.
        public var timeZone: String
        public var week: ISOWeek
        /// `[from, to)` in Unix milliseconds.
        public var from: Int64
        public var to: Int64
        /// When the review was computed (Unix milliseconds).
        public var generatedAt: Int64
        /// Whether the week had not ended yet when the review was computed.
        public var inProgress: Bool
    }

    /// A note on a KPI of the week, and who wrote it.
    public struct KPINoteText: Sendable, Equatable {
        public var text: String
        public var author: String

        public init(text: String, author: String) {
            self.text = text
            self.author = author
        }
    }

    /// One KPI of one template.
    public struct Row: Sendable {
        public var template: String
        public var kpi: KPIDefinition
        /// This week's value; nil without data (or when the KPI failed, see ``error``).
        public var value: Double?
        /// Target and warning of this week (after the site's overrides).
        public var target: Double
        public var warning: Double
        public var status: KPIStatus?
        /// Last week's value.
        public var lastWeek: Double?
        /// The mean of the values of the 4 weeks before this one that have one (nil when none
        /// has); ``averageWeeks`` says how many did.
        public var fourWeekAverage: Double?
        public var averageWeeks: Int
        /// The 8 weeks ending with this one, oldest first (``WeeklyReview/trendWeeks``); nil
        /// where a week has no value.
        public var trend: [Double?]
        /// The worst breakdown items of this week, worst first.
        public var worst: [KPIResult.Item]
        /// Why the KPI could not be computed this week.
        public var error: String?
        /// The share of the week in which the KPI's inputs were known (nil for formulas).
        public var coverage: Double? = nil
        /// Who answers for the KPI at this site (the site's `owners`), if anyone.
        public var owner: String? = nil
        /// The note written on the KPI for this week, if any.
        public var note: WeeklyReview.KPINoteText? = nil

        /// This week minus last week.
        public var change: Double? { difference(value, lastWeek) }
        /// ``change`` relative to last week's magnitude (0.1 = 10 %); nil when last week was 0.
        public var changeRatio: Double? { ratio(value, lastWeek) }
        /// This week minus the 4-week average.
        public var changeVsAverage: Double? { difference(value, fourWeekAverage) }
        /// ``changeVsAverage`` relative to the average's magnitude.
        public var changeVsAverageRatio: Double? { ratio(value, fourWeekAverage) }

        /// Whether a change is for the better (true), the worse (false) or neither (nil for 0).
        public func isImprovement(_ change: Double) -> Bool? {
            if change == 0 { return nil }
            return (change > 0) == (kpi.direction == .higherIsBetter)
        }

        func difference(_ a: Double?, _ b: Double?) -> Double? {
            guard let a, let b else { return nil }
            return a - b
        }

        func ratio(_ a: Double?, _ b: Double?) -> Double? {
            guard let a, let b, b != 0 else { return nil }
            return (a - b) / abs(b)
        }
    }

    /// The KPIs of one template.
    public struct Section: Sendable {
        public var template: String
        public var title: String
        public var description: String
        public var rows: [Row]
    }

    /// Counts by status, and the KPIs an owner should look at first.
    public struct Summary: Sendable {
        public var red = 0
        public var amber = 0
        public var green = 0
        /// KPIs without a value this week.
        public var noData = 0
        /// KPIs whose inputs were known for less than their minimum coverage (grey).
        public var insufficient = 0
        /// Red KPIs, then amber ones, in template order.
        public var attention: [Row] = []
    }

    public var header: Header
    public var sections: [Section]
    public var summary: Summary
    /// The site's signals at the end of the week (or now, for a week in progress): the newest
    /// sample and the devices that stopped reporting (state unknown), longest silent first.
    public var freshness: SiteFreshness
    /// The site's alerts of the week (from the `ALERTS` series), most fired first.
    public var alerts = AlertWeek(lines: [])
    /// The weeks of ``Row/trend``, oldest first; the last is ``Header/week``.
    public var trendWeeks: [ISOWeek]
    /// Wall time of the evaluation, in milliseconds.
    public var elapsedMilliseconds: Double

    /// How many weeks the trend shows (this week included).
    public static let trendLength = 8
    /// How many weeks before this one the average covers.
    public static let averageLength = 4

    /// Evaluates the review: for each template of `site` (or of `only`, in the site's order),
    /// ``TemplateEvaluator/evaluate(_:site:from:to:options:overrides:worst:)`` once per week of
    /// the 8-week trend, each over `[Monday 00:00, next Monday 00:00)` in the site's zone
    /// (breakdown queries only for the reviewed week). The evaluations run concurrently and
    /// share one time budget, `options.limits.timeoutMilliseconds`; `options.timeZone` and
    /// parameters are replaced. A limit or timeout stops the whole review. `notes` are the
    /// week's notes by `template/kpi`.
    public static func build(
        engine: QueryEngine, templates: [KPITemplate], site: SiteDefinition, week: ISOWeek,
        options: QueryOptions, only: [String]? = nil, worst: Int = 3,
        notes: [String: KPINoteText] = [:], generatedAt: Int64
    ) throws(TemplateEvaluationError) -> WeeklyReview {
        let started = DispatchTime.now().uptimeNanoseconds
        let zone = TimeZone(identifier: site.timeZone) ?? TimeZone(identifier: "UTC")!
        let names = site.templates.filter { only?.contains($0) ?? true }
        let chosen = names.compactMap { name in templates.first { $0.name == name } }
        let weeks = (0..<trendLength).map { week.adding(weeks: $0 - trendLength + 1) }
        let ranges = weeks.map { $0.range(in: zone) }

        var options = options
        options.timeZone = zone
        // The jobs below run in parallel; each query stays on its own thread.
        options.parallelism = 1
        let budgetMs = max(1, options.limits.timeoutMilliseconds)
        let deadline = started + UInt64(budgetMs) * 1_000_000
        let evaluator = TemplateEvaluator(engine: engine)

        // One job per (template, week).
        let jobs = chosen.indices.flatMap { t in weeks.indices.map { (t, $0) } }
        let outcomes = Mutex<[Int: Result<[KPIResult], TemplateEvaluationError>]>([:])
        let jobOptions = options
        DispatchQueue.concurrentPerform(iterations: jobs.count) { index in
            let (t, w) = jobs[index]
            var o = jobOptions
            let now = DispatchTime.now().uptimeNanoseconds
            o.limits.timeoutMilliseconds = now < deadline ? max(1, Int64((deadline - now) / 1_000_000)) : 0
            let outcome: Result<[KPIResult], TemplateEvaluationError>
            do throws(TemplateEvaluationError) {
                outcome = .success(
                    try evaluator.evaluate(
                        chosen[t], site: site.site, from: ranges[w].from, to: ranges[w].to, options: o,
                        overrides: site.overrides[chosen[t].name] ?? [:], worst: w == weeks.count - 1 ? worst : 0))
            } catch {
                outcome = .failure(error)
            }
            outcomes.withLock { $0[index] = outcome }
        }
        let results = outcomes.withLock { $0 }

        var sections: [Section] = []
        var summary = Summary()
        for (t, template) in chosen.enumerated() {
            var perWeek: [[String: KPIResult]] = []
            for w in weeks.indices {
                switch results[t * weeks.count + w] {
                case .success(let list)?:
                    perWeek.append(Dictionary(list.map { ($0.kpi.id, $0) }, uniquingKeysWith: { a, _ in a }))
                case .failure(let error)?:
                    throw error
                case nil:
                    perWeek.append([:])
                }
            }
            guard let current = perWeek.last else { continue }
            var rows: [Row] = []
            for kpi in template.kpis {
                guard let now = current[kpi.id] else { continue }
                let trend = perWeek.map { $0[kpi.id]?.value }
                let previous = trend.dropLast().suffix(averageLength).compactMap { $0 }
                let row = Row(
                    template: template.name, kpi: kpi, value: now.value, target: now.target, warning: now.warning,
                    status: now.status, lastWeek: trend[trend.count - 2],
                    fourWeekAverage: previous.isEmpty ? nil : previous.reduce(0, +) / Double(previous.count),
                    averageWeeks: previous.count, trend: trend, worst: now.worst, error: now.error, coverage: now.coverage,
                    owner: site.owners[template.name]?[kpi.id], note: notes[template.name + "/" + kpi.id])
                switch row.status {
                case .insufficient?: summary.insufficient += 1
                case .red?: summary.red += 1
                case .amber?: summary.amber += 1
                case .green?: summary.green += 1
                case nil: summary.noData += 1
                }
                rows.append(row)
            }
            sections.append(
                Section(template: template.name, title: template.title, description: template.description, rows: rows))
        }
        let all = sections.flatMap(\.rows)
        summary.attention = all.filter { $0.status == .red } + all.filter { $0.status == .amber }
        let range = week.range(in: zone)
        let querier = engine.source.querier(
            ReadScope(matchers: options.seriesScope, deadline: .after(milliseconds: max(1, budgetMs))))
        let freshness =
            (try? SiteFreshness.evaluate(
                querier: querier, site: site.site, at: min(range.to, generatedAt), staleness: options.staleness))
            ?? SiteFreshness(lastSampleMs: nil, silent: [], seriesCount: 0)
        let alerts =
            (try? AlertWeek.evaluate(querier: querier, site: site.site, from: range.from, to: range.to, now: generatedAt))
            ?? AlertWeek(lines: [])
        var review = WeeklyReview(
            header: Header(
                site: site.site, displayName: site.displayName, timeZone: site.timeZone, week: week, from: range.from,
                to: range.to, generatedAt: generatedAt, inProgress: generatedAt < range.to),
            sections: sections, summary: summary, freshness: freshness, trendWeeks: weeks,
            elapsedMilliseconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
        review.alerts = alerts
        return review
    }

    /// The review in `format`, as text (UTF-8). `alternates` (HTML only) links other versions
    /// of the same review, e.g. `("JSON", "weekly.json?site=JFK&week=2026-W45")`.
    public func render(_ format: ReportFormat, alternates: [(label: String, href: String)] = []) -> String {
        switch format {
        case .html: return HTMLReport.render(self, links: alternates)
        case .json: return JSONReport.render(self)
        case .csv: return CSVReport.render(self)
        case .markdown: return MarkdownReport.render(self)
        }
    }
}

/// The formats a review renders to.
public enum ReportFormat: String, Sendable, CaseIterable {
    /// One self-contained page (inline CSS and SVG, no script).
    case html
    case json
    /// RFC 4180, one row per KPI.
    case csv
    /// A table per template.
    case markdown = "md"

    /// From a `format=` value or a file extension: `html`, `json`, `csv`, `md` (or `markdown`).
    public init?(name: String) {
        switch name.lowercased() {
        case "html", "htm": self = .html
        case "json": self = .json
        case "csv": self = .csv
        case "md", "markdown": self = .markdown
        default: return nil
        }
    }

    /// The HTTP content type.
    public var contentType: String {
        switch self {
        case .html: return "text/html; charset=utf-8"
        case .json: return "application/json"
        case .csv: return "text/csv; charset=utf-8; header=present"
        case .markdown: return "text/markdown; charset=utf-8"
        }
    }

    /// The file extension, without the dot.
    public var fileExtension: String { rawValue }
}
