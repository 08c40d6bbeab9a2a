import Foundation
import KPIAlerting
import KPICore
import KPIHTTP
import KPIRuntime

/// Alerting over HTTP in Prometheus' shapes (Grafana's alert list and `amtool` read them):
/// `GET /api/v1/rules`, `GET /api/v1/alerts`, and the admin's reload (`POST
/// /api/v1/admin/rules/reload`, also `POST /-/reload`) and evaluation on demand (`POST
/// /api/v1/admin/rules/evaluate`). A site-scoped token sees only the alerts of its sites.
struct AlertController: Controller {
    let runtime: Runtime

    var routes: [Route] {
        [
            Route("/api/v1/rules", [.get], .read, form: true, .now { r, m throws(APIError) in try self.rules(r, m) }),
            Route("/api/v1/alerts", [.get], .read, .now { _, m throws(APIError) in try self.alerts(m) }),
            Route("/api/v1/admin/rules/reload", [.post], .admin, .now { _, m throws(APIError) in try self.reload(m) }),
            Route("/-/reload", [.post, .put], .admin, .now { _, m throws(APIError) in try self.reload(m) }),
            Route(
                "/api/v1/admin/rules/evaluate", [.post], .admin, form: true,
                .now { r, m throws(APIError) in try self.evaluate(r, m) }),
        ]
    }

    private func manager() throws(APIError) -> RuleManager {
        guard let rules = runtime.rules else { throw APIError(status: 503, message: "kpid is not ready or shutting down") }
        return rules
    }

    /// `GET /api/v1/rules[?type=alert|record]`: every group, its rules, their health and alerts.
    func rules(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let type = request.queryValue("type")
        guard type == nil || type == "alert" || type == "record" else {
            throw APIError(status: 400, message: "type must be alert or record, not \"\(type!)\"")
        }
        let principal = match.principal
        var w = JSONWriter(capacity: 4096)
        w.raw("{\"status\":\"success\",\"data\":{\"groups\":[")
        var firstGroup = true
        for group in try manager().groups {
            let rules = group.rules.filter {
                type == nil || (type == "alert") == ($0.rule.kind == .alerting)
            }
            if type != nil && rules.isEmpty { continue }
            if !firstGroup { w.raw(",") }
            firstGroup = false
            w.raw("{\"name\":")
            w.string(group.group.name)
            w.raw(",\"file\":")
            w.string(group.group.file)
            w.raw(",\"rules\":[")
            for (i, state) in rules.enumerated() {
                if i > 0 { w.raw(",") }
                writeRule(state, principal: principal, to: &w)
            }
            w.raw("],\"interval\":" + GoFormat.float(Double(runtime.rules?.intervalMs(group.group) ?? 0) / 1000))
            w.raw(",\"limit\":\(group.group.limit),\"evaluationTime\":" + GoFormat.float(group.evaluationSeconds))
            w.raw(",\"lastEvaluation\":")
            w.string(Self.time(group.lastEvaluation))
            w.raw("}")
        }
        w.raw("]}}\n")
        return .json(200, w.bytes)
    }

    private func writeRule(_ state: RuleState, principal: Principal, to w: inout JSONWriter) {
        let rule = state.rule
        if rule.kind == .alerting {
            w.raw("{\"state\":")
            w.string(state.state.rawValue)
            w.raw(",\"name\":")
        } else {
            w.raw("{\"name\":")
        }
        w.string(rule.name)
        w.raw(",\"query\":")
        w.string(rule.expr)
        if rule.kind == .alerting {
            w.raw(",\"duration\":" + GoFormat.float(Double(rule.forMs) / 1000))
            w.raw(",\"keepFiringFor\":" + GoFormat.float(Double(rule.keepFiringForMs) / 1000))
        }
        w.raw(",\"labels\":")
        w.object(rule.labelSources.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        if rule.kind == .alerting {
            w.raw(",\"annotations\":")
            w.object(rule.annotations.sorted { $0.key < $1.key }.map { ($0.key, $0.value.source) })
            w.raw(",\"alerts\":[")
            for (i, alert) in state.alerts.filter({ principal.mayAccess($0.labels) }).enumerated() {
                if i > 0 { w.raw(",") }
                Self.writeAlert(alert, to: &w)
            }
            w.raw("]")
        }
        w.raw(",\"health\":")
        w.string(state.health)
        if let error = state.lastError {
            w.raw(",\"lastError\":")
            w.string(error)
        }
        w.raw(",\"evaluationTime\":" + GoFormat.float(state.evaluationSeconds))
        w.raw(",\"lastEvaluation\":")
        w.string(Self.time(state.lastEvaluation))
        w.raw(",\"type\":")
        w.string(rule.kind == .alerting ? "alerting" : "recording")
        w.raw("}")
    }

    /// `GET /api/v1/alerts`: every pending and firing alert.
    func alerts(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let now = configuration.clock.nowMilliseconds()
        var w = JSONWriter(capacity: 2048)
        w.raw("{\"status\":\"success\",\"data\":{\"alerts\":[")
        var first = true
        for group in try manager().groups {
            for state in group.rules where state.rule.kind == .alerting {
                for alert in state.alerts where match.principal.mayAccess(alert.labels) {
                    if !first { w.raw(",") }
                    first = false
                    Self.writeAlert(alert, maintenance: runtime.maintenance?.window(covering: alert.labels, at: now), to: &w)
                }
            }
        }
        w.raw("]}}\n")
        return .json(200, w.bytes)
    }

    static func writeAlert(_ alert: Alert, maintenance: MaintenanceWindow? = nil, to w: inout JSONWriter) {
        w.raw("{\"labels\":")
        w.object(alert.labels.pairs.map { ($0.name, $0.value) })
        w.raw(",\"annotations\":")
        w.object(alert.annotations.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        w.raw(",\"state\":")
        w.string(alert.state.rawValue)
        w.raw(",\"activeAt\":")
        w.string(time(alert.activeAt))
        if let since = alert.keepFiringSince {
            w.raw(",\"keepFiringSince\":")
            w.string(time(since))
        }
        w.raw(",\"value\":")
        w.string(GoFormat.exponent(alert.value))
        if let maintenance {
            // Evaluated as usual, not notified: the maintenance window says why.
            w.raw(",\"suppressed\":true,\"maintenanceWindow\":\(maintenance.id)")
        }
        w.raw("}")
    }

    /// A time as Prometheus' API writes it; Go's zero time when never.
    static func time(_ ms: Int64?) -> String {
        guard let ms else { return "0001-01-01T00:00:00Z" }
        return AlertmanagerPayload.rfc3339(ms)
    }

    /// `POST /api/v1/admin/rules/reload`: reads the rule files again; 400 naming every problem
    /// (file, line, group, rule, field) when one is refused, the old rules still running.
    func reload(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let rules = try manager()
        do {
            try runtime.maintenance?.reloadFile()
        } catch {
            audit(match, rows: 0, detail: "maintenance file refused: \(error)")
            throw APIError(status: 400, message: "the maintenance file was not loaded; the windows read before stay: \(error)")
        }
        let loaded: (files: Int, groups: Int, rules: Int)
        do throws(RuleLoadError) {
            loaded = try rules.reload()
        } catch {
            audit(match, rows: 0, detail: "rule reload refused: \(error)")
            throw APIError(status: 400, message: "the rule files were not loaded; the previous rules keep running: \(error)")
        }
        audit(match, rows: loaded.rules, detail: "rules reloaded: \(loaded.files) files, \(loaded.groups) groups")
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":{\"files\":\(loaded.files),\"groups\":\(loaded.groups),\"rules\":\(loaded.rules)}}\n")
        return .json(200, w.bytes)
    }

    /// `POST /api/v1/admin/rules/evaluate[?time=]`: evaluates every group now (or at `time`),
    /// sending what is due to Alertmanager, as a scheduled evaluation does.
    func evaluate(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        let now = configuration.clock.nowMilliseconds()
        let at = try timeParameter(request, "time", default: now)
        let rules = try manager()
        rules.evaluateAll(at: at)
        audit(match, rows: nil, detail: "rules evaluated at \(at)")
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":{\"groups\":\(rules.groups.count)}}\n")
        return .json(200, w.bytes)
    }
}
