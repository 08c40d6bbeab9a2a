import KPICore

extension PromQL {
    /// Parses a PromQL expression and checks its types, as Prometheus does before evaluating.
    public static func parse(_ query: String) throws(PromQLParseError) -> Expr {
        var lexer = Lexer(query)
        let tokens = try lexer.tokenize()
        var parser = Parser(tokens: tokens, query: query)
        let expr = try parser.parseExpression(minPrecedence: 0)
        guard parser.peek.kind == .end else {
            throw parser.error("unexpected \(parser.peek.kind.text)", at: parser.peek.position)
        }
        return expr
    }

    /// Parses a series selector (`metric`, `metric{a="b"}`, `{__name__=~"q.*",site="JFK"}`) as
    /// PromQL writes it, with PromQL's strings and escapes: the one selector parser of kpid, used
    /// by `/api/v1/series`, labels, export and deletion as well as queries, so a selector valid in
    /// one is valid in all. Anything but a plain vector selector (an offset, `@`, a function, an
    /// operator) is refused; so is a selector whose every matcher matches the empty string.
    public static func parseSeriesSelector(_ text: String) throws(PromQLParseError) -> [LabelMatcher] {
        let expr = try parse(text)
        guard case .vectorSelector(let selector) = expr, selector.offset == 0, selector.at == nil else {
            throw PromQLParseError(
                message: "expected a series selector such as metric{label=\"value\"}, not an expression", position: 0,
                query: text)
        }
        return selector.matchers
    }
}

/// Precedence climbing over the token list; each construct checks its operand types.
struct Parser {
    let tokens: [Token]
    let query: String
    var k = 0
    /// Levels of the tree on the current path: one per nested expression (parentheses, function
    /// arguments, unary signs, subqueries) and one per chained binary operator. Bounded so that
    /// neither the parser nor the evaluator (both recursive) can overflow a thread's stack.
    var depth = 0
    static let maximumDepth = 256

    init(tokens: [Token], query: String) {
        self.tokens = tokens
        self.query = query
    }

    var peek: Token { tokens[k] }
    var peekNext: Token { tokens[min(k + 1, tokens.count - 1)] }

    mutating func advance() -> Token {
        let t = tokens[k]
        if k < tokens.count - 1 { k += 1 }
        return t
    }

    func error(_ message: String, at position: Int) -> PromQLParseError {
        PromQLParseError(message: message, position: position, query: query)
    }

    mutating func expect(_ kind: TokenKind, _ context: String) throws(PromQLParseError) -> Token {
        let t = peek
        guard t.kind == kind else { throw error("unexpected \(t.kind.text) \(context), expected \(kind.text)", at: t.position) }
        return advance()
    }

    /// The binary operator at the current token, if any (keywords included).
    func binaryOperator() -> BinaryOperator? {
        switch peek.kind {
        case .op(let o): return o
        case .identifier(let w):
            switch w.lowercased() {
            case "and": return .and
            case "or": return .or
            case "unless": return .unless
            case "atan2": return .atan2
            default: return nil
            }
        default: return nil
        }
    }

    func isKeyword(_ word: String) -> Bool {
        if case .identifier(let w) = peek.kind { return w.lowercased() == word }
        return false
    }

    /// One more level on the current path, or the error naming the limit.
    mutating func deepen(at position: Int) throws(PromQLParseError) {
        guard depth < Parser.maximumDepth else {
            throw error("expression nests too deeply (more than \(Parser.maximumDepth) levels)", at: position)
        }
        depth += 1
    }

    mutating func parseExpression(minPrecedence: Int) throws(PromQLParseError) -> Expr {
        try deepen(at: peek.position)
        var levels = 1
        defer { depth -= levels }
        var lhs = try parseUnary()
        while let op = binaryOperator(), op.precedence >= minPrecedence {
            let opToken = advance()
            try deepen(at: opToken.position)
            levels += 1
            var returnBool = false
            if isKeyword("bool") {
                guard op.isComparison else { throw error("bool modifier can only be used on comparison operators", at: peek.position) }
                returnBool = true
                _ = advance()
            }
            var matching = VectorMatching()
            if op.isSetOperator { matching.cardinality = .manyToMany }
            if isKeyword("on") || isKeyword("ignoring") {
                matching.on = isKeyword("on")
                matching.explicit = true
                _ = advance()
                matching.labels = try labelList()
                if isKeyword("group_left") || isKeyword("group_right") {
                    let groupToken = peek
                    guard !op.isSetOperator else {
                        throw error("no grouping allowed for \"\(op.rawValue)\" operation", at: groupToken.position)
                    }
                    matching.cardinality = isKeyword("group_left") ? .manyToOne : .oneToMany
                    _ = advance()
                    if peek.kind == .leftParen { matching.include = try labelList() }
                }
            }
            let nextMin = op.isRightAssociative ? op.precedence : op.precedence + 1
            let rhs = try parseExpression(minPrecedence: nextMin)
            lhs = try makeBinary(op, lhs, rhs, matching: matching, returnBool: returnBool, at: opToken.position)
        }
        return lhs
    }

    func makeBinary(
        _ op: BinaryOperator, _ lhs: Expr, _ rhs: Expr, matching: VectorMatching, returnBool: Bool, at position: Int
    ) throws(PromQLParseError) -> Expr {
        for side in [lhs, rhs] where side.type != .scalar && side.type != .vector {
            throw error("binary expression must contain only scalar and instant vector types", at: position)
        }
        let bothVectors = lhs.type == .vector && rhs.type == .vector
        if op.isComparison && !returnBool && lhs.type == .scalar && rhs.type == .scalar {
            throw error("comparisons between scalars must use BOOL modifier", at: position)
        }
        if op.isSetOperator && !bothVectors {
            let side = lhs.type == .scalar ? "left" : "right"
            throw error("set operator \"\(op.rawValue)\" not allowed in binary scalar expression (\(side) side)", at: position)
        }
        if matching.explicit && !bothVectors {
            throw error("vector matching only allowed between instant vectors", at: position)
        }
        if matching.cardinality == .manyToOne || matching.cardinality == .oneToMany {
            for label in matching.include where matching.on && matching.labels.contains(label) {
                throw error("label \"\(label)\" must not occur in ON and GROUP clause at once", at: position)
            }
        }
        return .binary(op, lhs, rhs, matching: matching, returnBool: returnBool)
    }

    /// `(a, b, ...)` of label names (grouping and matching clauses).
    mutating func labelList() throws(PromQLParseError) -> [String] {
        _ = try expect(.leftParen, "in grouping opts")
        var out: [String] = []
        while true {
            let t = advance()
            switch t.kind {
            case .rightParen:
                return out
            case .identifier(let name):
                out.append(name)
            default:
                throw error("unexpected \(t.kind.text) in grouping opts, expected label", at: t.position)
            }
            let sep = advance()
            if sep.kind == .rightParen { return out }
            guard sep.kind == .comma else {
                throw error("unexpected \(sep.kind.text) in grouping opts, expected \",\" or \")\"", at: sep.position)
            }
        }
    }

    mutating func parseUnary() throws(PromQLParseError) -> Expr {
        if case .op(let o) = peek.kind, o == .add || o == .subtract {
            let t = advance()
            // Unary operators bind like multiplication: tighter than + -, looser than ^.
            let operand = try parseExpression(minPrecedence: BinaryOperator.power.precedence)
            guard operand.type == .scalar || operand.type == .vector else {
                throw error(
                    "unary expression only allowed on expressions of type scalar or instant vector, got \"\(operand.type.errorName)\"",
                    at: t.position)
            }
            if o == .add { return operand }
            if case .number(let n) = operand { return .number(-n) }
            return .negate(operand)
        }
        return try parsePostfix(try parsePrimary())
    }

    /// Range, subquery, offset and `@` after a primary expression.
    mutating func parsePostfix(_ base: Expr) throws(PromQLParseError) -> Expr {
        var expr = base
        while true {
            let t = peek
            if t.kind == .leftBracket {
                _ = advance()
                let rangeToken = advance()
                guard case .duration(let range) = rangeToken.kind else {
                    throw error("unexpected \(rangeToken.kind.text) in range selector, expected duration", at: rangeToken.position)
                }
                if peek.kind == .colon {
                    _ = advance()
                    var step: Int64 = 0
                    if case .duration(let s) = peek.kind {
                        step = s
                        _ = advance()
                    }
                    _ = try expect(.rightBracket, "in subquery")
                    guard expr.type == .vector else {
                        throw error("subquery is only allowed on instant vector, got \(expr.type.errorName) instead", at: t.position)
                    }
                    guard range > 0 else { throw error("range in subquery must be greater than 0", at: rangeToken.position) }
                    expr = .subquery(expr, range: range, step: step, offset: 0, at: nil)
                } else {
                    _ = try expect(.rightBracket, "in range selector")
                    guard case .vectorSelector(let sel) = expr, sel.offset == 0, sel.at == nil else {
                        if case .vectorSelector = expr {
                            throw error("no offset or @ modifiers allowed before range", at: t.position)
                        }
                        throw error("ranges only allowed for vector selectors", at: t.position)
                    }
                    guard range > 0 else { throw error("range must be greater than 0", at: rangeToken.position) }
                    expr = .matrixSelector(sel, range: range)
                }
                continue
            }
            if isKeyword("offset") {
                _ = advance()
                var negative = false
                if case .op(let o) = peek.kind, o == .subtract || o == .add {
                    negative = o == .subtract
                    _ = advance()
                }
                let d = advance()
                guard case .duration(let ms) = d.kind else {
                    throw error("unexpected \(d.kind.text) in offset, expected duration", at: d.position)
                }
                let offset = negative ? -ms : ms
                switch expr {
                case .vectorSelector(var sel):
                    guard sel.offset == 0 else { throw error("offset may not be set multiple times", at: t.position) }
                    sel.offset = offset
                    expr = .vectorSelector(sel)
                case .matrixSelector(var sel, let range):
                    guard sel.offset == 0 else { throw error("offset may not be set multiple times", at: t.position) }
                    sel.offset = offset
                    expr = .matrixSelector(sel, range: range)
                case .subquery(let inner, let range, let step, let old, let at):
                    guard old == 0 else { throw error("offset may not be set multiple times", at: t.position) }
                    expr = .subquery(inner, range: range, step: step, offset: offset, at: at)
                default:
                    throw error(
                        "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery",
                        at: t.position)
                }
                continue
            }
            if t.kind == .at {
                _ = advance()
                let at: AtModifier
                let v = advance()
                switch v.kind {
                case .identifier(let w) where w == "start" || w == "end":
                    _ = try expect(.leftParen, "in @")
                    _ = try expect(.rightParen, "in @")
                    at = w == "start" ? .start : .end
                case .number(let n):
                    guard n.isFinite, n.magnitude <= PromQL.maxTimeSeconds else {
                        throw error("timestamp out of bounds for @ modifier: \(PromQLFormat.value(n))", at: v.position)
                    }
                    at = .time(Int64((n * 1000).rounded()))
                case .op(let o) where o == .subtract || o == .add:
                    let n = advance()
                    guard case .number(let x) = n.kind else {
                        throw error("unexpected \(n.kind.text) in @, expected timestamp", at: n.position)
                    }
                    guard x.isFinite, x.magnitude <= PromQL.maxTimeSeconds else {
                        throw error("timestamp out of bounds for @ modifier: \(PromQLFormat.value(x))", at: n.position)
                    }
                    at = .time(Int64(((o == .subtract ? -x : x) * 1000).rounded()))
                default:
                    throw error("unexpected \(v.kind.text) in @, expected timestamp", at: v.position)
                }
                switch expr {
                case .vectorSelector(var sel):
                    guard sel.at == nil else { throw error("@ <timestamp> may not be set multiple times", at: t.position) }
                    sel.at = at
                    expr = .vectorSelector(sel)
                case .matrixSelector(var sel, let range):
                    guard sel.at == nil else { throw error("@ <timestamp> may not be set multiple times", at: t.position) }
                    sel.at = at
                    expr = .matrixSelector(sel, range: range)
                case .subquery(let inner, let range, let step, let offset, let old):
                    guard old == nil else { throw error("@ <timestamp> may not be set multiple times", at: t.position) }
                    expr = .subquery(inner, range: range, step: step, offset: offset, at: at)
                default:
                    throw error(
                        "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery", at: t.position)
                }
                continue
            }
            return expr
        }
    }

    mutating func parsePrimary() throws(PromQLParseError) -> Expr {
        let t = advance()
        switch t.kind {
        case .number(let n):
            return .number(n)
        case .string(let s):
            return .string(s)
        case .leftParen:
            let inner = try parseExpression(minPrecedence: 0)
            _ = try expect(.rightParen, "in paren expression")
            return .paren(inner)
        case .leftBrace:
            let matchers = try matcherList(openedAt: t.position)
            return try selector(name: nil, matchers: matchers, at: t.position)
        case .metricIdentifier(let name):
            return try selectorAfterName(name, at: t.position)
        case .identifier(let name):
            let lower = name.lowercased()
            if let agg = AggregateOperator(rawValue: lower),
                peek.kind == .leftParen || isKeyword("by") || isKeyword("without")
            {
                return try aggregation(agg, at: t.position)
            }
            if peek.kind == .leftParen {
                return try call(name, at: t.position)
            }
            if ["and", "or", "unless", "atan2", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"]
                .contains(lower)
            {
                throw error("unexpected \(lower)", at: t.position)
            }
            return try selectorAfterName(name, at: t.position)
        case .duration:
            throw error("unexpected duration", at: t.position)
        default:
            throw error("unexpected \(t.kind.text)", at: t.position)
        }
    }

    mutating func selectorAfterName(_ name: String, at position: Int) throws(PromQLParseError) -> Expr {
        var matchers: [LabelMatcher] = [try matcher(Labels.metricNameLabel, .equal, name, at: position)]
        if peek.kind == .leftBrace {
            let brace = advance()
            let rest = try matcherList(openedAt: brace.position)
            for m in rest where m.name == Labels.metricNameLabel {
                throw error("metric name must not be set twice: \"\(name)\" or \"\(m.value)\"", at: brace.position)
            }
            matchers += rest
        }
        return try selector(name: name, matchers: matchers, at: position)
    }

    func selector(name: String?, matchers: [LabelMatcher], at position: Int) throws(PromQLParseError) -> Expr {
        guard matchers.contains(where: { !$0.matchesEmpty }) else {
            throw error("vector selector must contain at least one non-empty matcher", at: position)
        }
        return .vectorSelector(VectorSelector(name: name, matchers: matchers))
    }

    func matcher(_ name: String, _ op: LabelMatcher.Operator, _ value: String, at position: Int) throws(PromQLParseError) -> LabelMatcher {
        do {
            return try LabelMatcher(name, op, value)
        } catch {
            throw self.error(error.message, at: position)
        }
    }

    /// `{a="b", c=~"d"}` after the opening brace.
    mutating func matcherList(openedAt: Int) throws(PromQLParseError) -> [LabelMatcher] {
        var out: [LabelMatcher] = []
        while true {
            let t = advance()
            let name: String
            switch t.kind {
            case .rightBrace:
                return out
            case .identifier(let n):
                name = n
            case .string(let n):
                name = n
            default:
                throw error("unexpected \(t.kind.text) in label matching, expected label", at: t.position)
            }
            let opToken = advance()
            let op: LabelMatcher.Operator
            switch opToken.kind {
            case .assign: op = .equal
            case .op(.notEqual): op = .notEqual
            case .equalMatch: op = .regexMatch
            case .notEqualMatch: op = .regexNoMatch
            default:
                throw error("unexpected \(opToken.kind.text) in label matching, expected label matching operator", at: opToken.position)
            }
            let v = advance()
            guard case .string(let value) = v.kind else {
                throw error("unexpected \(v.kind.text) in label matching, expected string", at: v.position)
            }
            out.append(try matcher(name, op, value, at: v.position))
            let sep = advance()
            if sep.kind == .rightBrace { return out }
            guard sep.kind == .comma else {
                throw error("unexpected \(sep.kind.text) in label matching, expected \",\" or \"}\"", at: sep.position)
            }
        }
    }

    mutating func aggregation(_ op: AggregateOperator, at position: Int) throws(PromQLParseError) -> Expr {
        var grouping: [String] = []
        var without = false
        var hasGrouping = false
        if isKeyword("by") || isKeyword("without") {
            without = isKeyword("without")
            _ = advance()
            grouping = try labelList()
            hasGrouping = true
        }
        let open = try expect(.leftParen, "in aggregation")
        var args: [Expr] = []
        if peek.kind != .rightParen {
            while true {
                args.append(try parseExpression(minPrecedence: 0))
                if peek.kind == .comma {
                    _ = advance()
                    continue
                }
                break
            }
        }
        _ = try expect(.rightParen, "in aggregation")
        if isKeyword("by") || isKeyword("without") {
            guard !hasGrouping else { throw error("unexpected grouping after an aggregation that has one", at: peek.position) }
            without = isKeyword("without")
            _ = advance()
            grouping = try labelList()
        }
        let expected = op.hasParameter ? 2 : 1
        guard args.count == expected else {
            throw error(
                "wrong number of arguments for aggregate expression provided, expected \(expected), got \(args.count)", at: open.position)
        }
        let vector = args[expected - 1]
        guard vector.type == .vector else {
            throw error("expected type instant vector in aggregation expression, got \(vector.type.errorName)", at: open.position)
        }
        var parameter: Expr? = nil
        if op.hasParameter {
            let p = args[0]
            let want: ValueType = op == .countValues ? .string : .scalar
            guard p.type == want else {
                throw error("expected type \(want.errorName) in aggregation parameter, got \(p.type.errorName)", at: open.position)
            }
            parameter = p
        }
        return .aggregate(op, vector, parameter: parameter, grouping: grouping, without: without)
    }

    mutating func call(_ name: String, at position: Int) throws(PromQLParseError) -> Expr {
        guard let f = PromQLFunction.table[name] else {
            throw error("unknown function with name \"\(name)\"", at: position)
        }
        _ = try expect(.leftParen, "in call")
        var args: [Expr] = []
        var argPositions: [Int] = []
        if peek.kind != .rightParen {
            while true {
                argPositions.append(peek.position)
                args.append(try parseExpression(minPrecedence: 0))
                if peek.kind == .comma {
                    _ = advance()
                    continue
                }
                break
            }
        }
        _ = try expect(.rightParen, "in call")
        let minimum = f.arguments.count - f.optional
        if f.variadic {
            guard args.count >= minimum else {
                throw error("expected at least \(minimum) argument(s) in call to \"\(name)\", got \(args.count)", at: position)
            }
        } else {
            guard args.count >= minimum && args.count <= f.arguments.count else {
                throw error("expected \(f.arguments.count) argument(s) in call to \"\(name)\", got \(args.count)", at: position)
            }
        }
        for (i, arg) in args.enumerated() {
            let want = i < f.arguments.count ? f.arguments[i] : f.arguments.last!
            guard arg.type == want else {
                throw error(
                    "expected type \(want.errorName) in call to function \"\(name)\", got \(arg.type.errorName)", at: argPositions[i])
            }
        }
        return .call(name, args)
    }
}
