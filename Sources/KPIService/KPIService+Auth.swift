import Foundation
import KPICore
import KPIHTTP
import KPIRuntime
import KPIStorage
import KPIWire

extension KPIService {
    /// Whether requests must carry a token: `auth = on`, or `auto` on a non-loopback address.
    public var authenticationRequired: Bool { configuration.authenticationRequired }

    /// The principal for a request to a route declaring `access`, or the 401/403 answer.
    /// Open routes, and every route while authentication is off, get ``Principal/unrestricted``.
    func authorize(_ request: HTTPRequest, access: RouteAccess) -> Authorization {
        guard access != .open, authenticationRequired else { return .allowed(.unrestricted) }
        guard let authenticator else {
            return .refused(APIError(status: 503, message: "kpid is starting"), nil)
        }
        switch authenticator.authenticate(authorization: request.header("authorization")) {
        case .unauthenticated:
            // The same answer for a missing, malformed, unknown or revoked token.
            return .refused(APIError(status: 401, message: "authentication required"), nil)
        case .authenticated(let principal):
            guard principal.may(access) else {
                return .refused(APIError(status: 403, message: "this token's role does not allow this request"), principal)
            }
            return .allowed(principal)
        }
    }

    /// The outcome of ``authorize(_:access:)``.
    enum Authorization {
        case allowed(Principal)
        /// The answer to send, and who was refused when the token was valid (403).
        case refused(APIError, Principal?)
    }

    /// The `WWW-Authenticate` challenge sent with 401. Only Bearer is announced, although basic
    /// auth (token as password) is accepted: the clients that use basic auth with kpid
    /// (Prometheus, Grafana, curl -u) send it without being asked, and a Basic challenge makes
    /// Foundation's URLSession on Linux stall instead of returning the 401 (seen with
    /// swift-corelibs-foundation 6.0), which would hang `kpid ingest` given a bad token.
    static let authenticateChallenge = "Bearer realm=\"kpid\""

    /// Refuses a batch holding a series outside the principal's sites (403, nothing stored).
    func checkWriteScope(_ batch: SampleBatch, principal: Principal) throws(APIError) {
        guard !principal.sites.isEmpty else { return }
        for labels in batch.series where !principal.mayAccess(labels) {
            metrics.rejected(samples: batch.sampleCount, reason: "forbidden")
            throw APIError(
                status: 403, message: "this token may not write this series; nothing was stored",
                details: [
                    IngestIssue(
                        line: 0, field: Principal.siteLabel,
                        reason: "series \(labels.description) is outside the token's sites (\(principal.sites.joined(separator: ", ")))")
                ])
        }
    }
}
