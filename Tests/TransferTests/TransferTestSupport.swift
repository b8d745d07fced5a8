import Foundation
import SmartSyncCore
import SmartSyncTransfer
import Synchronization
import TestSupport
import Testing

/// Fails (not skips) the test when nginx is missing: CI installs nginx-light.
func requireNginx() throws {
    try #require(
        NginxServer.isAvailable,
        "nginx is required for this test but \(NginxServer.executable) is missing: apt-get install nginx-light")
}

/// Runs `body` and returns the ``SmartSyncError`` it threw, recording an issue if it threw something else.
func capturedError<T>(_ body: () async throws -> T) async -> SmartSyncError? {
    do {
        _ = try await body()
        return nil
    } catch let error as SmartSyncError {
        return error
    } catch {
        Issue.record("expected a SmartSyncError, got \(error)")
        return nil
    }
}

/// Polls `condition` until it holds or `seconds` pass (generous: the test machine is slow and shared).
func waitUntil(seconds: Double = 30, _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if (try? condition()) == true { return true }
        try await Task.sleep(nanoseconds: 20_000_000)
    }
    return try condition()
}

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// A sink that keeps everything it is given (test double, lock-protected).
final class CollectingSink: TransferSink, Sendable {
    private struct State {
        var storage: [UInt8] = []
        var beginCalls: [Int] = []
        var writeCalls = 0
    }
    private let state = Mutex(State())
    private let acceptBegin: Bool

    init(acceptBegin: Bool = true) { self.acceptBegin = acceptBegin }

    func begin(status: Int, headers: HTTPHeaders) -> Bool {
        state.withLock { $0.beginCalls.append(status) }
        return acceptBegin
    }

    func write(_ chunk: UnsafeRawBufferPointer) -> Bool {
        state.withLock {
            $0.storage.append(contentsOf: chunk)
            $0.writeCalls += 1
        }
        return true
    }

    var bytes: [UInt8] { state.withLock { $0.storage } }
    var begins: [Int] { state.withLock { $0.beginCalls } }
    var writes: Int { state.withLock { $0.writeCalls } }
}
