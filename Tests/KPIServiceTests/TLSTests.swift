import Foundation
import KPIRuntime
import KPIService
import Testing

/// HTTPS through libmicrohttpd (GnuTLS), checked with curl against certificates openssl makes
/// in the test.
@Suite(.serialized) struct TLSTests {
    /// A self-signed certificate for 127.0.0.1 and its key, written to `dir`.
    static func makeCertificate(_ dir: String, name: String) throws -> (cert: String, key: String) {
        let cert = dir + "/\(name).crt"
        let key = dir + "/\(name).key"
        let result = try runTool(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                "-subj", "/CN=kpid test \(name)", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", key, "-out", cert,
            ])
        guard result.status == 0 else { throw TestFailure("openssl failed: \(result.output)") }
        return (cert, key)
    }

    @Test func servesHTTPSOnlyAndCurlVerifiesTheCertificate() throws {
        let dir = TempDir()
        let (cert, key) = try Self.makeCertificate(dir.path, name: "server")
        let (otherCert, _) = try Self.makeCertificate(dir.path, name: "other")
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.tlsCertificatePath = cert
            $0.tlsKeyPath = key
        }
        #expect(kpid.service.urlScheme == "https")
        let port = kpid.service.boundPort!
        let https = "https://127.0.0.1:\(port)"

        // Trusting the server's certificate: works, for reads and writes.
        let health = try curl("GET", https + "/healthz", extra: ["--cacert", cert])
        #expect(health.status == 200 && health.text == "ok\n")
        let ingest = try curl(
            "POST", https + "/api/v1/ingest", body: Data(threeSites.utf8), headers: ["Content-Type": "application/x-ndjson"],
            extra: ["--cacert", cert])
        #expect(ingest.status == 200)
        let series = try curl("GET", https + "/api/v1/series?match=occupancy_people", extra: ["--cacert", cert])
        #expect((series.json["data"] as? [Any])?.count == 3)

        // Trusting another CA: the handshake fails (curl exit 60, peer certificate not trusted).
        let wrongCA = try runTool("/usr/bin/curl", ["-s", "-S", "--max-time", "10", "--cacert", otherCert, https + "/healthz"])
        #expect(wrongCA.status == 60, "\(wrongCA.output)")
        // No CA at all (the system store does not know a self-signed certificate): fails too.
        let systemCA = try runTool("/usr/bin/curl", ["-s", "-S", "--max-time", "10", https + "/healthz"])
        #expect(systemCA.status != 0)

        // Plain HTTP to the TLS port gets no HTTP answer.
        let plain = try runTool(
            "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "http://127.0.0.1:\(port)/healthz"])
        #expect(plain.status != 0)
        #expect(plain.output == "000")
        // The server survives all of that.
        #expect(try curl("GET", https + "/readyz", extra: ["--cacert", cert]).status == 200)
    }

    /// `tls-min-version`: a handshake below it is refused by the server (1.3 here, so that the
    /// client's own policy cannot be what refuses); the default serves 1.2.
    @Test func theMinimumTLSVersionHolds() throws {
        let dir = TempDir()
        let (cert, key) = try Self.makeCertificate(dir.path, name: "server")
        for (minimum, tls12Works) in [("1.3", false), ("1.2", true)] {
            let kpid = try RunningService(data: dir.path + "/data-\(minimum)") {
                $0.tlsCertificatePath = cert
                $0.tlsKeyPath = key
                $0.tlsMinimumVersion = minimum
            }
            defer { kpid.stop() }
            let https = "https://127.0.0.1:\(kpid.service.boundPort!)/healthz"
            let tls12 = try runTool("/usr/bin/curl", ["-s", "-S", "--max-time", "10", "--cacert", cert, "--tls-max", "1.2", https])
            #expect((tls12.status == 0) == tls12Works, "minimum \(minimum), TLS 1.2 client: \(tls12.status) \(tls12.output)")
            let tls13 = try runTool("/usr/bin/curl", ["-s", "-S", "--max-time", "10", "--cacert", cert, "--tlsv1.3", https])
            #expect(tls13.status == 0 && tls13.output == "ok\n", "minimum \(minimum), TLS 1.3 client: \(tls13.output)")
        }
        #expect(ServiceConfiguration().tlsMinimumVersion == "1.2")
    }

    @Test func tokensTravelOverTLS() throws {
        let dir = TempDir()
        let (cert, key) = try Self.makeCertificate(dir.path, name: "server")
        let kpid = try RunningService(data: dir.path + "/data") {
            $0.tlsCertificatePath = cert
            $0.tlsKeyPath = key
            $0.auth = .on
        }
        let https = "https://127.0.0.1:\(kpid.service.boundPort!)"
        let created = try runKpidCommand(["token", "create", "--role", "read", "--data", dir.path + "/data"])
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try curl("GET", https + "/api/v1/labels", extra: ["--cacert", cert]).status == 401)
        #expect(
            try curl("GET", https + "/api/v1/labels", headers: ["Authorization": "Bearer \(token)"], extra: ["--cacert", cert]).status
                == 200)
    }

    @Test func theBinaryServesHTTPSAndSaysSo() throws {
        let dir = TempDir()
        let (cert, key) = try Self.makeCertificate(dir.path, name: "server")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kpidBinary)
        process.arguments = [
            "serve", "--data", dir.path + "/data", "--port", "0", "--tls-cert", cert, "--tls-key", key, "--log-level", "error",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        var text = ""
        let deadline = Date().addingTimeInterval(60)
        while !text.contains("\n") && Date() < deadline && process.isRunning {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { usleep(10_000) } else { text += String(decoding: chunk, as: UTF8.self) }
        }
        let range = try #require(text.range(of: #"https://127\.0\.0\.1:[0-9]+"#, options: .regularExpression), "\(text)")
        #expect(try curl("GET", String(text[range]) + "/healthz", extra: ["--cacert", cert]).status == 200)
    }

    @Test func badTLSSettingsAreClearErrors() throws {
        let dir = TempDir()
        #expect(throws: ServiceConfiguration.Invalid.self) {
            try ServiceConfiguration.resolve(flags: ["tls-cert": "/x.crt"], environment: [:], configFile: [:])
        }
        try "not a certificate".write(toFile: dir.path + "/bad.crt", atomically: true, encoding: .utf8)
        let (_, key) = try Self.makeCertificate(dir.path, name: "server")
        do {
            _ = try RunningService(data: dir.path + "/data") {
                $0.tlsCertificatePath = dir.path + "/bad.crt"
                $0.tlsKeyPath = key
            }
            Issue.record("started with a bad certificate")
        } catch let error as ServiceConfiguration.Invalid {
            #expect(error.setting == "tls-cert")
            #expect(error.reason.contains("PEM"))
        }
        do {
            _ = try RunningService(data: dir.path + "/data2") {
                $0.tlsCertificatePath = dir.path + "/missing.crt"
                $0.tlsKeyPath = key
            }
            Issue.record("started without a certificate file")
        } catch let error as ServiceConfiguration.Invalid {
            #expect(error.reason.contains("cannot read"))
        }
    }
}
