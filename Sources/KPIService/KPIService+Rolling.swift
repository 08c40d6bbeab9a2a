import Foundation
import KPIHTTP
import KPIRuntime

extension KPIService {
    static let rollingRoutes: [Route] = [
        Route(
            "/api/v1/admin/kpis/evaluate", ["POST"], .admin,
            .now { s, _, m throws(APIError) in try s.evaluateRollingNow(m) })
    ]

    /// `POST /api/v1/admin/kpis/evaluate`: one round of every window now (waits for it); answers how many
    /// evaluations failed.
    func evaluateRollingNow(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let failures = runtime.runRollingRound(force: true)
        let c = runtime.rollingKPIs.counts.withLock { $0 }
        let count = c.values.values.reduce(0) { $0 + $1.count }
        audit(match, rows: count, detail: "KPI round: \(failures) failed")
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":{\"values\":\(count),\"failures\":\(failures)}}\n")
        return .json(200, w.bytes)
    }
}
