import Foundation
import KPICore
import KPIHTTP
import KPIRuntime
import KPIStorage

/// Token administration over HTTP (admin role): create, list, revoke. The same operations as
/// `kpid token create|list|revoke`, which write the database file directly.
struct TokenController: Controller {
    let runtime: Runtime

    var routes: [Route] {
        [
            Route(
                "/api/v1/tokens", [.get, .post], .admin,
                .now { r, m throws(APIError) in r.method == .post ? try self.createToken(r, m) : try self.listTokens(m) }),
            Route("/api/v1/tokens/:id", [.delete], .admin, .now { r, m throws(APIError) in try self.revokeToken(m) }),
        ]
    }

    /// `POST /api/v1/tokens` with a JSON body `{"role": "read", "sites": ["JFK"], "name": "grafana"}`
    /// (or the same as query parameters, `site` repeated): 201 with the token, shown this once.
    func createToken(_ request: HTTPRequest, _ match: RouteMatch) throws(APIError) -> HTTPResponse {
        guard let authenticator = runtime.authenticator else { throw APIError(status: 503, message: "kpid is starting") }
        var roleText = request.queryValue("role")
        var sites = request.queryValues("site")
        var name = request.queryValue("name")
        if !request.body.isEmpty {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] else {
                throw APIError.badParameter(
                    "body", "expected a JSON object like {\"role\":\"read\",\"sites\":[\"JFK\"],\"name\":\"grafana\"}")
            }
            if let value = object["role"] {
                guard let text = value as? String else { throw APIError.badParameter("role", "must be a string") }
                roleText = text
            }
            if let value = object["name"] {
                guard let text = value as? String else { throw APIError.badParameter("name", "must be a string") }
                name = text
            }
            if let value = object["sites"] {
                guard let list = value as? [String] else { throw APIError.badParameter("sites", "must be an array of strings") }
                sites = list
            }
        }
        guard let roleText else { throw APIError.badParameter("role", "required: one of ingest, read, admin") }
        guard let role = Principal.Role(rawValue: roleText) else {
            throw APIError.badParameter("role", "\"\(roleText)\" is not one of ingest, read, admin")
        }
        if let problem = APIToken.problem(role: role, sites: sites) { throw APIError.badParameter("sites", problem) }
        let tokenName = name ?? "\(role.rawValue) token"
        guard tokenName.utf8.count <= 256, !tokenName.contains("\n") else {
            throw APIError.badParameter("name", "at most 256 bytes on one line")
        }
        let created: (token: String, record: TokenRecord)
        do {
            created = try APIToken.create(
                in: authenticator.store, role: role, sites: sites, name: tokenName, clock: configuration.clock)
        } catch {
            throw APIError(status: 503, message: "the token could not be stored: \(error)")
        }
        authenticator.invalidate()
        audit(
            match, rows: 1,
            detail: "create token id=\(created.record.id) role=\(role.rawValue) sites=\(sites.joined(separator: ",")) name=\(tokenName)")
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":")
        writeToken(&w, created.record, token: created.token)
        w.raw("}\n")
        return .json(201, w.bytes)
    }

    /// `GET /api/v1/tokens`: every token (revoked ones too), without secrets.
    func listTokens(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        guard let authenticator = runtime.authenticator else { throw APIError(status: 503, message: "kpid is starting") }
        let records: [TokenRecord]
        do {
            records = try authenticator.store.all()
        } catch {
            throw APIError(status: 503, message: "the token table cannot be read: \(error)")
        }
        audit(match, rows: records.count)
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":[")
        for (i, record) in records.enumerated() {
            if i > 0 { w.raw(",") }
            writeToken(&w, record, token: nil)
        }
        w.raw("]}\n")
        return .json(200, w.bytes)
    }

    /// `DELETE /api/v1/tokens/:id`: revokes at once (this server's cache is dropped).
    func revokeToken(_ match: RouteMatch) throws(APIError) -> HTTPResponse {
        guard let authenticator = runtime.authenticator else { throw APIError(status: 503, message: "kpid is starting") }
        let text = match.parameters["id"] ?? ""
        guard let id = Int64(text), id > 0 else { throw APIError.badParameter("id", "\"\(text)\" is not a token id") }
        let revoked: Bool
        do {
            revoked = try authenticator.store.revoke(id: id, nowMs: configuration.clock.nowMilliseconds())
        } catch {
            throw APIError(status: 503, message: "the token could not be revoked: \(error)")
        }
        authenticator.invalidate()
        audit(match, rows: revoked ? 1 : 0, detail: "revoke token id=\(id)")
        guard revoked else { throw APIError(status: 404, message: "no active token with id \(id)") }
        var w = JSONWriter()
        w.raw("{\"status\":\"success\",\"data\":{\"id\":\(id),\"revoked\":true}}\n")
        return .json(200, w.bytes)
    }

    private func writeToken(_ w: inout JSONWriter, _ record: TokenRecord, token: String?) {
        w.raw("{\"id\":\(record.id),\"name\":")
        w.string(record.name)
        w.raw(",\"role\":")
        w.string(record.role)
        w.raw(",\"sites\":[")
        for (i, site) in record.sites.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(site)
        }
        w.raw("],\"created\":")
        w.string(AuditController.rfc3339(record.createdMs))
        w.raw(",\"revoked\":")
        if let revoked = record.revokedMs { w.string(AuditController.rfc3339(revoked)) } else { w.raw("null") }
        if let token {
            w.raw(",\"token\":")
            w.string(token)
        }
        w.raw("}")
    }
}
