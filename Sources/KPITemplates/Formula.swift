/// A formula over other KPIs: numbers, KPI ids, `+ - * /`, unary minus and parentheses, e.g.
/// `conversions / footfall * 100`. Division by zero, or any missing input, gives no value.
public indirect enum Formula: Sendable, Equatable, CustomStringConvertible {
    case number(Double)
    case kpi(String)
    case negate(Formula)
    case binary(Character, Formula, Formula)

    /// Parses `text`; the error says what was expected and at which character (1-based).
    public static func parse(_ text: String) throws(FormulaError) -> Formula {
        var parser = FormulaParser(Array(text.unicodeScalars))
        let formula = try parser.expression()
        parser.skipSpace()
        guard parser.position == parser.chars.count else {
            throw FormulaError(
                column: parser.position + 1, reason: "unexpected \"\(parser.chars[parser.position])\"")
        }
        return formula
    }

    /// The KPI ids the formula reads.
    public var references: Set<String> {
        switch self {
        case .number: return []
        case .kpi(let id): return [id]
        case .negate(let f): return f.references
        case .binary(_, let l, let r): return l.references.union(r.references)
        }
    }

    /// The value with `lookup` giving each KPI's value; nil when an input is missing, or on
    /// division by zero, or when the result is not finite.
    public func evaluate(_ lookup: (String) -> Double?) -> Double? {
        let result: Double?
        switch self {
        case .number(let n): result = n
        case .kpi(let id): result = lookup(id)
        case .negate(let f): result = f.evaluate(lookup).map { -$0 }
        case .binary(let op, let l, let r):
            guard let a = l.evaluate(lookup), let b = r.evaluate(lookup) else { return nil }
            switch op {
            case "+": result = a + b
            case "-": result = a - b
            case "*": result = a * b
            default: result = b == 0 ? nil : a / b
            }
        }
        guard let result, result.isFinite else { return nil }
        return result
    }

    /// The formula with only the parentheses its precedence needs (`a / b * 100`, `a / (b + c)`).
    public var description: String { text(parent: 0, right: false) }

    private func text(parent: Int, right: Bool) -> String {
        switch self {
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .kpi(let id): return id
        case .negate(let f): return "-" + f.text(parent: 3, right: false)
        case .binary(let op, let l, let r):
            let precedence = op == "+" || op == "-" ? 1 : 2
            let inner = l.text(parent: precedence, right: false) + " \(op) " + r.text(parent: precedence, right: true)
            // Operators group to the left: a right operand of equal precedence keeps its parentheses.
            return precedence < parent || (precedence == parent && right) ? "(" + inner + ")" : inner
        }
    }
}

/// Why a formula does not parse.
public struct FormulaError: Error, Sendable, Equatable {
    /// 1-based character position.
    public var column: Int
    public var reason: String
}

private struct FormulaParser {
    let chars: [Unicode.Scalar]
    var position = 0

    init(_ chars: [Unicode.Scalar]) { self.chars = chars }

    mutating func skipSpace() {
        while position < chars.count
            && (chars[position] == " " || chars[position] == "\t" || chars[position] == "\n")
        {
            position += 1
        }
    }

    mutating func peek() -> Unicode.Scalar? {
        skipSpace()
        return position < chars.count ? chars[position] : nil
    }

    // expression := term (('+' | '-') term)*
    mutating func expression() throws(FormulaError) -> Formula {
        var left = try term()
        while let c = peek(), c == "+" || c == "-" {
            position += 1
            left = .binary(Character(c), left, try term())
        }
        return left
    }

    // term := factor (('*' | '/') factor)*
    mutating func term() throws(FormulaError) -> Formula {
        var left = try factor()
        while let c = peek(), c == "*" || c == "/" {
            position += 1
            left = .binary(Character(c), left, try factor())
        }
        return left
    }

    // factor := number | id | '-' factor | '(' expression ')'
    mutating func factor() throws(FormulaError) -> Formula {
        guard let c = peek() else {
            throw FormulaError(
                column: position + 1, reason: "expected a number, a KPI id or \"(\" but the formula ended")
        }
        if c == "-" {
            position += 1
            return .negate(try factor())
        }
        if c == "(" {
            position += 1
            let inner = try expression()
            guard peek() == ")" else {
                throw FormulaError(column: position + 1, reason: "expected \")\"")
            }
            position += 1
            return inner
        }
        let start = position
        if ("0"..."9").contains(c) || c == "." {
            while position < chars.count
                && (("0"..."9").contains(chars[position]) || chars[position] == ".")
            { position += 1 }
            let text = String(String.UnicodeScalarView(chars[start..<position]))
            guard let n = Double(text) else {
                throw FormulaError(column: start + 1, reason: "\"\(text)\" is not a number")
            }
            return .number(n)
        }
        if isIdentifierStart(c) {
            while position < chars.count
                && (isIdentifierStart(chars[position]) || ("0"..."9").contains(chars[position]))
            {
                position += 1
            }
            return .kpi(String(String.UnicodeScalarView(chars[start..<position])))
        }
        throw FormulaError(
            column: position + 1,
            reason: "unexpected \"\(c)\": a formula holds numbers, KPI ids, + - * / and parentheses")
    }

    func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_"
    }
}
