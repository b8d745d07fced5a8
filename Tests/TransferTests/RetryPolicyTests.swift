import Foundation
import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test func backoffIsFullJitterUnderADoublingCappedCeiling() {
        let p = RetryPolicy(retries: 5, baseDelay: 0.5, maxDelay: 4)
        #expect(p.backoff(attempt: 0, random: 1) == 0.5)
        #expect(p.backoff(attempt: 1, random: 1) == 1)
        #expect(p.backoff(attempt: 3, random: 1) == 4)
        #expect(p.backoff(attempt: 10, random: 1) == 4)
        #expect(p.backoff(attempt: 2, random: 0) == 0)
        #expect(p.backoff(attempt: 2, random: 0.5) == 1)
        for _ in 0..<100 { #expect((0...4).contains(p.backoff(attempt: 9))) }
    }

    @Test func aDelayAtTheClampIsNeverWaitedWhateverTheLimit() {
        let justShort = RetryPolicy.longestDelay.nextDown
        #expect(RetryPolicy.mayWait(justShort, within: .infinity))
        #expect(!RetryPolicy.mayWait(RetryPolicy.longestDelay, within: .infinity))
        #expect(!RetryPolicy.mayWait(justShort, within: 60))
        #expect(RetryPolicy.mayWait(60, within: 60))
    }

    @Test func retryAfterParsesSecondsAndHTTPDates() throws {
        #expect(RetryPolicy.retryAfter("7") == 7)
        #expect(RetryPolicy.retryAfter(" 0 ") == 0)
        #expect(RetryPolicy.retryAfter(nil) == nil)
        #expect(RetryPolicy.retryAfter("soon") == nil)
        let now = try #require(ISO8601DateFormatter().date(from: "2015-10-21T07:28:00Z"))
        #expect(RetryPolicy.retryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now: now) == 30)
        #expect(RetryPolicy.retryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now: now) == 0)
        // The obsolete forms a recipient must still read (RFC 9110 §5.6.7): RFC 850 and asctime.
        #expect(RetryPolicy.retryAfter("Wednesday, 21-Oct-15 07:28:30 GMT", now: now) == 30)
        #expect(RetryPolicy.retryAfter("Wed Oct 21 07:28:45 2015", now: now) == 45)
        let early = try #require(ISO8601DateFormatter().date(from: "2015-10-01T07:28:00Z"))
        #expect(RetryPolicy.retryAfter("Thu Oct  1 07:28:10 2015", now: early) == 10)
        // Read with the C library since found8, as DateFormatter read them: no date that is none, no other shape.
        #expect(RetryPolicy.retryAfter("Sat, 31 Feb 2015 07:28:30 GMT", now: now) == nil)
        #expect(RetryPolicy.retryAfter("Wed, 21 Oct 2015 24:28:30 GMT", now: now) == nil)
        #expect(RetryPolicy.retryAfter("Wed, 21 Oct 2015 07:28:30", now: now) == nil)
        #expect(RetryPolicy.retryAfter("Wed, 21 Okt 2015 07:28:30 GMT", now: now) == nil)
        #expect(RetryPolicy.retryAfter("Thursday, 22-Oct-15 07:28:00 GMT", now: now) == 86_400)
    }

    @Test func classification() {
        #expect(RetryPolicy.isRetryable(status: 503))
        #expect(RetryPolicy.isRetryable(status: 429))
        #expect(!RetryPolicy.isRetryable(status: 404))
        #expect(!RetryPolicy.isRetryable(status: 200))
        #expect(RetryPolicy.isRetryable(SmartSyncError(.network, "reset")))
        #expect(!RetryPolicy.isRetryable(SmartSyncError(.tls, "bad certificate")))
        #expect(!RetryPolicy.isRetryable(SmartSyncError(.cancelled, "stop")))
    }
}

@Suite("perform(retrying:) against the test server", .serialized)
struct RetryingPerformTests {
    /// `hello.txt` behind the fake GitHub and an engine with the default configuration.
    private func helloServer() throws -> EngineFixture<BlobServer> {
        try EngineFixture(BlobServer(path: "hello.txt", bytes: Array("hello\n".utf8)))
    }

    @Test func serverErrorOnceThenSuccess() async throws {
        let fixture = try helloServer()
        defer { fixture.stop() }
        let (blob, engine) = (fixture.server, fixture.engine)
        try blob.server.setFaults(#"[{"match": {"listener": "raw"}, "times": 2, "action": {"status": 503}}]"#)
        let attempts = Locked([Int]())
        let response = try await engine.perform(retrying: RetryPolicy(retries: 3, baseDelay: 0.01)) { attempt in
            attempts.withLock { $0.append(attempt.number) }
            return TransferRequest(url: blob.url)
        }
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == "hello\n")
        #expect(attempts.withLock { $0 } == [0, 1, 2])
    }

    @Test func retryAfterIsHonouredAndTooLongOnesReturned() async throws {
        let fixture = try helloServer()
        defer { fixture.stop() }
        let (blob, engine) = (fixture.server, fixture.engine)
        try blob.server.setFaults(
            #"[{"match": {"listener": "raw"}, "times": 1, "action": {"status": 429, "retry_after": 1}}]"#)
        let started = Date()
        let delays = Locked([Double]())
        let response = try await engine.perform(
            retrying: RetryPolicy(retries: 2, baseDelay: 0.01), onRetry: { d, _ in delays.withLock { $0.append(d) } }
        ) { _ in TransferRequest(url: blob.url) }
        #expect(response.status == 200)
        #expect(delays.withLock { $0 } == [1])
        #expect(Date().timeIntervalSince(started) >= 1)

        try blob.server.setFaults(#"[{"match": {"listener": "raw"}, "action": {"status": 429, "retry_after": 3600}}]"#)
        let refused = try await engine.perform(retrying: RetryPolicy(retries: 2, maxRetryAfter: 60)) { _ in
            TransferRequest(url: blob.url)
        }
        #expect(refused.status == 429)
    }

    @Test func connectionFailuresAreRetriedThenThrown() async throws {
        let port = try LoopbackHTTPServer.unusedPort()
        let engine = try TransferEngine(configuration: TransferConfiguration())
        defer { engine.shutdown() }
        let count = Locked(0)
        await #expect(throws: SmartSyncError.self) {
            _ = try await engine.perform(retrying: RetryPolicy(retries: 2, baseDelay: 0.01)) { _ in
                count.withLock { $0 += 1 }
                return TransferRequest(url: "http://127.0.0.1:\(port)/x")
            }
        }
        #expect(count.withLock { $0 } == 3)
    }
}
