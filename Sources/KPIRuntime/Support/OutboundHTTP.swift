import Dispatch
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// kpid's requests to other services (remote-write forwarding, Alertmanager): a POST from a
/// background thread, waiting for the answer.
struct OutboundHTTP: Sendable {
    private let session = URLSession(configuration: .ephemeral)

    /// What came back: the status (nil when no answer) and the answer's text (or the error).
    struct Answer {
        var status: Int?
        var text: String
    }

    /// Lets requests in flight finish, then releases the session.
    func finish() { session.finishTasksAndInvalidate() }

    /// POSTs `body` to `url` with `headers`, waiting at most `timeout` seconds.
    func post(_ url: URL, body: Data, headers: [String: String], timeout: TimeInterval) -> Answer {
        final class Box: @unchecked Sendable {
            // @unchecked: written by the completion before `done.signal()`, read after `wait()`.
            var answer = Answer(status: nil, text: "")
            let done = DispatchSemaphore(value: 0)
        }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.httpBody = body
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.setValue("kpid/\(ServiceMetrics.version)", forHTTPHeaderField: "User-Agent")
        let box = Box()
        session.dataTask(with: request) { data, response, error in
            if let http = response as? HTTPURLResponse { box.answer.status = http.statusCode }
            if let data {
                box.answer.text = String(decoding: data, as: UTF8.self)
            } else if let error {
                box.answer.text = "\(error)"
            }
            box.done.signal()
        }.resume()
        box.done.wait()
        return box.answer
    }
}

extension OutboundHTTP {
    /// `url` as it may be shown (metrics labels, logs): without a user and password or a query
    /// string, which may carry credentials (`https://user:secret@itsm.example/hook?token=...`).
    static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url) else { return "(unparsable URL)" }
        parts.user = nil
        parts.password = nil
        parts.query = nil
        parts.fragment = nil
        return parts.string ?? "(unparsable URL)"
    }
}
