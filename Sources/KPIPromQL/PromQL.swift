/// PromQL for the Prometheus HTTP query API (`/api/v1/query`, `/api/v1/query_range`).
public enum PromQL {}
