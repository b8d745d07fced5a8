import Foundation
import SmartSyncCore
import SmartSyncTransfer
import TestSupport
import Testing

/// A host whose transfers hang must not hold up transfers to a healthy one.
@Suite("A hanging host does not block a healthy one")
struct TransferEngineHostIsolationTests {
    /// With a per-host cap below the global one, the hanging host holds only its share of the slots and the
    /// queue lets transfers to the healthy host pass the hanging host's waiting ones.
    @Test func perHostCapLeavesSlotsForOtherHosts() async throws {
        let server = try LoopbackHTTPServer(portCount: 2)
        var configuration = TransferConfiguration()
        configuration.maxConcurrent = 4
        configuration.maxPerHost = 2
        let engine = try TransferEngine(configuration: configuration)
        defer { engine.shutdown() }
        // Six requests that hang (60 s, far beyond the test) queued first, to host 0.
        let hanging = (0..<6).map { index in
            Task { try await engine.perform(TransferRequest(url: "\(server.baseURL(0))/slow?ms=60000&i=\(index)")) }
        }
        #expect(try await waitUntil { try server.snapshot().inFlight == 2 })
        let start = Date()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<10 {
                let url = "\(server.baseURL(1))/slow?ms=100&i=\(index)"
                group.addTask { try await engine.perform(TransferRequest(url: url)).status }
            }
            for try await status in group { #expect(status == 200) }
        }
        // 10 × 100 ms two at a time: about half a second, nowhere near the hanging requests' 60 s. (A loose bound:
        // this task may wake late while other tests block the cooperative pool.)
        #expect(secondsSince(start) < 45)
        let snapshot = try server.snapshot()
        #expect(snapshot.maxInFlight(port: server.ports[0]) == 2)
        #expect(snapshot.requests(port: server.ports[0]).count == 2, "hanging host's queued transfers started")
        for task in hanging { task.cancel() }
        for task in hanging {
            let error = await capturedError { try await task.value }
            #expect(error?.code == .cancelled)
        }
    }

    /// With one cap for everything (the CLI's `--jobs` default), a hanging host can take every slot; stall
    /// detection then frees them within the stall window, failing the hung transfers with a retryable error, and
    /// the healthy host's transfers go through.
    @Test func stallDetectionFreesSlotsAHangingHostHolds() async throws {
        let server = try LoopbackHTTPServer(portCount: 2)
        var configuration = TransferConfiguration()
        configuration.maxConcurrent = 3
        configuration.maxPerHost = 3
        configuration.stallTimeout = 2
        let engine = try TransferEngine(configuration: configuration)
        defer { engine.shutdown() }
        let hanging = (0..<3).map { index in
            Task { try await engine.perform(TransferRequest(url: "\(server.baseURL(0))/slow?ms=60000&i=\(index)")) }
        }
        #expect(try await waitUntil { try server.snapshot().inFlight == 3 })
        let start = Date()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<6 {
                let url = "\(server.baseURL(1))/slow?ms=50&i=\(index)"
                group.addTask { try await engine.perform(TransferRequest(url: url)).status }
            }
            for try await status in group { #expect(status == 200) }
        }
        // Blocked behind the hung transfers they would take 60 s; freed by the 2 s stall window, a few seconds.
        #expect(secondsSince(start) < 45)
        for task in hanging {
            let error = await capturedError { try await task.value }
            #expect(error?.code == .network)
            #expect(error?.message.contains("stalled") == true)
        }
    }

    /// A host that refuses connections fails fast and does not disturb transfers to a healthy host running at the
    /// same time.
    @Test func refusingHostFailsFastBesideAHealthyOne() async throws {
        let server = try LoopbackHTTPServer()
        let deadPort = try LoopbackHTTPServer.unusedPort()
        var configuration = TransferConfiguration()
        configuration.maxConcurrent = 4
        configuration.maxPerHost = 4
        let engine = try TransferEngine(configuration: configuration)
        defer { engine.shutdown() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                group.addTask {
                    let error = await capturedError {
                        try await engine.perform(TransferRequest(url: "http://127.0.0.1:\(deadPort)/x\(index)"))
                    }
                    #expect(error?.code == .network)
                }
                group.addTask {
                    let response = try await engine.perform(TransferRequest(url: "\(server.baseURL())/ok\(index)"))
                    #expect(response.status == 200)
                }
            }
            try await group.waitForAll()
        }
        #expect(try server.snapshot().requests.count == 8)
    }
}
