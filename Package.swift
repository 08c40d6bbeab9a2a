// swift-tools-version:6.0
import PackageDescription

// Target boundaries follow the C libraries: each system library is wrapped by exactly one
// Swift target (CSQLite -> KPIStorage, CMicroHTTPD -> KPIHTTP; CProtobufC is declared for the
// protobuf formats and will be imported by KPIWire only), and KPICore imports no C at all.
let package = Package(
    name: "kpid",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kpid", targets: ["kpid"]),
        .executable(name: "kpid-bench", targets: ["kpid-bench"]),
        // Libraries for the fuzz package (Fuzz/Package.swift), which depends on this one.
        .library(name: "KPICore", targets: ["KPICore"]),
        .library(name: "KPIWire", targets: ["KPIWire"]),
        .library(name: "KPIQuery", targets: ["KPIQuery"]),
        .library(name: "KPIPromQL", targets: ["KPIPromQL"]),
        .library(name: "KPIStorage", targets: ["KPIStorage"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // System libraries (Debian packages; `make deps` installs them).
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CMicroHTTPD", pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(
            name: "CProtobufC", pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev", "protobuf-c-compiler"])]),
        .systemLibrary(
            name: "CSnappy", pkgConfig: "snappy",
            providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        // protoc-c output for Prometheus remote write (Sources/KPIProtos/remote.proto).
        .target(name: "KPIProtos", dependencies: ["CProtobufC"]),

        // Domain: labels, matchers, series index, columnar store. Pure Swift.
        .target(name: "KPICore"),
        // SQLite persistence; the only importer of CSQLite.
        .target(
            name: "KPIStorage",
            dependencies: ["KPICore", "CSQLite", "CZstd", .product(name: "Logging", package: "swift-log")]),
        // Ingest and exposition formats.
        .target(name: "KPIWire", dependencies: ["KPICore", "CZlib", "KPIProtos", "CSnappy", "CProtobufC"]),
        // libmicrohttpd wrapper; the only importer of CMicroHTTPD.
        .target(
            name: "KPIHTTP",
            dependencies: ["CMicroHTTPD", "KPICore", .product(name: "Logging", package: "swift-log")]),
        // Query language: lexer, parser, AST, planner, executor. Pure Swift.
        .target(name: "KPIQuery", dependencies: ["KPICore"]),
        // KPI templates (YAML), their validation and evaluation through the SQL engine.
        .target(
            name: "KPITemplates",
            dependencies: ["KPICore", "KPIQuery", .product(name: "Yams", package: "Yams")]),
        // The weekly KPI review: per-week evaluation of a site's templates, rendered as HTML
        // (inline SVG sparklines), JSON, CSV and Markdown.
        .target(name: "KPIReport", dependencies: ["KPICore", "KPIQuery", "KPITemplates"]),
        // The deterministic fixture generator behind `kpid fixtures generate`. Pure Swift.
        .target(name: "KPIFixtures", dependencies: ["KPICore"]),
        // PromQL: lexer, parser and evaluator over the store (Prometheus HTTP query API). Pure Swift.
        .target(name: "KPIPromQL", dependencies: ["KPICore"]),

        // Alerting: Prometheus rule files, alert templates, rule evaluation and alert state.
        .target(name: "KPIAlerting", dependencies: ["KPICore", "KPIPromQL", .product(name: "Yams", package: "Yams")]),
        // Everything below HTTP: settings, the data directory lock, database connections, store
        // recovery, the writer, schedulers (retention, rolling KPIs, forwarding, demo), the KPI
        // catalog, tokens and audit. `Runtime.open` is what serve, ingest, report and the
        // benchmarks use.
        .target(
            name: "KPIRuntime",
            dependencies: [
                "KPICore", "KPIStorage", "KPIWire", "KPIQuery", "KPIPromQL", "KPITemplates", "KPIReport", "KPIFixtures", "KPIAlerting",
                .product(name: "Logging", package: "swift-log"), .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        // The HTTP layer: routes, handlers, authentication, rate limits, audit of requests.
        .target(
            name: "KPIService",
            dependencies: [
                "KPIRuntime", "KPICore", "KPIStorage", "KPIWire", "KPIHTTP", "KPIQuery", "KPIPromQL", "KPITemplates", "KPIAlerting",
                "KPIReport", "KPIFixtures", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .executableTarget(
            name: "kpid",
            dependencies: [
                "KPIService", "KPIRuntime", "KPICore", "KPIStorage", "KPIWire", "KPIQuery", "KPITemplates", "KPIReport",
                "KPIFixtures",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "kpid-bench",
            dependencies: [
                "KPIService", "KPIRuntime", "KPICore", "KPIStorage", "KPIWire", "KPIQuery", "KPIPromQL",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/kpid-bench"),

        // Helpers shared by the test targets (seeded random data).
        .target(name: "KPITestSupport", path: "Tests/KPITestSupport"),
        .testTarget(name: "KPICoreTests", dependencies: ["KPICore", "KPITestSupport"]),
        .testTarget(
            name: "KPIStorageTests",
            dependencies: ["KPIStorage", "KPICore", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "KPIWireTests", dependencies: ["KPIWire", "KPICore", "KPIProtos", "CSnappy", "KPITestSupport"]),
        .testTarget(name: "KPIHTTPTests", dependencies: ["KPIHTTP"]),
        .testTarget(name: "KPIAlertingTests", dependencies: ["KPIAlerting", "KPIPromQL", "KPICore"]),
        .testTarget(name: "KPIQueryTests", dependencies: ["KPIQuery", "KPICore", "KPIStorage", "KPITestSupport"]),
        .testTarget(
            name: "KPITemplatesTests", dependencies: ["KPITemplates", "KPIQuery", "KPICore", "KPIWire", "KPITestSupport"]),
        .testTarget(
            name: "KPIReportTests",
            dependencies: ["KPIReport", "KPITemplates", "KPIQuery", "KPICore", "KPIWire", "KPITestSupport"]),
        .testTarget(name: "KPIFixturesTests", dependencies: ["KPIFixtures", "KPICore", "KPIWire"]),
        .testTarget(name: "KPIPromQLTests", dependencies: ["KPIPromQL", "KPICore", "KPITestSupport"]),
        .testTarget(
            name: "KPIServiceTests",
            dependencies: [
                "KPIService", "KPIRuntime", "KPICore", "KPIStorage", "KPIWire", "KPIHTTP", "KPIQuery", "KPIPromQL",
                "KPITemplates", "KPIReport", "KPITestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
