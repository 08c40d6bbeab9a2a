import Testing

@testable import KPIQuery

@Suite struct LexerTests {
    func kinds(_ text: String) throws -> [TokenKind] {
        try Lexer.tokenize(text).map(\.kind)
    }

    @Test func everySymbol() throws {
        let text = ", . ( ) ; * + - / % = != <> < <= > >= ~ !~"
        let expected: [Symbol] = [
            .comma, .dot, .leftParen, .rightParen, .semicolon, .star, .plus, .minus, .slash,
            .percent, .equal, .notEqual, .notEqual, .less, .lessEqual, .greater, .greaterEqual,
            .tilde, .notTilde,
        ]
        #expect(try kinds(text) == expected.map { .symbol($0) } + [.endOfInput])
    }

    @Test func operatorsWithoutSpaces() throws {
        #expect(
            try kinds("a<=b<>c!~'x'")
                == [
                    .identifier("a"), .symbol(.lessEqual), .identifier("b"), .symbol(.notEqual),
                    .identifier("c"), .symbol(.notTilde), .string("x"), .endOfInput,
                ])
    }

    @Test func keywordsAreCaseInsensitiveIdentifiersAreNot() throws {
        let tokens = try Lexer.tokenize("select Select SELECT Zone zone")
        #expect(tokens.map(\.kind).prefix(3) == [.keyword(.select), .keyword(.select), .keyword(.select)])
        #expect(tokens[1].text == "Select")
        #expect(tokens[3].kind == .identifier("Zone"))
        #expect(tokens[4].kind == .identifier("zone"))
    }

    @Test func everyKeywordLexes() throws {
        for keyword in Keyword.allCases {
            #expect(try kinds(keyword.rawValue.lowercased()) == [.keyword(keyword), .endOfInput])
        }
    }

    @Test func identifiersWithColonsAreMetricNames() throws {
        #expect(
            try kinds("job:rate5m _x1 select:x") == [
                .identifier("job:rate5m"), .identifier("_x1"), .identifier("select:x"), .endOfInput,
            ])
    }

    @Test func quotedIdentifiers() throws {
        #expect(
            try kinds(#""quoted col" "say ""hi""" "SELECT""#) == [
                .quotedIdentifier("quoted col"), .quotedIdentifier(#"say "hi""#),
                .quotedIdentifier("SELECT"), .endOfInput,
            ])
    }

    @Test func stringsWithEscapesAndUnicode() throws {
        #expect(
            try kinds("'JFK' 'it''s' '' 'T4-%' 'Zürich'") == [
                .string("JFK"), .string("it's"), .string(""), .string("T4-%"), .string("Zürich"), .endOfInput,
            ])
    }

    @Test func numbers() throws {
        #expect(
            try kinds("0 42 3.25 .5 1e3 2.5E-2 7e+1 9223372036854775807") == [
                .integer(0), .integer(42), .decimal(3.25), .decimal(0.5), .decimal(1000), .decimal(0.025),
                .decimal(70), .integer(Int64.max), .endOfInput,
            ])
    }

    @Test func numberFollowedByDotIdentifier() throws {
        // `1.x` is not a decimal: the dot is only part of a number when a digit follows.
        #expect(try kinds("1.x") == [.integer(1), .symbol(.dot), .identifier("x"), .endOfInput])
    }

    @Test func parameters() throws {
        #expect(
            try kinds(":site = :zone_2") == [
                .parameter("site"), .symbol(.equal), .parameter("zone_2"), .endOfInput,
            ])
    }

    @Test func commentsAreSkipped() throws {
        let text = """
            SELECT -- trailing comment
            /* block
               spanning lines */ a /**/ FROM--x
            m
            """
        #expect(
            try kinds(text) == [
                .keyword(.select), .identifier("a"), .keyword(.from), .identifier("m"), .endOfInput,
            ])
    }

    @Test func minusIsNotAComment() throws {
        #expect(
            try kinds("a - -b") == [
                .identifier("a"), .symbol(.minus), .symbol(.minus), .identifier("b"), .endOfInput,
            ])
    }

    @Test func positionsAcrossLines() throws {
        let tokens = try Lexer.tokenize("SELECT a,\n  bb\r\n\tFROM 'é' x")
        let starts = tokens.map { ($0.range.start.line, $0.range.start.column, $0.range.start.offset) }
        #expect(starts.map(\.0) == [1, 1, 1, 2, 3, 3, 3, 3])
        #expect(starts.map(\.1) == [1, 8, 9, 3, 2, 7, 11, 12])
        #expect(starts.map(\.2) == [0, 7, 8, 12, 17, 22, 27, 28])
        // Token ends are exclusive.
        #expect(tokens[0].range.end == SourcePosition(line: 1, column: 7, offset: 6))
        #expect(tokens[5].range.end.column == 10)
    }

    @Test func tokenTextKeepsSourceSpelling() throws {
        let tokens = try Lexer.tokenize("FrOm 'a''b' 1.50")
        #expect(tokens.map(\.text) == ["FrOm", "'a''b'", "1.50", ""])
    }

    @Test func lexerErrors() {
        func failure(_ text: String) -> QueryError? {
            do {
                _ = try Lexer.tokenize(text)
                return nil
            } catch {
                return error
            }
        }
        #expect(failure("'abc") == QueryError(message: "unterminated string literal", position: .start))
        #expect(failure("a /* x")?.position == SourcePosition(line: 1, column: 3, offset: 2))
        #expect(failure("a /* x")?.message == "unterminated block comment")
        #expect(failure("x # y")?.message == "unexpected character '#'")
        #expect(failure("x ¤")?.message == "unexpected character '¤'")
        #expect(failure("99999999999999999999")?.message == "integer '99999999999999999999' is out of range")
        #expect(failure("1e999")?.message == "number '1e999' is out of range")
        #expect(failure(": x")?.message == "expected parameter name after ':'")
    }
}
