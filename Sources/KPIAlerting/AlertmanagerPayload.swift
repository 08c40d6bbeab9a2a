import Foundation
import KPICore

/// The body of Alertmanager's v2 `POST /api/v2/alerts`, as Prometheus sends it: one object per
/// alert with `labels`, `annotations`, `startsAt` (when it fired), `endsAt` (when it resolved,
/// else how long it stays valid without news) and `generatorURL`.
public enum AlertmanagerPayload {
    /// The JSON array of `alerts`; `externalURL` is kpid's base URL.
    public static func encode(_ alerts: [(rule: Rule, alert: Alert)], externalURL: String) -> [UInt8] {
        var w = JSONWriter(capacity: 256 * max(1, alerts.count))
        w.raw("[")
        for (i, (rule, alert)) in alerts.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"labels\":")
            w.object(alert.labels.pairs.map { ($0.name, $0.value) })
            w.raw(",\"annotations\":")
            w.object(alert.annotations.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            w.raw(",\"startsAt\":")
            w.string(rfc3339(alert.firedAt ?? alert.activeAt))
            w.raw(",\"endsAt\":")
            w.string(rfc3339(alert.resolvedAt ?? alert.validUntil))
            w.raw(",\"generatorURL\":")
            w.string(generatorURL(rule, externalURL: externalURL))
            w.raw("}")
        }
        w.raw("]")
        return w.bytes
    }

    /// Where the alert's expression can be run on kpid: its instant-query API.
    public static func generatorURL(_ rule: Rule, externalURL: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let query = rule.expr.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        return externalURL + "/api/v1/query?query=" + query
    }

    /// RFC 3339 in UTC with milliseconds, as Go writes times (`2026-12-07T10:00:00.123Z`).
    public static func rfc3339(_ ms: Int64) -> String {
        let fraction = ((ms % 1000) + 1000) % 1000
        let seconds = ((ms - fraction) / 1000, fraction)
        var time = time_t(seconds.0)
        var parts = tm()
        gmtime_r(&time, &parts)
        let base = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        return seconds.1 == 0 ? base + "Z" : base + String(format: ".%03dZ", Int(seconds.1))
    }
}
