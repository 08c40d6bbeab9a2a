import Foundation
import KPICore
import KPIPromQL
import KPIRuntime
import KPIService
import Testing

/// The Grafana dashboards in `Dashboards/`: valid JSON with unique uids and the variables
/// Grafana needs, and every panel query works against kpid: its metric names are on kpid's
/// `/metrics` with the fixtures loaded and a KPI round evaluated, and the KPI dashboards'
/// queries answer with data from kpid's own Prometheus API (the recorded KPI series).
@Suite(.serialized) struct DashboardTests {
    static let dashboards = packageRoot.appendingPathComponent("Dashboards").path
    static let templates = packageRoot.appendingPathComponent("Queries/templates").path
    static let sites = packageRoot.appendingPathComponent("Queries/sites.json").path
    static let healthFile = "kpid-health.json"
    static let windows = ["1h", "24h", "7d", "28d"]

    /// One panel query: the dashboard, the panel title and the expression as written.
    struct PanelQuery {
        var dashboard: String
        var panel: String
        var expr: String
    }

    /// Every dashboard file, parsed, by file name.
    static func loadDashboards() throws -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: dashboards).sorted() where file.hasSuffix(".json") {
            let data = try Data(contentsOf: URL(fileURLWithPath: dashboards + "/" + file))
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TestFailure("\(file) is not a JSON object")
            }
            out[file] = object
        }
        return out
    }

    static func templateNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: templates).filter { $0.hasSuffix(".yaml") }
            .map { String($0.dropLast(5)) }.sorted()
    }

    /// Panels, the panels inside rows included.
    static func panels(_ dashboard: [String: Any]) -> [[String: Any]] {
        var out: [[String: Any]] = []
        for panel in dashboard["panels"] as? [[String: Any]] ?? [] {
            out.append(panel)
            out += panel["panels"] as? [[String: Any]] ?? []
        }
        return out
    }

    static func queries(_ file: String, _ dashboard: [String: Any]) -> [PanelQuery] {
        panels(dashboard).flatMap { panel in
            (panel["targets"] as? [[String: Any]] ?? []).compactMap { target in
                (target["expr"] as? String).map {
                    PanelQuery(dashboard: file, panel: panel["title"] as? String ?? "?", expr: $0)
                }
            }
        }
    }

    static func variables(_ dashboard: [String: Any]) -> [String: [String: Any]] {
        let list = (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        return Dictionary(list.map { ($0["name"] as? String ?? "", $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The expression with Grafana's variables replaced as Grafana would for one site.
    static func substitute(_ expr: String, site: String, window: String = "7d") -> String {
        var text = expr
        let values = [
            ("site", site), ("window", window), ("instance", ".*"), ("__rate_interval", "5m"), ("__interval", "1m"),
            ("__range", "1h"),
        ]
        for (name, value) in values {
            text = text.replacingOccurrences(of: "${\(name)}", with: value)
        }
        // Longest names first, so `$__rate_interval` is not cut by a shorter one.
        for (name, value) in values.sorted(by: { $0.0.count > $1.0.count }) {
            text = text.replacingOccurrences(of: "$" + name, with: value)
        }
        return text
    }

    /// Metric names of every selector of a parsed expression.
    static func metricNames(_ expr: Expr) -> Set<String> {
        func name(_ s: VectorSelector) -> Set<String> {
            if let n = s.name { return [n] }
            return Set(s.matchers.filter { $0.name == "__name__" && $0.op == .equal }.map(\.value))
        }
        switch expr {
        case .number, .string: return []
        case .vectorSelector(let s), .matrixSelector(let s, _): return name(s)
        case .subquery(let e, _, _, _, _), .paren(let e), .negate(let e): return metricNames(e)
        case .binary(_, let l, let r, _, _): return metricNames(l).union(metricNames(r))
        case .aggregate(_, let e, let p, _, _): return metricNames(e).union(p.map(metricNames) ?? [])
        case .call(_, let args): return args.reduce(into: Set<String>()) { $0.formUnion(metricNames($1)) }
        }
    }

    /// The series selector of a `label_values(selector, label)` variable query and the label.
    static func labelValuesQuery(_ text: String) -> (selector: String, label: String)? {
        guard text.hasPrefix("label_values("), text.hasSuffix(")"), let comma = text.lastIndex(of: ",") else { return nil }
        let selector = text[text.index(text.startIndex, offsetBy: 13)..<comma].trimmingCharacters(in: .whitespaces)
        let label = text[text.index(after: comma)..<text.index(before: text.endIndex)].trimmingCharacters(in: .whitespaces)
        return (selector, label)
    }

    /// For each template, the first site of the sites file that uses it.
    static func siteByTemplate() throws -> [String: String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: sites))
        let list = try JSONSerialization.jsonObject(with: data) as? [[String: Any]] ?? []
        var out: [String: String] = [:]
        for site in list {
            for template in site["templates"] as? [String] ?? [] where out[template] == nil {
                out[template] = site["site"] as? String
            }
        }
        return out
    }

    // MARK: Static checks

    @Test func dashboardsAreValidWithUniqueUIDsAndTheirVariables() throws {
        let all = try Self.loadDashboards()
        let templates = try Self.templateNames()
        #expect(templates.count == 7)
        #expect(Set(all.keys) == Set(templates.map { $0 + ".json" } + [Self.healthFile]))
        var uids = Set<String>()
        var panelCount = 0
        for (file, dashboard) in all.sorted(by: { $0.key < $1.key }) {
            #expect(dashboard["schemaVersion"] as? Int == 39, "\(file)")
            let uid = dashboard["uid"] as? String ?? ""
            #expect(!uid.isEmpty && uid.count <= 40, "\(file)")
            #expect(uids.insert(uid).inserted, "\(file): uid \(uid) used twice")
            #expect(!(dashboard["title"] as? String ?? "").isEmpty, "\(file)")
            let variables = Self.variables(dashboard)
            let datasource = variables["datasource"]
            #expect(datasource?["type"] as? String == "datasource" && datasource?["query"] as? String == "prometheus", "\(file)")
            // Panel ids are unique within a dashboard, and every panel reads the chosen data source.
            let panels = Self.panels(dashboard)
            let ids = panels.compactMap { $0["id"] as? Int }
            #expect(ids.count == panels.count && Set(ids).count == ids.count, "\(file)")
            for panel in panels where panel["type"] as? String != "row" {
                panelCount += 1
                let ds = panel["datasource"] as? [String: Any]
                #expect(
                    ds?["uid"] as? String == "${datasource}" && ds?["type"] as? String == "prometheus", "\(file) \(panel["title"] ?? "")")
                #expect(!(panel["targets"] as? [Any] ?? []).isEmpty, "\(file) \(panel["title"] ?? "")")
            }
            let site = variables["site"]
            #expect(site?["type"] as? String == "query", "\(file)")
            if file == Self.healthFile {
                #expect(variables["instance"]?["type"] as? String == "query", "\(file)")
                continue
            }
            let template = String(file.dropLast(5))
            #expect(site?["definition"] as? String == "label_values(kpid_kpi_value{template=\"\(template)\"}, site)", "\(file)")
            let window = variables["window"]
            #expect(window?["type"] as? String == "custom" && window?["query"] as? String == Self.windows.joined(separator: ","))
            #expect(((window?["current"] as? [String: Any])?["value"] as? String) == "7d", "\(file)")
            // Every KPI of the template has a stat panel and a time series.
            let yaml = try String(contentsOfFile: Self.templates + "/\(template).yaml", encoding: .utf8)
            let kpiIDs = yaml.split(separator: "\n").compactMap { line -> String? in
                let t = line.trimmingCharacters(in: .whitespaces)
                return t.hasPrefix("- id: ") ? String(t.dropFirst(6)) : nil
            }
            #expect(kpiIDs.count >= 5, "\(file)")
            let exprs = Self.queries(file, dashboard)
            for id in kpiIDs {
                let stat = panels.filter { p in
                    p["type"] as? String == "stat"
                        && (p["targets"] as? [[String: Any]] ?? []).contains { ($0["expr"] as? String)?.contains("kpi=\"\(id)\"") == true }
                }
                #expect(stat.count == 1, "\(file) \(id)")
                #expect(
                    (stat.first?["fieldConfig"] as? [String: Any]).flatMap { ($0["defaults"] as? [String: Any])?["unit"] as? String } != nil
                )
                #expect(exprs.contains { $0.expr.contains("kpid_kpi_warning") && $0.expr.contains("kpi=\"\(id)\"") }, "\(file) \(id)")
            }
        }
        #expect(panelCount > 54 * 2)
    }

    @Test func everyExpressionParsesWithKPIPromQL() throws {
        for (file, dashboard) in try Self.loadDashboards() {
            let queries = Self.queries(file, dashboard)
            #expect(!queries.isEmpty, "\(file)")
            for q in queries {
                let text = Self.substitute(q.expr, site: "JFK")
                #expect(!text.contains("$"), "\(file) \(q.panel): \(text)")
                do {
                    let expr = try PromQL.parse(text)
                    #expect(!Self.metricNames(expr).isEmpty, "\(file) \(q.panel): \(text)")
                } catch {
                    Issue.record("\(file) \(q.panel): \(text): \(error)")
                }
            }
        }
    }

    @Test func generatedDashboardsMatchTheGenerator() throws {
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { throw TestFailure("\(python) is missing") }
        let result = try runTool(python, [packageRoot.appendingPathComponent("scripts/make-dashboards.py").path, "--check"])
        #expect(result.status == 0, "\(result.output)")
    }

    // MARK: Against a running kpid

    /// A kpid with the fixture of each template's first site loaded and a KPI round evaluated
    /// after the load (rounds every 2 s here), its clock pinned to the fixtures' end so that
    /// every rolling window ends inside them whatever today's date.
    static func servedWithFixtures(_ dir: TempDir) throws -> RunningService {
        let kpid = try RunningService(data: dir.path) {
            $0.clock = .pinned(at: fixturesEndMs)
            $0.templatesDirectory = templates
            $0.sitesFile = sites
            $0.maxBodyBytes = 256 << 20
            $0.kpiIntervalSeconds = 2
        }
        let fixtures = packageRoot.appendingPathComponent("Fixtures").path
        var loaded = 0
        for template in try FileManager.default.contentsOfDirectory(atPath: fixtures).sorted() {
            let folder = fixtures + "/" + template
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            // One file per site: the gzip one when both exist (the generator writes .ndjson.gz).
            let names = try FileManager.default.contentsOfDirectory(atPath: folder)
            let files = names.filter { $0.hasSuffix(".ndjson.gz") || ($0.hasSuffix(".ndjson") && !names.contains($0 + ".gz")) }
            for file in files.sorted() {
                let body = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + file))
                var headers = ["Content-Type": "application/x-ndjson"]
                if file.hasSuffix(".gz") { headers["Content-Encoding"] = "gzip" }
                let r = try http("POST", kpid.base + "/api/v1/ingest", body: body, headers: headers, timeout: 300)
                guard r.status == 200 else { throw TestFailure("\(template)/\(file): \(r.status) \(r.text.prefix(300))") }
                loaded += 1
            }
        }
        guard loaded >= 6 else { throw TestFailure("only \(loaded) fixture files found under \(fixtures)") }
        // One KPI round over the loaded fixtures, as of their end (the clock is pinned there).
        let round = try http("POST", kpid.base + "/api/v1/admin/kpis/evaluate")
        guard round.status == 200 else { throw TestFailure("KPI round: \(round.status) \(round.text)") }
        return kpid
    }

    /// Names on a /metrics page: every sample's, and every family's from its TYPE line (with a
    /// histogram's `_bucket`, `_sum` and `_count`), so a family with no sample yet counts.
    static func exposedNames(_ text: String) -> Set<String> {
        var names = Set<String>()
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count >= 4 else { continue }
                let name = String(parts[2])
                names.insert(name)
                if parts[3] == "histogram" { for s in ["_bucket", "_sum", "_count"] { names.insert(name + s) } }
                if parts[3] == "counter" && !name.hasSuffix("_total") { names.insert(name + "_total") }
            } else if !line.hasPrefix("#") {
                let end = line.firstIndex { $0 == "{" || $0 == " " } ?? line.endIndex
                names.insert(String(line[..<end]))
            }
        }
        return names
    }

    @Test func everyPanelQueryWorksAgainstKpidWithTheFixtures() throws {
        let dir = TempDir()
        let kpid = try Self.servedWithFixtures(dir)
        let metrics = try http("GET", kpid.base + "/metrics")
        #expect(metrics.status == 200)
        let exposed = Self.exposedNames(metrics.text)
        let siteFor = try Self.siteByTemplate()
        var withData = 0
        for (file, dashboard) in try Self.loadDashboards().sorted(by: { $0.key < $1.key }) {
            let isHealth = file == Self.healthFile
            let template = String(file.dropLast(5))
            let site = isHealth ? "JFK" : siteFor[template] ?? "?"
            #expect(isHealth || siteFor[template] != nil, "\(file): no site uses template \(template)")
            for q in Self.queries(file, dashboard) {
                let text = Self.substitute(q.expr, site: site)
                guard let parsed = try? PromQL.parse(text) else {
                    Issue.record("\(file) \(q.panel): does not parse: \(text)")
                    continue
                }
                for name in Self.metricNames(parsed) {
                    #expect(exposed.contains(name), "\(file) \(q.panel): \(name) is not on /metrics")
                }
                // Through kpid's own Prometheus API, as Grafana sends it (form POST).
                let r = try http(
                    "POST", kpid.base + "/api/v1/query", body: Data(("query=" + percentEncoded(text)).utf8),
                    headers: ["Content-Type": "application/x-www-form-urlencoded"])
                #expect(r.status == 200, "\(file) \(q.panel): \(text): \(r.text.prefix(300))")
                guard !isHealth else { continue }  // kpid's health metrics are on /metrics only
                let result = (r.json["data"] as? [String: Any])?["result"] as? [Any] ?? []
                #expect(!result.isEmpty, "\(file) \(q.panel): no data for \(text)")
                if !result.isEmpty { withData += 1 }
            }
            // The site variable's query lists the site, through the label values API Grafana calls.
            if !isHealth, let definition = Self.variables(dashboard)["site"]?["definition"] as? String,
                let query = Self.labelValuesQuery(definition)
            {
                let r = try http(
                    "GET", kpid.base + "/api/v1/label/\(query.label)/values?match%5B%5D=" + percentEncoded(query.selector))
                #expect(r.status == 200)
                #expect((r.json["data"] as? [String] ?? []).contains(site), "\(file): \(definition) lacks \(site): \(r.text)")
            }
        }
        // Every KPI (59 today, at least 54) has a stat (value, target, status) and a graph (value, target, warning).
        #expect(withData >= 54 * 6)
    }

    /// The other way to feed Grafana: Debian's Prometheus scrapes kpid (every second here).
    /// Every panel query of every dashboard, the health dashboard's included, answers with data
    /// on Prometheus, except writer failures (no failure happened: the counter has no series).
    @Test func everyPanelQueryWorksOnAPrometheusThatScrapesKpid() throws {
        let dir = TempDir()
        let kpid = try Self.servedWithFixtures(dir)
        // A refused request, so the rejection counters have series.
        let bad = try http(
            "POST", kpid.base + "/api/v1/ingest", body: Data(#"{"metric":"m","ts":1,"value":"slow"}"#.utf8),
            headers: ["Content-Type": "application/x-ndjson"])
        #expect(bad.status == 400)
        let port = kpid.base.split(separator: ":").last!
        try FileManager.default.createDirectory(atPath: dir.path + "/prometheus", withIntermediateDirectories: true)
        let prometheus = try PrometheusServer(
            dir: dir.path + "/prometheus", tsdb: dir.path + "/prometheus/tsdb",
            config: """
                global:
                  scrape_interval: 1s
                  evaluation_interval: 1s
                scrape_configs:
                  - job_name: kpid
                    static_configs: [{ targets: ["127.0.0.1:\(port)"] }]

                """)
        defer { prometheus.stop() }
        func query(_ text: String) throws -> ClientResponse {
            try http(
                "POST", prometheus.base + "/api/v1/query", body: Data(("query=" + percentEncoded(text)).utf8),
                headers: ["Content-Type": "application/x-www-form-urlencoded"])
        }
        // Wait for five scrapes.
        let deadline = Date().addingTimeInterval(120)
        var scrapes = 0.0
        while Date() < deadline && scrapes < 5 {
            let r = try query("count_over_time(kpid_ready[1m])")
            let result = (r.json["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
            scrapes = Double((result.first?["value"] as? [Any])?.last as? String ?? "0") ?? 0
            if scrapes < 5 { Thread.sleep(forTimeInterval: 0.5) }
        }
        guard scrapes >= 5 else { throw TestFailure("Prometheus did not scrape kpid: \(prometheus.logText)") }
        let siteFor = try Self.siteByTemplate()
        var checked = 0
        for (file, dashboard) in try Self.loadDashboards().sorted(by: { $0.key < $1.key }) {
            let site = siteFor[String(file.dropLast(5))] ?? "JFK"
            for q in Self.queries(file, dashboard) {
                let text = Self.substitute(q.expr, site: site).replacingOccurrences(of: "[5m]", with: "[1m]")
                let r = try query(text)
                #expect(r.status == 200 && r.json["status"] as? String == "success", "\(file) \(q.panel): \(text): \(r.text.prefix(300))")
                let result = (r.json["data"] as? [String: Any])?["result"] as? [Any] ?? []
                if text.contains("kpid_writer_failures_total") { continue }
                #expect(!result.isEmpty, "\(file) \(q.panel): no data on Prometheus for \(text)")
                checked += 1
            }
        }
        #expect(checked >= 54 * 6 + 20)
    }
}
