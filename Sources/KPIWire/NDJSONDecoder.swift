import KPICore

/// Decodes newline-delimited JSON, one sample per line:
///
///     {"metric":"queue_wait_seconds","labels":{"site":"JFK","zone":"T4-security"},"ts":1762070400000,"value":312.5}
///
/// `ts` is integer milliseconds or an RFC 3339 string (missing or null: `DecodeOptions.now`);
/// `value` is a number or one of the strings `NaN`, `Inf`, `+Inf`, `-Inf` (any Go float text
/// is accepted in a string). `labels` is an object of string values and may be absent. Unknown
/// keys, duplicate keys and invalid UTF-8 are errors. Blank lines are skipped.
public enum NDJSONDecoder {
    /// Decodes a whole body; see `IngestDecoder.decode(_:format:options:)` for the error contract.
    public static func decode(_ body: [UInt8], options: DecodeOptions) throws(IngestError) -> SampleBatch {
        let result: Result<SampleBatch, IngestError> = body.withUnsafeBufferPointer { bytes in
            var state = NDJSONState(bytes: bytes, options: options)
            return state.run()
        }
        return try result.get()
    }
}

/// Why one line was refused.
struct LineProblem: Error {
    var field: String?
    var reason: String
}

private struct NDJSONState {
    let bytes: UnsafeBufferPointer<UInt8>
    let options: DecodeOptions
    var batch = SampleBatch()
    var collector = IngestIssueCollector()
    var scratch: [UInt8] = []
    var labelTokens: [(key: JSONStringToken, value: JSONStringToken)] = []

    // The series of the previous good line, recognised again by its raw bytes.
    var lastMetric: Range<Int> = 0..<0
    var lastLabels: Range<Int> = 0..<0
    var lastSeries = -1
    var seriesCache = RawSeriesCache()
    var cacheKey: [Range<Int>] = []

    init(bytes: UnsafeBufferPointer<UInt8>, options: DecodeOptions) {
        self.bytes = bytes
        self.options = options
    }

    mutating func run() -> Result<SampleBatch, IngestError> {
        forEachLine(bytes) { lineNumber, start, end in
            do throws(LineProblem) {
                try decodeLine(start, end)
            } catch {
                collector.report(line: lineNumber, field: error.field, reason: error.reason)
                lastSeries = -1
                if collector.error?.detailsTruncated == true { return false }
            }
            return true
        }
        if var error = collector.error {
            error.message = "invalid NDJSON body"
            return .failure(error)
        }
        return .success(batch)
    }

    private enum Context { case none, metric, labels, ts, value }

    private mutating func decodeLine(_ start: Int, _ end: Int) throws(LineProblem) {
        var scanner = JSONScanner(bytes, start: start, end: end)
        guard scanner.peek() != nil else { return }  // blank line (also a lone "\r")

        var metric: JSONStringToken?
        var labelsRange: Range<Int> = 0..<0
        var tsNumber: Range<Int>?
        var tsString: JSONStringToken?
        var valueNumber: Range<Int>?
        var valueString: JSONStringToken?
        var seen: UInt8 = 0
        var context = Context.none
        var badLabelValue: (key: JSONStringToken, kind: String)?
        labelTokens.removeAll(keepingCapacity: true)

        do throws(JSONSyntaxError) {
            guard scanner.peek() == UInt8(ascii: "{") else {
                throw scanner.error("expected a JSON object")
            }
            scanner.pos += 1
            if scanner.peek() == UInt8(ascii: "}") {
                scanner.pos += 1
            } else {
                while true {
                    context = .none
                    guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.error("expected a string key") }
                    let key = try scanner.scanString()
                    let bit: UInt8
                    if scanner.equals(key, "metric") { bit = 1; context = .metric }
                    else if scanner.equals(key, "labels") { bit = 2; context = .labels }
                    else if scanner.equals(key, "ts") { bit = 4; context = .ts }
                    else if scanner.equals(key, "value") { bit = 8; context = .value }
                    else {
                        let name = scanner.decode(key, scratch: &scratch)
                        throw JSONSyntaxError.typeError(field: name, "unknown key \"\(name)\" (expected metric, labels, ts, value)")
                    }
                    if seen & bit != 0 {
                        throw JSONSyntaxError.typeError(field: fieldName(context), "duplicate key \"\(fieldName(context)!)\"")
                    }
                    seen |= bit
                    try scanner.expect(UInt8(ascii: ":"), "':'")
                    guard let first = scanner.peek() else { throw scanner.error("unexpected end of line, expected a value") }
                    switch context {
                    case .metric:
                        guard first == UInt8(ascii: "\"") else {
                            throw JSONSyntaxError.typeError(field: "metric", "metric must be a string")
                        }
                        metric = try scanner.scanString()
                    case .labels:
                        if first == UInt8(ascii: "{") {
                            let labelsStart = scanner.pos
                            try scanLabels(&scanner, &badLabelValue)
                            labelsRange = labelsStart..<scanner.pos
                        } else if first == UInt8(ascii: "n") {
                            _ = try scanner.scanLiteral()
                        } else {
                            throw JSONSyntaxError.typeError(field: "labels", "labels must be an object of string values")
                        }
                    case .ts, .value:
                        if first == UInt8(ascii: "\"") {
                            let token = try scanner.scanString()
                            if context == .ts { tsString = token } else { valueString = token }
                        } else if first == UInt8(ascii: "-") || FloatParser.isDigit(first) {
                            let range = try scanner.scanNumber()
                            if context == .ts { tsNumber = range } else { valueNumber = range }
                        } else if first == UInt8(ascii: "n") {
                            _ = try scanner.scanLiteral()
                            if context == .value { throw JSONSyntaxError.typeError(field: "value", "value must not be null") }
                        } else {
                            throw JSONSyntaxError.typeError(
                                field: fieldName(context),
                                context == .ts
                                    ? "ts must be integer milliseconds or an RFC 3339 string"
                                    : "value must be a number or one of the strings \"NaN\", \"+Inf\", \"-Inf\"")
                        }
                    case .none:
                        break
                    }
                    context = .none
                    guard let c = scanner.peek() else { throw scanner.error("unexpected end of line, expected ',' or '}'") }
                    scanner.pos += 1
                    if c == UInt8(ascii: "}") { break }
                    if c != UInt8(ascii: ",") {
                        scanner.pos -= 1
                        throw scanner.error("expected ',' or '}', found \(scanner.describe(c))")
                    }
                }
            }
            if let c = scanner.peek() {
                throw scanner.error("unexpected \(scanner.describe(c)) after the object")
            }
        } catch {
            if !error.isSyntax { throw LineProblem(field: error.field, reason: error.reason) }
            throw LineProblem(
                field: fieldName(context),
                reason: "invalid JSON at column \(error.position - start + 1): \(error.reason)")
        }

        if let bad = badLabelValue {
            let name = scanner.decode(bad.key, scratch: &scratch)
            throw LineProblem(field: "labels.\(name)", reason: "label value must be a string, not \(bad.kind)")
        }
        guard let metric else { throw LineProblem(field: "metric", reason: "missing metric") }

        // Timestamp.
        let timestamp: Int64
        if let range = tsNumber {
            switch scanner.integerValue(range) {
            case .success(let ms): timestamp = ms
            case .failure(.fractional):
                throw LineProblem(field: "ts", reason: "ts must be whole milliseconds, got \(excerpt(range))")
            case .failure(.outOfRange):
                throw LineProblem(field: "ts", reason: "ts \(excerpt(range)) is out of range")
            }
        } else if let token = tsString {
            let parsed: Int64?
            if token.hasEscapes {
                let text = scanner.decode(token, scratch: &scratch)
                parsed = TimestampParser.parseRFC3339(text[...])
            } else {
                parsed = TimestampParser.parseRFC3339(bytes, token.start, token.end)
            }
            guard let parsed else {
                throw LineProblem(field: "ts", reason: "invalid RFC 3339 timestamp \"\(excerpt(token.range))\"")
            }
            timestamp = parsed
        } else {
            timestamp = options.now
        }
        if let problem = SampleTime.problem(timestamp) { throw LineProblem(field: "ts", reason: problem) }

        // Value.
        let value: Double
        if let range = valueNumber {
            guard let v = FloatParser.convertDecimal(bytes, range.lowerBound, range.upperBound) else {
                throw LineProblem(field: "value", reason: "value \(excerpt(range)) is out of range")
            }
            value = v
        } else if let token = valueString {
            let parsed: Double?
            if token.hasEscapes {
                let text = scanner.decode(token, scratch: &scratch)
                parsed = Double(goFloat: text)
            } else {
                parsed = FloatParser.parse(bytes, token.start, token.end)
            }
            guard let parsed else {
                throw LineProblem(
                    field: "value",
                    reason: "invalid value \"\(excerpt(token.range))\": expected a number, \"NaN\", \"+Inf\" or \"-Inf\"")
            }
            value = parsed
        } else {
            throw LineProblem(field: "value", reason: "missing value")
        }

        // Series: reuse the previous line's when the raw bytes match.
        let index: Int
        if lastSeries >= 0 && DecodeSupport.rangesEqual(bytes, metric.range, lastMetric)
            && DecodeSupport.rangesEqual(bytes, labelsRange, lastLabels) {
            index = lastSeries
        } else {
            cacheKey.removeAll(keepingCapacity: true)
            cacheKey.append(metric.range)
            cacheKey.append(labelsRange)
            let hash = RawSeriesCache.hash(bytes, cacheKey)
            if let cached = seriesCache.series(bytes, cacheKey, hash: hash) {
                index = cached
            } else {
                let labels = try buildLabels(scanner, metric)
                index = batch.seriesIndex(for: labels)
                seriesCache.remember(cacheKey, hash: hash, series: index)
            }
            lastSeries = index
            lastMetric = metric.range
            lastLabels = labelsRange
        }
        batch.append(seriesIndex: index, timestamp: timestamp, value: value)
    }

    /// Scans a labels object (at `{`) recording key/value tokens. A non-string value is noted
    /// rather than thrown at once, so a later syntax error on the line still takes precedence.
    private mutating func scanLabels(
        _ scanner: inout JSONScanner, _ bad: inout (key: JSONStringToken, kind: String)?
    ) throws(JSONSyntaxError) {
        scanner.pos += 1
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.pos += 1
            return
        }
        while true {
            guard scanner.peek() == UInt8(ascii: "\"") else { throw scanner.error("expected a string label name") }
            let key = try scanner.scanString()
            try scanner.expect(UInt8(ascii: ":"), "':'")
            guard let first = scanner.peek() else { throw scanner.error("unexpected end of line, expected a value") }
            if first == UInt8(ascii: "\"") {
                let value = try scanner.scanString()
                labelTokens.append((key, value))
            } else {
                try scanner.skipValue()
                if bad == nil {
                    let kind: String
                    switch first {
                    case UInt8(ascii: "{"): kind = "an object"
                    case UInt8(ascii: "["): kind = "an array"
                    case UInt8(ascii: "t"), UInt8(ascii: "f"): kind = "a boolean"
                    case UInt8(ascii: "n"): kind = "null"
                    default: kind = "a number"
                    }
                    bad = (key, kind)
                }
            }
            guard let c = scanner.peek() else { throw scanner.error("unexpected end of line, expected ',' or '}'") }
            scanner.pos += 1
            if c == UInt8(ascii: "}") { return }
            if c != UInt8(ascii: ",") {
                scanner.pos -= 1
                throw scanner.error("expected ',' or '}', found \(scanner.describe(c))")
            }
        }
    }

    private mutating func buildLabels(_ scanner: JSONScanner, _ metric: JSONStringToken) throws(LineProblem) -> Labels {
        var pairs: [Label] = []
        pairs.reserveCapacity(labelTokens.count + 1)
        for (key, value) in labelTokens {
            let name = scanner.decode(key, scratch: &scratch)
            if name == Labels.metricNameLabel {
                throw LineProblem(field: "labels.\(name)", reason: "label names starting with __ are reserved")
            }
            pairs.append(Label(name: name, value: scanner.decode(value, scratch: &scratch)))
        }
        if pairs.count > 1 {
            pairs.sort { $0.name < $1.name }
            for k in 1..<pairs.count where pairs[k].name == pairs[k - 1].name {
                throw LineProblem(field: "labels.\(pairs[k].name)", reason: "duplicate key \"\(pairs[k].name)\" in labels")
            }
        }
        pairs.append(Label(name: Labels.metricNameLabel, value: scanner.decode(metric, scratch: &scratch)))
        let labels = Labels(pairs)
        if let problem = options.validator.problem(with: labels) {
            throw LineProblem(field: problem.field, reason: problem.reason)
        }
        return labels
    }

    private func fieldName(_ context: Context) -> String? {
        switch context {
        case .none: return nil
        case .metric: return "metric"
        case .labels: return "labels"
        case .ts: return "ts"
        case .value: return "value"
        }
    }

    private func excerpt(_ range: Range<Int>) -> String {
        DecodeSupport.excerpt(bytes, range.lowerBound, range.upperBound)
    }
}

/// Calls `body` with each line of a text body: its 1-based number and its byte range without the
/// `\n` (a `\r` before it is left to the caller). A UTF-8 byte order mark, which some editors
/// write, is not part of the first line. `body` returns false to stop.
func forEachLine(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (_ line: Int, _ start: Int, _ end: Int) -> Bool) {
    let count = bytes.count
    var lineStart = count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0
    var lineNumber = 0
    while lineStart < count {
        lineNumber += 1
        var lineEnd = count
        if let base = bytes.baseAddress, let found = memchrNewline(base + lineStart, count - lineStart) {
            lineEnd = lineStart + found
        }
        if !body(lineNumber, lineStart, lineEnd) { return }
        lineStart = lineEnd + 1
    }
}

/// Index of the first `\n` in `n` bytes at `p`, or nil.
@inline(__always)
func memchrNewline(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
    // Word-at-a-time search (SWAR): a zero byte in `word ^ 0x0a0a...` marks a newline.
    var i = 0
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    let pattern: UInt64 = 0x0A0A_0A0A_0A0A_0A0A
    while i + 8 <= n {
        let word = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) ^ pattern
        let found = (word &- ones) & ~word & highs
        if found != 0 { return i + found.trailingZeroBitCount / 8 }
        i += 8
    }
    while i < n {
        if p[i] == 0x0A { return i }
        i += 1
    }
    return nil
}

extension Double {
    /// Go `strconv.ParseFloat` semantics over a String (non-hot paths).
    init?(goFloat text: String) {
        var text = text
        text.makeContiguousUTF8()
        guard let v = text.utf8.withContiguousStorageIfAvailable({ FloatParser.parse($0, 0, $0.count) }) ?? nil else {
            return nil
        }
        self = v
    }
}
