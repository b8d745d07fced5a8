import Foundation
import SmartSyncTransfer
import TestSupport

/// A server the transfer suites run an engine against: stopped with its ``EngineFixture``, and the certificate an
/// engine must trust to reach it (nil for plain HTTP).
protocol TransferTestServer: Sendable {
    var trustedCertificate: String? { get }
    func stop()
}

extension LoopbackHTTPServer: TransferTestServer {
    var trustedCertificate: String? { nil }
}

extension NginxServer: TransferTestServer {
    var trustedCertificate: String? { tls ? certificatePath : nil }
}

extension FakeGitHub: TransferTestServer {
    var trustedCertificate: String? { nil }
}

/// The setup every transfer suite starts from: a test server and a ``TransferEngine`` configured for it (trusting
/// its certificate, then changed by the suite's `configure`).
///
/// ```swift
/// let fixture = try EngineFixture(LoopbackHTTPServer(portCount: 2)) { $0.maxPerHost = 2 }
/// defer { fixture.stop() }
/// let (server, engine) = (fixture.server, fixture.engine)
/// ```
struct EngineFixture<Server: TransferTestServer>: Sendable {
    let server: Server
    let engine: TransferEngine
    /// What ``engine`` was built from.
    let configuration: TransferConfiguration

    init(_ server: Server, _ configure: (inout TransferConfiguration) -> Void = { _ in }) throws {
        var configuration = TransferConfiguration()
        configuration.extraCAFile = server.trustedCertificate
        configure(&configuration)
        self.server = server
        self.configuration = configuration
        engine = try TransferEngine(configuration: configuration)
    }

    /// Another engine for the same server: this fixture's configuration changed by `configure`. The caller shuts
    /// it down.
    func makeEngine(_ configure: (inout TransferConfiguration) -> Void) throws -> TransferEngine {
        var configuration = configuration
        configure(&configuration)
        return try TransferEngine(configuration: configuration)
    }

    /// GETs every URL at once into memory with ``engine``; the bodies in the order of `urls`.
    func bodies(of urls: [String]) async throws -> [[UInt8]] {
        let engine = engine
        let bodies = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for (index, url) in urls.enumerated() {
                group.addTask { (index, try await engine.perform(TransferRequest(url: url)).body) }
            }
            return try await group.reduce(into: [Int: [UInt8]]()) { $0[$1.0] = $1.1 }
        }
        return urls.indices.map { bodies[$0] ?? [] }
    }

    /// Shuts the engine down (failing what it still runs) and stops the server. Idempotent.
    func stop() {
        engine.shutdown()
        server.stop()
    }
}

extension NginxServer {
    /// Puts `count` files of `size` pseudo-random bytes in the served root as `/<prefix>0.bin`, `/<prefix>1.bin`, …
    /// (seeds `firstSeed`, `firstSeed + 1`, …) and returns their contents in that order.
    func serveRandomFiles(count: Int, size: Int, prefix: String = "f", firstSeed: UInt64 = 1) throws -> [[UInt8]] {
        try (0..<count).map { index in
            let bytes = pseudoRandomBytes(size, seed: firstSeed + UInt64(index))
            try TestFiles.write(root + "/\(prefix)\(index).bin", bytes: bytes)
            return bytes
        }
    }
}

/// The fake GitHub serving a one-file repository `o/r` on its raw host: by default a 200 KB pseudo-random blob as
/// `big.bin` (the fixture repository lives as long as this value).
struct BlobServer: TransferTestServer {
    let repo: GitFixture
    let server: FakeGitHub
    let path: String
    let bytes: [UInt8]
    /// The file's raw URL on `main`.
    var url: String { server.rawURL("o/r", "main", path) }
    var trustedCertificate: String? { nil }

    init(path: String = "big.bin", bytes: [UInt8] = pseudoRandomBytes(200_000, seed: 7)) throws {
        repo = try GitFixture()
        self.path = path
        self.bytes = bytes
        try repo.write(path, bytes)
        _ = try repo.commit("one file")
        server = try FakeGitHub(repos: ["o/r": repo.path])
    }

    func stop() { server.stop() }
}
