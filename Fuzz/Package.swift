// swift-tools-version:5.4
import PackageDescription

// libFuzzer targets for kpid's decoders and parsers. Built by `make fuzz` with
// `-sanitize=fuzzer` (Linux): each product is a fuzzer binary that takes a corpus directory.
// A separate package so the fuzzer flags never reach the normal build. Tools version 5.4: later
// versions rename an executable's entry point (for testable executables), which would hide
// libFuzzer's own `main`.
let fuzzers = [
    "FuzzNDJSON", "FuzzCSV", "FuzzPrometheusText", "FuzzProtobuf", "FuzzRemoteWrite", "FuzzSQL", "FuzzPromQL",
    "FuzzRecovery",
]

let common: [Target.Dependency] = [
    .product(name: "KPICore", package: "kpid"), .product(name: "KPIWire", package: "kpid"),
    .product(name: "KPIQuery", package: "kpid"), .product(name: "KPIPromQL", package: "kpid"),
]

/// The engine targets share FuzzSupport (the store of extreme values, the query runs); the
/// recovery target also writes through kpid's persistence (KPIStorage, which logs).
func dependencies(of name: String) -> [Target.Dependency] {
    switch name {
    case "FuzzSQL", "FuzzPromQL": return common + ["FuzzSupport"]
    case "FuzzRecovery":
        return common + [
            "FuzzSupport", .product(name: "KPIStorage", package: "kpid"), .product(name: "Logging", package: "swift-log"),
        ]
    default: return common
    }
}

let package = Package(
    name: "kpid-fuzz",
    products: fuzzers.map { .executable(name: $0, targets: [$0]) },
    dependencies: [
        .package(name: "kpid", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: fuzzers.map { name in
        .executableTarget(
            name: name, dependencies: dependencies(of: name), swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    } + [.target(name: "FuzzSupport", dependencies: common)]
)
