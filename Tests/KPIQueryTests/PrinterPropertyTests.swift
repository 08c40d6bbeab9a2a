import KPITestSupport
import Testing

@testable import KPIQuery

/// Random expression trees of the shapes the parser produces, printed and parsed back: checks
/// that the printer's parenthesization agrees with the parser's precedence for every pairing
/// of node kinds, not just the hand-picked round-trip queries.
@Suite struct PrinterPropertyTests {

    static let binaryOperators: [BinaryOperator] = [
        .or, .and, .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .matches, .notMatches,
        .add, .subtract, .multiply, .divide, .modulo,
    ]

    func leaf(_ g: inout SeededGenerator) -> Expression {
        switch g.below(9) {
        case 0: return int(Int64(g.below(1000)))
        case 1: return dec(Double(g.below(10_000)) / 8 + 0.125)
        case 2: return str(["JFK", "it's", "", "T4-%"][g.below(4)])
        case 3: return .literal(.boolean(g.bool()), range: none)
        case 4: return .literal(.null, range: none)
        case 5: return .literal(.interval(milliseconds: Int64(g.below(1_000_000_000))), range: none)
        case 6: return .literal(.timestamp(milliseconds: Int64(g.below(1 << 30)) * 1_700 - 100_000), range: none)
        case 7: return param(["site", "z1"][g.below(2)])
        default: return g.bool() ? col(["zone", "value", "select", "a b"][g.below(4)]) : col("site", table: "t")
        }
    }

    func tree(_ g: inout SeededGenerator, depth: Int) -> Expression {
        if depth == 0 { return leaf(&g) }
        let sub = { (g: inout SeededGenerator) in self.tree(&g, depth: depth - 1) }
        switch g.below(12) {
        case 0: return leaf(&g)
        case 1: return un([.not, .negate, .plus][g.below(3)], sub(&g))
        case 2, 3, 4: return bin(Self.binaryOperators[g.below(Self.binaryOperators.count)], sub(&g), sub(&g))
        case 5: return .like(sub(&g), pattern: sub(&g), negated: g.bool(), range: none)
        case 6: return .inList(sub(&g), (0...g.below(3)).map { _ in sub(&g) }, negated: g.bool(), range: none)
        case 7: return .isNull(sub(&g), negated: g.bool(), range: none)
        case 8: return .between(sub(&g), lower: sub(&g), upper: sub(&g), negated: g.bool(), range: none)
        case 9:
            let arguments = g.bool() ? [star] : (0..<g.below(3)).map { _ in sub(&g) }
            return .function(
                FunctionCall("f", arguments, distinct: arguments.count == 1 && arguments != [star] && g.bool()),
                range: none)
        case 10:
            let c = CaseExpression(
                operand: g.bool() ? sub(&g) : nil,
                branches: (0...g.below(2)).map { _ in .init(when: sub(&g), then: sub(&g)) },
                elseResult: g.bool() ? sub(&g) : nil)
            return .caseWhen(c, range: none)
        default: return .cast(sub(&g), type: ["bigint", "timestamp", "double"][g.below(3)], range: none)
        }
    }

    @Test(arguments: 0..<8) func randomTreesRoundTrip(seed: Int) throws {
        var g = SeededGenerator(seed: UInt64(seed))
        for _ in 0..<250 {
            let expression = tree(&g, depth: 4)
            let statement = SelectStatement(items: [.expression(expression, alias: nil)], from: .metric("m", alias: nil))
            let printed = statement.sql
            let parsed = try QueryParser.parse(printed).strippingRanges()
            #expect(parsed == .select(statement), "printed: \(printed)")
            if parsed != .select(statement) { return }
        }
    }
}
