import Foundation
import KPICore
import KPIHTTP
import KPIPromQL
import KPIRuntime
import KPIWire

/// The series endpoints: the raw export (`/api/v1/export`, ndjson or CSV) and the metadata
/// endpoints of Prometheus' HTTP API that Grafana's Prometheus data source calls
/// for its query editor (label names and values) and its health and version checks.
struct SeriesController: Controller {
    let runtime: Runtime

    var routes: [Route] {
        [
            Route("/api/v1/series", [.get, .post], .read, form: true, .now { r, m throws(APIError) in try self.series(r, m) }),
            Route("/api/v1/labels", [.get, .post], .read, form: true, .now { r, m throws(APIError) in try self.labels(r, m) }),
            Route(
                "/api/v1/label/:name/values", [.get], .read, form: true,
                .now { r, m throws(APIError) in try self.labelValues(r, m, name: m.parameters["name"] ?? "") }),
            Route("/api/v1/status/buildinfo", [.get], .read, .now { _, _ in self.buildInfo() }),
            Route("/api/v1/export", [.get], .read, .now { r, m throws(APIError) in try self.export(r, m) }),
        ]
    }

    func labels(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let selected = try selectSeries(request, principal: match.principal, required: false)
        var names = Set<String>()
        for entry in selected { for pair in entry.labels.pairs { names.insert(pair.name) } }
        audit(match, rows: names.count)
        return stringList(names.sorted())
    }

    func labelValues(_ request: HTTPRequest, _ match: RouteMatch, name: String) throws(APIError) -> HTTPResponse {
        guard name == Labels.metricNameLabel || LabelValidator.isValidLabelName(name) else {
            throw APIError.badParameter("name", "invalid label name \"\(name)\"")
        }
        let selected = try selectSeries(request, principal: match.principal, required: false)
        var values = Set<String>()
        for entry in selected { if let v = entry.labels[name] { values.insert(v) } }
        audit(match, rows: values.count)
        return stringList(values.sorted())
    }

    func buildInfo() -> HTTPResponse {
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":")
        w.object([
            ("version", ServiceMetrics.version), ("revision", ""), ("branch", ""), ("buildUser", ""), ("buildDate", ""),
            ("goVersion", ""), ("application", "kpid"),
        ])
        w.raw("}\n")
        return .json(200, w.bytes)
    }

    private func stringList(_ items: [String]) -> HTTPResponse {
        var w = JSONWriter(capacity: 64 + items.count * 16)
        w.raw("{\"status\":\"success\",\"data\":[")
        for (i, item) in items.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(item)
        }
        w.raw("]}\n")
        return .json(200, w.bytes)
    }
    func series(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let selected = try selectSeries(request, principal: match.principal)
        audit(match, rows: selected.count)
        var w = JSONWriter(capacity: 64 + selected.count * 64)
        w.raw("{\"status\":\"success\",\"data\":[")
        for (i, entry) in selected.enumerated() {
            if i > 0 { w.raw(",") }
            w.object(entry.labels.pairs.map { ($0.name, $0.value) })
        }
        w.raw("]}\n")
        return .json(200, w.bytes)
    }

    func export(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let querier = try querier(request, principal: match.principal)
        let selected = try selectSeries(request, querier: querier)
        audit(match, rows: selected.count)
        let start = try timeParameter(request, "start", default: .min)
        let end = try timeParameter(request, "end", default: .max)
        guard start <= end else { throw APIError.badParameter("end", "end is before start") }
        let accept = request.header("accept")?.lowercased() ?? ""
        let format = request.queryValue("format")?.lowercased()
        let csv = format == "csv" || (format == nil && accept.contains("text/csv"))
        if let format, format != "csv", format != "ndjson" {
            throw APIError.badParameter("format", "\"\(format)\" is not one of ndjson, csv")
        }
        let guarded = try !booleanParameter(request, "raw", default: false)
        let series = selected
        return HTTPResponse(
            status: 200,
            headers: [(name: "Content-Type", value: csv ? "text/csv; charset=utf-8" : "application/x-ndjson")],
            body: .stream { ExportStream(querier: querier, series: series, start: start, end: end, csv: csv, guarded: guarded) })
    }
}

/// Streams the samples of the selected series page by page, so an export of any size holds
/// only one page of samples and one buffer of output in memory.
final class ExportStream: HTTPBodyStream {
    private let querier: any Querier
    private let series: [(id: SeriesID, labels: Labels)]
    private let end: Int64
    private let csv: Bool
    private let guarded: Bool
    private let labelNames: [String]
    private var current = 0
    private var cursor: Int64
    private let start: Int64
    private var headerWritten = false
    static let pageSamples = 4096

    init(querier: any Querier, series: [(id: SeriesID, labels: Labels)], start: Int64, end: Int64, csv: Bool, guarded: Bool) {
        self.guarded = guarded
        self.querier = querier
        self.series = series
        self.start = start
        self.end = end
        self.cursor = start
        self.csv = csv
        var names = Set<String>()
        // Labels named like the fixed columns cannot be CSV columns (the header would repeat a
        // name); they are left out of CSV exports (ndjson carries them).
        let fixed: Set<String> = [Labels.metricNameLabel, "metric", "ts", "value"]
        if csv { for s in series { for p in s.labels.pairs where !fixed.contains(p.name) { names.insert(p.name) } } }
        labelNames = names.sorted()
    }

    func next() -> [UInt8]? {
        var out: [UInt8] = []
        if csv && !headerWritten {
            headerWritten = true
            SampleEncoder.appendCSVHeader(&out, labelNames: labelNames)
        }
        while current < series.count && out.count < 64 << 10 {
            let entry = series[current]
            // Export writes what is stored, staleness markers included (as "NaN"), so a re-ingest
            // ends series where they ended. The request's querier has no sample budget (a page at
            // a time is in memory), so a read is never refused.
            guard
                let page = try? querier.samples(
                    entry.id, start: cursor, end: end, limit: ExportStream.pageSamples, staleness: .keepMarkers)
            else { return nil }
            for k in page.timestamps.indices {
                if csv {
                    SampleEncoder.appendCSVRow(
                        &out, labels: entry.labels, labelNames: labelNames, timestamp: page.timestamps[k], value: page.values[k],
                        guarded: guarded)
                } else {
                    SampleEncoder.appendNDJSON(&out, labels: entry.labels, timestamp: page.timestamps[k], value: page.values[k])
                }
            }
            if page.timestamps.count < ExportStream.pageSamples || page.timestamps.last! == .max {
                current += 1
                cursor = start
            } else {
                cursor = page.timestamps.last! + 1
            }
        }
        return out.isEmpty ? nil : out
    }
}
