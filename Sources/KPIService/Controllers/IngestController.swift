import Foundation
import KPICore
import KPIHTTP
import KPIRuntime
import KPIStorage
import KPIWire

/// Ingest: `POST /api/v1/ingest` (ndjson, CSV, Prometheus text, `kpid.v1.Batch` protobuf) and
/// `POST /api/v1/write` (Prometheus remote write 1.0). A request is decoded on its server
/// thread, checked against the caller's sites, and answered from the writer thread once its
/// group commit is durable.
struct IngestController: Controller {
    let runtime: Runtime

    var routes: [Route] {
        [
            Route(
                "/api/v1/ingest", [.post], .ingest,
                .later { r, m, respond throws(APIError) in try self.ingest(r, principal: m.principal, respond: respond) }),
            Route(
                "/api/v1/write", [.post], .ingest,
                .later { r, m, respond throws(APIError) in try self.remoteWrite(r, principal: m.principal, respond: respond) }),
        ]
    }

    /// Decodes on the calling thread; `respond` is called from the writer thread after the commit.
    func ingest(
        _ request: HTTPRequest, principal: Principal = .unrestricted, respond: @escaping @Sendable (HTTPResponse) -> Void
    ) throws(APIError) {
        let contentType = request.header("content-type") ?? ""
        guard let format = IngestFormat(contentType: contentType) else {
            metrics.rejected(samples: 0, reason: "unsupported_format")
            throw APIError(
                status: 415,
                message: "unsupported Content-Type \"\(contentType)\"",
                details: [
                    ErrorDetail(
                        field: "Content-Type",
                        reason:
                            "use application/x-ndjson, text/csv, text/plain (Prometheus text format) or application/x-protobuf (kpid.v1.Batch)"
                    )
                ])
        }
        var body = request.body
        switch request.header("content-encoding")?.lowercased() {
        case nil, "identity":
            break
        case "gzip", "x-gzip", "deflate":
            do {
                body = try GzipDecoder.inflate(body, limit: configuration.maxBodyBytes)
            } catch {
                switch error {
                case .tooLarge(let limit):
                    metrics.rejected(samples: 0, reason: "body_too_large")
                    throw APIError(
                        status: 413, message: "request body too large",
                        details: [
                            ErrorDetail(field: "body", reason: "decompressed body exceeds the limit of \(limit) bytes")
                        ])
                case .corrupt(let reason):
                    metrics.rejected(samples: 0, reason: "invalid_input")
                    throw APIError(
                        status: 400, message: "invalid compressed body",
                        details: [ErrorDetail(field: "Content-Encoding", reason: reason)])
                }
            }
        case let encoding?:
            metrics.rejected(samples: 0, reason: "unsupported_format")
            throw APIError(
                status: 415, message: "unsupported Content-Encoding \"\(encoding)\"",
                details: [ErrorDetail(field: "Content-Encoding", reason: "use gzip or send the body uncompressed")])
        }
        let options = configuration.decodeOptions(openMetrics: IngestFormat.isOpenMetrics(contentType: contentType))
        let batch: SampleBatch
        do {
            batch = try IngestDecoder.decode(body, format: format, options: options)
        } catch {
            metrics.rejected(samples: error.details.count, reason: error.kind.rawValue)
            throw APIError(
                status: 400, message: error.message, details: error.details.map(ErrorDetail.init), detailsTruncated: error.detailsTruncated)
        }
        try checkWriteScope(batch, principal: principal)
        guard let writer = self.writer else {
            throw APIError(status: 503, message: "kpid is shutting down; nothing was stored")
        }
        let metrics = self.metrics
        let formatName = IngestController.formatName(format)
        writer.submit(batch) { result in
            respond(
                IngestController.ingestResponse(result, sampleCount: batch.sampleCount, formatName: formatName, metrics: metrics) {
                    var w = JSONWriter()
                    w.raw("{\"samples\":\($0.samples),\"series_created\":\($0.seriesCreated)}\n")
                    return .json(200, w.bytes)
                })
        }
    }

    /// The answer to a committed or refused write, for every ingest path; `acknowledged` makes
    /// the success answer (its shape differs between formats).
    static func ingestResponse(
        _ result: Result<WriteResult, WriteError>, sampleCount: Int, formatName: String, metrics: ServiceMetrics,
        acknowledged: (WriteResult) -> HTTPResponse
    ) -> HTTPResponse {
        switch result {
        case .success(let result):
            metrics.ingested(samples: result.samples, format: formatName)
            return acknowledged(result)
        case .failure(.rejected(let error)):
            metrics.rejected(samples: sampleCount, reason: error.kind.rawValue)
            let status: HTTPStatus = error.kind == .limitExceeded ? 429 : 400
            return APIError(
                status: status, message: error.message, details: error.details.map(ErrorDetail.init),
                detailsTruncated: error.detailsTruncated
            )
            .response
        // The storage error (SQLite's message, which can quote SQL) is in the writer's log
        // ("group commit failed"), never in the answer.
        case .failure(.storage):
            metrics.rejected(samples: sampleCount, reason: "storage")
            return APIError(status: 503, message: "the write could not be committed; nothing was stored (see kpid's log)").response
        case .failure(.full):
            metrics.rejected(samples: sampleCount, reason: "storage_full")
            return APIError(
                status: 507, message: "no room to store the samples (disk or max-database-size full); nothing was stored"
            ).response
        case .failure(.unavailable):
            return APIError(status: 503, message: "kpid is shutting down; nothing was stored").response
        }
    }

    static func formatName(_ format: IngestFormat) -> String {
        switch format {
        case .ndjson: return "ndjson"
        case .csv: return "csv"
        case .prometheusText: return "prometheus_text"
        case .protobuf: return "protobuf"
        }
    }

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
                    ErrorDetail(field: "Content-Encoding", reason: "remote write bodies must be snappy-compressed (block format)")
                ])
        }
        let contentType = request.header("content-type") ?? ""
        if let problem = Self.remoteWriteContentTypeProblem(contentType) {
            metrics.rejected(samples: 0, reason: "unsupported_format")
            throw APIError(
                status: 415, message: "unsupported Content-Type \"\(contentType)\"",
                details: [ErrorDetail(field: "Content-Type", reason: problem)])
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
            let status: HTTPStatus = error.kind == .limitExceeded ? 413 : 400
            throw APIError(
                status: status, message: error.message, details: error.details.map(ErrorDetail.init),
                detailsTruncated: error.detailsTruncated)
        }
        // A series outside the token's sites refuses the whole request (403; the sender drops it).
        try checkWriteScope(batch, principal: principal)
        guard let writer = self.writer else {
            throw APIError(status: 503, message: "kpid is shutting down; nothing was stored")
        }
        let metrics = self.metrics
        writer.submit(batch) { result in
            respond(
                IngestController.ingestResponse(result, sampleCount: batch.sampleCount, formatName: "remote_write", metrics: metrics) { _ in
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

    /// Refuses a batch holding a series outside the principal's sites (403, nothing stored).
    func checkWriteScope(_ batch: SampleBatch, principal: Principal) throws(APIError) {
        guard !principal.sites.isEmpty else { return }
        for labels in batch.series where !principal.mayAccess(labels) {
            metrics.rejected(samples: batch.sampleCount, reason: "forbidden")
            throw APIError(
                status: 403, message: "this token may not write this series; nothing was stored",
                details: [
                    ErrorDetail(
                        field: Principal.siteLabel,
                        reason: "series \(labels.description) is outside the token's sites (\(principal.sites.joined(separator: ", ")))")
                ])
        }
    }
}
