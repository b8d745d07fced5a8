import Foundation
import SmartSyncCore
import TestSupport
import Testing

@testable import SmartSyncTransfer

/// `--max-download`, `--min-speed` and `--request-timeout` in the engine: each failure names the URL (so the host)
/// and the limit, and only the minimum speed is retried.
@Suite("Transfer limits", .serialized)
struct TransferEngineLimitsTests {
    typealias BlobServer = TransferEngineStallTests.BlobServer

    func engine(_ configure: (inout TransferConfiguration) -> Void) throws -> TransferEngine {
        var configuration = TransferConfiguration()
        configure(&configuration)
        return try TransferEngine(configuration: configuration)
    }

    @Test func maxDownloadHoldsOverAllTransfersAndIsNotRetried() async throws {
        let blob = try BlobServer()
        let server = blob.server
        defer { server.stop() }
        let engine = try engine { $0.maxDownload = 300_000 }
        defer { engine.shutdown() }
        let first = try await engine.perform(TransferRequest(url: blob.url))
        #expect(first.body.count == 200_000)
        // The second 200 KB would take the run past 300,000 bytes: stopped, and asked once only.
        let retries = RetryLog()
        let error = await capturedError {
            try await engine.perform(
                retrying: RetryPolicy(retries: 3, baseDelay: 0.01), onRetry: { _, reason in retries.add(reason) }
            ) { _ in TransferRequest(url: blob.url, sink: .stream(ProgressSink())) }
        }
        #expect(error?.code == .limitExceeded)
        let message = error?.message ?? ""
        #expect(message.contains(blob.url), "\(message)")
        #expect(message.contains("--max-download limit of 292.9 KiB (300000 bytes)"), "\(message)")
        #expect(retries.reasons.isEmpty)
        // The limit is reached: a small response fails too instead of taking what happens to fit.
        let small = server.rawURL("o/r", "main", "big.bin")
        let later = await capturedError {
            try await engine.perform(TransferRequest(url: small, headers: [HTTPHeader("Range", "bytes=0-9")]))
        }
        #expect(later?.code == .limitExceeded)
        #expect(try await waitUntil(seconds: 10) { try server.requests().filter { $0.listener == "raw" }.count == 3 })
    }

    /// The error of a 200 KB download from a raw host that drips after `after` bytes, with the engine set up by
    /// `configure`.
    func drippedDownload(
        after: Int, bytesPerSecond: Int, into sink: any TransferSink,
        _ configure: (inout TransferConfiguration) -> Void
    ) async throws -> (SmartSyncError?, url: String) {
        let blob = try BlobServer()
        let server = blob.server
        defer { server.stop() }
        let drip = #"{"drip_after_bytes": \#(after), "drip_bytes_per_second": \#(bytesPerSecond)}"#
        try server.setFaults(#"[{"match": {"listener": "raw"}, "action": \#(drip)}]"#)
        let engine = try engine(configure)
        defer { engine.shutdown() }
        let error = await capturedError {
            try await engine.perform(TransferRequest(url: blob.url, sink: .stream(sink)))
        }
        return (error, blob.url)
    }

    @Test func aDripBelowTheMinimumSpeedFails() async throws {
        // 2 bytes/s after the first 1,000: above the stall check's 1 byte/s, far below 1 KiB/s.
        let (error, url) = try await drippedDownload(after: 1000, bytesPerSecond: 2, into: ProgressSink()) {
            $0.stallTimeout = 2
            $0.minSpeed = 1024
        }
        #expect(error?.code == .network)
        #expect(error.map(RetryPolicy.isRetryable) == true)
        let message = error?.message ?? ""
        #expect(message.contains(url), "\(message)")
        #expect(message.contains("--min-speed of 1 KiB/s over 2 s"), "\(message)")
    }

    /// Keep-alives before the payload (what git sends while it prepares a pack) are not held to the minimum speed;
    /// the request deadline ends a server that never gets to the payload.
    @Test func theMinimumSpeedWaitsForThePayloadAndTheDeadlineDoesNot() async throws {
        let (error, url) = try await drippedDownload(after: 10, bytesPerSecond: 4, into: KeepAliveSink()) {
            $0.stallTimeout = 1
            $0.minSpeed = 1024
            $0.requestTimeout = 4
        }
        #expect(error?.code == .limitExceeded)
        let message = error?.message ?? ""
        #expect(message.contains(url), "\(message)")
        #expect(message.contains("--request-timeout of 4 s"), "\(message)")
    }

    @Test func nonsenseLimitsAreRejected() {
        for configure in [
            { (c: inout TransferConfiguration) in c.minSpeed = -1 },
            { (c: inout TransferConfiguration) in c.requestTimeout = 0 },
            { (c: inout TransferConfiguration) in c.maxDownload = 0 },
        ] {
            #expect(throws: SmartSyncError.self) { try engine(configure) }
        }
    }

    @Test func theMeterStaysClosedOnceALimitIsMet() {
        let meter = DownloadMeter(limit: 100)
        #expect(meter.admit(60))
        #expect(meter.admit(0))
        #expect(!meter.admit(41))
        #expect(meter.received == 60)
        #expect(!meter.admit(1), "a chunk that would fit after a refusal is refused too")
    }

    @Test func byteCountsReadAsPeopleWriteThem() {
        #expect(ByteCount.text(1 << 20) == "1 MiB")
        #expect(ByteCount.text(4 << 30) == "4 GiB")
        #expect(ByteCount.text(1536) == "1.5 KiB")
        #expect(ByteCount.text(300_000) == "292.9 KiB")
        #expect(ByteCount.text(999) == "999 bytes")
    }
}

/// A sink whose payload never starts: every byte is a keep-alive (as git's empty side-band packets are).
final class KeepAliveSink: TransferSink, @unchecked Sendable {
    func begin(status: Int, headers: HTTPHeaders) -> Bool { true }
    func write(_ chunk: UnsafeRawBufferPointer) -> Bool { true }
    var payloadBytes: Int? { 0 }
}
