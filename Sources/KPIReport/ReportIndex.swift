import Foundation

/// The `/reports` page: every site the caller may read, with a link to its last complete
/// week's review in each format, and a form (no script) to open any week.
public enum ReportIndex {
    /// One site of the index.
    public struct Site: Sendable {
        public var site: String
        public var displayName: String
        public var timeZone: String
        public var templates: [String]
        /// The last complete week in the site's zone.
        public var lastWeek: ISOWeek

        public init(site: String, displayName: String, timeZone: String, templates: [String], lastWeek: ISOWeek) {
            self.site = site
            self.displayName = displayName
            self.timeZone = timeZone
            self.templates = templates
            self.lastWeek = lastWeek
        }
    }

    /// The page; links are relative to `/reports` (`reports/weekly?site=...`).
    public static func html(sites: [Site]) -> String {
        let e = ReportText.html
        func query(_ s: Site) -> String {
            "?site=" + (s.site.addingPercentEncoding(withAllowedCharacters: .urlQueryValueAllowed) ?? s.site)
                + "&week=" + s.lastWeek.description
        }
        var out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        out += "<link rel=\"icon\" href=\"data:,\">\n<title>kpid · weekly KPI reviews</title>\n"
        out += "<style>\n\(HTMLReport.style)\n"
        out += ".sites td a{margin-right:8px}form{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin:14px 0}"
        out += "label{display:flex;flex-direction:column;font-size:.8rem;color:var(--muted)}"
        out += "select,input,button{font:inherit;padding:5px 8px;border:1px solid var(--line);border-radius:6px}"
        out += "button{background:var(--accent);color:#fff;border-color:var(--accent)}\n</style>\n</head>\n<body>\n<main>\n"
        out += "<h1>Weekly KPI reviews</h1>\n<p class=\"meta\">One page per site: every KPI of the week with its target, "
        out += "status, changes and 8-week trend.</p>\n"
        out += "<form action=\"reports/weekly\" method=\"get\"><label>Site<select name=\"site\">"
        for s in sites { out += "<option value=\"\(e(s.site))\">\(e(s.displayName)) (\(e(s.site)))</option>" }
        out += "</select></label><label>ISO week<input name=\"week\" type=\"week\" placeholder=\"2026-W45\"></label>"
        out += "<label>Format<select name=\"format\"><option value=\"html\">HTML</option><option value=\"json\">JSON</option>"
        out += "<option value=\"csv\">CSV</option><option value=\"md\">Markdown</option></select></label>"
        out += "<button type=\"submit\">Open</button></form>\n"
        out += "<section class=\"template\"><table class=\"sites\"><thead><tr><th scope=\"col\">Site</th>"
        out += "<th scope=\"col\">Time zone</th><th scope=\"col\">Templates</th><th scope=\"col\">Last complete week</th>"
        out += "</tr></thead><tbody>\n"
        for s in sites {
            let q = e(query(s))
            out += "<tr><td class=\"kpi\"><div class=\"kpi-title\"><a href=\"reports/weekly\(q)\">\(e(s.displayName))</a></div>"
            out += "<div class=\"kpi-desc\">\(e(s.site))</div></td><td data-label=\"Time zone\">\(e(s.timeZone))</td>"
            out += "<td data-label=\"Templates\">\(e(s.templates.joined(separator: ", ")))</td>"
            out += "<td data-label=\"\(s.lastWeek)\"><a href=\"reports/weekly\(q)\">HTML</a>"
            out += "<a href=\"reports/weekly.json\(q)\">JSON</a><a href=\"reports/weekly.csv\(q)\">CSV</a>"
            out += "<a href=\"reports/weekly.md\(q)\">Markdown</a></td></tr>\n"
        }
        out += "</tbody></table></section>\n</main>\n</body>\n</html>\n"
        return out
    }
}

extension CharacterSet {
    /// Unreserved characters (RFC 3986): safe in a query value.
    static let urlQueryValueAllowed: CharacterSet = {
        var set = CharacterSet.alphanumerics
        set.insert(charactersIn: "-._~")
        return set
    }()
}
