/// The review as Markdown: a header, the summary, then a table per template. The trend is a
/// row of block characters (▁ lowest ... █ highest of the 8 weeks, `·` for a week without data).
enum MarkdownReport {
    static func render(_ review: WeeklyReview) -> String {
        let h = review.header
        let cell = ReportText.markdownCell
        var out = "# Weekly KPI review: \(cell(h.displayName)) (\(cell(h.site)))\n\n"
        out += "Week **\(h.week)**, \(h.week.firstDay) to \(h.week.lastDay) (\(cell(h.timeZone)))"
        if h.inProgress { out += ", in progress" }
        out += ". Generated \(ReportText.utc(h.generatedAt)).\n\n"
        let s = review.summary
        out += "**\(s.red) red, \(s.amber) amber, \(s.green) green**"
        if s.insufficient > 0 { out += ", \(s.insufficient) with insufficient data" }
        if s.noData > 0 { out += ", \(s.noData) without data" }
        out += ".\n"
        let f = review.freshness
        if !f.silent.isEmpty {
            out += "\nNot reporting (\(f.silent.count) of \(f.seriesCount) signals; state unknown):\n\n"
            for silence in f.silent.prefix(20) {
                out += "- \(cell(silence.name)): last sample \(ReportText.utc(silence.lastSampleMs)), unknown since "
                out += "\(ReportText.utc(silence.unknownSinceMs))\n"
            }
            if f.silent.count > 20 { out += "- and \(f.silent.count - 20) more\n" }
        }
        if !review.alerts.lines.isEmpty {
            out += "\nAlerts this week:\n\n| alert | severity | fired | firing time | longest | mean time to resolve | open |\n"
            out += "|---|---|---:|---:|---:|---:|---:|\n"
            for line in review.alerts.lines {
                out += "| \(cell(line.alertname)) | \(cell(line.severity)) | \(line.fired) | \(ReportText.duration(line.firingMs)) | "
                out +=
                    "\(ReportText.duration(line.longestMs)) | \(line.meanTimeToResolveMs.map(ReportText.duration) ?? "—") | \(line.open) |\n"
            }
        }
        if !s.attention.isEmpty {
            out += "\nNeeds attention:\n\n"
            for r in s.attention {
                out += "- \(ReportText.statusSymbol(r.status)) \(ReportText.statusLabel(r.status)): "
                out += "\(cell(r.kpi.title)) (\(cell(r.template))) \(cell(ReportText.value(r.value, unit: r.kpi.unit)))"
                out += ", target \(cell(ReportText.value(r.target, unit: r.kpi.unit)))\n"
            }
        }
        let weeks = review.trendWeeks
        let trendTitle = weeks.isEmpty ? "Trend" : "Trend \(weeks.first!.description) to \(weeks.last!.description)"
        for section in review.sections {
            out += "\n## \(cell(section.title))\n\n"
            out += "| KPI | This week | Target | Status | vs last week | vs 4-week avg | \(trendTitle) | Worst 3 |\n"
            out += "|---|--:|--:|---|--:|--:|---|---|\n"
            for r in section.rows {
                let unit = r.kpi.unit
                var change = ReportText.change(r.change, unit: unit)
                let pct = ReportText.percent(r.changeRatio)
                if !pct.isEmpty { change += " (\(pct))" }
                var vsAverage = ReportText.change(r.changeVsAverage, unit: unit)
                let avgPct = ReportText.percent(r.changeVsAverageRatio)
                if !avgPct.isEmpty { vsAverage += " (\(avgPct))" }
                var worst = r.worst.map { "\($0.item) \(ReportText.value($0.value, unit: unit))" }.joined(separator: ", ")
                if !worst.isEmpty, let b = r.kpi.breakdown { worst = b + ": " + worst }
                if let e = r.error { worst = worst.isEmpty ? "error: " + e : worst + "; error: " + e }
                let cells = [
                    r.kpi.title + (r.owner.map { " (owner: \($0))" } ?? "") + (r.note.map { " — note: \($0.text) (\($0.author))" } ?? ""),
                    ReportText.value(r.value, unit: unit),
                    ReportText.value(r.target, unit: unit),
                    ReportText.statusSymbol(r.status) + " " + ReportText.statusLabel(r.status), change, vsAverage,
                    ReportText.blocks(r.trend), worst.isEmpty ? "–" : worst,
                ]
                out += "| " + cells.map(cell).joined(separator: " | ") + " |\n"
            }
        }
        return out
    }
}
