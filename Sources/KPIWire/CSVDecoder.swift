import KPICore

/// Decodes RFC 4180 CSV with a header row naming the columns `metric`, `ts`, `value` (in any
/// order) plus one column per label name:
///
///     metric,ts,value,site,zone
///     queue_wait_seconds,1762070400000,312.5,JFK,T4-security
///
/// Quoted fields may contain commas, `""` and line breaks (line numbers in errors are physical
/// lines; a record is reported at the line where it starts). An empty label cell means the
/// label is absent, an empty `ts` means `DecodeOptions.now`. `ts` is integer milliseconds or
/// RFC 3339; `value` is a Go float (`1.5`, `1e3`, `NaN`, `+Inf`, `-Inf`). A UTF-8 byte order
/// mark and `\r\n` line ends are accepted.
public enum CSVDecoder {
    /// Decodes a whole body; see `IngestDecoder.decode(_:format:options:)` for the error contract.
    /// Errors name the column (`metric`, `ts`, `value` or the label name).
    public static func decode(_ body: [UInt8], options: DecodeOptions) throws(IngestError) -> SampleBatch {
        let result: Result<SampleBatch, IngestError> = body.withUnsafeBufferPointer { bytes in
            var state = CSVState(bytes: bytes, options: options)
            return state.run()
        }
        return try result.get()
    }
}

/// One field of a record: the bytes between the quotes for quoted fields.
struct CSVField {
    var start: Int
    var end: Int
    /// Contains `""` pairs that decode to one quote.
    var hasDoubledQuotes: Bool

    var range: Range<Int> { start..<end }
    var isEmpty: Bool { start == end }
}

private struct CSVState {
    let bytes: UnsafeBufferPointer<UInt8>
    let options: DecodeOptions
    var batch = SampleBatch()
    var collector = IngestIssueCollector()
    var fields: [CSVField] = []
    var scratch: [UInt8] = []

    var pos = 0
    var line = 1

    // Header layout.
    var metricColumn = -1
    var tsColumn = -1
    var valueColumn = -1
    var labelColumns: [(column: Int, name: String)] = []

    // The series of the previous good row, recognised again by the raw bytes of its cells.
    var lastCells: [Range<Int>] = []
    var lastSeries = -1
    var seriesCache = RawSeriesCache()

    init(bytes: UnsafeBufferPointer<UInt8>, options: DecodeOptions) {
        self.bytes = bytes
        self.options = options
    }

    private enum RecordResult {
        case record
        case blank
        case problem(String)
        case unterminated
    }

    mutating func run() -> Result<SampleBatch, IngestError> {
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { pos = 3 }
        var headerDone = false
        while pos < bytes.count {
            let recordLine = line
            switch readRecord() {
            case .blank:
                continue
            case .unterminated:
                report(recordLine, nil, "unterminated quoted field")
                return finish()
            case .problem(let reason):
                report(recordLine, nil, reason)
                if !headerDone { return finish() }
                if full { return finish() }
            case .record:
                if !headerDone {
                    headerDone = true
                    if !readHeader() { return finish() }
                    continue
                }
                do throws(LineProblem) {
                    try decodeRow()
                } catch {
                    lastSeries = -1
                    report(recordLine, error.field, error.reason)
                    if full { return finish() }
                }
            }
        }
        return finish()
    }

    private var full: Bool { collector.error?.detailsTruncated == true }

    private mutating func report(_ line: Int, _ field: String?, _ reason: String) {
        collector.report(line: line, field: field, reason: reason)
    }

    private func finish() -> Result<SampleBatch, IngestError> {
        if var error = collector.error {
            error.message = "invalid CSV body"
            return .failure(error)
        }
        return .success(batch)
    }

    /// Reads one record at `pos` into `fields`, advancing `pos` past its line end and `line`
    /// by the physical lines consumed.
    private mutating func readRecord() -> RecordResult {
        fields.removeAll(keepingCapacity: true)
        let count = bytes.count
        let recordStart = pos
        while true {
            if pos < count && bytes[pos] == UInt8(ascii: "\"") {
                // Quoted field.
                pos += 1
                let start = pos
                var doubled = false
                while true {
                    guard pos < count else { return .unterminated }
                    let b = bytes[pos]
                    if b == UInt8(ascii: "\"") {
                        if pos + 1 < count && bytes[pos + 1] == UInt8(ascii: "\"") {
                            doubled = true
                            pos += 2
                            continue
                        }
                        break
                    }
                    if b == 0x0A { line += 1 }
                    pos += 1
                }
                fields.append(CSVField(start: start, end: pos, hasDoubledQuotes: doubled))
                pos += 1
                // After the closing quote: a separator, a line end or the end of input.
                if pos < count && bytes[pos] == 0x0D && pos + 1 < count && bytes[pos + 1] == 0x0A { pos += 1 }
                if pos >= count { return .record }
                let b = bytes[pos]
                pos += 1
                if b == UInt8(ascii: ",") { continue }
                if b == 0x0A { line += 1; return .record }
                pos -= 1
                skipToNextLine()
                return .problem("unexpected \(describe(b)) after a closing quote (field \(fields.count))")
            }
            // Unquoted field.
            let start = pos
            while pos < count {
                let b = bytes[pos]
                if b == UInt8(ascii: ",") || b == 0x0A { break }
                if b == UInt8(ascii: "\"") {
                    skipToNextLine()
                    return .problem("bare \" in unquoted field \(fields.count + 1); quote the field and double the quote")
                }
                pos += 1
            }
            var end = pos
            if pos < count && bytes[pos] == 0x0A || pos == count {
                if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            }
            fields.append(CSVField(start: start, end: end, hasDoubledQuotes: false))
            if pos >= count {
                return fields.count == 1 && end == start ? .blank : .record
            }
            let b = bytes[pos]
            pos += 1
            if b == UInt8(ascii: ",") { continue }
            line += 1
            if fields.count == 1 && end == start && pos - 1 - recordStart <= 1 { return .blank }
            return .record
        }
    }

    private mutating func skipToNextLine() {
        while pos < bytes.count {
            let b = bytes[pos]
            pos += 1
            if b == 0x0A { line += 1; return }
        }
    }

    private func describe(_ b: UInt8) -> String {
        b >= 0x21 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x" + String(b, radix: 16, uppercase: true)
    }

    private mutating func text(_ field: CSVField) -> String {
        if !field.hasDoubledQuotes { return DecodeSupport.string(bytes, field.start, field.end) }
        scratch.removeAll(keepingCapacity: true)
        var i = field.start
        while i < field.end {
            scratch.append(bytes[i])
            i += bytes[i] == UInt8(ascii: "\"") ? 2 : 1
        }
        return String(decoding: scratch, as: UTF8.self)
    }

    /// Reads the column layout; false when the header is unusable (already reported).
    private mutating func readHeader() -> Bool {
        var names: [String] = []
        for field in fields {
            if let bad = UTF8Validator.firstInvalid(bytes, field.start, field.end) {
                report(1, nil, "invalid UTF-8 in header at byte \(bad - field.start + 1) of column \(names.count + 1)")
                return false
            }
            names.append(text(field))
        }
        var ok = true
        var seen = Set<String>()
        for (column, name) in names.enumerated() {
            if !seen.insert(name).inserted {
                report(1, name, "duplicate column \"\(name)\"")
                ok = false
                continue
            }
            switch name {
            case "metric": metricColumn = column
            case "ts": tsColumn = column
            case "value": valueColumn = column
            default:
                if name.isEmpty {
                    report(1, name, "empty column name in header (column \(column + 1))")
                    ok = false
                } else if !LabelValidator.isValidLabelName(name) {
                    report(1, name, "invalid label name \"\(name)\" in header: must match [a-zA-Z_][a-zA-Z0-9_]*")
                    ok = false
                } else if name.hasPrefix("__") {
                    report(1, name, "label names starting with __ are reserved")
                    ok = false
                } else if name.utf8.count > options.validator.maxLabelNameLength {
                    report(1, name, "label name longer than \(options.validator.maxLabelNameLength) bytes")
                    ok = false
                } else {
                    labelColumns.append((column, name))
                }
            }
        }
        for (column, name) in [(metricColumn, "metric"), (tsColumn, "ts"), (valueColumn, "value")] where column < 0 {
            report(1, name, "header lacks the \"\(name)\" column (expected metric,ts,value,<label>...)")
            ok = false
        }
        headerCount = names.count
        return ok
    }

    private var headerCount = 0

    private mutating func decodeRow() throws(LineProblem) {
        guard fields.count == headerCount else {
            throw LineProblem(field: nil, reason: "expected \(headerCount) fields as in the header, found \(fields.count)")
        }
        let tsField = fields[tsColumn]
        let timestamp: Int64
        if tsField.isEmpty {
            timestamp = options.now
        } else if !tsField.hasDoubledQuotes, let ms = DecodeSupport.parseTimestamp(bytes, tsField.start, tsField.end) {
            timestamp = ms
        } else {
            throw LineProblem(field: "ts", reason: "invalid timestamp \"\(excerpt(tsField))\": expected integer milliseconds or RFC 3339")
        }
        if let problem = SampleTime.problem(timestamp) { throw LineProblem(field: "ts", reason: problem) }
        let valueField = fields[valueColumn]
        guard !valueField.isEmpty else { throw LineProblem(field: "value", reason: "missing value") }
        guard !valueField.hasDoubledQuotes, let value = FloatParser.parse(bytes, valueField.start, valueField.end) else {
            throw LineProblem(field: "value", reason: "invalid value \"\(excerpt(valueField))\": expected a number, NaN, +Inf or -Inf")
        }

        let index: Int
        if lastSeries >= 0 && sameSeriesCells() {
            index = lastSeries
        } else {
            lastCells.removeAll(keepingCapacity: true)
            lastCells.append(fields[metricColumn].range)
            for (column, _) in labelColumns { lastCells.append(fields[column].range) }
            let hash = RawSeriesCache.hash(bytes, lastCells)
            if let cached = seriesCache.series(bytes, lastCells, hash: hash) {
                index = cached
            } else {
                let labels = try buildLabels()
                index = batch.seriesIndex(for: labels)
                seriesCache.remember(lastCells, hash: hash, series: index)
            }
            lastSeries = index
        }
        batch.append(seriesIndex: index, timestamp: timestamp, value: value)
    }

    private func sameSeriesCells() -> Bool {
        guard DecodeSupport.rangesEqual(bytes, fields[metricColumn].range, lastCells[0]) else { return false }
        for (k, label) in labelColumns.enumerated()
        where !DecodeSupport.rangesEqual(bytes, fields[label.column].range, lastCells[k + 1]) {
            return false
        }
        return true
    }

    private mutating func buildLabels() throws(LineProblem) -> Labels {
        let metricField = fields[metricColumn]
        if let bad = UTF8Validator.firstInvalid(bytes, metricField.start, metricField.end) {
            throw LineProblem(field: "metric", reason: "invalid UTF-8 at byte \(bad - metricField.start + 1)")
        }
        var pairs: [Label] = [Label(name: Labels.metricNameLabel, value: text(metricField))]
        for (column, name) in labelColumns {
            let field = fields[column]
            if field.isEmpty { continue }
            if let bad = UTF8Validator.firstInvalid(bytes, field.start, field.end) {
                throw LineProblem(field: name, reason: "invalid UTF-8 at byte \(bad - field.start + 1)")
            }
            pairs.append(Label(name: name, value: text(field)))
        }
        let labels = Labels(pairs)
        if let problem = options.validator.problem(with: labels) {
            // Name the column, as the header does.
            let field = problem.field.hasPrefix("labels.") ? String(problem.field.dropFirst(7)) : problem.field
            throw LineProblem(field: field, reason: problem.reason)
        }
        return labels
    }

    private func excerpt(_ field: CSVField) -> String {
        DecodeSupport.excerpt(bytes, field.start, field.end)
    }
}
