/// Parses a Prometheus-style series selector into label matchers:
/// `metric`, `metric{a="b",c!~"x.*"}`, `{__name__=~"queue_.*",site="JFK"}`.
///
/// String values may use double quotes, single quotes or backticks (raw, no escapes), with the
/// escapes of Go string literals (`\\`, `\"`, `\'`, `\n`, `\t`, `\uXXXX`).
public enum SeriesSelector {
    public static func parse(_ text: String) throws(SelectorError) -> [LabelMatcher] {
        var parser = Parser(Array(text.unicodeScalars))
        return try parser.parse()
    }

    private struct Parser {
        let s: [Unicode.Scalar]
        var i = 0

        init(_ s: [Unicode.Scalar]) { self.s = s }

        mutating func skipSpace() {
            while i < s.count, s[i] == " " || s[i] == "\t" || s[i] == "\n" || s[i] == "\r" { i += 1 }
        }

        func error(_ message: String) -> SelectorError { SelectorError(message: message, offset: i) }

        static func isNameStart(_ c: Unicode.Scalar, colon: Bool) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" || (colon && c == ":")
        }

        mutating func identifier(colon: Bool) -> String? {
            guard i < s.count, Parser.isNameStart(s[i], colon: colon) else { return nil }
            var out = String.UnicodeScalarView()
            while i < s.count, Parser.isNameStart(s[i], colon: colon) || (s[i] >= "0" && s[i] <= "9") {
                out.append(s[i])
                i += 1
            }
            return String(out)
        }

        mutating func parse() throws(SelectorError) -> [LabelMatcher] {
            var matchers: [LabelMatcher] = []
            skipSpace()
            if let metric = identifier(colon: true) {
                matchers.append(try LabelMatcher(Labels.metricNameLabel, .equal, metric))
            }
            skipSpace()
            if i < s.count, s[i] == "{" {
                i += 1
                while true {
                    skipSpace()
                    if i < s.count, s[i] == "}" { i += 1; break }
                    let start = i
                    guard let name = identifier(colon: false) else { throw error("expected a label name") }
                    skipSpace()
                    let op: LabelMatcher.Operator
                    if match("=~") {
                        op = .regexMatch
                    } else if match("!~") {
                        op = .regexNoMatch
                    } else if match("!=") {
                        op = .notEqual
                    } else if match("=") {
                        op = .equal
                    } else {
                        throw error("expected one of =, !=, =~, !~ after label \(name)")
                    }
                    skipSpace()
                    let value = try string()
                    do {
                        matchers.append(try LabelMatcher(name, op, value))
                    } catch {
                        throw SelectorError(message: error.message, offset: start)
                    }
                    skipSpace()
                    if i < s.count, s[i] == "," { i += 1; continue }
                    if i < s.count, s[i] == "}" { i += 1; break }
                    throw error("expected , or } in label matchers")
                }
            }
            skipSpace()
            if i < s.count { throw error("unexpected character \"\(s[i])\"") }
            if matchers.isEmpty { throw SelectorError(message: "empty selector", offset: 0) }
            return matchers
        }

        mutating func match(_ token: String) -> Bool {
            let scalars = Array(token.unicodeScalars)
            guard i + scalars.count <= s.count, Array(s[i..<i + scalars.count]) == scalars else { return false }
            i += scalars.count
            return true
        }

        mutating func string() throws(SelectorError) -> String {
            guard i < s.count, s[i] == "\"" || s[i] == "'" || s[i] == "`" else {
                throw error("expected a quoted label value")
            }
            let quote = s[i]
            i += 1
            var out = String.UnicodeScalarView()
            while i < s.count {
                let c = s[i]
                if c == quote {
                    i += 1
                    return String(out)
                }
                if c == "\\" && quote != "`" {
                    i += 1
                    guard i < s.count else { break }
                    switch s[i] {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "r": out.append("\r")
                    case "\\": out.append("\\")
                    case "\"": out.append("\"")
                    case "'": out.append("'")
                    case "u":
                        guard i + 4 < s.count,
                            let code = UInt32(String(String.UnicodeScalarView(s[(i + 1)...(i + 4)])), radix: 16),
                            let scalar = Unicode.Scalar(code)
                        else { throw error("invalid \\u escape") }
                        out.append(scalar)
                        i += 4
                    default:
                        throw error("unknown escape \\\(s[i])")
                    }
                    i += 1
                    continue
                }
                out.append(c)
                i += 1
            }
            throw error("unterminated string")
        }
    }
}
