// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "smart-sync",
    // Linux only (SwiftPM has no `platforms:` entry to say so): the code calls renameat2(RENAME_EXCHANGE),
    // FICLONE, syncfs and Linux's xattr calls, none of which Darwin has. See "Linux only" in docs/ARCHITECTURE.md.
    products: [
        .executable(name: "smart-sync", targets: ["smart-sync"]),
        .library(name: "SmartSyncKit", targets: ["Sync", "Validation", "Workflow", "Sources", "Transfer", "GitPack", "ObjectStore", "GitObjects"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C interop: thin system-library targets with typed wrappers for variadic calls.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "CLibCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(name: "CLinuxShims"),
        // Leftmost module: the error type and small shared helpers.
        .target(name: "SmartSyncCore", dependencies: ["CLinuxShims"], swiftSettings: strict),
        .target(name: "GitObjects", dependencies: ["SmartSyncCore", "CLibCrypto"], swiftSettings: strict),
        .target(name: "ObjectStore", dependencies: ["GitObjects", "CLinuxShims"], swiftSettings: strict),
        // Git pack files into the store: entry headers, inflate, deltas (thin packs resolved against the store).
        .target(name: "GitPack", dependencies: ["GitObjects", "ObjectStore", "CZlib"], swiftSettings: strict),
        // Knows nothing of git: URLs, headers, byte sinks.
        .target(name: "Transfer", dependencies: ["SmartSyncCore", "CCurl"], swiftSettings: strict),
        .target(
            name: "Sources",
            dependencies: ["GitObjects", "ObjectStore", "GitPack", "Transfer"],
            swiftSettings: strict
        ),
        .target(
            name: "Sync",
            dependencies: ["Sources", "ObjectStore", "GitObjects", "Transfer", "CLinuxShims"],
            swiftSettings: strict
        ),
        // Declarative checks of a target and its host (`smart-sync validate`).
        .target(
            name: "Validation",
            dependencies: ["GitObjects", "ObjectStore", "SmartSyncCore", "Sources", "Sync"],
            swiftSettings: strict
        ),
        // update: validate → sync → validate the stage → switch → rebuild → validate, rolling back on failure.
        .target(
            name: "Workflow",
            dependencies: ["GitObjects", "SmartSyncCore", "Sources", "Sync", "Validation"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "smart-sync",
            dependencies: [
                "Sync",
                "Validation",
                "Workflow",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Test support: fixture repositories and the GitHub-shaped test server. Never imported by the product.
        .target(
            name: "TestSupport",
            dependencies: ["GitObjects", "SmartSyncCore"],
            path: "Tests/TestSupport",
            resources: [.copy("Server")],
            swiftSettings: strict
        ),
        .testTarget(name: "SmartSyncCoreTests", dependencies: ["SmartSyncCore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "GitObjectsTests", dependencies: ["GitObjects", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ObjectStoreTests", dependencies: ["ObjectStore", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "GitPackTests", dependencies: ["GitPack", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "TransferTests", dependencies: ["Transfer", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SourcesTests", dependencies: ["Sources", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "SyncTests", dependencies: ["Sync", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "ValidationTests", dependencies: ["Validation", "Sync", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "WorkflowTests", dependencies: ["Workflow", "Sync", "Sources", "ObjectStore", "TestSupport"],
            swiftSettings: strict),
        .testTarget(name: "EndToEndTests", dependencies: ["Sync", "TestSupport"], swiftSettings: strict),
    ]
)
