import Foundation
import KPITemplates

/// The review as one self-contained HTML page: inline CSS, an inline SVG sparkline per KPI
/// (target as a dashed line), status shown by colour AND a symbol and word, a table that turns
/// into cards on a narrow screen, a print style, no script and no external resource. Every
/// string from a template or the sites file is HTML-escaped.
enum HTMLReport {
    static let style = """
        :root{--ink:#1f2328;--muted:#59636e;--line:#d1d9e0;--panel:#fff;--page:#f6f8fa;--accent:#0969da;\
        --green:#1a7f37;--green-bg:#dafbe1;--amber:#8a5a00;--amber-bg:#fff1c2;--red:#c21a23;--red-bg:#ffe4e2;\
        --none:#59636e;--none-bg:#eef1f4}
        *{box-sizing:border-box}
        html{-webkit-text-size-adjust:100%}
        body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;\
        color:var(--ink);background:var(--page)}
        main{max-width:1240px;margin:0 auto;padding:24px 16px 40px}
        h1{font-size:1.55rem;line-height:1.2;margin:0 0 6px}
        h2{font-size:1.15rem;margin:0}
        .meta{color:var(--muted);margin:0}
        .meta b{color:var(--ink)}
        .badge{display:inline-block;margin-left:6px;padding:0 8px;border-radius:999px;background:var(--amber-bg);\
        color:var(--amber);font-size:.8rem;font-weight:600}
        .summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(120px,1fr));gap:10px;margin:18px 0 10px}
        .count{background:var(--panel);border:1px solid var(--line);border-left-width:6px;border-radius:8px;padding:8px 12px}
        .count b{display:block;font-size:1.7rem;line-height:1.1}
        .count span{color:var(--muted);font-size:.85rem}
        .count.red{border-left-color:var(--red)}.count.amber{border-left-color:#d4a72c}
        .count.green{border-left-color:var(--green)}.count.none{border-left-color:#afb8c1}
        .attention{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:10px 14px;margin:0 0 8px}
        .attention h2{font-size:1rem;margin-bottom:6px}
        .silent{margin:0 0 8px;font-size:.9rem}
        .attention ul{margin:0;padding:0;list-style:none}
        .attention li{padding:3px 0}
        .attention .where{color:var(--muted);font-size:.85rem}
        section.template{background:var(--panel);border:1px solid var(--line);border-radius:10px;margin:18px 0;overflow:hidden}
        .template>header{padding:12px 14px 8px}
        .template>header p{margin:2px 0 0;color:var(--muted);font-size:.88rem}
        table{width:100%;border-collapse:collapse}
        th,td{padding:8px 10px;border-top:1px solid var(--line);text-align:left;vertical-align:middle}
        th{font-size:.72rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);background:var(--page);\
        font-weight:600;white-space:nowrap}
        th.num,td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
        tr.red td:first-child{box-shadow:inset 4px 0 0 var(--red)}
        tr.amber td:first-child{box-shadow:inset 4px 0 0 #d4a72c}
        tr.green td:first-child{box-shadow:inset 4px 0 0 var(--green)}
        .kpi-title{font-weight:600}
        .kpi-desc{color:var(--muted);font-size:.78rem;max-width:34em}
        .kpi-owner{font-size:.78rem;margin-top:.15rem}
        .kpi-note{font-size:.8rem;margin-top:.2rem;padding:.15rem .35rem;border-left:3px solid var(--muted)}
        .value{font-weight:700;font-size:1.02rem}
        .sub{display:block;color:var(--muted);font-size:.76rem}
        .pill{display:inline-block;padding:2px 9px;border-radius:999px;font-weight:600;font-size:.82rem;white-space:nowrap}
        .pill.green{color:var(--green);background:var(--green-bg)}
        .pill.amber{color:var(--amber);background:var(--amber-bg)}
        .pill.red{color:var(--red);background:var(--red-bg)}
        .pill.none,.pill.insufficient_data{color:var(--none);background:var(--none-bg)}
        .better{color:var(--green)}.worse{color:var(--red)}.same{color:var(--muted)}
        td.worst{min-width:13em}
        .worst ol{margin:0;padding-left:1.3em;font-size:.85rem}
        .worst li{white-space:nowrap}
        .worst .what{color:var(--muted);font-size:.72rem;text-transform:uppercase;letter-spacing:.04em}
        .error{color:var(--red);font-size:.78rem}
        svg.spark{display:block;overflow:visible}
        .spark .line{fill:none;stroke:var(--accent);stroke-width:1.8;stroke-linejoin:round;stroke-linecap:round}
        .spark .dot{fill:var(--accent)}
        .spark .target{stroke:#6e7781;stroke-width:1;stroke-dasharray:4 3}
        .spark .now.green{fill:var(--green)}.spark .now.amber{fill:#d4a72c}.spark .now.red{fill:var(--red)}
        .spark .now.none{fill:#afb8c1}
        .legend{color:var(--muted);font-size:.8rem;margin:10px 2px}
        footer{color:var(--muted);font-size:.8rem;margin-top:18px}
        footer a{color:var(--accent)}
        @media (max-width:760px){
        main{padding:16px 10px 32px}
        table,tbody,tr,td{display:block;width:100%}
        thead{display:none}
        tr{border-top:1px solid var(--line);padding:10px 12px}
        tr.red,tr.amber,tr.green{box-shadow:inset 4px 0 0 var(--line)}
        tr.red{box-shadow:inset 4px 0 0 var(--red)}tr.amber{box-shadow:inset 4px 0 0 #d4a72c}
        tr.green{box-shadow:inset 4px 0 0 var(--green)}
        tr.red td:first-child,tr.amber td:first-child,tr.green td:first-child{box-shadow:none}
        td{border:0;padding:3px 0;display:flex;justify-content:space-between;align-items:center;gap:12px}
        td.num{text-align:right}
        td::before{content:attr(data-label);color:var(--muted);font-size:.78rem;text-align:left;white-space:nowrap}
        td.kpi{display:block;padding-bottom:6px}
        td.kpi::before{content:none}
        td.worst{display:block}
        td.worst::before{display:block}
        }
        @media print{
        *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
        body{background:#fff;font-size:10.5px}
        main{max-width:none;padding:0}
        section.template{border:0;border-radius:0;margin:12px 0 0}
        .template>header{padding:6px 0}
        tr{break-inside:avoid}
        thead{display:table-header-group}
        footer a{color:inherit;text-decoration:none}
        .noprint{display:none}
        }
        """

    /// The page; `links` adds links to the JSON, CSV and Markdown versions (for the served page).
    static func render(_ review: WeeklyReview, links: [(label: String, href: String)] = []) -> String {
        let h = review.header
        let e = ReportText.html
        let zone = TimeZoneName(h.timeZone)
        var out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        out += "<link rel=\"icon\" href=\"data:,\">\n"
        out += "<title>\(e(h.displayName)) · weekly KPI review \(h.week)</title>\n"
        out += "<style>\n\(style)\n</style>\n</head>\n<body>\n<main>\n<header>\n"
        out += "<h1>Weekly KPI review: \(e(h.displayName))</h1>\n"
        out += "<p class=\"meta\">Site <b>\(e(h.site))</b> · week <b>\(h.week)</b>, Monday \(h.week.firstDay) to "
        out += "Sunday \(h.week.lastDay) · \(e(zone.text)) time"
        if h.inProgress { out += " <span class=\"badge\">week in progress</span>" }
        out += "</p>\n</header>\n"

        let s = review.summary
        out += "<div class=\"summary\" role=\"list\" aria-label=\"Status counts\">\n"
        for (cls, count, label) in [
            ("red", s.red, "✗ Red"), ("amber", s.amber, "! Amber"), ("green", s.green, "✓ Green"),
            ("none", s.insufficient, "? Insufficient data"), ("none", s.noData, "· No data"),
        ] {
            out += "<div class=\"count \(cls)\" role=\"listitem\"><b>\(count)</b><span>\(label)</span></div>\n"
        }
        out += "</div>\n"
        let f = review.freshness
        if !f.silent.isEmpty {
            // One line in the summary: the signals whose state is unknown (no sample past their
            // staleness limit); their KPIs count only the time they reported.
            let listed = f.silent.prefix(10).map {
                "<b>\(e($0.name))</b> since <time>\(e(ReportText.utc($0.unknownSinceMs)))</time>"
            }
            out += "<p class=\"silent\"><span class=\"badge\">Not reporting (\(f.silent.count) of \(f.seriesCount) signals)</span> "
            out += listed.joined(separator: ", ") + (f.silent.count > 10 ? ", and \(f.silent.count - 10) more" : "") + "</p>\n"
        }
        if !s.attention.isEmpty {
            out += "<div class=\"attention\"><h2>Needs attention</h2><ul>\n"
            for r in s.attention {
                let section = review.sections.first { $0.template == r.template }?.title ?? r.template
                out += "<li>\(pill(r.status)) <b>\(e(r.kpi.title))</b> "
                out += "\(e(ReportText.value(r.value, unit: r.kpi.unit))) against a target of "
                out += "\(e(ReportText.value(r.target, unit: r.kpi.unit))) <span class=\"where\">\(e(section))</span></li>\n"
            }
            out += "</ul></div>\n"
        }

        if !review.alerts.lines.isEmpty {
            // The week's alerts beside the KPIs: what fired, for how long, how fast it was resolved.
            out += "<section class=\"alerts\"><h2>Alerts this week</h2>\n<table>\n<thead><tr><th scope=\"col\">Alert</th>"
            out += "<th scope=\"col\">Severity</th><th scope=\"col\">Fired</th><th scope=\"col\">Firing time</th>"
            out +=
                "<th scope=\"col\">Longest</th><th scope=\"col\">Mean time to resolve</th><th scope=\"col\">Open</th></tr></thead>\n<tbody>\n"
            for line in review.alerts.lines {
                out += "<tr><th scope=\"row\">\(e(line.alertname))</th><td>\(e(line.severity))</td><td>\(line.fired)</td>"
                out += "<td>\(e(ReportText.duration(line.firingMs)))</td><td>\(e(ReportText.duration(line.longestMs)))</td>"
                out += "<td>\(e(line.meanTimeToResolveMs.map(ReportText.duration) ?? "—"))</td><td>\(line.open)</td></tr>\n"
            }
            out += "</tbody>\n</table>\n</section>\n"
        }

        let weeks = review.trendWeeks
        for section in review.sections {
            out += "<section class=\"template\" id=\"\(e(section.template))\">\n<header><h2>\(e(section.title))</h2>"
            out += "<p>\(e(section.description))</p></header>\n"
            out += "<table class=\"kpis\">\n<thead><tr><th scope=\"col\">KPI</th><th scope=\"col\" class=\"num\">This week</th>"
            out += "<th scope=\"col\" class=\"num\">Target</th><th scope=\"col\">Status</th>"
            out += "<th scope=\"col\" class=\"num\">vs last week</th><th scope=\"col\" class=\"num\">vs 4-week avg</th>"
            out += "<th scope=\"col\">8 weeks</th><th scope=\"col\">Worst 3</th></tr></thead>\n<tbody>\n"
            for r in section.rows { out += row(r, weeks: weeks) }
            out += "</tbody>\n</table>\n</section>\n"
        }
        out += "<p class=\"legend\">Status: ✓ Green meets the target, ! Amber is between the target and the warning "
        out += "threshold, ✗ Red is beyond the warning threshold. Changes are coloured green when they are improvements. "
        out += "Trend lines show the 8 weeks \(weeks.first.map(\.description) ?? "") to "
        out += "\(weeks.last.map(\.description) ?? ""); the dashed line is the target.</p>\n"
        out += "<footer>Generated by kpid at \(e(LocalTime.dateTimeText(h.generatedAt, in: zone.zone))) "
        out += "(\(ReportText.utc(h.generatedAt))) in \(ReportText.number(review.elapsedMilliseconds)) ms."
        if !links.isEmpty {
            out += "<span class=\"noprint\"> Also as "
            out += links.map { "<a href=\"\(e($0.href))\">\(e($0.label))</a>" }.joined(separator: ", ")
            out += ".</span>"
        }
        out += "</footer>\n</main>\n</body>\n</html>\n"
        return out
    }

    struct TimeZoneName {
        var zone: TimeZone
        var text: String
        init(_ name: String) {
            zone = TimeZone(identifier: name) ?? TimeZone(identifier: "UTC")!
            text = name
        }
    }

    static func statusClass(_ s: KPIStatus?) -> String { s?.rawValue ?? "none" }

    static func pill(_ s: KPIStatus?, coverage: Double? = nil) -> String {
        var text = "\(ReportText.statusSymbol(s)) \(ReportText.statusLabel(s))"
        if s == .insufficient, let coverage { text += " (\(Int((coverage * 100).rounded(.down))) % known)" }
        return "<span class=\"pill \(statusClass(s))\">\(text)</span>"
    }

    /// A change cell: the signed change, the relative change below it, coloured by whether it
    /// is an improvement, with the words for screen readers and colour-blind readers.
    static func changeCell(_ r: WeeklyReview.Row, change: Double?, ratio: Double?, label: String, note: String? = nil)
        -> String
    {
        var cls = "same"
        var word = ""
        if let change, let better = r.isImprovement(change) {
            cls = better ? "better" : "worse"
            word = better ? "better" : "worse"
        }
        var t = "<td class=\"num \(cls)\" data-label=\"\(label)\">"
        t += "<span>\(ReportText.html(ReportText.change(change, unit: r.kpi.unit)))"
        let pct = ReportText.percent(ratio)
        var sub = pct
        if !word.isEmpty { sub += sub.isEmpty ? word : " · " + word }
        if let note { sub += sub.isEmpty ? note : " · " + note }
        if !sub.isEmpty { t += "<span class=\"sub\">\(ReportText.html(sub))</span>" }
        return t + "</span></td>"
    }

    static func row(_ r: WeeklyReview.Row, weeks: [ISOWeek]) -> String {
        let e = ReportText.html
        let unit = r.kpi.unit
        var t = "<tr class=\"\(statusClass(r.status))\">"
        t += "<td class=\"kpi\"><div class=\"kpi-title\">\(e(r.kpi.title))</div>"
        t += "<div class=\"kpi-desc\">\(e(r.kpi.description))</div>"
        if let owner = r.owner { t += "<div class=\"kpi-owner\">Owner: \(e(owner))</div>" }
        if let note = r.note { t += "<div class=\"kpi-note\">Note: \(e(note.text)) <span class=\"sub\">(\(e(note.author)))</span></div>" }
        if let err = r.error { t += "<div class=\"error\">Not computed: \(e(err))</div>" }
        t += "</td>"
        t += "<td class=\"num\" data-label=\"This week\"><span class=\"value\">\(e(ReportText.value(r.value, unit: unit)))</span></td>"
        t += "<td class=\"num\" data-label=\"Target\"><span>\(e(ReportText.value(r.target, unit: unit)))"
        t += "<span class=\"sub\">\(r.kpi.direction == .higherIsBetter ? "≥" : "≤") target · "
        t += "warn \(e(ReportText.value(r.warning, unit: unit)))</span></span></td>"
        t += "<td data-label=\"Status\">\(pill(r.status, coverage: r.coverage))</td>"
        t += changeCell(r, change: r.change, ratio: r.changeRatio, label: "vs last week")
        let avgNote = r.averageWeeks > 0 && r.averageWeeks < WeeklyReview.averageLength ? "\(r.averageWeeks) wk" : nil
        t += changeCell(r, change: r.changeVsAverage, ratio: r.changeVsAverageRatio, label: "vs 4-week avg", note: avgNote)
        t += "<td data-label=\"8 weeks\">\(sparkline(r, weeks: weeks))</td>"
        t += "<td class=\"worst\" data-label=\"Worst 3\">"
        if r.worst.isEmpty {
            t += "<span class=\"same\">–</span>"
        } else {
            if let b = r.kpi.breakdown { t += "<div class=\"what\">\(e(b))</div>" }
            t += "<ol>"
            for item in r.worst { t += "<li>\(e(item.item)) <b>\(e(ReportText.value(item.value, unit: unit)))</b></li>" }
            t += "</ol>"
        }
        t += "</td></tr>\n"
        return t
    }

    /// An inline SVG line over the trend weeks (gaps where a week has no value), the target as a
    /// dashed line, this week's point in its status colour; a title lists the values.
    static func sparkline(_ r: WeeklyReview.Row, weeks: [ISOWeek]) -> String {
        let width = 132.0
        let height = 36.0
        let pad = 4.0
        let values = r.trend
        var all = values.compactMap { $0 }.filter(\.isFinite)
        if r.target.isFinite { all.append(r.target) }
        var lo = all.min() ?? 0
        var hi = all.max() ?? 1
        if hi == lo {
            lo -= 1
            hi += 1
        }
        let step = values.count > 1 ? (width - 2 * pad) / Double(values.count - 1) : 0
        func x(_ i: Int) -> Double { pad + Double(i) * step }
        func y(_ v: Double) -> Double { pad + (hi - v) / (hi - lo) * (height - 2 * pad) }
        func f(_ d: Double) -> String { ReportText.machine((d * 10).rounded() / 10) ?? "0" }

        var described: [String] = []
        for (i, v) in values.enumerated() {
            let label = i < weeks.count ? weeks[i].description : "week \(i + 1)"
            described.append("\(label): \(ReportText.value(v, unit: r.kpi.unit))")
        }
        let title =
            "Trend, 8 weeks. " + described.joined(separator: "; ") + ". Target "
            + ReportText.value(r.target, unit: r.kpi.unit) + "."
        var t = "<svg class=\"spark\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" "
        t += "role=\"img\" aria-label=\"\(ReportText.html(title))\" xmlns=\"http://www.w3.org/2000/svg\">"
        t += "<title>\(ReportText.html(title))</title>"
        if r.target.isFinite {
            t += "<line class=\"target\" x1=\"0\" x2=\"\(f(width))\" y1=\"\(f(y(r.target)))\" y2=\"\(f(y(r.target)))\"/>"
        }
        // Runs of consecutive weeks with a value become polylines; a lone point a dot.
        var run: [Int] = []
        func flush() {
            if run.count == 1 {
                let i = run[0]
                t += "<circle class=\"dot\" cx=\"\(f(x(i)))\" cy=\"\(f(y(values[i]!)))\" r=\"1.8\"/>"
            } else if run.count > 1 {
                let points = run.map { "\(f(x($0))),\(f(y(values[$0]!)))" }.joined(separator: " ")
                t += "<polyline class=\"line\" points=\"\(points)\"/>"
            }
            run = []
        }
        for (i, v) in values.enumerated() {
            if let v, v.isFinite { run.append(i) } else { flush() }
        }
        flush()
        if let last = values.last, let v = last, v.isFinite {
            t += "<circle class=\"now \(statusClass(r.status))\" cx=\"\(f(x(values.count - 1)))\" cy=\"\(f(y(v)))\" r=\"3.2\"/>"
        }
        return t + "</svg>"
    }
}
