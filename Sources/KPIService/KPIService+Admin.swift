import Foundation
import KPIRuntime
import KPIHTTP
import KPIStorage

/// Admin operations over HTTP besides tokens and the audit log.
extension KPIService {
    static let adminRoutes: [Route] = [
        Route("/api/v1/admin/backup", ["POST"], .admin, .now { s, _, m throws(APIError) in try s.backupNow(m) })
    ]

    /// Where `POST /api/v1/admin/backup` writes: `backups/` in the data directory. The client
    /// chooses no path, so an admin token cannot make kpid write files elsewhere.
    var backupDirectory: String { (configuration.dataDirectory as NSString).appendingPathComponent("backups") }

    /// `POST /api/v1/admin/backup`: an online backup (as `kpid backup`) to
    /// `<data>/backups/kpid-<UTC time>.sqlite`; answers its path and size. Runs on the request's
    /// thread; ingest and reads go on meanwhile.
    func backupNow(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        let path = (backupDirectory as NSString).appendingPathComponent("kpid-\(formatter.string(from: Date())).sqlite")
        do {
            try FileManager.default.createDirectory(atPath: backupDirectory, withIntermediateDirectories: true)
            try KPIDatabase.backup(from: configuration.databasePath, to: path)
        } catch {
            logger.error("backup failed", metadata: ["path": "\(path)", "error": "\(error)"])
            throw APIError(status: 503, message: "the backup failed: \(error)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        audit(match, rows: 1, detail: "backup to \(path)")
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":{\"path\":")
        w.string(path)
        w.raw(",\"bytes\":\(size)}}\n")
        return .json(200, w.bytes)
    }
}
