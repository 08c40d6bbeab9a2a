import Foundation
import KPICore
import KPIPromQL
import KPIStorage
import Synchronization

/// A planned maintenance window: while it runs, the alerts whose labels match its selector
/// are evaluated as usual but not notified (shown as suppressed).
public struct MaintenanceWindow: Sendable, Equatable {
    public var record: MaintenanceRecord
    public var matchers: [LabelMatcher]

    public var id: Int64 { record.id }

    /// Whether the window covers an alert with these labels at `ts` (ms): `[starts, ends)`.
    public func covers(_ labels: Labels, at ts: Int64) -> Bool {
        ts >= record.startsMs && ts < record.endsMs && matchers.allSatisfy { $0.matches(labels[$0.name] ?? "") }
    }

    /// The site the window names with `site="..."`, if any (for site-scoped readers).
    public var site: String? { matchers.first { $0.name == "site" && $0.op == .equal }?.value }
}

/// The maintenance windows (`POST /api/v1/maintenance`): the `maintenance` table and a copy
/// in memory for matching alerts at every evaluation.
public final class MaintenanceCalendar: Sendable {
    private let store: MaintenanceStore
    private let windows = Mutex<[MaintenanceWindow]>([])

    init(store: MaintenanceStore) throws {
        self.store = store
        try reload()
    }

    private func reload() throws {
        let loaded = try store.all().compactMap { record -> MaintenanceWindow? in
            guard let matchers = try? PromQL.parseSeriesSelector(record.matchers) else { return nil }
            return MaintenanceWindow(record: record, matchers: matchers)
        }
        windows.withLock { $0 = loaded }
    }

    /// Every window.
    public var all: [MaintenanceWindow] { windows.withLock { $0 } }

    /// The window covering an alert with these labels at `ts`, if any.
    public func window(covering labels: Labels, at ts: Int64) -> MaintenanceWindow? {
        windows.withLock { $0.first { $0.covers(labels, at: ts) } }
    }

    /// Stores a window (its selector checked by the caller) and returns it.
    public func add(matchers: String, startsMs: Int64, endsMs: Int64, reason: String, author: String, nowMs: Int64) throws
        -> MaintenanceWindow
    {
        let parsed = try PromQL.parseSeriesSelector(matchers)
        let record = try store.add(
            MaintenanceRecord(
                id: 0, matchers: matchers, startsMs: startsMs, endsMs: endsMs, reason: reason, author: author, createdMs: nowMs))
        let window = MaintenanceWindow(record: record, matchers: parsed)
        windows.withLock { $0.append(window) }
        return window
    }

    /// Ends a window now (if it has not ended yet); false when there is no such window.
    public func end(_ id: Int64, nowMs: Int64) throws -> Bool {
        guard let window = all.first(where: { $0.id == id }) else { return false }
        guard try store.setEnd(id, endsMs: min(window.record.endsMs, nowMs)) else { return false }
        try reload()
        return true
    }

    /// Deletes a window; false when there is no such window.
    public func delete(_ id: Int64) throws -> Bool {
        guard try store.delete(id) else { return false }
        try reload()
        return true
    }

    func close() { store.close() }
}
