import Foundation
import KPIRuntime
import KPIService
import Testing

/// The Prometheus query API over real HTTP: envelope, parameters, status codes and error types.
@Suite(.serialized) struct PromQLAPITests {
    static let form = ["Content-Type": "application/x-www-form-urlencoded"]

    func load(_ kpid: RunningService) throws {
        let body = """
            {"metric":"occupancy_people","labels":{"site":"JFK","zone":"B22"},"ts":1700000000000,"value":41}
            {"metric":"occupancy_people","labels":{"site":"JFK","zone":"B22"},"ts":1700000060000,"value":43.5}
            {"metric":"occupancy_people","labels":{"site":"LHR","zone":"T5"},"ts":1700000000000,"value":7}
            {"metric":"odd_values","labels":{"kind":"inf"},"ts":1700000000000,"value":"+Inf"}
            {"metric":"odd_values","labels":{"kind":"nan"},"ts":1700000000000,"value":"NaN"}
            {"metric":"odd_values","labels":{"kind":"small"},"ts":1700000000000,"value":0.00001}
            """
        #expect(try kpid.ingest(body, contentType: "application/x-ndjson").status == 200)
    }

    /// Grafana's health check: the instant query `1+1` as a form POST.
    @Test func grafanaHealthCheck() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        let r = try http(
            "POST", kpid.base + "/api/v1/query", body: Data("query=1%2B1&time=1700000000.123".utf8), headers: Self.form)
        #expect(r.status == 200)
        #expect(r.headers["content-type"] == "application/json")
        #expect(r.text == #"{"status":"success","data":{"resultType":"scalar","result":[1700000000.123,"2"]}}"# + "\n")
        // Without `time` the answer is for now.
        let now = try http("POST", kpid.base + "/api/v1/query", body: Data("query=1%2B1".utf8), headers: Self.form)
        let result = (now.json["data"] as? [String: Any])?["result"] as? [Any]
        let t = (result?.first as? NSNumber)?.doubleValue ?? 0
        #expect(abs(t - Date().timeIntervalSince1970) < 60)
    }

    @Test func instantAndRangeQueries() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        try load(kpid)
        let q = percentEncoded(#"occupancy_people{site="JFK"}"#)
        let instant = try http("GET", kpid.base + "/api/v1/query?query=\(q)&time=2023-11-14T22:14:30Z")
        #expect(
            instant.text
                == #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"occupancy_people","site":"JFK","zone":"B22"},"value":[1700000070,"43.5"]}]}}"#
                + "\n")
        let values = try http("GET", kpid.base + "/api/v1/query?query=odd_values&time=1700000000")
        #expect(values.text.contains(#"{"metric":{"__name__":"odd_values","kind":"inf"},"value":[1700000000,"+Inf"]}"#))
        #expect(values.text.contains(#"{"metric":{"__name__":"odd_values","kind":"nan"},"value":[1700000000,"NaN"]}"#))
        #expect(values.text.contains(#"{"metric":{"__name__":"odd_values","kind":"small"},"value":[1700000000,"0.00001"]}"#))

        // Range query as Grafana sends it: form POST, step as float seconds.
        let body = "query=" + percentEncoded("sum by (site) (occupancy_people)") + "&start=1700000000&end=1700000120&step=60"
        let range = try http("POST", kpid.base + "/api/v1/query_range", body: Data(body.utf8), headers: Self.form)
        #expect(
            range.text
                == #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"site":"JFK"},"values":[[1700000000,"41"],[1700000060,"43.5"],[1700000120,"43.5"]]},{"metric":{"site":"LHR"},"values":[[1700000000,"7"],[1700000060,"7"],[1700000120,"7"]]}]}}"#
                + "\n")
        // Step as a duration, start and end as RFC 3339.
        let durationStep = try http(
            "GET",
            kpid.base + "/api/v1/query_range?query=\(q)&start=2023-11-14T22:13:20Z&end=2023-11-14T22:15:20Z&step=1m")
        #expect(durationStep.json["status"] as? String == "success")
        // A range vector at an instant: the raw samples.
        let raw = try http(
            "GET", kpid.base + "/api/v1/query?query=" + percentEncoded("occupancy_people{zone=\"B22\"}[5m]") + "&time=1700000060")
        #expect(raw.text.contains(#""values":[[1700000000,"41"],[1700000060,"43.5"]]"#))
        // A string literal.
        let string = try http("GET", kpid.base + "/api/v1/query?query=" + percentEncoded("\"kpid\"") + "&time=1700000000")
        #expect(string.text == #"{"status":"success","data":{"resultType":"string","result":[1700000000,"kpid"]}}"# + "\n")
        // Metadata: kpid keeps no HELP/TYPE.
        let metadata = try http("GET", kpid.base + "/api/v1/metadata")
        #expect(metadata.status == 200 && metadata.text == #"{"status":"success","data":{}}"# + "\n")
    }

    struct ErrorCase: Sendable, CustomStringConvertible {
        var path: String
        var status: Int
        var errorType: String
        var field: String
        var message: String
        var description: String { path }
    }

    static let errorCases: [ErrorCase] = [
        ErrorCase(path: "/api/v1/query", status: 400, errorType: "bad_data", field: "query", message: "invalid parameter query"),
        ErrorCase(
            path: "/api/v1/query?query=" + percentEncoded("rate(occupancy_people)"), status: 400, errorType: "bad_data",
            field: "query",
            message:
                "invalid parameter \"query\": 1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"
        ),
        ErrorCase(
            path: "/api/v1/query?query=1&time=yesterday", status: 400, errorType: "bad_data", field: "time",
            message: "invalid parameter time"),
        ErrorCase(
            path: "/api/v1/query_range?query=1&start=100&end=200", status: 400, errorType: "bad_data", field: "step",
            message: "invalid parameter step"),
        ErrorCase(
            path: "/api/v1/query_range?query=1&start=-9000000000000000&end=9000000000000000&step=1e15", status: 400,
            errorType: "bad_data", field: "start", message: "invalid parameter start"),
        ErrorCase(
            path: "/api/v1/query_range?query=1&start=100&end=200&step=-5", status: 400, errorType: "bad_data", field: "step",
            message: "invalid parameter step"),
        ErrorCase(
            path: "/api/v1/query_range?query=1&start=200&end=100&step=5", status: 400, errorType: "bad_data", field: "end",
            message: "invalid parameter end"),
        ErrorCase(
            path: "/api/v1/query_range?query=1&start=0&end=11001&step=1", status: 400, errorType: "bad_data", field: "step",
            message:
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"),
        ErrorCase(
            path: "/api/v1/query_range?query=occupancy_people[1m]&start=0&end=10&step=1", status: 400, errorType: "bad_data",
            field: "query",
            message: "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"),
        ErrorCase(
            path: "/api/v1/query?time=1700000000&query=" + percentEncoded("occupancy_people / on(zone) group_left occupancy_people"),
            status: 200, errorType: "", field: "", message: ""),
        ErrorCase(
            path: "/api/v1/query?time=1700000000&query=" + percentEncoded("occupancy_people + ignoring(zone) occupancy_people"),
            status: 200, errorType: "", field: "", message: ""),
        ErrorCase(
            path: "/api/v1/query?time=1700000000&query="
                + percentEncoded(
                    "label_replace(label_replace(occupancy_people, \"site\", \"x\", \"site\", \".*\"), \"zone\", \"y\", \"zone\", \".*\")"),
            status: 422, errorType: "execution", field: "query", message: "vector cannot contain metrics with the same labelset"),
        ErrorCase(
            path: "/api/v1/query?time=1700000000&query=" + percentEncoded("sum(occupancy_people) * on() group_right occupancy_people"),
            status: 200, errorType: "", field: "", message: ""),
        ErrorCase(
            path: "/api/v1/query?time=1700000000&query=" + percentEncoded("occupancy_people * on() occupancy_people"),
            status: 422, errorType: "execution", field: "query",
            message:
                "found duplicate series for the match group {} on the right hand-side of the operation: [occupancy_people{site=\"JFK\",zone=\"B22\"}, occupancy_people{site=\"LHR\",zone=\"T5\"}];many-to-many matching not allowed: matching labels must be unique on one side"
        ),
        ErrorCase(
            path: "/api/v1/query?query=occupancy_people&timeout=0.000000001", status: 503, errorType: "timeout", field: "query",
            message: "query timed out in expression evaluation"),
        ErrorCase(
            path: "/api/v1/query?query=1&timeout=soon", status: 400, errorType: "bad_data", field: "timeout",
            message: "invalid parameter timeout"),
    ]

    @Test(arguments: errorCases) func statusCodesAndErrorTypes(_ c: ErrorCase) throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path)
        try load(kpid)
        let r = try http("GET", kpid.base + c.path)
        #expect(r.status == c.status, "\(r.text)")
        guard c.status != 200 else {
            #expect(r.json["status"] as? String == "success")
            return
        }
        #expect(r.json["status"] as? String == "error")
        #expect(r.json["errorType"] as? String == c.errorType)
        #expect((r.json["error"] as? String ?? "").hasPrefix(c.message), "\(r.text)")
        let details = r.json["details"] as? [[String: Any]] ?? []
        #expect(details.first?["field"] as? String == c.field, "\(r.text)")
    }

    /// A token scoped to sites sees only those sites' series in every selector of a query.
    @Test func siteScopedTokens() throws {
        let s = try SecuredService()
        let admin = try s.token(.admin)
        #expect(try s.ingest(threeSites, token: admin).status == 200)
        let jfk = try s.token(.read, sites: ["JFK"])
        let query = percentEncoded("sum(occupancy_people) + count(occupancy_people) * 1000")
        let scoped = try s.get("/api/v1/query?time=1762070400&query=" + query, token: jfk)
        #expect(scoped.text.contains(#""result":[{"metric":{},"value":[1762070400,"1041"]}]"#), "\(scoped.text)")
        let all = try s.get("/api/v1/query?time=1762070400&query=" + query, token: admin)
        #expect(all.text.contains(#""value":[1762070400,"3060"]"#), "\(all.text)")
        // absent() does not reveal other sites' series either.
        let absent = try s.get(
            "/api/v1/query?time=1762070400&query=" + percentEncoded(#"absent(occupancy_people{site="LAX"})"#), token: jfk)
        #expect(absent.text.contains(#""result":[{"metric":{"site":"LAX"},"value":[1762070400,"1"]}]"#), "\(absent.text)")
        #expect(try s.get("/api/v1/query?query=1", token: nil).status == 401)
    }

    /// The settings resolve flag > environment > file, and bad values name the setting.
    @Test func querySettings() throws {
        let resolved = try ServiceConfiguration.resolve(
            flags: ["query-timeout": "10s"],
            environment: ["KPID_QUERY_TIMEOUT": "20s", "KPID_QUERY_LOOKBACK_DELTA": "1m"],
            configFile: ["query-lookback-delta": "2m", "query-max-samples": "1000"])
        #expect(resolved.queryTimeoutMs == 10_000)
        #expect(resolved.queryLookbackDeltaMs == 60_000)
        #expect(resolved.queryMaxSamples == 1000)
        #expect(ServiceConfiguration().queryLookbackDeltaMs == 300_000 && ServiceConfiguration().queryTimeoutMs == 120_000)
        #expect(throws: ServiceConfiguration.Invalid.self) {
            try ServiceConfiguration.resolve(flags: ["query-timeout": "0s"], environment: [:], configFile: [:])
        }
        do {
            _ = try ServiceConfiguration.resolve(flags: [:], environment: ["KPID_QUERY_MAX_SAMPLES": "many"], configFile: [:])
        } catch {
            #expect(error.setting == "query-max-samples" && error.source == "KPID_QUERY_MAX_SAMPLES")
        }
    }

    /// The real binary takes the flag: a 30 s lookback hides a sample 60 s old.
    @Test func lookbackFlagOfTheBinary() throws {
        let dir = TempDir()
        let kpid = try KpidProcess(data: dir.path, extraArguments: ["--query-lookback-delta", "30s"])
        defer { kpid.terminate() }
        let body = #"{"metric":"m","ts":1700000000000,"value":1}"#
        let ingest = try http(
            "POST", kpid.base + "/api/v1/ingest", body: Data(body.utf8), headers: ["Content-Type": "application/x-ndjson"])
        #expect(ingest.status == 200)
        let seen = try http("GET", kpid.base + "/api/v1/query?query=m&time=1700000030")
        #expect(seen.text.contains(#""value":[1700000030,"1"]"#), "\(seen.text)")
        let gone = try http("GET", kpid.base + "/api/v1/query?query=m&time=1700000060")
        #expect(gone.text.contains(#""result":[]"#), "\(gone.text)")
    }

    @Test func methodsAndConfiguration() throws {
        let dir = TempDir()
        let kpid = try RunningService(data: dir.path) { config in
            config.queryMaxSamples = 2
            config.queryLookbackDeltaMs = 30_000
        }
        try load(kpid)
        let put = try http("PUT", kpid.base + "/api/v1/query?query=1")
        #expect(put.status == 405 && put.headers["allow"] == "GET, POST")
        // The configured sample limit: three samples of JFK's series over 5 m exceed 2.
        let limited = try http(
            "GET", kpid.base + "/api/v1/query?time=1700000060&query=" + percentEncoded("count_over_time(occupancy_people[5m])"))
        #expect(limited.status == 422 && limited.json["errorType"] as? String == "execution", "\(limited.text)")
        // The configured lookback: 30 s after the last LHR sample it is gone, JFK's is 10 s old.
        let lookback = try http("GET", kpid.base + "/api/v1/query?time=1700000070&query=" + percentEncoded("count(occupancy_people)"))
        #expect(lookback.text.contains(#""value":[1700000070,"1"]"#), "\(lookback.text)")
    }
}
