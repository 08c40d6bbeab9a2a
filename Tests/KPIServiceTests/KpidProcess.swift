import Foundation

/// The real kpid binary running as a child process, for crash tests.
final class KpidProcess {
    let process = Process()
    let base: String
    private let output = Pipe()

    /// Starts `kpid serve` on a free port and waits until it prints its ready line.
    init(data: String, extraArguments: [String] = [], timeout: TimeInterval = 60) throws {
        guard FileManager.default.isExecutableFile(atPath: kpidBinary) else {
            throw TestFailure("kpid binary missing at \(kpidBinary): run `swift build` first (make test does)")
        }
        process.executableURL = URL(fileURLWithPath: kpidBinary)
        process.arguments = ["serve", "--data", data, "--port", "0", "--log-level", "warning"] + extraArguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Read the ready line: "kpid X ready at http://127.0.0.1:PORT/ ...".
        let deadline = Date().addingTimeInterval(timeout)
        var text = ""
        let handle = output.fileHandleForReading
        while !text.contains("\n") {
            guard Date() < deadline, process.isRunning else {
                process.terminate()
                throw TestFailure("kpid did not become ready: \(text)")
            }
            let chunk = handle.availableData
            if chunk.isEmpty { Thread.sleep(forTimeInterval: 0.01) } else { text += String(decoding: chunk, as: UTF8.self) }
        }
        guard let range = text.range(of: #"http://[^/ ]+"#, options: .regularExpression) else {
            throw TestFailure("no URL in ready line: \(text)")
        }
        base = String(text[range])
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func terminate() {
        process.terminate()  // SIGTERM: graceful
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill() } }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
