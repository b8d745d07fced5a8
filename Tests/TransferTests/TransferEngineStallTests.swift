import Foundation
import SmartSyncCore
import SmartSyncTransfer
import Synchronization
import TestSupport
import Testing

@Suite("Stall detection")
struct TransferEngineStallTests {
    /// The fake GitHub serving one 200 KB blob as `big.bin` on its raw host (the fixture repository lives as long
    /// as this value).
    struct BlobServer {
        let repo: GitFixture
        let server: FakeGitHub
        let bytes: [UInt8]
        var url: String { server.rawURL("o/r", "main", "big.bin") }

        init() throws {
            repo = try GitFixture()
            bytes = pseudoRandomBytes(200_000, seed: 7)
            try repo.write("big.bin", bytes)
            _ = try repo.commit("big")
            server = try FakeGitHub(repos: ["o/r": repo.path])
        }
    }

    func engine(stallTimeout: Double, limitRate: Int? = nil, stallSpeed: Int = 1) throws -> TransferEngine {
        var configuration = TransferConfiguration()
        configuration.stallTimeout = stallTimeout
        configuration.stallSpeed = stallSpeed
        configuration.limitRate = limitRate
        return try TransferEngine(configuration: configuration)
    }

    @Test func bodyThatStopsFlowingFailsAsRetryableStall() async throws {
        let blob = try BlobServer()
        let server = blob.server
        defer { server.stop() }
        try server.setFaults(
            #"[{"match": {"listener": "raw"}, "action": {"stall_after_bytes": 1000, "stall_ms": 60000}}]"#)
        let engine = try engine(stallTimeout: 2)
        defer { engine.shutdown() }
        let url = blob.url
        let start = Date()
        let error = await capturedError {
            try await engine.perform(TransferRequest(url: url, sink: .stream(ProgressSink())))
        }
        let elapsed = secondsSince(start)
        #expect(error?.code == .network)
        #expect(error.map(RetryPolicy.isRetryable) == true)
        let message = error?.message ?? ""
        #expect(message.contains("stalled"), "\(message)")
        #expect(message.contains(url))
        #expect(message.contains("1 byte/s for 2 s"))
        #expect(error?.hint?.contains("--stall-timeout") == true, "the advice is the hint")
        // Not before the window has passed. (No upper bound on the wall clock: had the stall gone unnoticed, the
        // transfer would have succeeded when the server resumed after 60 s; the error itself proves detection,
        // and this task may wake late while other tests block the cooperative pool.)
        #expect(elapsed >= 1.9, "declared stalled after only \(elapsed) s")
    }

    @Test func responseThatNeverStartsIsAStallToo() async throws {
        let blob = try BlobServer()
        let server = blob.server
        defer { server.stop() }
        try server.setFaults(#"[{"match": {"listener": "raw"}, "action": {"delay_ms": 60000}}]"#)
        let engine = try engine(stallTimeout: 2)
        defer { engine.shutdown() }
        let start = Date()
        let error = await capturedError {
            try await engine.perform(TransferRequest(url: blob.url))
        }
        #expect(error?.code == .network)
        #expect(error?.message.contains("stalled") == true, "\(String(describing: error))")
        #expect(error?.message.contains("(0 bytes received)") == true, "\(String(describing: error))")
        #expect(secondsSince(start) >= 1.9)
    }

    @Test func retryingReissuesAStalledTransfer() async throws {
        let blob = try BlobServer()
        let server = blob.server
        defer { server.stop() }
        try server.setFaults(
            #"[{"match": {"listener": "raw"}, "times": 1, "action": {"stall_after_bytes": 5000, "stall_ms": 60000}}]"#)
        let engine = try engine(stallTimeout: 2)
        defer { engine.shutdown() }
        let url = blob.url
        let retries = RetryLog()
        var sinks: [ProgressSink] = []
        let response = try await engine.perform(
            retrying: RetryPolicy(retries: 2, baseDelay: 0.05), onRetry: { _, reason in retries.add(reason) }
        ) { _ in
            let sink = ProgressSink()
            sinks.append(sink)
            return TransferRequest(url: url, sink: .stream(sink))
        }
        #expect(response.status == 200)
        #expect(sinks.count == 2)
        #expect(sameBytes(sinks.last?.bytes ?? [], blob.bytes), "the retried body differs")
        #expect(retries.reasons.count == 1)
        #expect(retries.reasons.first?.contains("stalled") == true)
    }

    /// Time a transfer spends paused by `--limit-rate` is not a stall, nor below the minimum speed: four transfers
    /// share 64 KiB/s (16 KiB/s each, paused most of the time) with a 2 s window and a stall speed and minimum speed
    /// of 32 KiB/s, twice what each transfer gets on the wall clock. Counting paused time would fail them all.
    @Test func pausedByTheLimiterIsNotStalled() async throws {
        try requireNginx()
        let server = try NginxServer()
        defer { server.stop() }
        var files: [[UInt8]] = []
        for index in 0..<4 {
            let bytes = pseudoRandomBytes(256_000, seed: UInt64(40 + index))
            try Data(bytes).write(to: URL(fileURLWithPath: server.root + "/p\(index).bin"))
            files.append(bytes)
        }
        var configuration = TransferConfiguration()
        configuration.extraCAFile = server.certificatePath
        configuration.limitRate = 64 << 10
        configuration.stallTimeout = 2
        configuration.stallSpeed = 32 << 10
        configuration.minSpeed = 32 << 10
        let engine = try TransferEngine(configuration: configuration)
        defer { engine.shutdown() }
        let start = Date()
        let bodies = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for index in files.indices {
                let url = server.baseURL + "/p\(index).bin"
                group.addTask { (index, try await engine.perform(TransferRequest(url: url)).body) }
            }
            return try await group.reduce(into: [Int: [UInt8]]()) { $0[$1.0] = $1.1 }
        }
        for index in files.indices { #expect(sameBytes(bodies[index] ?? [], files[index]), "file \(index)") }
        // 1 MB at 64 KiB/s: about 15 s; the limiter really held the transfers back.
        #expect(secondsSince(start) >= 12)
    }

    @Test func nonsenseStallTimeoutIsRejected() {
        var configuration = TransferConfiguration()
        configuration.stallTimeout = 0
        #expect(throws: SmartSyncError.self) { try TransferEngine(configuration: configuration) }
    }
}

/// Retry reasons reported by `perform(retrying:)` (lock-protected test double).
final class RetryLog: Sendable {
    private let storage = Mutex<[String]>([])
    func add(_ reason: String) { storage.withLock { $0.append(reason) } }
    var reasons: [String] { storage.withLock { $0 } }
}
