extension SelectStatement {
    /// The metrics the statement reads: its `FROM` metrics, those of its subqueries and joins,
    /// and the first argument of `intervals(metric, ...)`.
    public var metricNames: Set<String> { from.metricNames }
}

extension Source {
    /// The metrics this source reads (see ``SelectStatement/metricNames``).
    public var metricNames: Set<String> {
        switch self {
        case .metric(let name, _):
            return [name]
        case .subquery(let statement, _):
            return statement.metricNames
        case .function(let name, let arguments, _):
            guard name.lowercased() == "intervals", case .column(let ref, _)? = arguments.first else { return [] }
            return [ref.name]
        case .join(let join):
            return join.left.metricNames.union(join.right.metricNames)
        }
    }
}
