import Foundation
import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

@Suite("Concurrency caps, shutdown and cancellation")
struct TransferEngineLifecycleTests {
    /// A loopback server and an engine running one transfer at a time (the rest queue), with a stall window so long
    /// that a slow request stays in flight until the test acts.
    func oneSlot() throws -> EngineFixture<LoopbackHTTPServer> {
        try EngineFixture(LoopbackHTTPServer()) {
            $0.maxConcurrent = 1
            $0.stallTimeout = 600
        }
    }

    @Test func globalAndPerHostCapsAreRespected() async throws {
        let fixture = try EngineFixture(LoopbackHTTPServer(portCount: 2)) {
            $0.maxConcurrent = 3
            $0.maxPerHost = 2
        }
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        let urls = (0..<12).map { "\(server.baseURL($0 % 2))/slow?ms=600&i=\($0)" }
        try await withThrowingTaskGroup(of: Int.self) { group in
            for url in urls {
                group.addTask { try await engine.perform(TransferRequest(url: url)).status }
            }
            for try await status in group { #expect(status == 200) }
        }
        let snapshot = try server.snapshot()
        #expect(snapshot.requests.count == 12)
        #expect(snapshot.maxInFlight <= 3, "global cap exceeded: \(snapshot.maxInFlight)")
        #expect(snapshot.maxInFlight(port: server.ports[0]) <= 2)
        #expect(snapshot.maxInFlight(port: server.ports[1]) <= 2)
        // The engine really runs transfers in parallel (12 sequential 600 ms requests would never overlap).
        #expect(snapshot.maxInFlight >= 2)
        #expect(engine.statistics.requests == 12)
    }

    @Test func shutdownFailsRunningAndQueuedTransfersAndIsIdempotent() async throws {
        let fixture = try oneSlot()
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        let url = server.baseURL() + "/slow?ms=60000"
        let tasks = (0..<3).map { _ in
            Task { try await engine.perform(TransferRequest(url: url)) }
        }
        // One transfer reaches the server; the other two wait in the engine's queue.
        #expect(try await waitUntil { try server.snapshot().inFlight == 1 })
        engine.shutdown()
        for task in tasks {
            let error = await capturedError { try await task.value }
            #expect(error?.code == .cancelled)
            #expect(error?.message.contains("shut down") == true)
        }
        engine.shutdown()  // idempotent
        let late = await capturedError { try await engine.perform(TransferRequest(url: url)) }
        #expect(late?.code == .cancelled)
        #expect(try server.snapshot().requests.count == 1)
    }

    @Test func taskCancellationCancelsRunningAndQueuedTransfers() async throws {
        let fixture = try oneSlot()
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        let running = Task { try await engine.perform(TransferRequest(url: server.baseURL() + "/slow?ms=60000")) }
        #expect(try await waitUntil { try server.snapshot().inFlight == 1 })
        let queued = Task { try await engine.perform(TransferRequest(url: server.baseURL() + "/queued")) }
        try await Task.sleep(nanoseconds: 200_000_000)
        queued.cancel()
        let queuedError = await capturedError { try await queued.value }
        #expect(queuedError?.code == .cancelled)
        running.cancel()
        let runningError = await capturedError { try await running.value }
        #expect(runningError?.code == .cancelled)
        // The engine is still healthy and its slot was freed.
        let after = try await engine.perform(TransferRequest(url: server.baseURL() + "/after"))
        #expect(after.status == 200)
        #expect(try server.snapshot().requests.map(\.path).contains("/queued") == false)
    }

    @Test func alreadyCancelledTaskNeverStartsTheTransfer() async throws {
        let fixture = try EngineFixture(LoopbackHTTPServer())
        defer { fixture.stop() }
        let (server, engine) = (fixture.server, fixture.engine)
        let url = server.baseURL() + "/never"
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await engine.perform(TransferRequest(url: url))
        }
        let error = await capturedError { try await task.value }
        #expect(error?.code == .cancelled)
        #expect(try server.snapshot().requests.isEmpty)
    }
}
