import KPICore

extension Labels {
    /// Alertmanager's fingerprint of a label set (`model.LabelSet.Fingerprint`): 64-bit FNV-1a
    /// over the pairs sorted by name, each name and value followed by the byte 0xff; `%016x`.
    public var fingerprint: String {
        var hash: UInt64 = 14_695_981_039_346_656_037
        func add(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 1_099_511_628_211
        }
        for pair in pairs.sorted(by: { $0.name < $1.name }) {
            for b in pair.name.utf8 { add(b) }
            add(0xFF)
            for b in pair.value.utf8 { add(b) }
            add(0xFF)
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// One alert as a notification carries it: firing or resolved.
public struct NotifiedAlert: Sendable, Equatable {
    public var labels: Labels
    public var annotations: [String: String]
    /// When the alert became active (ms): stable across resends and restarts.
    public var startsAt: Int64
    /// When it resolved (ms), nil while firing.
    public var endsAt: Int64?
    public var generatorURL: String

    public init(labels: Labels, annotations: [String: String], startsAt: Int64, endsAt: Int64?, generatorURL: String) {
        self.labels = labels
        self.annotations = annotations
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.generatorURL = generatorURL
    }

    public var isResolved: Bool { endsAt != nil }

    /// The alert's idempotency key in a group: the group key, its fingerprint and when it
    /// started. The same for its firing and its resolved notifications, so a receiver keeps
    /// one ticket per incident and updates it.
    public func idempotencyKey(groupKey: String) -> String { groupKey + "/" + labels.fingerprint + "/" + String(startsAt) }
}

/// The body of a webhook notification in Alertmanager's webhook format (version 4), so ITSM
/// bridges written for Alertmanager (ServiceNow, Jira, PagerDuty adapters) take it unchanged.
/// Each alert also carries `idempotencyKey` (an extra field those bridges ignore).
public enum WebhookPayload {
    public static func encode(
        receiver: String, groupKey: String, groupLabels: [String: String], alerts: [NotifiedAlert], externalURL: String
    ) -> [UInt8] {
        let firing = alerts.contains { !$0.isResolved }
        func common(_ values: [[String: String]]) -> [(String, String)] {
            guard let first = values.first else { return [] }
            return first.filter { k, v in values.allSatisfy { $0[k] == v } }.sorted { $0.key < $1.key }
        }
        var w = JSONWriter(capacity: 512 * max(1, alerts.count))
        w.raw("{\"version\":\"4\",\"groupKey\":")
        w.string(groupKey)
        w.raw(",\"truncatedAlerts\":0,\"status\":")
        w.string(firing ? "firing" : "resolved")
        w.raw(",\"receiver\":")
        w.string(receiver)
        w.raw(",\"groupLabels\":")
        w.object(groupLabels.sorted { $0.key < $1.key })
        w.raw(",\"commonLabels\":")
        w.object(common(alerts.map { a in Dictionary(uniqueKeysWithValues: a.labels.pairs.map { ($0.name, $0.value) }) }))
        w.raw(",\"commonAnnotations\":")
        w.object(common(alerts.map(\.annotations)))
        w.raw(",\"externalURL\":")
        w.string(externalURL)
        w.raw(",\"alerts\":[")
        for (i, a) in alerts.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"status\":")
            w.string(a.isResolved ? "resolved" : "firing")
            w.raw(",\"labels\":")
            w.object(a.labels.pairs.map { ($0.name, $0.value) })
            w.raw(",\"annotations\":")
            w.object(a.annotations.sorted { $0.key < $1.key })
            w.raw(",\"startsAt\":")
            w.string(AlertmanagerPayload.rfc3339(a.startsAt))
            w.raw(",\"endsAt\":")
            w.string(a.endsAt.map(AlertmanagerPayload.rfc3339) ?? "0001-01-01T00:00:00Z")
            w.raw(",\"generatorURL\":")
            w.string(a.generatorURL)
            w.raw(",\"fingerprint\":")
            w.string(a.labels.fingerprint)
            w.raw(",\"idempotencyKey\":")
            w.string(a.idempotencyKey(groupKey: groupKey))
            w.raw("}")
        }
        w.raw("]}")
        return w.bytes
    }
}
