import KPIHTTP
import KPIRuntime

/// Liveness, readiness and the index of endpoints: open to everyone (load balancers and
/// orchestrators probe them).
struct CoreController: Controller {
    let runtime: Runtime

    var routes: [Route] {
        [
            Route("/healthz", [.get, .head], .open, .now { _, _ in .text(200, "ok\n") }),
            Route(
                "/readyz", [.get, .head], .open,
                .now { _, _ in
                    self.isReady ? .text(200, "ready\n") : .text(503, "starting: store is being loaded\n")
                }),
            Route("/", [.get, .head], .open, .now { _, _ in .text(200, Self.indexText) }),
        ]
    }

    static let indexText = """
        kpid: time-series KPI analytics

        POST /api/v1/ingest      samples as ndjson, CSV or Prometheus text (by Content-Type)
        POST /api/v1/write       Prometheus remote write 1.0 (snappy-compressed protobuf)
        GET  /api/v1/series      ?match=<selector>: series and their labels
        GET  /api/v1/export      ?match=<selector>&start=&end=: raw samples (ndjson; CSV with Accept: text/csv)
        GET  /api/v1/labels      label names; /api/v1/label/<name>/values: its values (Prometheus API)
        GET  /api/v1/queries     saved queries; /api/v1/queries/<group>/<name>?site=...: run one
        GET  /api/v1/templates   KPI templates and their KPIs; /api/v1/sites: sites, time zones, templates
        POST /api/v1/sites       register or replace a site (JSON like one entry of sites.json; admin); DELETE /api/v1/sites/<id>
        GET  /api/v1/kpis        ?site=&template=&from=&to=&worst=: every KPI of a site, computed now, with status
        GET  /reports/weekly     ?site=&week=2026-W45&format=html|json|csv|md: the weekly KPI review (/reports: index)
        POST /api/v1/sql         SQL query (text body, or JSON {"query", "params"}); JSON, or CSV with Accept: text/csv
        GET  /api/v1/query       ?query=<PromQL>&time=: instant query (Prometheus API; POST form too)
        GET  /api/v1/query_range ?query=&start=&end=&step=: range query (Prometheus API; POST form too)
        GET  /api/v1/metadata    metric metadata (Prometheus API; empty: kpid keeps no HELP/TYPE)
        GET  /metrics            kpid's own metrics (Prometheus text 0.0.4)
        GET|POST /api/v1/tokens, DELETE /api/v1/tokens/<id>: API tokens (admin)
        GET  /api/v1/audit       ?from=&to=&principal=: the audit log (admin)
        POST /api/v1/admin/backup  online backup into <data>/backups/ (admin)
        DELETE /api/v1/series    ?match[]=&start=&end=: delete samples, durably (admin; also POST /api/v1/admin/tsdb/delete_series)
        GET  /healthz, /readyz   liveness, readiness

        """
}
