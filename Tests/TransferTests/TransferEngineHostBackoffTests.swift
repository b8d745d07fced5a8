import Foundation
import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

/// A host that answers 429 or 503 slows the whole run's requests to it, not the one request: every new request to it
/// waits, fewer run at once, and other hosts go on. Observed at the server (arrival times, requests in progress).
@Suite("A throttling answer slows its whole host", .serialized)
struct TransferEngineHostBackoffTests {
    /// GETs every URL at once, waiting for all; the statuses (in the order they finished).
    private static func getAll(_ engine: TransferEngine, _ urls: [String]) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for url in urls { group.addTask { try await engine.perform(TransferRequest(url: url)).status } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// One 429 with `Retry-After: 3`: no other request to that host arrives before about 3 s, the other host's
    /// requests are all answered while it waits, and the host's concurrency at the server drops below what it was.
    /// Checked by order and counts, never by how fast the other host was.
    @Test func retryAfterHoldsEveryRequestToTheHost() async throws {
        let fixture = try EngineFixture(LoopbackHTTPServer(portCount: 2)) {
            $0.maxConcurrent = 20
            $0.maxPerHost = 8
        }
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        let (busy, other) = (server.ports[0], server.ports[1])
        // Before: 16 slow requests run 8 at a time.
        let before = try await Self.getAll(engine, (0..<16).map { "\(server.baseURL(0))/slow?ms=300&before=\($0)" })
        #expect(before.allSatisfy { $0 == 200 })
        let peakBefore = try server.snapshot().requests(port: busy).map(\.inFlight).max() ?? 0
        #expect(peakBefore == 8)

        let throttled = try await engine.perform(TransferRequest(url: "\(server.baseURL(0))/status/429?retry-after=3"))
        #expect(throttled.status == 429)
        let after = (0..<16).map { "\(server.baseURL(0))/slow?ms=300&after=\($0)" }
        let held = Task { try await Self.getAll(engine, after) }
        // The other host is answered while the throttled one waits: when its requests are done, no request to the
        // throttled host has arrived yet.
        let elsewhere = try await Self.getAll(engine, (0..<4).map { "\(server.baseURL(1))/elsewhere\($0)" })
        #expect(elsewhere.allSatisfy { $0 == 200 })
        let meanwhile = try server.snapshot()
        #expect(meanwhile.requests(port: other).count == 4)
        #expect(meanwhile.requests(port: busy).filter { $0.path.contains("&after=") }.isEmpty)
        #expect(try await held.value.allSatisfy { $0 == 200 })

        let snapshot = try server.snapshot()
        let throttledAt = try #require(snapshot.requests.first { $0.path.hasPrefix("/status/429") }).time
        let afterRequests = snapshot.requests(port: busy).filter { $0.path.contains("&after=") }
            .sorted { $0.time < $1.time }
        #expect(afterRequests.count == 16)
        let firstAfter = try #require(afterRequests.first).time
        #expect(firstAfter - throttledAt >= 2.8, "a request to the throttled host started before Retry-After")
        // Half the slots after the pause (8 → 4), given back one per round of successes: never back to 8 here.
        #expect(afterRequests.prefix(4).allSatisfy { $0.inFlight <= 4 })
        let peakAfter = afterRequests.map(\.inFlight).max() ?? 0
        #expect(peakAfter < peakBefore)
        #expect(engine.statistics.hostThrottles == 1)
    }

    /// A 503 without `Retry-After` holds the host for the jittered backoff: between half and all of the base delay.
    @Test func serviceUnavailableWithoutRetryAfterHoldsForTheBackoff() async throws {
        let fixture = try EngineFixture(LoopbackHTTPServer()) {
            $0.hostBackoff = HostBackoffPolicy(baseDelay: 2)
        }
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        #expect(try await engine.perform(TransferRequest(url: "\(server.baseURL())/status/503")).status == 503)
        #expect(try await engine.perform(TransferRequest(url: "\(server.baseURL())/next")).status == 200)
        let requests = try server.snapshot().requests
        #expect(requests.count == 2)
        #expect(requests[1].time - requests[0].time >= 0.9)
    }

    /// Throttling answers to requests that were all in flight together cut the cap once (8 → 4), not once each.
    @Test func aBurstOfThrottledAnswersCutsTheCapOnce() async throws {
        let fixture = try EngineFixture(LoopbackHTTPServer()) {
            $0.maxConcurrent = 10
            $0.maxPerHost = 8
        }
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        let burst = try await Self.getAll(
            engine, (0..<8).map { "\(server.baseURL())/status/429?retry-after=1&ms=300&i=\($0)" })
        #expect(burst.allSatisfy { $0 == 429 })
        #expect(try server.snapshot().requests.map(\.inFlight).max() == 8)
        let after = try await Self.getAll(engine, (0..<8).map { "\(server.baseURL())/slow?ms=400&after=\($0)" })
        #expect(after.allSatisfy { $0 == 200 })
        let peak = try server.snapshot().requests.filter { $0.path.contains("&after=") }.map(\.inFlight).max() ?? 0
        #expect(peak == 4)
    }

    /// With `HostBackoffPolicy.off`, a 429 holds nothing back (the behaviour before host-wide backoff).
    @Test func offLeavesTheHostAlone() async throws {
        let fixture = try EngineFixture(LoopbackHTTPServer()) { $0.hostBackoff = .off }
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        _ = try await engine.perform(TransferRequest(url: "\(server.baseURL())/status/429?retry-after=30"))
        let started = Date()
        #expect(try await engine.perform(TransferRequest(url: "\(server.baseURL())/next")).status == 200)
        #expect(secondsSince(started) < 20)
        #expect(engine.statistics.hostThrottles == 0)
    }

    /// `--max-rate-per-host 5/s`: 15 requests to one host take at least (15 − 5 burst) / 5 = 2 s to arrive, and the
    /// other host has its own bucket.
    @Test func requestRateIsCappedPerHost() async throws {
        let fixture = try EngineFixture(LoopbackHTTPServer(portCount: 2)) {
            $0.maxConcurrent = 40
            $0.maxRequestsPerHost = 5
        }
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        let urls = (0..<15).map { "\(server.baseURL(0))/r\($0)" } + (0..<5).map { "\(server.baseURL(1))/o\($0)" }
        #expect(try await Self.getAll(engine, urls).allSatisfy { $0 == 200 })
        let snapshot = try server.snapshot()
        let capped = snapshot.requests(port: server.ports[0]).map(\.time).sorted()
        let first = try #require(capped.first)
        #expect(try #require(capped.last) - first >= 1.6)
        #expect(capped.filter { $0 < first + 0.5 }.count <= 8)
        let other = snapshot.requests(port: server.ports[1]).map(\.time).sorted()
        #expect(other.count == 5)
        // Its own bucket (5 at once): all of it arrives before the capped host has had its last request, which waits
        // for about 2 s of the first host's bucket. Order, not speed.
        #expect(other.allSatisfy { $0 < capped[capped.count - 1] }, "the other host waited for the first host's bucket")
    }

    @Test func invalidRequestRateIsRefused() async {
        var configuration = TransferConfiguration()
        configuration.maxRequestsPerHost = 0
        let error = await capturedError { try TransferEngine(configuration: configuration) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("--max-rate-per-host") == true)
    }

    @Test func pauseHonoursRetryAfterUpToTheMaximumAndJittersOtherwise() {
        let policy = HostBackoffPolicy(baseDelay: 1, maxDelay: 8, maxPause: 60)
        #expect(policy.pause(retryAfter: 2, strikes: 1) == 2)
        #expect(policy.pause(retryAfter: 3600, strikes: 1) == 60)
        #expect(policy.pause(retryAfter: nil, strikes: 1, random: 0) == 0.5)
        #expect(policy.pause(retryAfter: nil, strikes: 1, random: 1) == 1)
        #expect(policy.pause(retryAfter: nil, strikes: 3, random: 0) == 2)
        #expect(policy.pause(retryAfter: nil, strikes: 10, random: 1) == 8)
        // Retry-After: 0 still holds the host for the jittered backoff; --max-wait 0 does not turn the backoff off.
        #expect(policy.pause(retryAfter: 0, strikes: 1, random: 0) == 0.5)
        let noWait = HostBackoffPolicy(baseDelay: 1, maxDelay: 8, maxPause: 0)
        #expect(noWait.pause(retryAfter: 30, strikes: 1) == 1)
        #expect(noWait.pause(retryAfter: nil, strikes: 4, random: 1) == 1)
        // A Retry-After clamped to the longest delay (1e20, inf) fails its request at once; with --max-wait 1e12 it
        // must not hold the host for 31 years either: it reads as no Retry-After (the jittered backoff).
        let patient = HostBackoffPolicy(baseDelay: 1, maxDelay: 8, maxPause: 1e12)
        #expect(patient.pause(retryAfter: RetryPolicy.longestDelay, strikes: 1, random: 1) == 1)
        let justShort = RetryPolicy.longestDelay.nextDown
        #expect(patient.pause(retryAfter: justShort, strikes: 1) == justShort)
        let throttled = { (status: Int, headers: [HTTPHeader]) in
            HostBackoffPolicy.isThrottle(
                TransferResponse(
                    status: status, headers: HTTPHeaders(headers), body: [], bytesReceived: 0, effectiveURL: "",
                    httpVersion: 1, newConnections: 0, totalTime: 0))
        }
        #expect(throttled(429, []) && throttled(503, []) && throttled(403, [HTTPHeader("Retry-After", "5")]))
        #expect(!throttled(403, []) && !throttled(500, []) && !throttled(200, []))
    }
}
