import Foundation
import KPICore

/// Where a SELECT reads its rows from, once planned.
enum PlannedSource {
    /// Samples of the selected series of a metric, in `[start, end]`.
    case samples(metric: String, series: [(id: SeriesID, labels: Labels)], start: Int64, end: Int64)
    /// `intervals(metric, condition[, from, to])`: one row per run of samples where the
    /// condition held; `condition` nil for `intervals(metric, unknown ...)`, the runs in which
    /// the series' state was unknown.
    case intervals(
        metric: String, series: [(id: SeriesID, labels: Labels)], start: Int64, end: Int64, condition: Compiled?,
        conditionScope: Scope)
    /// Rows of a subquery or join.
    case rows(Relation)
}

extension Execution {
    /// Plans and runs one SELECT (at nesting `depth`), returning its rows (none under EXPLAIN).
    func select(_ s: SelectStatement, depth: Int) throws(QueryError) -> Relation {
        try checkDeadline()
        // 1. The source and its scope.
        let (scope, relation, metricName, intervalsArguments) = try source(s, depth: depth)
        let rowCompiler = Compiler(scope: scope, options: options)

        // 2. WHERE: series-level conjuncts, a time range, and per-row conjuncts.
        var (seriesFilters, rowFilters, start, end, alwaysEmpty, pushdown) = try splitWhere(
            s, scope: scope, compiler: rowCompiler, metric: metricName != nil, intervals: intervalsArguments != nil)

        // 3. Series selection through the label index.
        var planned: PlannedSource
        if let metricName {
            var conditionScope: Scope? = nil
            var condition: Compiled? = nil
            if let args = intervalsArguments {
                let cs = Scope.metric(metricName, alias: nil)
                let cc = Compiler(scope: cs, options: options)
                conditionScope = cs
                if case .column(let ref, _) = args[1], ref.table == nil, ref.name.lowercased() == "unknown" {
                    condition = nil  // the runs of unknown state
                } else {
                    let c = try cc.compile(args[1])
                    try cc.expectType(c, [.boolean], "the condition of intervals()", args[1].range)
                    condition = c
                }
                for (index, isStart) in [(2, true), (3, false)] where args.count > index {
                    let bound = try cc.coerce(try cc.compile(args[index]), to: .timestamp, range: args[index].range)
                    guard case .timestamp(let t)? = bound.constant else {
                        throw Compiler.semantic("the time range of intervals() must be constant timestamps", args[index].range)
                    }
                    if isStart { start = t } else { end = t }
                }
            }
            let nameMatcher = try! LabelMatcher(Labels.metricNameLabel, .equal, metricName)
            let matchers = [nameMatcher] + pushdown
            var series = try selectSeries(matchers)
            var metricExists = !series.isEmpty
            if !metricExists { metricExists = try !selectSeries([nameMatcher]).isEmpty }
            if !metricExists {
                throw QueryError(
                    message: "unknown metric \"\(metricName)\"", position: position(of: metricName),
                    hint: Execution.metricHint(metricName, querier), kind: .semantic)
            }
            if alwaysEmpty || start > end { series = [] }
            note(
                depth,
                (intervalsArguments != nil ? "Intervals " : "Scan ") + metricName + " series=\(series.count) matchers={"
                    + matchers.map(\.description).joined(separator: ", ") + "}" + Execution.rangeText(start, end))
            if seriesFilters.count > 0 {
                note(depth + 1, "series filter: \(seriesFilters.count) label predicate(s), checked once per series")
            }
            if rowFilters.count > 0 { note(depth + 1, "row filter: \(rowFilters.count) predicate(s) per sample") }
            if intervalsArguments != nil, let conditionScope {
                planned = .intervals(
                    metric: metricName, series: series, start: start, end: end, condition: condition, conditionScope: conditionScope)
            } else {
                planned = .samples(metric: metricName, series: series, start: start, end: end)
            }
            if series.count > options.limits.maxSeries {
                throw limitError(
                    "the query selects \(series.count) series, more than the limit of \(options.limits.maxSeries)",
                    hint: "filter on more labels or raise the series limit")
            }
        } else {
            planned = .rows(alwaysEmpty ? Relation(columns: relation!.columns, rows: []) : relation!)
            if !rowFilters.isEmpty || !seriesFilters.isEmpty {
                note(depth + 1, "filter: \(rowFilters.count + seriesFilters.count) predicate(s)")
            }
            rowFilters += seriesFilters
            seriesFilters = []
        }

        // 4. The select list (SELECT * expands to the source's columns).
        let items = selectItems(s, planned, intervals: intervalsArguments != nil)

        // 5. Grouping.
        let aggregated =
            !s.groupBy.isEmpty || s.having != nil || items.contains { Execution.containsAggregate($0.expression) }
        var layout: GroupLayout? = nil
        var keyEvals: [Compiled] = []
        if aggregated {
            if s.items.contains(.wildcard) {
                throw QueryError(message: "SELECT * cannot be used with GROUP BY or aggregates", position: .start, kind: .semantic)
            }
            let l = GroupLayout()
            for key in s.groupBy {
                let resolved = try resolveGroupKey(key, items)
                let compiled = try rowCompiler.compile(resolved)
                l.keys.append(resolved.strippingRanges())
                l.keyCompiled.append(compiled)
                keyEvals.append(compiled)
            }
            layout = l
        }
        let outputCompiler = Compiler(scope: scope, options: options, group: layout)
        var outputs: [Compiled] = []
        for item in items { outputs.append(try outputCompiler.compile(item.expression)) }
        var having: Compiled? = nil
        if var h = s.having {
            if let layout { h = Execution.expandingAliases(h, items, keys: layout.keys) }
            let c = try outputCompiler.compile(h)
            try outputCompiler.expectType(c, [.boolean], "HAVING", h.range)
            having = c
        }
        // ORDER BY keys: an output column (by name or position) or an extra hidden column.
        let (orderColumns, hidden) = try orderKeys(s, items, layout: layout, compiler: outputCompiler)
        // Grouped scans of a metric without per-sample WHERE run on column slices.
        var columnar: ColumnarAggregation? = nil
        if let layout, rowFilters.isEmpty, case .samples = planned {
            var fixedWidth: (width: Int64, origin: Int64)? = nil
            for key in layout.keys {
                if case .function(let call, _) = key, let w = try bucketWidth(of: call) { fixedWidth = w }
            }
            columnar = ColumnarAggregation(layout: layout, keys: keyEvals, fixedWidth: fixedWidth, useRollups: options.useRollups)
        }
        if let layout {
            note(
                depth,
                (columnar.map { c in c.rollupLevel.map { "Aggregate (columnar, rollups \($0))" } ?? "Aggregate (columnar)" }
                    ?? "Aggregate") + " keys=["
                    + layout.keys.map { SQLPrinter.expression($0) }.joined(separator: ", ") + "] aggregates=["
                    + layout.aggregates.map(\.text).joined(separator: ", ") + "]")
        }
        var columns = zip(items, outputs).map { Relation.Column(table: nil, name: $0.0.name, type: $0.1.type) }
        if explainOnly {
            if s.fill != nil { note(depth, "Fill \(s.fill!)") }
            if !s.orderBy.isEmpty {
                note(
                    depth,
                    "Sort "
                        + s.orderBy.map { SQLPrinter.expression($0.expression) + ($0.descending ? " DESC" : "") }.joined(separator: ", "))
            }
            if let limit = s.limit { note(depth, "Limit \(limit)" + (s.offset.map { " offset \($0)" } ?? "")) }
            return Relation(columns: columns, rows: [])
        }

        // 6. Run.
        let evaluate = outputs.map(\.eval) + hidden.map(\.eval)
        let keep = s.limit.map { min(Int($0), Int.max / 2) + min(Int(s.offset ?? 0), Int.max / 2) }
        let canStopEarly = !aggregated && s.orderBy.isEmpty && !s.distinct && s.fill == nil
        var rows: [[Value]] = []
        var grouping = layout.map { GroupTable(layout: $0, keys: keyEvals) }
        let scanRow = Row(count: scope.slotCount)
        var done = false
        let maxRows = options.limits.maxRows
        let filters = rowFilters.map(\.eval)

        func consume(_ row: Row) throws(QueryError) {
            for f in filters where f(row).truth != true { return }
            if grouping != nil {
                try grouping!.add(row, execution: self)
                return
            }
            rows.append(evaluate.map { $0(row) })
            if canStopEarly, let keep, rows.count >= keep {
                done = true
            } else if rows.count > maxRows {
                if let keep, !s.orderBy.isEmpty, !s.distinct {
                    // Keep only the best `keep` rows so far: memory stays bounded by LIMIT.
                    Execution.sort(&rows, orderColumns)
                    rows.removeSubrange(keep...)
                } else {
                    throw limitError(
                        "the result has more than \(maxRows) rows", hint: "add LIMIT, aggregate, or raise the result row limit")
                }
            }
        }

        switch planned {
        case .samples(_, let series, let start, let end):
            let labelNames = scope.labels
            let needsPrevious = layout?.aggregates.contains { $0.function == .rate || $0.function == .increase } ?? false
            let holdsStates = layout?.aggregates.contains { $0.function == .timeInState } ?? false
            if grouping != nil, let columnar {
                try columnar.run(
                    series: series, start: start, end: end, previous: needsPrevious, row: scanRow, labelNames: labelNames,
                    seriesFilters: seriesFilters, table: &grouping!, execution: self)
                break
            }
            try scanSamples(
                series, start: start, end: end, previous: needsPrevious, holdsStates: holdsStates, row: scanRow,
                labelNames: labelNames, seriesFilters: seriesFilters, isDone: { done }, consume: consume)
        case .intervals(let metric, let series, let start, let end, let condition, let conditionScope):
            try scanIntervals(
                metric, series, start: start, end: end, condition: condition, conditionScope: conditionScope, row: scanRow,
                labelNames: scope.labels, seriesFilters: seriesFilters, isDone: { done }, consume: consume)
        case .rows(let r):
            for (i, values) in r.rows.enumerated() where !done {
                if i & 0xFFF == 0 { try checkDeadline() }
                scanRow.slots = values
                scanRow.series = 0
                scanRow.nextTimestamp = nil
                try consume(scanRow)
            }
        }

        // 7. Groups to rows.
        if var table = grouping {
            let groupRow = Row(count: layout!.slotCount)
            if table.count == 0 && s.groupBy.isEmpty { table.addEmptyGroup() }
            for g in 0..<table.count {
                table.load(g, into: groupRow)
                if let having, having.eval(groupRow).truth != true { continue }
                rows.append(evaluate.map { $0(groupRow) })
                if rows.count > maxRows && s.fill == nil && (keep == nil || s.orderBy.isEmpty) {
                    throw limitError("the result has more than \(maxRows) rows", hint: "add LIMIT, filter, or raise the result row limit")
                }
            }
        }

        // 8. FILL, DISTINCT, ORDER BY, OFFSET and LIMIT.
        if let fill = s.fill {
            rows = try self.fill(rows, strategy: fill, items: items, layout: layout, start: start, end: end, columns: &columns)
        }
        if s.distinct {
            var seen = Set<[Value]>()
            rows = rows.filter { seen.insert(Array($0.prefix(items.count))).inserted }
        }
        if !orderColumns.isEmpty { Execution.sort(&rows, orderColumns) }
        if let offset = s.offset { rows = Array(rows.dropFirst(Int(offset))) }
        if let limit = s.limit, rows.count > Int(limit) { rows.removeSubrange(Int(limit)...) }
        if rows.count > maxRows {
            throw limitError("the result has more than \(maxRows) rows", hint: "add LIMIT, filter, or raise the result row limit")
        }
        if !hidden.isEmpty { rows = rows.map { Array($0.prefix(items.count)) } }
        if case .samples(let metric, let series, _, _) = planned { warnAboutMissingLabels(scope.labels, series, metric) }
        if case .intervals(let metric, let series, _, _, _, _) = planned { warnAboutMissingLabels(scope.labels, series, metric) }
        return Relation(columns: columns, rows: rows)
    }

    /// The SELECT's source: a metric, a subquery, a join or `intervals()`, with the scope its
    /// expressions are compiled in (a metric's scope knows its label names).
    private func source(_ s: SelectStatement, depth: Int) throws(QueryError) -> (
        scope: Scope, relation: Relation?, metricName: String?, intervalsArguments: [Expression]?
    ) {
        let scope: Scope
        var relation: Relation? = nil
        var metricName: String? = nil
        var intervalsArguments: [Expression]? = nil
        switch s.from {
        case .metric(let name, let alias):
            scope = Scope.metric(name, alias: alias)
            metricName = name
        case .subquery(let inner, let alias):
            note(depth + 1, "Subquery \(alias)")
            let r = try select(inner, depth: depth + 2)
            relation = r
            scope = Execution.scope(of: r, table: alias)
        case .join(let join):
            let r = try self.join(join, depth: depth + 1)
            relation = r
            scope = Execution.scope(of: r, table: nil)
        case .function(let name, let arguments, let alias):
            guard name.lowercased() == "intervals" else {
                throw QueryError(
                    message: "unknown table function \(name)()", position: position(of: name),
                    hint: "kpid has the table function intervals(metric, condition[, from, to])", kind: .semantic)
            }
            guard (2...4).contains(arguments.count), case .column(let ref, _) = arguments[0], ref.table == nil else {
                throw QueryError(
                    message: "intervals() takes (metric, condition[, from, to])", position: position(of: name), kind: .semantic)
            }
            metricName = ref.name
            intervalsArguments = arguments
            var qualifiers: Set<String> = [ref.name]
            if let alias { qualifiers.insert(alias) }
            scope = Scope(
                columns: IntervalRun.columns.enumerated().map { slot, column in
                    .init(table: nil, name: column.name, type: column.type, slot: slot, perSeries: false)
                }, qualifiers: qualifiers, labelsOnDemand: true)
        }
        if let metricName {
            var names = Set<String>()
            for entry in try selectSeries([try! LabelMatcher(Labels.metricNameLabel, .equal, metricName)]) {
                for pair in entry.labels.pairs where pair.name != Labels.metricNameLabel { names.insert(pair.name) }
            }
            scope.knownLabels = names
        }
        return (scope, relation, metricName, intervalsArguments)
    }

    /// The WHERE clause's conjuncts sorted by what they test: series-level ones (on labels,
    /// checked once per series; the simple ones pushed down as label matchers), a time range on
    /// `ts` (read no further), and per-row ones; a constant false makes the result empty.
    private func splitWhere(_ s: SelectStatement, scope: Scope, compiler rowCompiler: Compiler, metric: Bool, intervals: Bool)
        throws(QueryError) -> (
            seriesFilters: [Compiled], rowFilters: [Compiled], start: Int64, end: Int64, alwaysEmpty: Bool, pushdown: [LabelMatcher]
        )
    {
        var seriesFilters: [Compiled] = []
        var rowFilters: [Compiled] = []
        var start = Int64.min
        var end = Int64.max
        var alwaysEmpty = false
        var pushdown: [LabelMatcher] = []
        for conjunct in Execution.conjuncts(s.filter) {
            let compiled = try rowCompiler.compile(conjunct)
            try rowCompiler.expectType(compiled, [.boolean], "WHERE", conjunct.range)
            if let constant = compiled.constant {
                if constant.truth != true { alwaysEmpty = true }
                continue
            }
            if metric, !intervals, let bound = try timeBound(conjunct, rowCompiler) {
                start = max(start, bound.start)
                end = min(end, bound.end)
                continue
            }
            if compiled.readsRow {
                rowFilters.append(compiled)
            } else {
                seriesFilters.append(compiled)
                if metric, let matcher = try labelMatcher(conjunct, scope) { pushdown.append(matcher) }
            }
        }
        return (seriesFilters, rowFilters, start, end, alwaysEmpty, pushdown)
    }

    /// The select list as expressions and output names: `SELECT *` expands to the source's
    /// columns (`ts`, `value` or the intervals columns first, then the labels, sorted).
    private func selectItems(_ s: SelectStatement, _ planned: PlannedSource, intervals: Bool) -> [(
        expression: Expression, name: String
    )] {
        var items: [(expression: Expression, name: String)] = []
        for item in s.items {
            switch item {
            case .wildcard:
                switch planned {
                case .samples(_, let series, _, _), .intervals(_, let series, _, _, _, _):
                    let base = intervals ? ["start", "end", "duration"] : ["ts", "value"]
                    var names = Set<String>()
                    for entry in series {
                        for pair in entry.labels.pairs where pair.name != Labels.metricNameLabel { names.insert(pair.name) }
                    }
                    for name in base + names.subtracting(base).sorted() {
                        items.append((.column(ColumnReference(name), range: .unknown), name))
                    }
                case .rows(let r):
                    for column in r.columns {
                        items.append((.column(ColumnReference(table: column.table, column.name), range: .unknown), column.name))
                    }
                }
            case .expression(let e, let alias):
                items.append((e, alias ?? Execution.defaultName(e)))
            }
        }
        return items
    }

    /// The ORDER BY keys as column indexes: an output column (by name or position) or an extra
    /// hidden column appended after the outputs (returned compiled).
    private func orderKeys(
        _ s: SelectStatement, _ items: [(expression: Expression, name: String)], layout: GroupLayout?, compiler outputCompiler: Compiler
    ) throws(QueryError) -> ([(index: Int, descending: Bool, nullsFirst: Bool)], [Compiled]) {
        var orderColumns: [(index: Int, descending: Bool, nullsFirst: Bool)] = []
        var hidden: [Compiled] = []
        for order in s.orderBy {
            var index: Int? = nil
            if case .column(let ref, _) = order.expression, ref.table == nil {
                index = items.firstIndex { $0.name == ref.name }
            } else if case .literal(.integer(let k), let range) = order.expression {
                guard k >= 1, k <= items.count else {
                    throw Compiler.semantic("ORDER BY position \(k) is not in the select list (1 to \(items.count))", range)
                }
                index = Int(k) - 1
            }
            if index == nil {
                var e = order.expression
                if let layout { e = Execution.expandingAliases(e, items, keys: layout.keys) }
                let c = try outputCompiler.compile(e)
                hidden.append(c)
                index = items.count + hidden.count - 1
            }
            let nullsFirst = order.nulls.map { $0 == .first } ?? order.descending
            orderColumns.append((index!, order.descending, nullsFirst))
        }
        return (orderColumns, hidden)
    }

    /// The row path over a metric's samples: one row per sample (plus, for `time_in_state`,
    /// the state held into the range from before it), each handed to `consume`.
    private func scanSamples(
        _ series: [(id: SeriesID, labels: Labels)], start: Int64, end: Int64, previous needsPrevious: Bool, holdsStates: Bool,
        row scanRow: Row, labelNames: [String], seriesFilters: [Compiled], isDone: () -> Bool,
        consume: (Row) throws(QueryError) -> Void
    ) throws(QueryError) {
        var index = 0
        for entry in series where !isDone() {
            index += 1
            if index & 63 == 0 { try checkDeadline() }
            if !setLabels(scanRow, entry.labels, labelNames, firstSlot: 2, filters: seriesFilters) { continue }
            scanRow.series = Int(entry.id.rawValue)
            let metric = entry.labels.metricName ?? ""
            let (ts, vs, first) = try readSeries(
                entry.id, start: start, end: end, previous: needsPrevious,
                holdLookback: holdsStates ? options.staleness.lookbackMs(metric: metric) : 0)
            // A sample's state holds until the next sample, at most the series' staleness
            // limit, and the state before the range is carried in from its start.
            let hold = holdsStates ? stateHold(metric: metric, timestamps: ts, rangeEnd: end) : .none
            if holdsStates, case let held = heldIntoRange(ts, first: first, start: start, hold: hold), held > 0 {
                scanRow.slots[0] = .timestamp(start)
                scanRow.slots[1] = .double(vs[first - 1])
                scanRow.nextTimestamp = start + held
                scanRow.isHeldState = true
                try consume(scanRow)
                scanRow.isHeldState = false
            }
            var i = first
            while i < ts.count && !isDone() {
                scanRow.slots[0] = .timestamp(ts[i])
                scanRow.slots[1] = .double(vs[i])
                scanRow.nextTimestamp = holdsStates ? hold.until(ts[i], following: i + 1 < ts.count ? ts[i + 1] : nil) : nil
                scanRow.previousTimestamp = i > 0 ? ts[i - 1] : nil
                if i > 0 { scanRow.previousValue = vs[i - 1] }
                try consume(scanRow)
                i += 1
                if i & 0xFFFF == 0 { try checkDeadline() }
            }
        }
    }

    /// The rows of `intervals(metric, condition | unknown, from, to)`: each series' runs, cut
    /// at maintenance windows, each handed to `consume`.
    private func scanIntervals(
        _ metric: String, _ series: [(id: SeriesID, labels: Labels)], start: Int64, end: Int64, condition: Compiled?,
        conditionScope: Scope, row scanRow: Row, labelNames: [String], seriesFilters: [Compiled], isDone: () -> Bool,
        consume: (Row) throws(QueryError) -> Void
    ) throws(QueryError) {
        let conditionRow = Row(count: conditionScope.slotCount)
        let conditionLabels = conditionScope.labels
        let labelSlot = IntervalRun.columns.count
        for entry in series where !isDone() {
            try checkDeadline()
            if !setLabels(scanRow, entry.labels, labelNames, firstSlot: labelSlot, filters: seriesFilters) { continue }
            _ = setLabels(conditionRow, entry.labels, conditionLabels, firstSlot: 2, filters: [])
            let runs: [IntervalRun]
            if let condition {
                runs = try intervalRuns(entry.id, metric: metric, start: start, end: end) { t, v in
                    conditionRow.slots[0] = .timestamp(t)
                    conditionRow.slots[1] = .double(v)
                    return condition.eval(conditionRow).truth == true
                }
            } else {
                runs = try unknownRuns(entry.id, metric: metric, start: start, end: end)
            }
            let windows = options.maintenance.filter { $0.covers(entry.labels) }.map { (start: $0.startMs, end: $0.endMs) }
            for run in windows.isEmpty ? runs : runs.flatMap({ $0.split(by: windows) }) where !isDone() {
                run.store(into: scanRow)
                scanRow.nextTimestamp = nil
                try consume(scanRow)
            }
        }
    }

    /// One series' samples in `[start, end]`, staleness markers dropped (they end a series in
    /// PromQL and are not samples), counted against the limits; `first` is the index of the
    /// first of them. With `previous` (rate/increase) the sample before `start` comes
    /// first; with a `holdLookback` (time_in_state) every sample that far before `start` does,
    /// so the series' staleness limit and the state carried into the range can be derived.
    func readSeries(
        _ id: SeriesID, start: Int64, end: Int64, previous: Bool = false, holdLookback: Int64 = 0
    ) throws(QueryError) -> ([Int64], [Double], first: Int) {
        var (ts, vs) = try read(id, start: start, end: end)
        var first = 0
        let lookback = max(previous ? Execution.counterLookback : 0, holdLookback)
        if lookback > 0, start != .min, start <= end {
            let before = try read(id, start: start.subtractingClamped(lookback), end: start - 1)
            let keep = holdLookback > 0 ? before.timestamps.count : min(1, before.timestamps.count)
            ts.insert(contentsOf: before.timestamps.suffix(keep), at: 0)
            vs.insert(contentsOf: before.values.suffix(keep), at: 0)
            first = keep
        }
        try countScanned(series: 1, samples: ts.count)
        return (ts, vs, first)
    }

    /// How `time_in_state` holds one series of `metric` read by `readSeries(..., holdLookback:)`.
    func stateHold(metric: String, timestamps: [Int64], rangeEnd: Int64) -> StateHold {
        StateHold(
            limit: options.staleness.limitMs(metric: metric, timestamps: timestamps), rangeEnd: rangeEnd, now: options.now)
    }

    /// The part of `[start, ...)` the state of the sample before a range (index `first - 1`)
    /// still held, in ms: up to the first sample in the range, the staleness limit or the end.
    func heldIntoRange(_ ts: [Int64], first: Int, start: Int64, hold: StateHold) -> Int64 {
        guard start != .min, first > 0,
            let until = hold.until(ts[first - 1], following: first < ts.count ? ts[first] : nil)
        else { return 0 }
        return max(0, until - start)
    }

    /// How far before a query's range `rate`/`increase` look for the sample before the first.
    static let counterLookback: Int64 = 3_600_000

    /// Sets the label slots of `row` for one series; false when a series-level filter rejects it.
    func setLabels(_ row: Row, _ labels: Labels, _ names: [String], firstSlot: Int, filters: [Compiled]) -> Bool {
        for (k, name) in names.enumerated() {
            row.slots[firstSlot + k] = labels[name].map { .string($0) } ?? .null
        }
        for f in filters where f.eval(row).truth != true { return false }
        return true
    }

    private func warnAboutMissingLabels(_ names: [String], _ series: [(id: SeriesID, labels: Labels)], _ metric: String) {
        guard !series.isEmpty else { return }
        for name in names where !series.contains(where: { $0.labels[name] != nil }) {
            warnings.append("no series of \(metric) has a label \"\(name)\": the column is NULL everywhere")
        }
    }

    static func scope(of relation: Relation, table: String?) -> Scope {
        Scope(
            columns: relation.columns.enumerated().map {
                Scope.Column(
                    table: table ?? $0.element.table, name: $0.element.name, type: $0.element.type, slot: $0.offset, perSeries: false)
            }, qualifiers: table.map { [$0] } ?? [], labelsOnDemand: false)
    }

    /// GROUP BY accepts select-list aliases and 1-based positions, as PostgreSQL and DuckDB do.
    private func resolveGroupKey(_ key: Expression, _ items: [(expression: Expression, name: String)]) throws(QueryError)
        -> Expression
    {
        if case .literal(.integer(let k), let range) = key {
            guard k >= 1, k <= items.count else {
                throw Compiler.semantic("GROUP BY position \(k) is not in the select list (1 to \(items.count))", range)
            }
            return items[Int(k) - 1].expression
        }
        if case .column(let ref, _) = key, ref.table == nil,
            let item = items.first(where: { $0.name == ref.name }),
            item.expression.strippingRanges() != key.strippingRanges()
        {
            if case .column = item.expression {
            } else if Execution.containsAggregate(item.expression) {
                throw Compiler.semantic("cannot GROUP BY \"\(ref.name)\": it is an aggregate", key.range)
            }
            return item.expression
        }
        return key
    }

    static func defaultName(_ e: Expression) -> String {
        if case .column(let ref, _) = e { return ref.name }
        if case .function(let call, _) = e { return call.name.lowercased() }
        return SQLPrinter.expression(e)
    }

    static func conjuncts(_ e: Expression?) -> [Expression] {
        guard let e else { return [] }
        if case .binary(.and, let a, let b, _) = e { return conjuncts(a) + conjuncts(b) }
        return [e]
    }

    static func containsAggregate(_ e: Expression) -> Bool {
        switch e {
        case .literal, .parameter, .column, .star: return false
        case .unary(_, let x, _), .isNull(let x, _, _), .cast(let x, _, _): return containsAggregate(x)
        case .binary(_, let a, let b, _), .like(let a, let b, _, _): return containsAggregate(a) || containsAggregate(b)
        case .inList(let a, let list, _, _): return containsAggregate(a) || list.contains(where: containsAggregate)
        case .between(let a, let b, let c, _, _): return containsAggregate(a) || containsAggregate(b) || containsAggregate(c)
        case .function(let call, _):
            return Compiler.aggregateNames.contains(call.name.lowercased()) || call.arguments.contains(where: containsAggregate)
        case .caseWhen(let c, _):
            return (c.operand.map(containsAggregate) ?? false)
                || c.branches.contains { containsAggregate($0.condition) || containsAggregate($0.result) }
                || (c.elseResult.map(containsAggregate) ?? false)
        }
    }

    static func rangeText(_ start: Int64, _ end: Int64) -> String {
        if start == .min && end == .max { return " time=all" }
        let a = start == .min ? "-inf" : TimestampLiteral.format(start)
        let b = end == .max ? "+inf" : TimestampLiteral.format(end)
        return " time=[\(a), \(b)]"
    }

    /// "Did you mean ..." for an unknown metric, from the metrics the querier's scope may see
    /// (a site-scoped token's hint never names a metric of another site).
    static func metricHint(_ name: String, _ querier: any Querier) -> String? {
        let names = querier.labelValues(Labels.metricNameLabel)
        let close = names.filter { Compiler.editDistance($0, name) <= 3 }.prefix(3)
        if !close.isEmpty { return "did you mean " + close.joined(separator: " or ") + "?" }
        return names.isEmpty ? "the store holds no metrics yet" : nil
    }

    /// Sorts rows by the ORDER BY columns: NULLs last ascending and first descending, as in
    /// PostgreSQL, unless NULLS FIRST/LAST says otherwise. Stable.
    static func sort(_ rows: inout [[Value]], _ keys: [(index: Int, descending: Bool, nullsFirst: Bool)]) {
        rows.sort { a, b in
            for key in keys {
                let x = a[key.index]
                let y = b[key.index]
                if x.isNull || y.isNull {
                    if x.isNull && y.isNull { continue }
                    return x.isNull ? key.nullsFirst : !key.nullsFirst
                }
                guard let c = Value.compare(x, y), c != 0 else { continue }
                return key.descending ? c > 0 : c < 0
            }
            return false
        }
    }
}
