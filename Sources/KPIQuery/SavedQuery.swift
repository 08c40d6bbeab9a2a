/// A saved analyst query: a `.sql` file under `Queries/<group>/` whose leading `--` comment
/// lines describe it.
///
///     -- title: Worst queue per checkpoint, hour by hour
///     -- description: p95 and worst wait per checkpoint per hour over the range.
///     -- param: site string required: the site id, e.g. JFK
///     -- param: from timestamp default -7d: start of the range
///     -- param: to timestamp default now: end of the range
///     -- example: site=JFK
///     SELECT ... WHERE site = :site AND ts >= :from AND ts < :to ...
///
/// Parameter types are `string`, `number` and `timestamp`. A timestamp default is `now` or a
/// duration back from now (`-7d`, `-24h`); other defaults are literal text.
public struct SavedQuery: Sendable, Equatable {
    public struct Parameter: Sendable, Equatable {
        public enum Kind: String, Sendable, Equatable, CaseIterable {
            case string, number, timestamp
        }

        public var name: String
        public var kind: Kind
        /// nil when the parameter is required.
        public var defaultValue: String?
        public var description: String
    }

    /// `<group>/<file name without .sql>`, e.g. `airport/worst_queue_by_checkpoint`.
    public var name: String
    public var title: String
    public var description: String
    public var parameters: [Parameter]
    /// Parameter values to try it with (the fixtures' site), from `-- example:`.
    public var example: [String: String]
    public var sql: String

    /// What is wrong with a saved query file: the file, its line and the reason.
    public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var reason: String
        public var description: String { "\(file):\(line): \(reason)" }

        public init(file: String, line: Int, reason: String) {
            self.file = file
            self.line = line
            self.reason = reason
        }
    }

    /// Parses the header and checks the query parses and names only declared parameters.
    public static func parse(name: String, text: String) throws(FormatError) -> SavedQuery {
        var query = SavedQuery(name: name, title: "", description: "", parameters: [], example: [:], sql: "")
        var bodyLines: [Substring] = []
        var inHeader = true
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard inHeader, trimmed.hasPrefix("--") else {
                if !trimmed.isEmpty || !bodyLines.isEmpty { inHeader = false }
                if !inHeader { bodyLines.append(line) }
                continue
            }
            let content = trimmed.dropFirst(2).trimmingCharacters(in: .whitespaces)
            guard let colon = content.firstIndex(of: ":") else { continue }
            let key = content[..<colon].lowercased()
            let value = content[content.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch key {
            case "title": query.title = value
            case "description": query.description += (query.description.isEmpty ? "" : " ") + value
            case "example":
                for pair in value.split(separator: " ") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    guard parts.count == 2 else {
                        throw FormatError(file: name, line: n + 1, reason: "example must be name=value pairs")
                    }
                    query.example[String(parts[0])] = String(parts[1])
                }
            case "param":
                query.parameters.append(try parameter(value, file: name, line: n + 1))
            default:
                continue
            }
        }
        query.sql = bodyLines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !query.title.isEmpty else { throw FormatError(file: name, line: 1, reason: "missing \"-- title: ...\" line") }
        guard !query.sql.isEmpty else { throw FormatError(file: name, line: 1, reason: "no query after the header") }
        do {
            _ = try QueryParser.parse(query.sql)
        } catch {
            let headerLines = text.split(separator: "\n", omittingEmptySubsequences: false).count - bodyLines.count
            throw FormatError(file: name, line: headerLines + error.position.line, reason: error.message)
        }
        let declared = Set(query.parameters.map(\.name))
        for used in Self.parameterNames(in: query.sql) where !declared.contains(used) {
            throw FormatError(file: name, line: 1, reason: "the query uses :\(used), which no \"-- param:\" line declares")
        }
        return query
    }

    /// `site string required: the site id` or `from timestamp default -7d: start of the range`.
    private static func parameter(_ text: String, file: String, line: Int) throws(FormatError) -> Parameter {
        let (spec, doc) =
            text.firstIndex(of: ":").map { (String(text[..<$0]), String(text[text.index(after: $0)...])) } ?? (text, "")
        let words = spec.split(separator: " ").map(String.init)
        guard words.count >= 3, let kind = Parameter.Kind(rawValue: words[1]) else {
            throw FormatError(
                file: file, line: line,
                reason: "expected \"param: <name> <string|number|timestamp> required|default <value>: <description>\"")
        }
        var defaultValue: String? = nil
        switch words[2] {
        case "required" where words.count == 3: break
        case "default" where words.count == 4: defaultValue = words[3]
        default:
            throw FormatError(file: file, line: line, reason: "parameter \(words[0]): say \"required\" or \"default <value>\"")
        }
        return Parameter(
            name: words[0], kind: kind, defaultValue: defaultValue, description: doc.trimmingCharacters(in: .whitespaces))
    }

    /// The `:name` parameters a query uses.
    public static func parameterNames(in sql: String) -> Set<String> {
        guard let tokens = try? Lexer.tokenize(sql) else { return [] }
        var out = Set<String>()
        for token in tokens { if case .parameter(let name) = token.kind { out.insert(name) } }
        return out
    }

    /// Typed values for the query from request arguments (missing ones take their default).
    /// `parseTime` reads an RFC 3339 time or unix seconds; `now` is Unix ms.
    public func bind(_ arguments: [String: String], now: Int64, parseTime: (String) -> Int64?) throws(FormatError)
        -> [String: Value]
    {
        var out: [String: Value] = [:]
        for p in parameters {
            guard let text = arguments[p.name] ?? p.defaultValue else {
                throw FormatError(file: name, line: 0, reason: "parameter \(p.name) is required: \(p.description)")
            }
            switch p.kind {
            case .string:
                out[p.name] = .string(text)
            case .number:
                guard let d = Double(text) else {
                    throw FormatError(file: name, line: 0, reason: "parameter \(p.name): \"\(text)\" is not a number")
                }
                out[p.name] = d == d.rounded() && abs(d) < 1e15 ? .int(Int64(d)) : .double(d)
            case .timestamp:
                if text == "now" {
                    out[p.name] = .timestamp(now)
                } else if text.hasPrefix("-"), let ms = try? IntervalLiteral.milliseconds(String(text.dropFirst())) {
                    out[p.name] = .timestamp(now - ms)
                } else if let t = parseTime(text) {
                    out[p.name] = .timestamp(t)
                } else {
                    throw FormatError(
                        file: name, line: 0,
                        reason: "parameter \(p.name): \"\(text)\" is not an RFC 3339 time, unix seconds, now, or -<duration>")
                }
            }
        }
        return out
    }
}
