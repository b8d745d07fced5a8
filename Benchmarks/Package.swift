// swift-tools-version:6.1
// Benchmarks for smart-sync's core sync path (hashing, warm re-scan, apply). A separate package so that the
// root package's `swift test` never builds package-benchmark. Run with `tools/bench-core`.
import PackageDescription

let benchmarkTarget: (String) -> Target = { name in
    .executableTarget(
        name: name,
        dependencies: [
            .product(name: "Benchmark", package: "benchmark"),
            .product(name: "SmartSyncKit", package: "smart-sync"),
            "BenchSupport",
        ],
        path: "Benchmarks/\(name)",
        swiftSettings: [.swiftLanguageMode(.v6)],
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}

let package = Package(
    name: "smart-sync-benchmarks",
    dependencies: [
        // Named explicitly: a path dependency's identity is otherwise its directory name, which varies by checkout.
        .package(name: "smart-sync", path: ".."),
        // Only the MallocInterposer trait: the default set also enables RuntimeInterposer, which on Linux with
        // Swift 6.3 pulls in swift-runtime-interposer (not available here, and not needed for these metrics).
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // Fixture helpers shared by the suites (never measured).
        .target(name: "BenchSupport", path: "Support", swiftSettings: [.swiftLanguageMode(.v6)])
    ] + ["Hashing", "Rescan", "Apply"].map(benchmarkTarget)
)
