import Foundation
import KPICore

/// Who is calling: the identity an API token stands for, or ``unrestricted`` when
/// authentication is off.
///
/// Every route handler gets it as ``RouteMatch/principal``. A principal may be limited to some
/// sites (the `site` label):
///
/// - Reads: a handler opens a `Querier` whose `ReadScope` carries ``scopeMatchers`` (they are
///   empty for an unscoped principal): `querier(_:principal:)` for the series, label and export
///   endpoints, `QueryOptions.seriesScope` for SQL, `extraMatchers` for PromQL. The querier
///   applies the scope to every selection itself; nothing else reads the store's series.
/// - Writes and single series: ``mayAccess(_:)`` tells whether a series (its labels) is in scope.
public struct Principal: Sendable, Equatable {
    /// The roles a token may have. `admin` may do everything.
    public enum Role: String, Sendable, CaseIterable {
        /// Writes samples (`/api/v1/ingest`, `/api/v1/write`).
        case ingest
        /// Reads series, samples, queries and /metrics.
        case read
        /// Everything, including tokens, the audit log and backups.
        case admin
    }

    /// The label that names a series' site; site scopes match it.
    public static let siteLabel = "site"

    /// The token's row id; nil when authentication is off.
    public var tokenID: Int64?
    /// The token's name, as written to the audit log.
    public var name: String
    /// What the principal may do.
    public var role: Role
    /// Sites this principal is limited to; empty means every site.
    public var sites: [String]

    /// A principal; empty `sites` means every site.
    public init(tokenID: Int64?, name: String, role: Role, sites: [String]) {
        self.tokenID = tokenID
        self.name = name
        self.role = role
        self.sites = sites
    }

    /// The caller when authentication is off: may do everything, sees every site.
    public static let unrestricted = Principal(tokenID: nil, name: "anonymous", role: .admin, sites: [])

    /// Whether this principal may call a route declaring `access`: open routes are for
    /// everyone, `admin` may call anything, others only routes of their own role.
    public func may(_ access: RouteAccess) -> Bool {
        switch access {
        case .open: return true
        case .ingest: return role == .admin || role == .ingest
        case .read: return role == .admin || role == .read
        case .admin: return role == .admin
        }
    }

    /// The sites this principal may see and write, nil when it is not limited.
    public var allowedSites: [String]? { sites.isEmpty ? nil : sites }

    /// Matchers to AND with any series selection: `site="JFK"` for one site,
    /// `site=~"JFK|LAX"` (escaped, anchored) for several, none when unscoped.
    public var scopeMatchers: [LabelMatcher] {
        switch sites.count {
        case 0: return []
        case 1: return [try! LabelMatcher(Self.siteLabel, .equal, sites[0])]
        default:
            let pattern = sites.map { NSRegularExpression.escapedPattern(for: $0) }.joined(separator: "|")
            return [try! LabelMatcher(Self.siteLabel, .regexMatch, pattern)]
        }
    }

    /// Whether a series with these labels is within this principal's sites.
    public func mayAccess(_ labels: Labels) -> Bool {
        guard !sites.isEmpty else { return true }
        guard let site = labels[Self.siteLabel] else { return false }
        return sites.contains(site)
    }
}
