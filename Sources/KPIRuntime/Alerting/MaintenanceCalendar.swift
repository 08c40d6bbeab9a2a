import Foundation
import KPICore
import KPIPromQL
import KPIStorage
import Synchronization
import Yams

/// A planned maintenance window: while it runs, the alerts whose labels match its selector
/// are evaluated as usual but not notified (shown as suppressed).
public struct MaintenanceWindow: Sendable, Equatable {
    public var record: MaintenanceRecord
    public var matchers: [LabelMatcher]
    /// Whether it comes from `maintenance-file` (read-only over the API; negative id).
    public var fromFile = false

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
    private let fileWindows = Mutex<[MaintenanceWindow]>([])
    private let file: String?

    /// Why `maintenance-file` was refused: the file, the entry and the field.
    public struct FileError: Error, CustomStringConvertible {
        public var description: String
    }

    init(store: MaintenanceStore, file: String? = nil) throws {
        self.store = store
        self.file = file
        try reload()
        try reloadFile()
    }

    /// Reads `maintenance-file` again (at start, on SIGHUP and on a rules reload); on an error
    /// the windows read before stay.
    public func reloadFile() throws {
        guard let file else { return }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw FileError(description: "\(file): the maintenance file cannot be read")
        }
        let loaded = try Self.parseFile(text, file: file)
        fileWindows.withLock { $0 = loaded }
    }

    /// The windows of a maintenance file: `windows:` (or a top-level list) of entries with
    /// `site` and/or `matchers`, `start`, `end` (RFC 3339 or unix seconds) and `reason`.
    static func parseFile(_ text: String, file: String) throws -> [MaintenanceWindow] {
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { throw FileError(description: "\(file): not valid YAML: \(error)") }
        let list = (root as? [String: Any])?["windows"] ?? root
        guard let entries = list as? [Any] else {
            if root == nil { return [] }
            throw FileError(description: "\(file): expected windows: a list of maintenance windows")
        }
        var out: [MaintenanceWindow] = []
        for (i, raw) in entries.enumerated() {
            func fail(_ field: String, _ reason: String) -> FileError {
                FileError(description: "\(file): window #\(i + 1): \(field): \(reason)")
            }
            guard let entry = raw as? [String: Any] else { throw fail("window", "must be a mapping") }
            for key in entry.keys.sorted() where !["site", "matchers", "start", "end", "reason"].contains(key) {
                throw fail(key, "unknown field; a window has site, matchers, start, end, reason")
            }
            var matchers: [LabelMatcher] = []
            if let text = entry["matchers"] {
                guard let text = text as? String, let parsed = try? PromQL.parseSeriesSelector(text) else {
                    throw fail("matchers", "must be a selector like {device=\"cam-7\"}")
                }
                matchers = parsed
            }
            if let site = entry["site"] {
                guard let site = site as? String, !site.isEmpty else { throw fail("site", "must be a site id") }
                matchers.removeAll { $0.name == "site" }
                matchers.append(try LabelMatcher("site", .equal, site))
            }
            guard !matchers.isEmpty else { throw fail("matchers", "a window needs a site or matchers") }
            func time(_ name: String) throws -> Int64 {
                switch entry[name] {
                case let d as Date: return Int64((d.timeIntervalSince1970 * 1000).rounded())
                case let n as Int where abs(n) <= Self.maximumSeconds: return Int64(n) * 1000
                case let n as Double where n.isFinite && abs(n) <= Double(Self.maximumSeconds): return Int64((n * 1000).rounded())
                case let t as String:
                    if let ms = Self.parseTime(t) { return ms }
                    throw fail(name, "\"\(t)\" is not an RFC 3339 time")
                default: throw fail(name, "must be an RFC 3339 time or unix seconds")
                }
            }
            let start = try time("start")
            let end = try time("end")
            guard end > start else { throw fail("end", "must be after start") }
            let (length, overflow) = end.subtractingReportingOverflow(start)
            guard !overflow, length <= 366 * 86_400_000 else { throw fail("end", "a window lasts at most 366 days") }
            guard let reason = entry["reason"] as? String, !reason.isEmpty else { throw fail("reason", "say why") }
            let text = "{" + matchers.map(\.description).joined(separator: ",") + "}"
            var window = MaintenanceWindow(
                record: MaintenanceRecord(
                    id: -Int64(i + 1), matchers: text, startsMs: start, endsMs: end, reason: reason, author: "file:" + file,
                    createdMs: 0),
                matchers: matchers)
            window.fromFile = true
            out.append(window)
        }
        return out
    }

    /// The largest |unix seconds| a window may name (year 9999 and a margin).
    static let maximumSeconds = 253_402_300_800

    static func parseTime(_ text: String) -> Int64? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return Int64((d.timeIntervalSince1970 * 1000).rounded()) }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text).map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
    }

    private func reload() throws {
        let loaded = try store.all().compactMap { record -> MaintenanceWindow? in
            guard let matchers = try? PromQL.parseSeriesSelector(record.matchers) else { return nil }
            return MaintenanceWindow(record: record, matchers: matchers)
        }
        windows.withLock { $0 = loaded }
    }

    /// Every window: the file's, then the API's.
    public var all: [MaintenanceWindow] { fileWindows.withLock { $0 } + windows.withLock { $0 } }

    /// The window covering an alert with these labels at `ts`, if any.
    public func window(covering labels: Labels, at ts: Int64) -> MaintenanceWindow? {
        all.first { $0.covers(labels, at: ts) }
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
