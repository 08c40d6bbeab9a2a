import CMicroHTTPD
import Dispatch
import Logging

// The C callbacks libmicrohttpd calls. They are global functions because C function pointers
// cannot capture; the server reaches them as `cls`, an unretained `HTTPServerContext`, and each
// request's state travels in `*con_cls` as a retained `HTTPRequestState`.

/// Size of the buffer libmicrohttpd fills from a streamed body per content-reader call.
private let streamBlockSize = 64 * 1024

/// `MHD_AccessHandlerCallback`: called once when the headers are in, once per piece of body, and
/// once more (with `*upload_data_size == 0`) when the body is complete.
func kpidAccessHandler(
    cls: UnsafeMutableRawPointer?,
    connection: OpaquePointer?,
    url: UnsafePointer<CChar>?,
    method: UnsafePointer<CChar>?,
    version: UnsafePointer<CChar>?,
    uploadData: UnsafePointer<CChar>?,
    uploadDataSize: UnsafeMutablePointer<Int>?,
    conCls: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> MHD_Result {
    guard let cls, let connection, let uploadDataSize, let conCls else { return .NO }
    let context = Unmanaged<HTTPServerContext>.fromOpaque(cls).takeUnretainedValue()

    guard let statePointer = conCls.pointee else {
        // First call: only the headers are known. Answering a GET here would make libmicrohttpd
        // 0.9.75 close the connection, so everything but an oversized upload waits for the next call.
        var started = DispatchTime.now().uptimeNanoseconds
        if let watchdog = context.headerWatchdog {
            // The request is timed from its first byte, so its headers' time counts against the body's.
            guard let requestStarted = watchdog.headersComplete(connection) else {
                // Cut off by the watchdog as the headers came in: its socket is shut down already.
                return .NO
            }
            started = requestStarted
        }
        let state = HTTPRequestState(started: started)
        conCls.pointee = Unmanaged.passRetained(state).toOpaque()
        context.activeRequests.add(1, ordering: .relaxed)
        if MHD_lookup_connection_value(connection, .HEADER_KIND, "Content-Length") != nil,
            MHD_lookup_connection_value(connection, .HEADER_KIND, "Transfer-Encoding") != nil
        {
            // Two framings of one body: a proxy in front may read the other one, and the bytes
            // left over would be taken as a second request (request smuggling). Refused before
            // the body is read; libmicrohttpd closes the connection after the answer.
            state.answered = true
            return queue(HTTPResponse.ambiguousBodyLength, on: connection, context: context)
        }
        if let declared = declaredContentLength(connection) {
            if declared > UInt64(context.maxBodyBytes) {
                state.answered = true
                // Answered before the body is read: no "100 Continue" goes out, and libmicrohttpd
                // closes the connection instead of reading the body.
                return queue(HTTPResponse.bodyTooLarge(limit: context.maxBodyBytes), on: connection, context: context)
            }
            // Capped: a declared length is a promise, and memory is reserved before any byte arrives.
            state.body.reserveCapacity(Int(min(declared, 4 << 20)))
        }
        return .YES
    }
    let state = Unmanaged<HTTPRequestState>.fromOpaque(statePointer).takeUnretainedValue()

    let size = uploadDataSize.pointee
    if size > 0 {
        uploadDataSize.pointee = 0
        if context.requestTimeoutNanoseconds > 0, !state.answered,
            DispatchTime.now().uptimeNanoseconds &- state.started > context.requestTimeoutNanoseconds
        {
            // A slow drip: drop the connection (no answer can go out before the body ends).
            context.slowRequestsAborted.add(1, ordering: .relaxed)
            context.logger.warning("request body still arriving past the request timeout; connection dropped")
            state.answered = true
            return .NO
        }
        if state.answered || state.overflowed {
            return .YES
        }
        if size > context.maxBodyBytes - state.body.count {
            // Chunked uploads declare no length; past the limit the rest is read and dropped,
            // and the 413 goes out when the upload ends (libmicrohttpd 0.9.75 accepts a response
            // only once the body is complete).
            state.overflowed = true
            state.body = []
            return .YES
        }
        if let uploadData {
            state.body.append(contentsOf: UnsafeRawBufferPointer(start: uploadData, count: size))
        }
        return .YES
    }

    if let responder = state.responder {
        // Called again after a resume: the handler's answer has come.
        guard let response = responder.takeResponse() else { return .YES }
        return queue(response, on: connection, context: context)
    }
    guard !state.answered else { return .YES }
    state.answered = true
    if state.overflowed {
        return queue(HTTPResponse.bodyTooLarge(limit: context.maxBodyBytes), on: connection, context: context)
    }
    let body = state.body
    state.body = []
    let request = makeRequest(connection: connection, url: url, method: method, body: body)
    let responder = HTTPResponder(connection: connection, context: context)
    state.responder = responder
    context.handler(request, responder)
    guard let response = responder.responseOrSuspend() else { return .YES }
    return queue(response, on: connection, context: context)
}

/// `MHD_RequestCompletedCallback`: runs for every request whose access handler was called,
/// answered or aborted, so the per-request state is always released here. With the header
/// watchdog it also runs for requests that got no further than their request line (no state).
func kpidRequestCompleted(
    cls: UnsafeMutableRawPointer?,
    connection: OpaquePointer?,
    conCls: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    reason: MHD_RequestTerminationCode
) {
    guard let cls else { return }
    let context = Unmanaged<HTTPServerContext>.fromOpaque(cls).takeUnretainedValue()
    if let connection, let watchdog = context.headerWatchdog {
        watchdog.requestCompleted(connection)
    }
    guard let conCls, let statePointer = conCls.pointee else { return }
    conCls.pointee = nil
    Unmanaged<HTTPRequestState>.fromOpaque(statePointer).release()
    context.activeRequests.subtract(1, ordering: .releasing)
    if reason != .REQUEST_TERMINATED_COMPLETED_OK {
        context.logger.debug("HTTP request ended early", metadata: ["reason": "\(reason.rawValue)"])
    }
}

/// `MHD_NotifyConnectionCallback`, registered with the header watchdog: a connection was
/// accepted, or is about to be closed (its socket still open). On the connection's pool thread.
func kpidConnectionNotify(
    cls: UnsafeMutableRawPointer?,
    connection: OpaquePointer?,
    socketContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
    code: MHD_ConnectionNotificationCode
) {
    guard let cls, let connection else { return }
    let context = Unmanaged<HTTPServerContext>.fromOpaque(cls).takeUnretainedValue()
    guard let watchdog = context.headerWatchdog else { return }
    if code == .CONNECTION_NOTIFY_STARTED {
        // Without its socket a connection cannot be cut off, so it is not tracked.
        guard let socket = HTTPHeaderWatchdog.socket(of: connection) else { return }
        watchdog.connectionStarted(connection, socket: socket)
    } else {
        watchdog.connectionClosed(connection)
    }
}

/// `MHD_OPTION_URI_LOG_CALLBACK`, registered with the header watchdog: a request line was parsed,
/// so a request has started. Returns what libmicrohttpd stores as the request's `*con_cls`:
/// nil, which the access handler's first call relies on.
func kpidRequestLineParsed(
    cls: UnsafeMutableRawPointer?, uri: UnsafePointer<CChar>?, connection: OpaquePointer?
) -> UnsafeMutableRawPointer? {
    guard let cls, let connection else { return nil }
    let context = Unmanaged<HTTPServerContext>.fromOpaque(cls).takeUnretainedValue()
    context.headerWatchdog?.requestLineParsed(connection)
    return nil
}

/// `kpid_mhd_log_function`: libmicrohttpd's own error messages, already formatted by the shim.
func kpidLogMessage(context: UnsafeMutableRawPointer?, message: UnsafePointer<CChar>?) {
    guard let context, let message else { return }
    let server = Unmanaged<HTTPServerContext>.fromOpaque(context).takeUnretainedValue()
    // Notice, not warning: most of these are about misbehaving clients, which an operator cannot fix.
    server.logger.notice("\(String(cString: message))", metadata: ["source": "libmicrohttpd"])
}

/// `MHD_ContentReaderCallback` for streamed bodies; `cls` is a retained `HTTPStreamReader`.
func kpidStreamRead(cls: UnsafeMutableRawPointer?, position: UInt64, buffer: UnsafeMutablePointer<CChar>?, max: Int)
    -> Int
{
    guard let cls, let buffer else { return kpid_mhd_content_reader_end_with_error() }
    let reader = Unmanaged<HTTPStreamReader>.fromOpaque(cls).takeUnretainedValue()
    guard let count = reader.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: max)) else {
        return kpid_mhd_content_reader_end_of_stream()
    }
    return count
}

/// `MHD_ContentReaderFreeCallback`: the response is gone (sent, or its client vanished).
func kpidStreamFree(cls: UnsafeMutableRawPointer?) {
    guard let cls else { return }
    Unmanaged<HTTPStreamReader>.fromOpaque(cls).release()
}

// MARK: - Helpers for the access handler

private func declaredContentLength(_ connection: OpaquePointer) -> UInt64? {
    guard let value = MHD_lookup_connection_value(connection, .HEADER_KIND, "Content-Length") else {
        return nil
    }
    return UInt64(String(cString: value).trimmingSpaces())
}

private func makeRequest(
    connection: OpaquePointer, url: UnsafePointer<CChar>?, method: UnsafePointer<CChar>?, body: [UInt8]
) -> HTTPRequest {
    var headers: [String: String] = [:]
    _ = withUnsafeMutablePointer(to: &headers) { pointer in
        MHD_get_connection_values_n(connection, .HEADER_KIND, kpidCollectHeader, pointer)
    }
    var query = QueryCollector()
    _ = withUnsafeMutablePointer(to: &query) { pointer in
        MHD_get_connection_values_n(connection, .GET_ARGUMENT_KIND, kpidCollectQueryArgument, pointer)
    }
    var request = HTTPRequest()
    request.method = method.map { HTTPMethod(rawValue: String(cString: $0)) } ?? .get
    request.path = url.map { String(cString: $0) } ?? "/"
    request.query = query.arguments
    request.headers = headers
    request.body = body
    request.remoteAddress = clientAddress(connection)
    return request
}

/// Boxes the query list so the iterator's `void *` can point at a plain struct.
private struct QueryCollector {
    var arguments: [(name: String, value: String)] = []
}

private func kpidCollectHeader(
    cls: UnsafeMutableRawPointer?, kind: MHD_ValueKind,
    key: UnsafePointer<CChar>?, keySize: Int, value: UnsafePointer<CChar>?, valueSize: Int
) -> MHD_Result {
    guard let cls, let key else { return .YES }
    let headers = cls.assumingMemoryBound(to: [String: String].self)
    HTTPRequest.addHeader(
        name: decodeString(key, keySize), value: value.map { decodeString($0, valueSize) } ?? "", to: &headers.pointee)
    return .YES
}

private func kpidCollectQueryArgument(
    cls: UnsafeMutableRawPointer?, kind: MHD_ValueKind,
    key: UnsafePointer<CChar>?, keySize: Int, value: UnsafePointer<CChar>?, valueSize: Int
) -> MHD_Result {
    guard let cls, let key else { return .YES }
    let collector = cls.assumingMemoryBound(to: QueryCollector.self)
    collector.pointee.arguments.append((decodeString(key, keySize), value.map { decodeString($0, valueSize) } ?? ""))
    return .YES
}

/// Decodes with an explicit length, so a percent-decoded NUL does not cut a value short.
private func decodeString(_ pointer: UnsafePointer<CChar>, _ count: Int) -> String {
    String(decoding: UnsafeRawBufferPointer(start: pointer, count: count), as: UTF8.self)
}

private func clientAddress(_ connection: OpaquePointer) -> String? {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
        guard let base = buffer.baseAddress, kpid_mhd_client_address(connection, base, buffer.count) == 0 else {
            return nil
        }
        return String(cString: base)
    }
}

// MARK: - Queueing responses

private func queue(_ response: HTTPResponse, on connection: OpaquePointer, context: HTTPServerContext) -> MHD_Result {
    var status = response.status
    if !(100...599).contains(status) {
        context.logger.error("HTTP handler returned an invalid status; sending 500", metadata: ["status": "\(status)"])
        status = 500
    }

    let created: OpaquePointer?
    switch response.body {
    case .bytes(let bytes):
        created = bytes.withUnsafeBytes { buffer in
            // MUST_COPY: the array's storage is only borrowed for this call.
            var empty: UInt8 = 0
            return withUnsafeMutablePointer(to: &empty) { emptyPointer in
                MHD_create_response_from_buffer(
                    buffer.count, UnsafeMutableRawPointer(mutating: buffer.baseAddress) ?? UnsafeMutableRawPointer(emptyPointer),
                    .RESPMEM_MUST_COPY)
            }
        }
    case .stream(let makeStream):
        let reader = Unmanaged.passRetained(HTTPStreamReader(makeStream: makeStream))
        created = MHD_create_response_from_callback(
            kpid_mhd_size_unknown(), streamBlockSize, kpidStreamRead, reader.toOpaque(), kpidStreamFree)
        if created == nil {
            reader.release()
        }
    }
    guard let created else {
        context.logger.error("libmicrohttpd could not create a response")
        return .NO
    }
    // The connection holds its own reference once queued.
    defer { MHD_destroy_response(created) }
    for (name, value) in response.headers where MHD_add_response_header(created, name, value) == .NO {
        context.logger.warning("HTTP response header refused by libmicrohttpd", metadata: ["header": "\(name)"])
    }
    return MHD_queue_response(connection, UInt32(status.rawValue), created)
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view.removeFirst() }
        while view.last == " " || view.last == "\t" { view.removeLast() }
        return String(view)
    }
}
