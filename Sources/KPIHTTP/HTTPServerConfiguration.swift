/// Settings of an ``HTTPServer``.
public struct HTTPServerConfiguration: Sendable {
    /// The numeric address to listen on: an IPv4 dotted quad (`"127.0.0.1"`, `"0.0.0.0"`) or an
    /// IPv6 address (`"::1"`, `"::"`; `"::"` also accepts IPv4 clients). Host names are refused
    /// so that starting never waits on DNS.
    public var bindAddress: String = "127.0.0.1"
    /// The TCP port; 0 lets the kernel pick a free one (see ``HTTPServer/boundPort``).
    public var port: UInt16 = 9464
    /// Threads in libmicrohttpd's pool. Handlers run on these threads and may block, so this
    /// bounds how many requests are handled at once.
    public var threadCount: Int = 8
    /// The largest request body accepted; larger uploads are answered with 413 and never reach
    /// the handler.
    public var maxBodyBytes: Int = 64 << 20
    /// The most connections open at once; further clients are refused at accept time.
    public var connectionLimit: Int = 1024
    /// Seconds after which an idle or stalled connection is dropped. Every byte received starts
    /// it over, so it does not stop a client sending slowly: ``requestTimeoutSeconds`` does.
    public var connectionTimeoutSeconds: Int = 60
    /// Memory for one connection's request line, headers and read buffer (libmicrohttpd's
    /// connection memory limit): a request whose headers do not fit is refused (431).
    public var maxHeaderBytes: Int = 64 << 10
    /// Seconds from the first byte of a request to the end of its body: a client still sending
    /// the headers or the body after it (a slow drip) is disconnected without an answer and
    /// counted in ``HTTPServer/slowRequestsAborted``. 0: no limit.
    ///
    /// Slow headers are found by a scan every sixteenth of this (250 ms to 1 s), so they may run
    /// up to two scan intervals over. Idle time before a request, including between requests on a
    /// kept-alive connection, is not counted: ``connectionTimeoutSeconds`` governs it.
    public var requestTimeoutSeconds: Int = 300
    /// HTTPS: a PEM certificate (chain, server certificate first) and its PEM private key. With
    /// both set the server speaks TLS only; plain HTTP on the port fails. Both nil: plain HTTP.
    public var tls: TLSMaterial?
    /// The oldest TLS version accepted, as the minor number of `1.x` (default 2: TLS 1.2 and 1.3).
    public var tlsMinimumMinorVersion = 2

    /// The PEM texts of a certificate and its private key.
    public struct TLSMaterial: Sendable {
        public var certificatePEM: String
        public var keyPEM: String

        public init(certificatePEM: String, keyPEM: String) {
            self.certificatePEM = certificatePEM
            self.keyPEM = keyPEM
        }
    }

    /// Creates the default configuration.
    public init() {}
}
