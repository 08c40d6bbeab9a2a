import KPIHTTP
import Testing

@Suite struct HTTPRequestTests {
    @Test func initLowercasesAndMergesHeaderNames() {
        let request = HTTPRequest(headers: ["Content-Type": "text/csv", "X-Tag": "a", "x-tag": "b"])
        #expect(request.headers["content-type"] == "text/csv")
        #expect(request.header("CONTENT-TYPE") == "text/csv")
        #expect(request.header("x-TAG") == "a, b")
        #expect(request.header("missing") == nil)
    }

    @Test func queryLookupKeepsOrderAndRepeats() {
        let request = HTTPRequest(
            method: "GET", path: "/api/v1/series",
            query: [("match[]", "up"), ("start", "1"), ("match[]", "down")])
        #expect(request.queryValue("match[]") == "up")
        #expect(request.queryValues("match[]") == ["up", "down"])
        #expect(request.queryValue("end") == nil)
        #expect(request.queryValues("end").isEmpty)
    }

    @Test func responseHelpersSetContentType() {
        let json = HTTPResponse.json(201, Array("{}".utf8))
        #expect(json.status == 201)
        #expect(json.headers.map(\.name) == ["Content-Type"])
        #expect(json.headers.map(\.value) == ["application/json"])
        let text = HTTPResponse.text(404, "nope")
        #expect(text.headers.map(\.value) == ["text/plain; charset=utf-8"])
        guard case .bytes(let bytes) = text.body else {
            Issue.record("text body should be bytes")
            return
        }
        #expect(bytes == Array("nope".utf8))
    }
}
