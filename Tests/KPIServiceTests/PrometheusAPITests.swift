import Foundation
import Testing

/// The Prometheus HTTP API metadata endpoints, as Grafana calls them.
@Suite(.serialized) struct PrometheusAPITests {
    func load(_ kpid: RunningService) throws {
        let body = """
            {"metric":"queue_wait_seconds","labels":{"site":"JFK","checkpoint":"T4-1"},"ts":1762070400000,"value":1}
            {"metric":"queue_wait_seconds","labels":{"site":"LHR","checkpoint":"T5-A"},"ts":1762080400000,"value":2}
            {"metric":"device_up","labels":{"site":"JFK","device":"cam-1"},"ts":1762070400000,"value":1}
            """
        #expect(try kpid.ingest(body, contentType: "application/x-ndjson").status == 200)
    }

    func data(_ r: ClientResponse) -> [String]? { r.json["data"] as? [String] }

    @Test func labelNamesAndValues() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        try load(kpid)
        #expect(data(try http("GET", kpid.base + "/api/v1/labels")) == ["__name__", "checkpoint", "device", "site"])
        let matched = try http("GET", kpid.base + "/api/v1/labels?match[]=" + percentEncoded("device_up"))
        #expect(data(matched) == ["__name__", "device", "site"])
        #expect(data(try http("GET", kpid.base + "/api/v1/label/site/values")) == ["JFK", "LHR"])
        #expect(data(try http("GET", kpid.base + "/api/v1/label/__name__/values")) == ["device_up", "queue_wait_seconds"])
        // Time range: only the LHR sample is after 1762075000 s.
        let later = try http("GET", kpid.base + "/api/v1/label/site/values?start=1762075000")
        #expect(data(later) == ["LHR"])
        #expect(data(try http("GET", kpid.base + "/api/v1/label/nosuch/values")) == [])
        let bad = try http("GET", kpid.base + "/api/v1/label/bad-name/values")
        #expect(bad.status == 400)
        #expect(bad.json["status"] as? String == "error")
        #expect(bad.json["errorType"] as? String == "bad_data")
    }

    @Test func formEncodedPostAsGrafanaSendsIt() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        try load(kpid)
        let form = "match%5B%5D=" + percentEncoded(#"queue_wait_seconds{site="JFK"}"#) + "&start=1762000000&end=1762100000"
        let r = try http(
            "POST", kpid.base + "/api/v1/series", body: Data(form.utf8),
            headers: ["Content-Type": "application/x-www-form-urlencoded"])
        #expect(r.status == 200)
        #expect(r.json["data"] as? [[String: String]] == [["__name__": "queue_wait_seconds", "site": "JFK", "checkpoint": "T4-1"]])
        let labels = try http(
            "POST", kpid.base + "/api/v1/labels", body: Data("match[]=device_up".utf8),
            headers: ["Content-Type": "application/x-www-form-urlencoded"])
        #expect(data(labels) == ["__name__", "device", "site"])
        let malformed = try http(
            "POST", kpid.base + "/api/v1/labels", body: Data("match[]=%zz".utf8),
            headers: ["Content-Type": "application/x-www-form-urlencoded"])
        #expect(malformed.status == 400)
    }

    @Test func buildInfo() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        let r = try http("GET", kpid.base + "/api/v1/status/buildinfo")
        #expect(r.status == 200)
        #expect(r.json["status"] as? String == "success")
        #expect((r.json["data"] as? [String: String])?["version"]?.isEmpty == false)
    }
}
