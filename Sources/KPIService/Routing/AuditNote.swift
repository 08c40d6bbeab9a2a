import Synchronization

/// What a handler adds to its request's audit entry: the rows it returned and a better
/// description than the query string (a SQL or PromQL statement, say).
final class AuditNote: Sendable {
    private let state = Mutex<(rows: Int?, detail: String?)>((nil, nil))

    func set(rows: Int?, detail: String?) {
        state.withLock { state in
            if let rows { state.rows = rows }
            if let detail { state.detail = detail }
        }
    }

    var value: (rows: Int?, detail: String?) { state.withLock { $0 } }
}
