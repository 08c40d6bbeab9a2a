import Foundation
import KPICore
import KPIHTTP
import KPIQuery
import KPIRuntime
import KPIWire

/// The SQL query API: `POST /api/v1/sql` (and `GET ?query=`), answering JSON or CSV.
struct SQLController: Controller {
    let runtime: Runtime

    var routes: [Route] {
        [
            Route("/api/v1/sql", [.get, .post], .read, form: true, .now { r, m throws(APIError) in try self.sql(r, m) })
        ]
    }

    /// Runs the query of `request`; `parameters`, when given, replace the request's own (saved
    /// queries bind theirs from the query string).
    func sql(_ request: HTTPRequest, _ match: RouteMatch, parameters bound: [String: Value]? = nil) throws(APIError)
        -> HTTPResponse
    {
        var (text, parameters, zoneName) = try SQLController.sqlRequest(request)
        if let bound { parameters = bound }
        var zone: TimeZone? = nil
        if let zoneName {
            guard let z = TimeZone(identifier: zoneName) else {
                throw APIError.badParameter("tz", "\"\(zoneName)\" is not an IANA time zone like Europe/Paris")
            }
            zone = z
        }
        var options = queryOptions(parameters: parameters, principal: match.principal, timeZone: zone)
        if let timeout = request.queryValue("timeout") {
            guard let ms = DurationParser.milliseconds(timeout), ms > 0 else {
                throw APIError.badParameter("timeout", "\"\(timeout)\" is not a positive duration like 30s")
            }
            options.limits.timeoutMilliseconds = min(ms, options.limits.timeoutMilliseconds)
        }
        options.useRollups = try booleanParameter(request, "rollups", default: options.useRollups)
        let result: QueryResult
        do {
            result = try QueryEngine(store: store).execute(text, options: options)
        } catch {
            audit(match, rows: nil, detail: text)
            if error.kind == .limit || error.kind == .timeout { reclaimMemoryAfterRefusal() }
            throw SQLController.apiError(error)
        }
        audit(match, rows: result.rows.count, detail: text)
        let format = request.queryValue("format")?.lowercased()
        if let format, format != "csv", format != "json" {
            throw APIError.badParameter("format", "\"\(format)\" is not one of json, csv")
        }
        let csv = format == "csv" || (format == nil && (request.header("accept")?.lowercased().contains("text/csv") ?? false))
        if csv {
            let guarded = try !booleanParameter(request, "raw", default: false)
            return HTTPResponse(
                status: 200, headers: [(name: "Content-Type", value: "text/csv; charset=utf-8; header=present")],
                body: .stream { CSVResultStream(result, guarded: guarded) })
        }
        return .json(200, SQLController.json(result))
    }

    /// The query text, parameters and time zone of a request: a `text/plain` (or
    /// `application/sql`) body, a JSON body `{"query": ..., "params": {...}, "tz": ...}`, or
    /// `?query=` (GET, or a form POST).
    static func sqlRequest(_ request: HTTPRequest) throws(APIError) -> (String, [String: Value], String?) {
        let type = request.header("content-type")?.lowercased() ?? ""
        var zone = request.queryValue("tz")
        if request.method == .post && type.hasPrefix("application/json") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any] else {
                throw APIError.badParameter("body", "the body is not a JSON object")
            }
            guard let query = object["query"] as? String, !query.isEmpty else {
                throw APIError.badParameter("query", "the JSON body needs a \"query\" string")
            }
            var parameters: [String: Value] = [:]
            if let raw = object["params"] {
                guard let dictionary = raw as? [String: Any] else {
                    throw APIError.badParameter("params", "\"params\" must be an object of name: value")
                }
                for (name, value) in dictionary {
                    parameters[name] = try parameterValue(value, name: name)
                }
            }
            if let tz = object["tz"] as? String { zone = tz }
            return (query, parameters, zone)
        }
        if request.method == .post && !type.hasPrefix("application/x-www-form-urlencoded") {
            guard let text = String(validating: request.body, as: UTF8.self), !text.isEmpty else {
                throw APIError.badParameter("body", "send the query as a UTF-8 text body, or JSON {\"query\": ...}")
            }
            return (text, try queryStringParameters(request), zone)
        }
        // GET, or a form POST (the route folds the form into the query parameters).
        guard let text = request.queryValue("query"), !text.isEmpty else {
            throw APIError.badParameter("query", "a query is required: ?query=SELECT ... or a POST body")
        }
        return (text, try queryStringParameters(request), zone)
    }

    /// `?param.site=JFK` binds `:site` (as a string; numbers are typed when the text is a number).
    static func queryStringParameters(_ request: HTTPRequest) throws(APIError) -> [String: Value] {
        var out: [String: Value] = [:]
        for (name, value) in request.query where name.hasPrefix("param.") {
            let key = String(name.dropFirst(6))
            if let i = Int64(value) {
                out[key] = .int(i)
            } else if let d = Double(value), value.contains(where: { $0.isNumber }) && !value.contains(where: { $0.isLetter }) {
                out[key] = .double(d)
            } else {
                out[key] = .string(value)
            }
        }
        return out
    }

    static func parameterValue(_ value: Any, name: String) throws(APIError) -> Value {
        switch value {
        case let s as String: return .string(s)
        case let b as Bool where type(of: value) == Bool.self: return .bool(b)
        case let n as NSNumber:
            // JSON true/false arrive as Bool (above); integers without a fraction stay integers.
            if let i = Int64(exactly: n.doubleValue), !n.stringValue.contains("."), !n.stringValue.contains("e") {
                return .int(i)
            }
            return .double(n.doubleValue)
        case is NSNull: return .null
        default:
            throw APIError.badParameter("params", "parameter \"\(name)\" must be a string, number, boolean or null")
        }
    }

    /// 400 for a query that cannot be run as written, 422 for an exceeded limit, 503 for a timeout.
    static func apiError(_ error: QueryError) -> APIError {
        let status: HTTPStatus
        switch error.kind {
        case .syntax, .semantic: status = 400
        case .limit: status = 422
        case .timeout: status = 503
        }
        var api = APIError(status: status, message: error.message)
        if error.position.line > 0 && error.kind != .limit && error.kind != .timeout {
            api.position = (error.position.line, error.position.column)
        }
        api.hint = error.hint
        return api
    }

    /// `{"columns":[{"name","type"}],"rows":[[...]],"stats":{...},"warnings":[...]}`. Timestamps
    /// are RFC 3339 strings, intervals integer milliseconds, non-finite doubles the strings
    /// "NaN", "+Inf", "-Inf" (JSON has no such numbers).
    static func json(_ result: QueryResult) -> [UInt8] {
        var w = JSONWriter(capacity: 256 + result.rows.count * result.columns.count * 12)
        w.raw("{\"columns\":[")
        for (i, c) in result.columns.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"name\":")
            w.string(c.name)
            w.raw(",\"type\":")
            w.string(c.type.rawValue)
            w.raw("}")
        }
        w.raw("],\"rows\":[")
        for (i, row) in result.rows.enumerated() {
            w.raw(i == 0 ? "[" : ",[")
            for (k, v) in row.enumerated() {
                if k > 0 { w.raw(",") }
                switch v {
                case .null: w.raw("null")
                case .bool(let b): w.raw(b ? "true" : "false")
                case .int(let n), .interval(let n): DoubleFormatter.appendInteger(&w.bytes, n)
                case .double(let d):
                    if d.isFinite { DoubleFormatter.append(&w.bytes, d) } else { w.string(d.isNaN ? "NaN" : (d > 0 ? "+Inf" : "-Inf")) }
                case .string(let s): w.string(s)
                case .timestamp: w.string(v.description)
                }
            }
            w.raw("]")
        }
        w.raw("],\"stats\":{\"series_scanned\":\(result.stats.seriesScanned),\"samples_scanned\":\(result.stats.samplesScanned)")
        w.raw(",\"rollup_buckets_scanned\":\(result.stats.rollupBucketsScanned)")
        w.raw(",\"samples_from_rollups\":\(result.stats.samplesFromRollups)")
        w.raw(",\"elapsed_ms\":")
        DoubleFormatter.append(&w.bytes, (result.stats.elapsedMilliseconds * 1000).rounded() / 1000)
        w.raw("},\"warnings\":[")
        for (i, warning) in result.warnings.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(warning)
        }
        w.raw("]}\n")
        return w.bytes
    }
}

/// A query result as RFC 4180 CSV (header row, CRLF line ends, cells by `CSVCell`), streamed
/// in pieces of about 64 KiB. With `guarded`, text cells a spreadsheet would run as formulas get
/// a leading apostrophe; numbers and timestamps are written as they are.
final class CSVResultStream: HTTPBodyStream {
    private let result: QueryResult
    private let guarded: Bool
    private var row = 0
    private var headerWritten = false

    init(_ result: QueryResult, guarded: Bool) {
        self.result = result
        self.guarded = guarded
    }

    func next() -> [UInt8]? {
        var out: [UInt8] = []
        if !headerWritten {
            headerWritten = true
            for (i, c) in result.columns.enumerated() {
                if i > 0 { out.append(44) }
                CSVCell.append(c.name, to: &out, guarded: guarded)
            }
            out.append(contentsOf: [13, 10])
        }
        while row < result.rows.count && out.count < 64 << 10 {
            for (i, v) in result.rows[row].enumerated() {
                if i > 0 { out.append(44) }
                switch v {
                case .double(let d) where d.isFinite: DoubleFormatter.append(&out, d)
                case .string(let text): CSVCell.append(text, to: &out, guarded: guarded)
                default: CSVCell.append(v.description, to: &out, guarded: false)
                }
            }
            out.append(contentsOf: [13, 10])
            row += 1
        }
        return out.isEmpty ? nil : out
    }
}
