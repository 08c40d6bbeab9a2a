import KPICore
import KPIHTTP
import KPIRuntime

/// The metadata endpoints of Prometheus' HTTP API that Grafana's Prometheus data source calls
/// for its query editor (label names and values) and its health and version checks.
extension KPIService {
    /// Series, label names and values, build info (Prometheus HTTP API), and remote write.
    static let prometheusRoutes: [Route] = [
        Route(
            "/api/v1/write", ["POST"], .ingest,
            .later { s, r, m, respond throws(APIError) in try s.remoteWrite(r, principal: m.principal, respond: respond) }),
        Route("/api/v1/series", ["GET", "POST"], .read, form: true, .now { s, r, m throws(APIError) in try s.series(r, m) }),
        Route("/api/v1/labels", ["GET", "POST"], .read, form: true, .now { s, r, m throws(APIError) in try s.labels(r, m) }),
        Route(
            "/api/v1/label/:name/values", ["GET"], .read, form: true,
            .now { s, r, m throws(APIError) in try s.labelValues(r, m, name: m.parameters["name"] ?? "") }),
        Route("/api/v1/status/buildinfo", ["GET"], .read, .now { s, _, _ in s.buildInfo() }),
    ]

    /// Selects every series: a metric name is never empty.
    static let everySeries = [try! LabelMatcher(Labels.metricNameLabel, .regexMatch, ".+")]

    /// Folds an `application/x-www-form-urlencoded` POST body into the query parameters, as
    /// Prometheus does: Grafana sends its API calls as form posts by default.
    func withFormParameters(_ request: HTTPRequest) throws(APIError) -> HTTPRequest {
        guard request.method == "POST",
            let type = request.header("content-type")?.lowercased(),
            type.hasPrefix("application/x-www-form-urlencoded")
        else { return request }
        guard let form = FormDecoder.decode(request.body) else {
            throw APIError(
                status: 400, message: "invalid form body",
                details: [IngestIssue(line: 0, field: "body", reason: "malformed percent-encoding")])
        }
        var merged = request
        merged.query += form
        return merged
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
}

/// Decodes `application/x-www-form-urlencoded`: `&`-separated `name=value`, `+` as space,
/// `%XX` escapes. Nil when an escape is malformed or the result is not UTF-8.
enum FormDecoder {
    static func decode(_ body: [UInt8]) -> [(name: String, value: String)]? {
        var out: [(name: String, value: String)] = []
        for part in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let pieces = part.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = unescape(pieces[0]) else { return nil }
            let value = pieces.count > 1 ? unescape(pieces[1]) : ""
            guard let value else { return nil }
            out.append((name, value))
        }
        return out
    }

    static func unescape(_ bytes: ArraySlice<UInt8>) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if b == UInt8(ascii: "%") {
                guard i + 2 < bytes.endIndex, let hi = hex(bytes[i + 1]), let lo = hex(bytes[i + 2])
                else { return nil }
                out.append(hi << 4 | lo)
                i += 2
            } else {
                out.append(b)
            }
            i += 1
        }
        return String(validating: out, as: UTF8.self)
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
