// swift-tools-version:5.4
import PackageDescription

// libFuzzer targets for kpid's decoders and parsers. Built by `make fuzz` with
// `-sanitize=fuzzer` (Linux): each product is a fuzzer binary that takes a corpus directory.
// A separate package so the fuzzer flags never reach the normal build. Tools version 5.4: later
// versions rename an executable's entry point (for testable executables), which would hide
// libFuzzer's own `main`.
let fuzzers = ["FuzzNDJSON", "FuzzCSV", "FuzzPrometheusText", "FuzzProtobuf", "FuzzRemoteWrite", "FuzzSQL", "FuzzPromQL"]

let package = Package(
    name: "kpid-fuzz",
    products: fuzzers.map { .executable(name: $0, targets: [$0]) },
    dependencies: [.package(name: "kpid", path: "..")],
    targets: fuzzers.map { name in
        .executableTarget(
            name: name,
            dependencies: [
                .product(name: "KPICore", package: "kpid"), .product(name: "KPIWire", package: "kpid"),
                .product(name: "KPIQuery", package: "kpid"), .product(name: "KPIPromQL", package: "kpid"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    }
)
