import ArgumentParser
import Foundation
import KPIQuery

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `kpid query "<sql>"`: runs a query on a running kpid and prints the answer.
struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a SQL query on a running kpid and print the answer (an aligned table by default).",
        discussion: """
            Examples:
              kpid query "SELECT zone, avg(value) AS avg_wait FROM queue_wait_seconds GROUP BY zone"
              kpid query --param site=JFK --format csv "SELECT * FROM device_up WHERE site = :site"
            """)

    @Argument(help: "The query (SELECT ... or EXPLAIN SELECT ...); '-' reads it from standard input.") var sql: String
    @Option(help: "table, csv or json.") var format = "table"
    @Option(name: .customLong("param"), help: "A named parameter, name=value (repeatable); numbers are sent as numbers.")
    var parameters: [String] = []
    @Option(help: "Time zone for date_trunc/date_part (IANA name; default: the server's).") var tz: String?
    @Option(help: "Server URL.") var url = ProcessInfo.processInfo.environment["KPID_URL"] ?? "http://127.0.0.1:9464"
    @Option(help: "API token (default: $KPID_TOKEN).") var token: String?

    func validate() throws {
        guard ["table", "csv", "json"].contains(format) else { throw ValidationError("--format must be table, csv or json") }
        for p in parameters where !p.contains("=") { throw ValidationError("--param \(p): expected name=value") }
    }

    func run() throws {
        let text = sql == "-" ? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) : sql
        var params: [String: Any] = [:]
        for p in parameters {
            let (name, value) = (String(p.prefix { $0 != "=" }), String(p.drop { $0 != "=" }.dropFirst()))
            params[name] = Int64(value).map { $0 as Any } ?? Double(value).map { $0 as Any } ?? value
        }
        var body: [String: Any] = ["query": text, "params": params]
        if let tz { body["tz"] = tz }
        var request = URLRequest(url: URL(string: url + "/api/v1/sql" + (format == "csv" ? "?format=csv" : ""))!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token = token ?? ProcessInfo.processInfo.environment["KPID_TOKEN"] {
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (status, data) = try httpCall(request)
        guard status == 200 else {
            FileHandle.standardError.write(Data(Self.describeError(status: status, body: data, query: text).utf8))
            throw ExitCode(1)
        }
        if format != "table" {
            FileHandle.standardOutput.write(data)
            return
        }
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let columns = json["columns"] as? [[String: Any]], let rows = json["rows"] as? [[Any]]
        else {
            throw ValidationError("the server's answer is not a query result")
        }
        print(
            Self.table(names: columns.map { $0["name"] as? String ?? "" }, types: columns.map { $0["type"] as? String ?? "" }, rows: rows),
            terminator: "")
        let stats = json["stats"] as? [String: Any] ?? [:]
        var footer = "(\(rows.count) row\(rows.count == 1 ? "" : "s")"
        if let ms = stats["elapsed_ms"] as? Double { footer += String(format: ", %.1f ms", ms) }
        if let samples = stats["samples_scanned"] as? Int { footer += ", \(samples) samples scanned" }
        FileHandle.standardError.write(Data((footer + ")\n").utf8))
        for warning in json["warnings"] as? [String] ?? [] {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
    }

    /// The error message, the query line with a caret under the position, and the hint.
    static func describeError(status: Int, body: Data, query: String) -> String {
        guard let json = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let message = json["error"] as? String else {
            return "HTTP \(status): \(String(decoding: body, as: UTF8.self))\n"
        }
        var out = "error: \(message)\n"
        if let position = json["position"] as? [String: Int], let line = position["line"], let column = position["column"] {
            let error = QueryError(message: message, position: SourcePosition(line: line, column: column, offset: 0))
            out += error.caretDiagram(source: query) + "\n"
        }
        if let hint = json["hint"] as? String { out += "hint: \(hint)\n" }
        return out
    }

    /// Columns padded to their widest cell; numbers right-aligned; NULL printed as NULL.
    static func table(names: [String], types: [String], rows: [[Any]]) -> String {
        let cells: [[String]] = rows.map { row in
            row.map { cell in
                switch cell {
                case is NSNull: return "NULL"
                case let n as NSNumber: return n.stringValue
                default: return "\(cell)"
                }
            }
        }
        var widths = names.map(\.count)
        for row in cells { for (i, c) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        let numeric = types.map { ["integer", "double", "interval"].contains($0) }
        func line(_ values: [String]) -> String {
            values.enumerated().map { i, v in
                let pad = String(repeating: " ", count: widths[i] - v.count)
                return numeric[i] ? pad + v : v + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        }
        var out = line(names)
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for row in cells { out += line(row) }
        return out
    }
}
