import Foundation

/// Why a label or annotation template was refused: what, and where in the text (0-based
/// character offset).
public struct AlertTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var description: String { "at character \(offset + 1): \(message)" }
}

/// A label or annotation template of an alerting rule, in the subset of Go's `text/template`
/// that Prometheus rule files use: `{{ $labels.site }}`, `{{ $value }}`, `{{ .Labels.site }}`,
/// `{{ .Value }}`, `{{ $externalURL }}`, pipelines (`{{ $value | humanize }}`), parentheses,
/// string and number literals, `{{- ... -}}` trimming, comments `{{/* ... */}}`, and the
/// functions `humanize`, `humanize1024`, `humanizeDuration`, `humanizePercentage`,
/// `humanizeTimestamp`, `printf`, `toUpper`, `toLower`, `title`. Control structures (`if`,
/// `range`, `with`, variables) and `query` are refused at load time with that reason.
public struct AlertTemplate: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case text(String)
        case action(Pipeline)
    }

    indirect enum Operand: Sendable, Equatable {
        case variable(String, fields: [String])  // $labels.site → ("labels", ["site"]); $ → ("", [])
        case dot(fields: [String])  // .Labels.site
        case string(String)
        case number(Double)
        case pipeline(Pipeline)
        case function(String)
    }

    struct Command: Sendable, Equatable {
        var operands: [Operand]
    }

    struct Pipeline: Sendable, Equatable {
        var commands: [Command]
    }

    /// The data a template is expanded with.
    public struct Data: Sendable {
        public var labels: [String: String]
        public var value: Double
        public var externalLabels: [String: String]
        public var externalURL: String

        public init(labels: [String: String], value: Double, externalLabels: [String: String] = [:], externalURL: String = "") {
            self.labels = labels
            self.value = value
            self.externalLabels = externalLabels
            self.externalURL = externalURL
        }
    }

    public static let functions: Set<String> = [
        "humanize", "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp", "printf", "toUpper",
        "toLower", "title",
    ]

    let parts: [Part]
    /// The template's text as written.
    public let source: String

    /// Parses `text`; throws where it is not in the supported subset.
    public init(_ text: String) throws(AlertTemplateError) {
        source = text
        parts = try Self.parse(Array(text))
    }

    /// Whether the text has no action (a plain string).
    public var isPlain: Bool { parts.allSatisfy { if case .text = $0 { true } else { false } } }

    // MARK: Parsing

    private static func parse(_ c: [Character]) throws(AlertTemplateError) -> [Part] {
        var parts: [Part] = []
        var text = ""
        var i = 0
        while i < c.count {
            if c[i] == "{" && i + 1 < c.count && c[i + 1] == "{" {
                let open = i
                var j = i + 2
                var trimLeft = false
                if j + 1 < c.count && c[j] == "-" && c[j + 1] == " " {
                    trimLeft = true
                    j += 1
                }
                // Find the closing braces outside string literals.
                var k = j
                var quote: Character? = nil
                var end = -1
                while k < c.count {
                    if let q = quote {
                        if c[k] == "\\" && q == "\"" {
                            k += 2
                            continue
                        }
                        if c[k] == q { quote = nil }
                    } else if c[k] == "\"" || c[k] == "`" {
                        quote = c[k]
                    } else if c[k] == "}" && k + 1 < c.count && c[k + 1] == "}" {
                        end = k
                        break
                    }
                    k += 1
                }
                guard end >= 0 else { throw AlertTemplateError(message: "unclosed action: {{ without }}", offset: open) }
                var bodyEnd = end
                var trimRight = false
                if bodyEnd - 1 >= j && c[bodyEnd - 1] == "-" && bodyEnd - 2 >= j && c[bodyEnd - 2] == " " {
                    trimRight = true
                    bodyEnd -= 1
                }
                if trimLeft { while let last = text.last, last.isWhitespace { text.removeLast() } }
                if !text.isEmpty { parts.append(.text(text)) }
                text = ""
                let body = String(c[j..<bodyEnd]).trimmingCharacters(in: .whitespaces)
                if !(body.hasPrefix("/*") && body.hasSuffix("*/")) {
                    var parser = ActionParser(chars: Array(body), base: j)
                    let pipeline = try parser.pipeline()
                    parser.skipSpaces()
                    guard parser.at >= parser.chars.count else {
                        throw AlertTemplateError(message: "unexpected \"\(parser.chars[parser.at])\" in action", offset: j + parser.at)
                    }
                    parts.append(.action(pipeline))
                }
                i = end + 2
                if trimRight { while i < c.count && c[i].isWhitespace { i += 1 } }
                continue
            }
            text.append(c[i])
            i += 1
        }
        if !text.isEmpty { parts.append(.text(text)) }
        return parts
    }

    private struct ActionParser {
        let chars: [Character]
        let base: Int
        var at = 0

        init(chars: [Character], base: Int) {
            self.chars = chars
            self.base = base
        }

        mutating func skipSpaces() { while at < chars.count && chars[at].isWhitespace { at += 1 } }

        func fail(_ message: String) -> AlertTemplateError { AlertTemplateError(message: message, offset: base + at) }

        mutating func pipeline() throws(AlertTemplateError) -> Pipeline {
            var commands: [Command] = []
            while true {
                commands.append(try command())
                skipSpaces()
                if at < chars.count && chars[at] == "|" {
                    at += 1
                    continue
                }
                return Pipeline(commands: commands)
            }
        }

        mutating func command() throws(AlertTemplateError) -> Command {
            var operands: [Operand] = []
            while true {
                skipSpaces()
                guard at < chars.count, chars[at] != "|", chars[at] != ")" else { break }
                operands.append(try operand())
            }
            guard !operands.isEmpty else { throw fail("missing value in action") }
            if operands.count > 1, case .function = operands[0] {
            } else if operands.count > 1 {
                throw fail("only a function takes arguments")
            }
            return Command(operands: operands)
        }

        mutating func fields() -> [String] {
            var out: [String] = []
            while at < chars.count && chars[at] == "." {
                at += 1
                out.append(identifier())
            }
            return out
        }

        mutating func identifier() -> String {
            var s = ""
            while at < chars.count && (chars[at].isLetter || chars[at].isNumber || chars[at] == "_") {
                s.append(chars[at])
                at += 1
            }
            return s
        }

        mutating func operand() throws(AlertTemplateError) -> Operand {
            let c = chars[at]
            switch c {
            case "$":
                at += 1
                let name = identifier()
                skipSpaces()
                if at + 1 < chars.count && chars[at] == ":" && chars[at + 1] == "=" {
                    throw fail("variables ($\(name) := ...) are not supported; use $labels, $value, $externalLabels, $externalURL")
                }
                guard ["", "labels", "value", "externalLabels", "externalURL"].contains(name) else {
                    throw fail("undefined variable \"$\(name)\"")
                }
                return .variable(name, fields: fields())
            case ".":
                if at + 1 < chars.count && !chars[at + 1].isLetter { at += 1; return .dot(fields: []) }
                if at + 1 >= chars.count { at += 1; return .dot(fields: []) }
                let f = fields()
                guard let first = f.first, ["Labels", "Value", "ExternalLabels", "ExternalURL"].contains(first) else {
                    throw fail("unknown field .\(f.first ?? ""); the data has .Labels, .Value, .ExternalLabels, .ExternalURL")
                }
                return .dot(fields: f)
            case "\"", "`":
                return .string(try stringLiteral())
            case "(":
                at += 1
                let p = try pipeline()
                skipSpaces()
                guard at < chars.count && chars[at] == ")" else { throw fail("unclosed parenthesis") }
                at += 1
                return .pipeline(p)
            default:
                if c.isNumber || c == "-" || c == "+" {
                    var s = ""
                    while at < chars.count && (chars[at].isNumber || "+-.eExX_abcdefABCDEF".contains(chars[at])) {
                        s.append(chars[at])
                        at += 1
                    }
                    guard let v = Double(s.replacingOccurrences(of: "_", with: "")) else { throw fail("bad number \(s)") }
                    return .number(v)
                }
                let name = identifier()
                guard !name.isEmpty else { throw fail("unexpected \"\(c)\" in action") }
                switch name {
                case "if", "else", "end", "range", "with", "define", "template", "block":
                    throw fail("\"\(name)\" is not supported in kpid's alert templates (values and functions only)")
                case "query":
                    throw fail("the query function is not supported in kpid's alert templates")
                default:
                    guard AlertTemplate.functions.contains(name) else {
                        throw fail(
                            "function \"\(name)\" not defined; kpid has \(AlertTemplate.functions.sorted().joined(separator: ", "))")
                    }
                    return .function(name)
                }
            }
        }

        mutating func stringLiteral() throws(AlertTemplateError) -> String {
            let q = chars[at]
            at += 1
            var s = ""
            while at < chars.count {
                let c = chars[at]
                if c == q {
                    at += 1
                    return s
                }
                if q == "\"" && c == "\\" && at + 1 < chars.count {
                    at += 1
                    switch chars[at] {
                    case "n": s.append("\n")
                    case "t": s.append("\t")
                    case "\\": s.append("\\")
                    case "\"": s.append("\"")
                    default: throw fail("unknown escape \\\(chars[at])")
                    }
                    at += 1
                    continue
                }
                s.append(c)
                at += 1
            }
            throw fail("unterminated string")
        }
    }

    // MARK: Expansion

    enum TValue {
        case string(String)
        case number(Double)
        case map([String: String])

        var text: String {
            switch self {
            case .string(let s): return s
            case .number(let v): return GoFormat.float(v)
            case .map(let m): return "map[" + m.keys.sorted().map { "\($0):\(m[$0]!)" }.joined(separator: " ") + "]"
            }
        }

        func number() throws(AlertTemplateError) -> Double {
            switch self {
            case .number(let v): return v
            case .string(let s):
                guard let v = Double(s.trimmingCharacters(in: .whitespaces)) else {
                    throw AlertTemplateError(message: "\"\(s)\" is not a number", offset: 0)
                }
                return v
            case .map: throw AlertTemplateError(message: "a map is not a number", offset: 0)
            }
        }
    }

    /// The expanded text; an error (a function given a bad argument) is returned as
    /// Prometheus does, as the text `<error expanding template: ...>`.
    public func expand(_ data: Data) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .text(let s): out += s
            case .action(let p):
                do throws(AlertTemplateError) {
                    out += try run(p, data).text
                } catch {
                    return "<error expanding template: \(error.message)>"
                }
            }
        }
        return out
    }

    private func run(_ p: Pipeline, _ data: Data) throws(AlertTemplateError) -> TValue {
        var previous: TValue? = nil
        for command in p.commands {
            previous = try run(command, data, piped: previous)
        }
        return previous ?? .string("")
    }

    private func run(_ c: Command, _ data: Data, piped: TValue?) throws(AlertTemplateError) -> TValue {
        guard case .function(let name) = c.operands[0] else {
            guard piped == nil else { throw AlertTemplateError(message: "only a function can take a piped value", offset: 0) }
            return try value(c.operands[0], data)
        }
        var args: [TValue] = []
        for o in c.operands.dropFirst() { args.append(try value(o, data)) }
        if let piped { args.append(piped) }
        return try call(name, args)
    }

    private func value(_ o: Operand, _ data: Data) throws(AlertTemplateError) -> TValue {
        func field(_ base: TValue, _ rest: ArraySlice<String>) -> TValue {
            guard let key = rest.first else { return base }
            if case .map(let m) = base { return .string(m[key] ?? "") }
            return .string("")
        }
        switch o {
        case .string(let s): return .string(s)
        case .number(let v): return .number(v)
        case .pipeline(let p): return try run(p, data)
        case .function(let name): return try call(name, [])
        case .variable(let name, let fields):
            switch name {
            case "labels": return field(.map(data.labels), fields[...])
            case "externalLabels": return field(.map(data.externalLabels), fields[...])
            case "value": return .number(data.value)
            case "externalURL": return .string(data.externalURL)
            default: return try value(.dot(fields: fields), data)
            }
        case .dot(let fields):
            guard let first = fields.first else { return .map(data.labels) }
            switch first {
            case "Labels": return field(.map(data.labels), fields.dropFirst())
            case "ExternalLabels": return field(.map(data.externalLabels), fields.dropFirst())
            case "Value": return .number(data.value)
            default: return .string(data.externalURL)
            }
        }
    }

    private func call(_ name: String, _ args: [TValue]) throws(AlertTemplateError) -> TValue {
        func one() throws(AlertTemplateError) -> TValue {
            guard args.count == 1 else {
                throw AlertTemplateError(message: "\(name) takes 1 argument, got \(args.count)", offset: 0)
            }
            return args[0]
        }
        switch name {
        case "humanize": return .string(GoFormat.humanize(try one().number()))
        case "humanize1024": return .string(GoFormat.humanize1024(try one().number()))
        case "humanizeDuration": return .string(GoFormat.humanizeDuration(try one().number()))
        case "humanizePercentage": return .string(GoFormat.humanizePercentage(try one().number()))
        case "humanizeTimestamp": return .string(GoFormat.humanizeTimestamp(try one().number()))
        case "toUpper": return .string(try one().text.uppercased())
        case "toLower": return .string(try one().text.lowercased())
        case "title": return .string(Self.title(try one().text))
        default:
            guard let format = args.first else { throw AlertTemplateError(message: "printf needs a format", offset: 0) }
            return .string(Self.printf(format.text, Array(args.dropFirst())))
        }
    }

    /// `text` padded with spaces to the width of a `%-5s`-style `spec` (left-aligned with `-`),
    /// cut to its precision (`%.3s`).
    static func pad(_ text: String, _ spec: String) -> String {
        var body = Substring(spec.dropFirst())
        let left = body.contains("-")
        body = body.drop { "+-# 0".contains($0) }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        var value = text
        if parts.count > 1, let precision = Int(parts[1]) { value = String(value.prefix(precision)) }
        let width = parts.first.flatMap { Int($0) } ?? 0
        let padding = String(repeating: " ", count: max(0, width - value.count))
        return left ? value + padding : padding + value
    }

    /// Go's `strings.Title`: the first letter of each word upper-cased, the rest left as it is
    /// (`JFK` stays `JFK`; `jfk t4` becomes `Jfk T4`).
    static func title(_ text: String) -> String {
        var out = ""
        var atWordStart = true
        for c in text {
            out += atWordStart ? c.uppercased() : String(c)
            atWordStart = !(c.isLetter || c.isNumber || c == "_" || c == "'")
        }
        return out
    }

    /// Go's `fmt.Sprintf` for the verbs templates use: `%s %v %d %f %e %g %q %x %%`, with
    /// flags, width and precision.
    static func printf(_ format: String, _ args: [TValue]) -> String {
        var out = ""
        var next = 0
        let c = Array(format)
        var i = 0
        while i < c.count {
            guard c[i] == "%" else {
                out.append(c[i])
                i += 1
                continue
            }
            var spec = "%"
            i += 1
            var digits = 0
            while i < c.count && "+-# 0123456789.".contains(c[i]) {
                // Width and precision of at most three digits each: no 10⁹-character padding.
                if c[i].isNumber {
                    digits += 1
                    if digits > 3 {
                        i += 1
                        continue
                    }
                } else {
                    digits = 0
                }
                spec.append(c[i])
                i += 1
            }
            guard i < c.count else {
                out += "%!(NOVERB)"
                break
            }
            let verb = c[i]
            i += 1
            if verb == "%" {
                out += "%"
                continue
            }
            guard next < args.count else {
                out += "%!\(verb)(MISSING)"
                continue
            }
            let arg = args[next]
            next += 1
            switch verb {
            case "s", "v":
                out += Self.pad(arg.text, spec)
            case "q":
                let quoted = arg.text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                out += Self.pad("\"" + quoted + "\"", spec)
            case "d", "x", "X":
                if let v = try? arg.number(), v.rounded() == v, abs(v) < 9.2e18 {
                    out += String(format: spec + "ll" + String(verb), Int64(v))
                } else {
                    out += "%!\(verb)(\(arg.text))"
                }
            case "f", "F", "e", "E", "g", "G":
                if let v = try? arg.number() {
                    out += String(format: spec + String(verb), v)
                } else {
                    out += "%!\(verb)(string=\(arg.text))"
                }
            default:
                out += "%!\(verb)(\(arg.text))"
            }
        }
        if next < args.count { out += "%!(EXTRA " + args[next...].map(\.text).joined(separator: ", ") + ")" }
        return out
    }
}
