import KPITemplates

/// The review as one JSON object (numbers as numbers, null where there is no value; relative
/// changes as percentages).
enum JSONReport {
    static func render(_ review: WeeklyReview) -> String {
        let h = review.header
        var out = "{"
        func field(_ name: String, _ raw: String, first: Bool = false) {
            if !first { out += "," }
            out += ReportText.json(name) + ":" + raw
        }
        field("site", ReportText.json(h.site), first: true)
        field("display_name", ReportText.json(h.displayName))
        field("time_zone", ReportText.json(h.timeZone))
        field("week", ReportText.json(h.week.description))
        field("first_day", ReportText.json(h.week.firstDay))
        field("last_day", ReportText.json(h.week.lastDay))
        field("from", ReportText.json(ReportText.utc(h.from)))
        field("to", ReportText.json(ReportText.utc(h.to)))
        field("generated_at", ReportText.json(ReportText.utc(h.generatedAt)))
        field("in_progress", h.inProgress ? "true" : "false")
        field("trend_weeks", "[" + review.trendWeeks.map { ReportText.json($0.description) }.joined(separator: ",") + "]")
        let s = review.summary
        var summary =
            "{\"red\":\(s.red),\"amber\":\(s.amber),\"green\":\(s.green),\"no_data\":\(s.noData),\"insufficient_data\":\(s.insufficient),\"attention\":["
        summary += s.attention.map { row in
            "{\"template\":\(ReportText.json(row.template)),\"kpi\":\(ReportText.json(row.kpi.id)),"
                + "\"title\":\(ReportText.json(row.kpi.title)),\"status\":\(status(row.status)),"
                + "\"value\":\(ReportText.json(row.value)),\"target\":\(ReportText.json(row.target)),"
                + "\"unit\":\(ReportText.json(row.kpi.unit))}"
        }.joined(separator: ",")
        summary += "]}"
        field("summary", summary)
        let f = review.freshness
        var freshness = "{\"last_sample\":" + (f.lastSampleMs.map { ReportText.json(ReportText.utc($0)) } ?? "null")
        freshness += ",\"signals\":\(f.seriesCount),\"not_reporting\":["
        freshness += f.silent.map { s in
            "{\"name\":\(ReportText.json(s.name)),\"series\":\(ReportText.json(s.labels.description)),"
                + "\"last_sample\":\(ReportText.json(ReportText.utc(s.lastSampleMs))),"
                + "\"unknown_since\":\(ReportText.json(ReportText.utc(s.unknownSinceMs)))}"
        }.joined(separator: ",")
        freshness += "]}"
        field("freshness", freshness)
        field(
            "alerts",
            "["
                + review.alerts.lines.map { a in
                    "{\"alertname\":\(ReportText.json(a.alertname)),\"severity\":\(ReportText.json(a.severity)),\"fired\":\(a.fired),"
                        + "\"firing_seconds\":\(a.firingMs / 1000),\"longest_seconds\":\(a.longestMs / 1000),"
                        + "\"mean_time_to_resolve_seconds\":\(a.meanTimeToResolveMs.map { String($0 / 1000) } ?? "null"),\"open\":\(a.open)}"
                }.joined(separator: ",") + "]")
        var sections: [String] = []
        for section in review.sections {
            var text = "{\"template\":\(ReportText.json(section.template)),\"title\":\(ReportText.json(section.title)),"
            text += "\"description\":\(ReportText.json(section.description)),\"kpis\":["
            text += section.rows.map(row).joined(separator: ",")
            text += "]}"
            sections.append(text)
        }
        field("templates", "[" + sections.joined(separator: ",") + "]")
        field("elapsed_ms", ReportText.json((review.elapsedMilliseconds * 10).rounded() / 10))
        return out + "}\n"
    }

    static func status(_ s: KPIStatus?) -> String { s.map { ReportText.json($0.rawValue) } ?? "null" }

    static func percent(_ r: Double?) -> String { ReportText.json(r.map { $0 * 100 }) }

    static func row(_ r: WeeklyReview.Row) -> String {
        var t = "{\"id\":\(ReportText.json(r.kpi.id)),\"title\":\(ReportText.json(r.kpi.title))"
        t += ",\"description\":\(ReportText.json(r.kpi.description)),\"unit\":\(ReportText.json(r.kpi.unit))"
        t += ",\"direction\":\(ReportText.json(r.kpi.direction.rawValue))"
        t += ",\"value\":\(ReportText.json(r.value)),\"target\":\(ReportText.json(r.target))"
        t += ",\"warning\":\(ReportText.json(r.warning)),\"status\":\(status(r.status))"
        t += ",\"coverage\":\(ReportText.json(r.coverage))"
        t += ",\"owner\":\(r.owner.map(ReportText.json) ?? "null")"
        t += ",\"note\":" + (r.note.map { "{\"text\":\(ReportText.json($0.text)),\"author\":\(ReportText.json($0.author))}" } ?? "null")
        t += ",\"last_week\":\(ReportText.json(r.lastWeek)),\"change\":\(ReportText.json(r.change))"
        t += ",\"change_pct\":\(percent(r.changeRatio))"
        t += ",\"average_4w\":\(ReportText.json(r.fourWeekAverage)),\"average_weeks\":\(r.averageWeeks)"
        t += ",\"change_vs_average\":\(ReportText.json(r.changeVsAverage))"
        t += ",\"change_vs_average_pct\":\(percent(r.changeVsAverageRatio))"
        t += ",\"trend\":[" + r.trend.map { ReportText.json($0) }.joined(separator: ",") + "]"
        t += ",\"breakdown\":" + (r.kpi.breakdown.map { ReportText.json($0) } ?? "null")
        t += ",\"worst\":["
        t += r.worst.map { "{\"item\":\(ReportText.json($0.item)),\"value\":\(ReportText.json($0.value))}" }
            .joined(separator: ",")
        t += "]"
        if let e = r.error { t += ",\"error\":\(ReportText.json(e))" }
        return t + "}"
    }
}
