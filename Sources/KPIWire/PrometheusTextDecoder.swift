import KPICore

/// Decodes the Prometheus text exposition format 0.0.4 (and OpenMetrics text), so a `/metrics`
/// page can be imported:
///
///     # HELP queue_wait_seconds Time in the queue.
///     # TYPE queue_wait_seconds gauge
///     queue_wait_seconds{site="JFK",zone="T4-security"} 312.5 1762070400000
///
/// Comments are skipped, but a `# TYPE` must name a known type. Label values take the escapes
/// `\\`, `\"` and `\n`; a trailing comma in a label set is allowed. Values are Go floats
/// (`NaN`, `+Inf`, `-Inf`, `1e3`, ...). Timestamps are integer milliseconds, or in OpenMetrics
/// seconds with an optional fraction; without one the sample gets `DecodeOptions.now`.
/// Histogram and summary samples (`_bucket{le=...}`, `_sum`, `_count`) are plain series.
public enum PrometheusTextDecoder {
    /// Decodes a whole body; see `IngestDecoder.decode(_:format:options:)` for the error contract.
    ///
    /// OpenMetrics rules (timestamps in seconds, `# EOF` terminator, exemplars ignored) apply
    /// when `options.openMetrics` is set or the body's last line is `# EOF`.
    public static func decode(_ body: [UInt8], options: DecodeOptions) throws(IngestError) -> SampleBatch {
        let result: Result<SampleBatch, IngestError> = body.withUnsafeBufferPointer { bytes in
            let openMetrics = options.openMetrics || endsWithEOF(bytes)
            var state = PromState(bytes: bytes, options: options, openMetrics: openMetrics)
            return state.run()
        }
        return try result.get()
    }

    /// Metric types accepted in `# TYPE` lines (0.0.4 plus OpenMetrics').
    static let knownTypes: Set<String> = [
        "counter", "gauge", "histogram", "summary", "untyped",
        "unknown", "gaugehistogram", "stateset", "info",
    ]

    static func endsWithEOF(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D || bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 {
            end -= 1
        }
        guard end >= 5 else { return false }
        let tail: [UInt8] = Array("# EOF".utf8)
        for k in 0..<5 where bytes[end - 5 + k] != tail[k] { return false }
        return end == 5 || bytes[end - 6] == 0x0A
    }
}

private struct LabelToken {
    var name: Range<Int>
    var value: Range<Int>
    var hasEscapes: Bool
}

private struct PromState {
    let bytes: UnsafeBufferPointer<UInt8>
    let options: DecodeOptions
    let openMetrics: Bool
    var batch = SampleBatch()
    var collector = IngestIssueCollector()
    var tokens: [LabelToken] = []
    var scratch: [UInt8] = []
    var lastSeriesBytes: Range<Int> = 0..<0
    var lastSeries = -1
    var sawEOF = false
    var seriesCache = RawSeriesCache()
    var cacheKey: [Range<Int>] = []

    init(bytes: UnsafeBufferPointer<UInt8>, options: DecodeOptions, openMetrics: Bool) {
        self.bytes = bytes
        self.options = options
        self.openMetrics = openMetrics
    }

    mutating func run() -> Result<SampleBatch, IngestError> {
        forEachLine(bytes) { lineNumber, start, lineEnd in
            var end = lineEnd
            if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            do throws(LineProblem) {
                try decodeLine(start, end)
            } catch {
                lastSeries = -1
                collector.report(line: lineNumber, field: error.field, reason: error.reason)
                if collector.error?.detailsTruncated == true { return false }
            }
            return true
        }
        if var error = collector.error {
            error.message = openMetrics ? "invalid OpenMetrics text body" : "invalid Prometheus text body"
            return .failure(error)
        }
        return .success(batch)
    }

    @inline(__always)
    private func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

    @inline(__always)
    private func isNameByte(_ b: UInt8, first: Bool, colon: Bool) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"): return true
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return !first
        case UInt8(ascii: ":"): return colon
        default: return false
        }
    }

    private func describe(_ b: UInt8) -> String {
        b >= 0x21 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x" + String(b, radix: 16, uppercase: true)
    }

    private mutating func decodeLine(_ start: Int, _ end: Int) throws(LineProblem) {
        var i = start
        while i < end && isBlank(bytes[i]) { i += 1 }
        if sawEOF {
            if i < end { throw LineProblem(field: nil, reason: "content after # EOF") }
            return
        }
        guard i < end else { return }
        if bytes[i] == UInt8(ascii: "#") {
            try comment(i + 1, end)
            return
        }

        // Metric name.
        let nameStart = i
        guard isNameByte(bytes[i], first: true, colon: true) else {
            throw LineProblem(field: "metric", reason: "expected a metric name, found \(describe(bytes[i]))")
        }
        i += 1
        while i < end && isNameByte(bytes[i], first: false, colon: true) { i += 1 }
        let nameEnd = i
        while i < end && isBlank(bytes[i]) { i += 1 }

        // Label set.
        tokens.removeAll(keepingCapacity: true)
        var seriesEnd = nameEnd
        if i < end && bytes[i] == UInt8(ascii: "{") {
            i = try scanLabels(i + 1, end)
            seriesEnd = i
            while i < end && isBlank(bytes[i]) { i += 1 }
        } else if i == nameEnd && i < end {
            throw LineProblem(field: "metric", reason: "invalid character \(describe(bytes[i])) in metric name")
        }

        // Value.
        let valueStart = i
        while i < end && !isBlank(bytes[i]) { i += 1 }
        guard i > valueStart else { throw LineProblem(field: "value", reason: "missing value") }
        guard let value = FloatParser.parse(bytes, valueStart, i) else {
            throw LineProblem(
                field: "value",
                reason: "invalid value \"\(DecodeSupport.excerpt(bytes, valueStart, i))\": expected a float, NaN, +Inf or -Inf")
        }
        while i < end && isBlank(bytes[i]) { i += 1 }

        // Optional timestamp, then (OpenMetrics only) an optional exemplar.
        var timestamp = options.now
        if i < end && !(openMetrics && bytes[i] == UInt8(ascii: "#")) {
            let tsStart = i
            while i < end && !isBlank(bytes[i]) { i += 1 }
            let parsed = openMetrics
                ? TimestampParser.parseSecondsAsMillis(bytes, tsStart, i)
                : DecodeSupport.parseInt64(bytes, tsStart, i)
            guard let parsed else {
                throw LineProblem(
                    field: "ts",
                    reason: "invalid timestamp \"\(DecodeSupport.excerpt(bytes, tsStart, i))\": expected "
                        + (openMetrics ? "seconds since the epoch" : "integer milliseconds"))
            }
            timestamp = parsed
            while i < end && isBlank(bytes[i]) { i += 1 }
        }
        if let problem = SampleTime.problem(timestamp) { throw LineProblem(field: "ts", reason: problem) }
        if i < end && !(openMetrics && bytes[i] == UInt8(ascii: "#")) {
            throw LineProblem(field: nil, reason: "unexpected text \"\(DecodeSupport.excerpt(bytes, i, end))\" after the sample")
        }

        let seriesBytes = nameStart..<seriesEnd
        let index: Int
        if lastSeries >= 0 && DecodeSupport.rangesEqual(bytes, seriesBytes, lastSeriesBytes) {
            index = lastSeries
        } else {
            cacheKey.removeAll(keepingCapacity: true)
            cacheKey.append(seriesBytes)
            let hash = RawSeriesCache.hash(bytes, cacheKey)
            if let cached = seriesCache.series(bytes, cacheKey, hash: hash) {
                index = cached
            } else {
                let labels = try buildLabels(nameStart, nameEnd)
                index = batch.seriesIndex(for: labels)
                seriesCache.remember(cacheKey, hash: hash, series: index)
            }
            lastSeries = index
            lastSeriesBytes = seriesBytes
        }
        batch.append(seriesIndex: index, timestamp: timestamp, value: value)
    }

    /// Scans `name="value",...}` after the `{`; returns the index after the `}`.
    private mutating func scanLabels(_ from: Int, _ end: Int) throws(LineProblem) -> Int {
        var i = from
        while true {
            while i < end && isBlank(bytes[i]) { i += 1 }
            guard i < end else { throw LineProblem(field: "labels", reason: "unterminated label set: missing '}'") }
            if bytes[i] == UInt8(ascii: "}") { return i + 1 }
            let nameStart = i
            guard isNameByte(bytes[i], first: true, colon: false) else {
                throw LineProblem(field: "labels", reason: "expected a label name, found \(describe(bytes[i]))")
            }
            i += 1
            while i < end && isNameByte(bytes[i], first: false, colon: false) { i += 1 }
            let nameEnd = i
            while i < end && isBlank(bytes[i]) { i += 1 }
            guard i < end, bytes[i] == UInt8(ascii: "=") else {
                throw LineProblem(field: labelField(nameStart, nameEnd), reason: "expected '=' after the label name, found " + (i < end ? describe(bytes[i]) : "end of line"))
            }
            i += 1
            while i < end && isBlank(bytes[i]) { i += 1 }
            guard i < end, bytes[i] == UInt8(ascii: "\"") else {
                throw LineProblem(field: labelField(nameStart, nameEnd), reason: "expected '\"' to start the label value, found " + (i < end ? describe(bytes[i]) : "end of line"))
            }
            i += 1
            let valueStart = i
            var escapes = false
            while true {
                guard i < end else { throw LineProblem(field: labelField(nameStart, nameEnd), reason: "unterminated label value") }
                let b = bytes[i]
                if b == UInt8(ascii: "\"") { break }
                if b == UInt8(ascii: "\\") {
                    guard i + 1 < end else { throw LineProblem(field: labelField(nameStart, nameEnd), reason: "unterminated label value") }
                    let e = bytes[i + 1]
                    guard e == UInt8(ascii: "\\") || e == UInt8(ascii: "\"") || e == UInt8(ascii: "n") else {
                        throw LineProblem(field: labelField(nameStart, nameEnd), reason: "invalid escape \\\(Character(Unicode.Scalar(e))) in label value (only \\\\, \\\" and \\n)")
                    }
                    escapes = true
                    i += 2
                } else if b < 0x80 {
                    i += 1
                } else {
                    guard let n = UTF8Validator.sequenceLength(bytes, i, end) else {
                        throw LineProblem(field: labelField(nameStart, nameEnd), reason: "invalid UTF-8 in label value")
                    }
                    i += n
                }
            }
            tokens.append(LabelToken(name: nameStart..<nameEnd, value: valueStart..<i, hasEscapes: escapes))
            i += 1
            while i < end && isBlank(bytes[i]) { i += 1 }
            guard i < end else { throw LineProblem(field: "labels", reason: "unterminated label set: missing '}'") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "}") { return i + 1 }
            throw LineProblem(field: "labels", reason: "expected ',' or '}' after a label value, found \(describe(bytes[i]))")
        }
    }

    private func labelField(_ start: Int, _ end: Int) -> String {
        "labels." + DecodeSupport.string(bytes, start, end)
    }

    private mutating func buildLabels(_ nameStart: Int, _ nameEnd: Int) throws(LineProblem) -> Labels {
        var pairs: [Label] = []
        pairs.reserveCapacity(tokens.count + 1)
        for token in tokens {
            let name = DecodeSupport.string(bytes, token.name.lowerBound, token.name.upperBound)
            if name == Labels.metricNameLabel {
                throw LineProblem(field: "labels.\(name)", reason: "label names starting with __ are reserved")
            }
            pairs.append(Label(name: name, value: labelValue(token)))
        }
        if pairs.count > 1 {
            pairs.sort { $0.name < $1.name }
            for k in 1..<pairs.count where pairs[k].name == pairs[k - 1].name {
                throw LineProblem(field: "labels.\(pairs[k].name)", reason: "duplicate label name \"\(pairs[k].name)\"")
            }
        }
        pairs.append(Label(name: Labels.metricNameLabel, value: DecodeSupport.string(bytes, nameStart, nameEnd)))
        let labels = Labels(pairs)
        if let problem = options.validator.problem(with: labels) {
            throw LineProblem(field: problem.field, reason: problem.reason)
        }
        return labels
    }

    private mutating func labelValue(_ token: LabelToken) -> String {
        if !token.hasEscapes { return DecodeSupport.string(bytes, token.value.lowerBound, token.value.upperBound) }
        scratch.removeAll(keepingCapacity: true)
        var i = token.value.lowerBound
        while i < token.value.upperBound {
            let b = bytes[i]
            if b == UInt8(ascii: "\\") {
                let e = bytes[i + 1]
                scratch.append(e == UInt8(ascii: "n") ? 0x0A : e)
                i += 2
            } else {
                scratch.append(b)
                i += 1
            }
        }
        return String(decoding: scratch, as: UTF8.self)
    }

    /// A comment line (after the `#`): HELP, TYPE, UNIT and EOF are checked, others skipped.
    private mutating func comment(_ from: Int, _ end: Int) throws(LineProblem) {
        var i = from
        while i < end && isBlank(bytes[i]) { i += 1 }
        let wordStart = i
        while i < end && !isBlank(bytes[i]) { i += 1 }
        let word = DecodeSupport.string(bytes, wordStart, i)
        if word == "EOF" && openMetrics && i == end {
            sawEOF = true
            return
        }
        guard word == "HELP" || word == "TYPE" || (word == "UNIT" && openMetrics), i < end || word == "TYPE" else { return }
        while i < end && isBlank(bytes[i]) { i += 1 }
        let nameStart = i
        while i < end && !isBlank(bytes[i]) { i += 1 }
        let name = DecodeSupport.string(bytes, nameStart, i)
        guard LabelValidator.isValidMetricName(name) else {
            throw LineProblem(field: "metric", reason: "invalid metric name \"\(name)\" in # \(word) line")
        }
        guard word == "TYPE" else { return }
        while i < end && isBlank(bytes[i]) { i += 1 }
        let typeStart = i
        while i < end && !isBlank(bytes[i]) { i += 1 }
        let type = DecodeSupport.string(bytes, typeStart, i)
        while i < end && isBlank(bytes[i]) { i += 1 }
        guard PrometheusTextDecoder.knownTypes.contains(type), i == end else {
            throw LineProblem(
                field: "TYPE",
                reason: "unknown metric type \"\(DecodeSupport.excerpt(bytes, typeStart, end))\" (expected counter, gauge, histogram, summary or untyped)")
        }
    }
}
