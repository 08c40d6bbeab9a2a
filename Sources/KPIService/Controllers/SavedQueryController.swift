import Foundation
import KPICore
import KPIHTTP
import KPIQuery
import KPIRuntime
import KPIWire

/// Saved queries: `GET /api/v1/queries` lists them, `GET /api/v1/queries/<group>/<name>` runs
/// one with its parameters from the query string.
struct SavedQueryController: Controller {
    let runtime: Runtime
    /// Runs the saved queries.
    let sql: SQLController

    var routes: [Route] {
        [
            Route("/api/v1/queries", [.get], .read, .now { _, _ throws(APIError) in try self.listSavedQueries() }),
            Route(
                "/api/v1/queries/:group/:name", [.get], .read,
                .now { r, m throws(APIError) in try self.runSavedQuery(r, m) }),
        ]
    }

    /// Every saved query under the queries directory, sorted by name. Files are read on each
    /// call, so edits take effect without a restart.
    func savedQueries() throws(APIError) -> [SavedQuery] {
        let root = configuration.queriesDirectory
        let fm = FileManager.default
        guard let groups = try? fm.contentsOfDirectory(atPath: root) else { return [] }
        var out: [SavedQuery] = []
        for group in groups.sorted() where group != "templates" {
            guard let files = try? fm.contentsOfDirectory(atPath: root + "/" + group) else { continue }
            for file in files.sorted() where file.hasSuffix(".sql") {
                let name = group + "/" + String(file.dropLast(4))
                guard let text = try? String(contentsOfFile: root + "/" + group + "/" + file, encoding: .utf8) else { continue }
                do {
                    out.append(try SavedQuery.parse(name: name, text: text))
                } catch {
                    throw APIError(status: 500, message: "saved query \(error.description)")
                }
            }
        }
        return out
    }

    func listSavedQueries() throws(APIError) -> HTTPResponse {
        var w = JSONWriter()
        w.raw("{\"queries\":[")
        for (i, q) in try savedQueries().enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"name\":")
            w.string(q.name)
            w.raw(",\"title\":")
            w.string(q.title)
            w.raw(",\"description\":")
            w.string(q.description)
            w.raw(",\"params\":[")
            for (k, p) in q.parameters.enumerated() {
                if k > 0 { w.raw(",") }
                w.raw("{\"name\":")
                w.string(p.name)
                w.raw(",\"type\":")
                w.string(p.kind.rawValue)
                w.raw(",\"required\":\(p.defaultValue == nil)")
                if let d = p.defaultValue {
                    w.raw(",\"default\":")
                    w.string(d)
                }
                w.raw(",\"description\":")
                w.string(p.description)
                w.raw("}")
            }
            w.raw("],\"sql\":")
            w.string(q.sql)
            w.raw("}")
        }
        w.raw("]}\n")
        return .json(200, w.bytes)
    }

    func runSavedQuery(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let name = (match.parameters["group"] ?? "") + "/" + (match.parameters["name"] ?? "")
        guard let query = try savedQueries().first(where: { $0.name == name }) else {
            throw APIError(status: 404, message: "no saved query \(name)")
        }
        var arguments: [String: String] = [:]
        for (key, value) in request.query where arguments[key] == nil { arguments[key] = value }
        let nowMs = configuration.clock.nowMilliseconds()
        let parameters: [String: Value]
        do {
            parameters = try query.bind(arguments, now: nowMs) { TimestampParser.parseAPITime($0) }
        } catch {
            let parameter = query.parameters.first { error.reason.hasPrefix("parameter \($0.name)") }?.name ?? "params"
            throw APIError.badParameter(parameter, error.reason)
        }
        var forwarded = request
        forwarded.method = .get
        forwarded.query = [(name: "query", value: query.sql)] + request.query.filter { ["format", "tz", "timeout"].contains($0.name) }
        return try sql.sql(forwarded, match, parameters: parameters)
    }
}
