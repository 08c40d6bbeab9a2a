import Foundation
import KPICore
import KPIHTTP
import KPIPromQL
import KPIRuntime
import KPIWire

/// Prometheus' query API: instant and range PromQL queries and metric metadata, answered in
/// Prometheus' envelope so that Grafana's stock Prometheus data source works unchanged.
struct PromQLController: Controller {
    let runtime: Runtime

    var routes: [Route] {
        [
            Route("/api/v1/query", [.get, .post], .read, form: true, .now { r, m throws(APIError) in try self.promQLQuery(r, m) }),
            Route(
                "/api/v1/query_range", [.get, .post], .read, form: true,
                .now { r, m throws(APIError) in try self.promQLRangeQuery(r, m) }),
            Route("/api/v1/metadata", [.get], .read, form: true, .now { r, m throws(APIError) in try self.promQLMetadata(r, m) }),
        ]
    }

    var promQLEngine: PromQLEngine { runtime.promQLEngine }

    /// `GET|POST /api/v1/query?query=&time=&timeout=`.
    func promQLQuery(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let query = try queryParameter(request)
        let time = try promQLTime(request, "time", default: configuration.clock.nowMilliseconds())
        let deadline = try queryDeadline(request)
        return answer(query, match) { engine throws(PromQLError) in
            try engine.instantQuery(query, at: time, extraMatchers: match.principal.scopeMatchers, deadline: deadline)
        }
    }

    /// Runs a query and answers in Prometheus' envelope; a query refused for a limit or its
    /// timeout hands the memory it grew back, and a success is audited with its series count.
    private func answer(
        _ query: String, _ match: RouteMatch, _ evaluate: (PromQLEngine) throws(PromQLError) -> QueryValue
    ) -> HTTPResponse {
        let result: QueryValue
        do {
            result = try evaluate(promQLEngine)
        } catch {
            if case .execution = error { reclaimMemoryAfterRefusal() }
            if case .timeout = error { reclaimMemoryAfterRefusal() }
            return PromQLController.promQLErrorResponse(error)
        }
        audit(match, rows: PromQLController.seriesCount(result), detail: query)
        return PromQLController.promQLSuccess(result)
    }

    /// `GET|POST /api/v1/query_range?query=&start=&end=&step=&timeout=`.
    func promQLRangeQuery(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let query = try queryParameter(request)
        for name in ["start", "end", "step"] where (request.queryValue(name) ?? "").isEmpty {
            throw APIError.badParameter(name, "missing parameter \(name)")
        }
        let start = try promQLTime(request, "start", default: 0)
        let end = try promQLTime(request, "end", default: 0)
        guard end >= start else { throw APIError.badParameter("end", "end timestamp must not be before start time") }
        let stepText = request.queryValue("step") ?? ""
        guard let step = PromQLController.promDuration(stepText) else {
            throw APIError.badParameter("step", "cannot parse \"\(stepText)\" to a valid duration")
        }
        guard step > 0 else {
            throw APIError.badParameter("step", "zero or negative query resolution step widths are not accepted. Try a positive integer")
        }
        guard (end - start) / step <= 11_000 else {
            throw APIError(
                status: 400,
                message: "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
                details: [ErrorDetail(field: "step", reason: "at most 11,000 steps between start and end")])
        }
        let deadline = try queryDeadline(request)
        return answer(query, match) { engine throws(PromQLError) in
            try engine.rangeQuery(
                query, start: start, end: end, step: step, extraMatchers: match.principal.scopeMatchers, deadline: deadline)
        }
    }

    /// `GET /api/v1/metadata`: kpid keeps no HELP or TYPE text, so the answer is Prometheus'
    /// success envelope with an empty object (Grafana then shows metric names without help).
    func promQLMetadata(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        if let limit = request.queryValue("limit"), !limit.isEmpty, Int(limit) == nil {
            throw APIError.badParameter("limit", "\"\(limit)\" is not a whole number")
        }
        return .json(200, Array("{\"status\":\"success\",\"data\":{}}\n".utf8))
    }

    /// A time parameter within ±9e12 s of the epoch, so that no time arithmetic overflows.
    func promQLTime(_ request: HTTPRequest, _ name: String, default value: Int64) throws(APIError) -> Int64 {
        let ms = try timeParameter(request, name, default: value)
        guard Double(ms.magnitude) <= PromQL.maxTimeSeconds * 1000 else {
            throw APIError.badParameter(name, "time out of range: at most \(Int64(PromQL.maxTimeSeconds)) seconds from the epoch")
        }
        return ms
    }

    func queryParameter(_ request: HTTPRequest) throws(APIError) -> String {
        guard let query = request.queryValue("query"), !query.isEmpty else {
            throw APIError.badParameter("query", "missing parameter query: a PromQL expression is required")
        }
        return query
    }

    /// A duration as Prometheus' API takes it: float seconds (`15`, `0.5`) or a duration (`1m30s`).
    static func promDuration(_ text: String) -> Int64? {
        if let seconds = Double(text) {
            guard seconds.isFinite, seconds.magnitude < 9e15 else { return nil }
            return Int64((seconds * 1000).rounded())
        }
        return DurationParser.milliseconds(text)
    }

    static func seriesCount(_ value: QueryValue) -> Int {
        switch value {
        case .scalar, .string: return 1
        case .vector(let v): return v.count
        case .matrix(let m): return m.count
        }
    }

    /// Prometheus' error envelope with its status codes (400 bad_data, 422 execution, 503
    /// timeout), plus kpid's `details` naming the field.
    static func promQLErrorResponse(_ error: PromQLError) -> HTTPResponse {
        let status: HTTPStatus
        let type: String
        let message: String
        var position: String? = nil
        switch error {
        case .parse(let e):
            status = 400
            type = "bad_data"
            message = "invalid parameter \"query\": \(e.description)"
            let (line, column) = e.lineAndColumn
            position = "line \(line), column \(column): \(e.message)"
        case .badData(let m):
            status = 400
            type = "bad_data"
            message = m
        case .execution(let m):
            status = 422
            type = "execution"
            message = m
        case .timeout(let m):
            status = 503
            type = "timeout"
            message = m
        }
        var w = JSONWriter()
        w.raw("{\"status\":\"error\",\"errorType\":")
        w.string(type)
        w.raw(",\"error\":")
        w.string(message)
        w.raw(",\"details\":[{\"line\":0,\"field\":\"query\",\"reason\":")
        w.string(position ?? message)
        w.raw("}]}\n")
        return .json(status, w.bytes)
    }

    /// `{"status":"success","data":{"resultType":...,"result":...}}`.
    static func promQLSuccess(_ value: QueryValue) -> HTTPResponse {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(contentsOf: "{\"status\":\"success\",\"data\":{\"resultType\":\"".utf8)
        out.append(contentsOf: value.resultType.utf8)
        out.append(contentsOf: "\",\"result\":".utf8)
        func point(_ t: Int64, _ v: Double) {
            out.append(UInt8(ascii: "["))
            PromQLFormat.appendTimestamp(&out, t)
            out.append(contentsOf: ",\"".utf8)
            PromQLFormat.appendValue(&out, v)
            out.append(contentsOf: "\"]".utf8)
        }
        func metric(_ labels: Labels) {
            var w = JSONWriter(capacity: 64)
            w.object(labels.pairs.map { ($0.name, $0.value) })
            out.append(contentsOf: "{\"metric\":".utf8)
            out.append(contentsOf: w.bytes)
        }
        switch value {
        case .scalar(let t, let v):
            point(t, v)
        case .string(let t, let s):
            out.append(UInt8(ascii: "["))
            PromQLFormat.appendTimestamp(&out, t)
            out.append(UInt8(ascii: ","))
            var w = JSONWriter()
            w.string(s)
            out.append(contentsOf: w.bytes)
            out.append(UInt8(ascii: "]"))
        case .vector(let samples):
            out.append(UInt8(ascii: "["))
            for (i, s) in samples.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                metric(s.labels)
                out.append(contentsOf: ",\"value\":".utf8)
                point(s.timestamp, s.value)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        case .matrix(let series):
            out.append(UInt8(ascii: "["))
            for (i, s) in series.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                metric(s.labels)
                out.append(contentsOf: ",\"values\":[".utf8)
                for k in s.timestamps.indices {
                    if k > 0 { out.append(UInt8(ascii: ",")) }
                    point(s.timestamps[k], s.values[k])
                }
                out.append(contentsOf: "]}".utf8)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: "}}\n".utf8)
        return .json(200, out)
    }
}
