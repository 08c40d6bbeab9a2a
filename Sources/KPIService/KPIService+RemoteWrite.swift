import Foundation
import KPIRuntime
import KPICore
import KPIHTTP
import KPIStorage
import KPIWire

extension KPIService {
    /// A snappy block may decode to at most this many times `maxBodyBytes`. Remote write
    /// batches compress about 5-10x; the bound keeps a small body from claiming gigabytes.
    static let remoteWriteExpansionLimit = 8

    /// And to at most 32 MiB (VictoriaMetrics' default `maxInsertRequestSize`; Prometheus sends
    /// batches of about 2,000 samples, well under 1 MiB). Unpacking a message takes several
    /// times its size in C structures, so a 24 MB body that decoded to 512 MB once peaked at
    /// 2.5 GB of resident memory; with this bound a request's peak stays in the low hundreds of MB.
    static let remoteWriteMaxDecodedBytes = 32 << 20

    /// `POST /api/v1/write`: Prometheus remote write 1.0.
    ///
    /// The status codes follow the remote write spec, which senders act on: 204 stored; 400
    /// malformed or invalid (the sender drops the batch, retrying cannot help); 413 the body
    /// decodes too large; 415 not snappy-compressed protobuf (or a remote write 2.0 message);
    /// 429 a limit was hit; 503 storage failed or kpid is stopping (the sender retries).
    /// Like `/api/v1/ingest`, a request is stored entirely or not at all.
    /// Decodes on the calling thread; `respond` is called from the writer thread after the commit.
    func remoteWrite(
        _ request: HTTPRequest, principal: Principal = .unrestricted, respond: @escaping @Sendable (HTTPResponse) -> Void
    ) throws(APIError) {
        let encoding = request.header("content-encoding") ?? ""
        guard Self.trimmed(encoding).lowercased() == "snappy" else {
            metrics.rejected(samples: 0, reason: "unsupported_format")
            throw APIError(
                status: 415, message: "unsupported Content-Encoding \"\(encoding)\"",
                details: [
                    IngestIssue(line: 0, field: "Content-Encoding", reason: "remote write bodies must be snappy-compressed (block format)")
                ])
        }
        let contentType = request.header("content-type") ?? ""
        if let problem = Self.remoteWriteContentTypeProblem(contentType) {
            metrics.rejected(samples: 0, reason: "unsupported_format")
            throw APIError(
                status: 415, message: "unsupported Content-Type \"\(contentType)\"",
                details: [IngestIssue(line: 0, field: "Content-Type", reason: problem)])
        }
        let options = configuration.decodeOptions()
        let batch: SampleBatch
        do {
            batch = try RemoteWriteDecoder.decode(
                request.body, options: options,
                maxDecodedBytes: min(
                    configuration.maxBodyBytes.multipliedReportingOverflow(by: Self.remoteWriteExpansionLimit).partialValue,
                    Self.remoteWriteMaxDecodedBytes))
        } catch {
            metrics.rejected(samples: error.details.count, reason: error.kind.rawValue)
            let status = error.kind == .limitExceeded ? 413 : 400
            throw APIError(status: status, message: error.message, details: error.details, detailsTruncated: error.detailsTruncated)
        }
        // A series outside the token's sites refuses the whole request (403; the sender drops it).
        try checkWriteScope(batch, principal: principal)
        guard let writer = self.writer else {
            throw APIError(status: 503, message: "kpid is shutting down; nothing was stored")
        }
        let metrics = self.metrics
        writer.submit(batch) { result in
            respond(
                KPIService.ingestResponse(result, sampleCount: batch.sampleCount, formatName: "remote_write", metrics: metrics) { _ in
                    HTTPResponse(status: 204)
                })
        }
    }

    /// Why `contentType` is not remote write 1.0 protobuf, or nil when it is:
    /// `application/x-protobuf`, optionally with `proto=prometheus.WriteRequest`. Remote write
    /// 2.0 senders name `proto=io.prometheus.write.v2.Request`; the spec asks for 415 then, so
    /// they can fall back to 1.0.
    static func remoteWriteContentTypeProblem(_ contentType: String) -> String? {
        let parts = contentType.split(separator: ";", omittingEmptySubsequences: false).map { trimmed($0) }
        guard parts.first?.lowercased() == "application/x-protobuf" else {
            return "use application/x-protobuf (Prometheus remote write 1.0)"
        }
        for parameter in parts.dropFirst() {
            guard let eq = parameter.firstIndex(of: "="),
                trimmed(parameter[..<eq]).lowercased() == "proto"
            else { continue }
            var value = trimmed(parameter[parameter.index(after: eq)...])
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            if value != "prometheus.WriteRequest" {
                return "proto=\(value) is not supported; kpid accepts remote write 1.0 (prometheus.WriteRequest)"
            }
        }
        return nil
    }

    private static func trimmed<S: StringProtocol>(_ text: S) -> String {
        text.trimmingCharacters(in: .whitespaces)
    }
}
