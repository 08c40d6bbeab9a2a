import Foundation
import KPIHTTP
import KPIRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// TLS material for the HTTP server.
extension KPIService {
    /// Reads `tls-cert` and `tls-key` (nil when not set); throws a clear error when a file
    /// cannot be read or does not hold PEM.
    func loadTLS() throws -> HTTPServerConfiguration.TLSMaterial? {
        guard let certPath = configuration.tlsCertificatePath, let keyPath = configuration.tlsKeyPath else { return nil }
        func read(_ path: String, _ setting: String, marker: String) throws -> String {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ServiceConfiguration.Invalid(setting: setting, source: path, reason: "cannot read the file")
            }
            guard text.contains("-----BEGIN ") && text.contains(marker) else {
                throw ServiceConfiguration.Invalid(setting: setting, source: path, reason: "not a PEM file holding \(marker)")
            }
            return text
        }
        return HTTPServerConfiguration.TLSMaterial(
            certificatePEM: try read(certPath, "tls-cert", marker: "CERTIFICATE-----"),
            keyPEM: try read(keyPath, "tls-key", marker: "PRIVATE KEY-----"))
    }

    /// `http` or `https`, as the server speaks.
    public var urlScheme: String { configuration.tlsCertificatePath == nil ? "http" : "https" }
}
