/// The review as RFC 4180 CSV: a header line, then one record per KPI, CRLF line ends.
/// Numbers are machine-readable (shortest round-trip form); empty where there is no value.
/// The trend is one column per week, named by the week (`2026-W38` ... `2026-W45`).
enum CSVReport {
    static func header(_ review: WeeklyReview) -> [String] {
        [
            "site", "week", "template", "kpi", "title", "unit", "direction", "value", "target", "warning", "status",
            "last_week", "change", "change_pct", "average_4w", "change_vs_average", "change_vs_average_pct",
        ] + review.trendWeeks.map(\.description) + ["breakdown", "worst", "error", "coverage", "not_reporting", "owner", "note"]
    }

    static func render(_ review: WeeklyReview) -> String {
        func n(_ v: Double?) -> String { v.flatMap(ReportText.machine) ?? "" }
        var lines = [header(review).map(ReportText.csvField).joined(separator: ",")]
        // The site's silent signals, on every record (the CSV has one record per KPI).
        let silent = review.freshness.silent.map { "\($0.name) since \(ReportText.utc($0.unknownSinceMs))" }
            .joined(separator: "; ")
        for section in review.sections {
            for r in section.rows {
                var fields = [
                    review.header.site, review.header.week.description, r.template, r.kpi.id, r.kpi.title, r.kpi.unit,
                    r.kpi.direction.rawValue, n(r.value), n(r.target), n(r.warning), r.status?.rawValue ?? "",
                    n(r.lastWeek), n(r.change), n(r.changeRatio.map { $0 * 100 }), n(r.fourWeekAverage),
                    n(r.changeVsAverage), n(r.changeVsAverageRatio.map { $0 * 100 }),
                ]
                fields += r.trend.map(n)
                fields.append(r.kpi.breakdown ?? "")
                fields.append(r.worst.map { "\($0.item)=\(n($0.value))" }.joined(separator: "; "))
                fields.append(r.error ?? "")
                fields.append(n(r.coverage))
                fields.append(silent)
                fields.append(r.owner ?? "")
                fields.append(r.note.map { "\($0.text) (\($0.author))" } ?? "")
                lines.append(fields.map(ReportText.csvField).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
