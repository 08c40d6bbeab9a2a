/// Who may call a route. Enforced by the dispatcher once authentication is configured; routes
/// declare it so that no endpoint can be added without saying who it is for.
public enum RouteAccess: String, Sendable, CaseIterable {
    /// Liveness, readiness and the index: always open (load balancers and orchestrators probe them).
    case open
    /// Writes samples.
    case ingest
    /// Reads series, samples, queries, KPIs, reports and /metrics.
    case read
    /// Changes configuration: sites, templates, tokens, retention, backups.
    case admin
}
