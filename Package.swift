// swift-tools-version:6.0
import PackageDescription

// Swift 6 mode, and every module a file uses must be imported by that file (SE-0444), so no module compiles
// only through another's imports.
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6), .enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "smart-sync",
    // Linux only (SwiftPM has no `platforms:` entry to say so): the code calls renameat2(RENAME_EXCHANGE),
    // FICLONE, syncfs and Linux's xattr calls, none of which Darwin has. See "Linux only" in docs/ARCHITECTURE.md.
    products: [
        .executable(name: "smart-sync", targets: ["smart-sync"]),
        .library(
            name: "SmartSyncKit",
            targets: [
                "SmartSyncCore", "SmartSyncFileSystem", "SmartSyncGitObjects", "SmartSyncObjectStore", "SmartSyncGitPack",
                "SmartSyncTransfer", "SmartSyncGitProtocol", "SmartSyncFetch", "SmartSyncPipeline", "SmartSyncValidation",
                "SmartSyncWorkflow", "SmartSyncSignatures",
            ]
        ),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C interop: thin system-library targets (and CCurl, a C target) with typed wrappers for variadic calls.
        // libcurl is loaded with dlopen when a run first needs the network, not linked: a run that makes no
        // request never maps it and its ~32 libraries. Its headers (libcurl4-openssl-dev) give types and constants.
        // "libcurl loaded on demand" in docs/ARCHITECTURE.md.
        .target(name: "CCurl"),
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
        // Leftmost module: the error type and small shared helpers (no Foundation).
        .target(
            name: "SmartSyncCore", dependencies: ["CLinuxShims", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // POSIX file-system helpers every other module needs: atomic writes, private directories, locks, timestamps.
        .target(name: "SmartSyncFileSystem", dependencies: ["SmartSyncCore", "CLinuxShims"], swiftSettings: strict),
        // Git's object model: ids, SHA-1, trees, commits, paths as bytes, the one glob dialect.
        .target(name: "SmartSyncGitObjects", dependencies: ["SmartSyncCore", "CLibCrypto"], swiftSettings: strict),
        // SSH signatures (SSHSIG), allowed-signers files and signed commits, verified with libcrypto.
        .target(
            name: "SmartSyncSignatures", dependencies: ["SmartSyncCore", "SmartSyncGitObjects", "CLibCrypto"],
            swiftSettings: strict
        ),
        // The content-addressed store keyed by git SHA-1: seals, partials, quarantine, gc, fsck.
        .target(
            name: "SmartSyncObjectStore",
            dependencies: ["SmartSyncCore", "SmartSyncFileSystem", "SmartSyncGitObjects", "CLinuxShims"],
            swiftSettings: strict
        ),
        // Git pack files into the store: entry headers, inflate, deltas (thin packs resolved against the store).
        .target(
            name: "SmartSyncGitPack",
            dependencies: [
                "SmartSyncCore", "SmartSyncFileSystem", "SmartSyncGitObjects", "SmartSyncObjectStore", "CZlib",
            ],
            swiftSettings: strict
        ),
        // Knows nothing of git: the libcurl multi engine, URLs, headers, byte sinks, pacing, retries.
        .target(
            name: "SmartSyncTransfer",
            dependencies: ["SmartSyncCore", "CCurl", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The git protocol v2 client: pkt-lines, capabilities, the upload-pack request and its spool.
        .target(
            name: "SmartSyncGitProtocol",
            dependencies: [
                "SmartSyncCore", "SmartSyncFileSystem", "SmartSyncGitObjects", "SmartSyncTransfer",
            ],
            swiftSettings: strict
        ),
        // What the pipeline fetches from: GitHub's REST and raw hosts, git packs, a local repository, and the
        // failover between them; with their network and source configuration.
        .target(
            name: "SmartSyncFetch",
            dependencies: [
                "SmartSyncCore", "SmartSyncFileSystem", "SmartSyncGitObjects", "SmartSyncObjectStore",
                "SmartSyncGitPack", "SmartSyncTransfer", "SmartSyncGitProtocol",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The sync pipeline on the host: scan, plan, apply, switch, state, generations, local versions.
        .target(
            name: "SmartSyncPipeline",
            dependencies: [
                "SmartSyncCore", "SmartSyncFileSystem", "SmartSyncGitObjects", "SmartSyncObjectStore",
                "SmartSyncFetch", "CLinuxShims", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Declarative checks of a target and its host (`smart-sync validate`).
        .target(
            name: "SmartSyncValidation",
            dependencies: [
                "SmartSyncCore", "SmartSyncFileSystem", "SmartSyncGitObjects", "SmartSyncObjectStore",
                "SmartSyncFetch", "SmartSyncPipeline",
            ],
            swiftSettings: strict
        ),
        // update: validate → sync → validate the stage → switch → rebuild → validate, rolling back on failure.
        .target(
            name: "SmartSyncWorkflow",
            dependencies: [
                "SmartSyncCore", "SmartSyncFileSystem", "SmartSyncGitObjects", "SmartSyncObjectStore",
                "SmartSyncFetch", "SmartSyncPipeline", "SmartSyncValidation",
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "smart-sync",
            dependencies: [
                "SmartSyncCore", "SmartSyncFileSystem", "SmartSyncGitObjects", "SmartSyncObjectStore",
                "SmartSyncFetch", "SmartSyncPipeline", "SmartSyncValidation", "SmartSyncWorkflow",
                "SmartSyncSignatures", "SmartSyncTransfer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            // What ships is the release build, with the Swift runtime and FoundationEssentials linked in (what
            // SwiftPM's `--static-swift-stdlib` does, which has no package setting): a process starts without resolving
            // ~17,000 symbols against the Swift libraries in the dynamic loader. OpenSSL and zlib stay shared;
            // libcurl is not linked (loaded on demand, Sources/CCurl). Debug builds (the tests) stay dynamic.
            // No module of the product imports full Foundation (nor CoreFoundation or ICU): "The shipped binary links
            // the Swift runtime and FoundationEssentials statically" in docs/ARCHITECTURE.md.
            linkerSettings: [.unsafeFlags(["-static-stdlib"], .when(platforms: [.linux], configuration: .release))]
                // FoundationEssentials' static archive names its own dependencies only in its autolink entries, which
                // the driver reads from object files, not archives (SwiftPM's flag compiles against swift_static
                // instead).
                + ["_FoundationCollections", "_FoundationCShims"].map {
                    .linkedLibrary($0, .when(platforms: [.linux], configuration: .release))
                }
        ),
        // Test support: fixture repositories and the GitHub-shaped test server. Never imported by the product.
        .target(
            name: "TestSupport",
            dependencies: ["SmartSyncCore", "SmartSyncGitObjects", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport",
            resources: [.copy("Server")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CoreTests",
            dependencies: ["SmartSyncCore", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GitObjectsTests",
            dependencies: ["SmartSyncCore", "SmartSyncGitObjects", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SignaturesTests",
            dependencies: ["SmartSyncGitObjects", "SmartSyncSignatures", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ObjectStoreTests",
            dependencies: [
                "SmartSyncCore", "SmartSyncFileSystem", "SmartSyncGitObjects", "SmartSyncObjectStore", "TestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GitPackTests",
            dependencies: [
                "SmartSyncCore", "SmartSyncGitObjects", "SmartSyncObjectStore", "SmartSyncGitPack", "TestSupport",
                "CZlib",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TransferTests",
            dependencies: [
                "SmartSyncCore", "SmartSyncTransfer", "TestSupport", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "FetchTests",
            dependencies: [
                "SmartSyncCore", "SmartSyncGitObjects", "SmartSyncObjectStore", "SmartSyncGitPack",
                "SmartSyncTransfer", "SmartSyncGitProtocol", "SmartSyncFetch", "TestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PipelineTests",
            dependencies: [
                "SmartSyncCore", "SmartSyncFileSystem", "SmartSyncGitObjects", "SmartSyncObjectStore",
                "SmartSyncFetch", "SmartSyncPipeline", "TestSupport", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ValidationTests",
            dependencies: [
                "SmartSyncCore", "SmartSyncGitObjects", "SmartSyncObjectStore", "SmartSyncPipeline",
                "SmartSyncValidation", "TestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "WorkflowTests",
            dependencies: [
                "SmartSyncCore", "SmartSyncGitObjects", "SmartSyncObjectStore", "SmartSyncFetch",
                "SmartSyncPipeline", "SmartSyncValidation", "SmartSyncWorkflow", "TestSupport",
            ],
            swiftSettings: strict
        ),
        // The executable's own module: its command-line dispatch against swift-argument-parser's root parse.
        .testTarget(
            name: "CommandLineTests",
            dependencies: [
                "smart-sync", "TestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["SmartSyncGitObjects", "TestSupport"],
            swiftSettings: strict
        ),
    ]
)
