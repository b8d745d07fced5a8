import Dispatch
import Foundation
import SmartSyncCore
import Synchronization
import Testing

@testable import SmartSyncTransfer

/// The engine thread's setup (libcurl's load, the trust store, the multi handle) runs while callers already submit,
/// cancel and shut down: every transfer's continuation is resumed exactly once (a second resume traps the checked
/// continuation; none leaves its task waiting) with the error its moment calls for, and `shutdown(wait: true)`
/// returns once the setup is over.
@Suite("CurlMultiLoop's setup hand-off", .serialized)
struct CurlMultiLoopSetupTests {
    struct SetupBroke: Error {}

    /// How each transfer ended, by name (one entry per resumption).
    final class Outcomes: Sendable {
        let byName = Mutex<[String: String]>([:])
    }

    /// A flag set on one thread and read on another.
    final class Flag: Sendable {
        let value = Mutex(false)
    }


    @Test func aSetupThatThrowsFailsEveryTransferWithItsError() throws {
        let outcomes = try Self.runAroundBlockedSetup { throw SetupBroke() }
        // Submitted while the setup ran (one of them cancelled meanwhile): the setup's error.
        #expect(outcomes["queued1"] == "setup")
        #expect(outcomes["queued2"] == "setup")
        #expect(outcomes["queuedCancelled"] == "setup")
        #expect(outcomes["cancelledEarly"] == "cancelled")
        #expect(outcomes["afterShutdown"] == "shutdown")
        // Submitted after the thread gave up: the setup's error too.
        #expect(outcomes["afterExit"] == "setup")
    }

    @Test func aSetupThatReturnsAfterShutdownFailsEveryTransferAsShutDown() throws {
        let outcomes = try Self.runAroundBlockedSetup { try TransferEngine.makeCurlState(TransferConfiguration()) }
        #expect(outcomes["queued1"] == "shutdown")
        #expect(outcomes["queued2"] == "shutdown")
        #expect(outcomes["queuedCancelled"] == "shutdown")
        #expect(outcomes["cancelledEarly"] == "cancelled")
        #expect(outcomes["afterShutdown"] == "shutdown")
        #expect(outcomes["afterExit"] == "shutdown")
    }

    /// Starts a loop whose setup waits for the test, submits and cancels transfers and shuts the loop down while
    /// it waits, lets the setup finish with `finishSetup`, and returns how each transfer ended, by name.
    private static func runAroundBlockedSetup(
        _ finishSetup: @escaping @Sendable () throws -> (multi: UnsafeMutableRawPointer, settings: EasySettings)
    ) throws -> [String: String] {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let setupOver = Flag()
        let loop = CurlMultiLoop(
            setUp: {
                entered.signal()
                release.wait()
                defer { setupOver.value.withLock { $0 = true } }
                return try finishSetup()
            },
            maxConcurrent: 4, pacing: Pacing(stallTimeout: .infinity, stallSpeed: 0),
            pacer: HostPacer(policy: HostBackoffPolicy(), maxPerHost: 4, requestRate: nil))
        loop.start()
        try #require(entered.wait(timeout: .now() + 60) == .success)

        let outcomes = Outcomes()
        let resumed = DispatchSemaphore(value: 0)
        /// Submits the transfer registered as `id` from a task that records how it ended.
        func submit(_ name: String, _ id: UInt64) throws {
            let url = try RequestURL("http://127.0.0.1:9/\(name)")
            let submitted = DispatchSemaphore(value: 0)
            Task {
                let transfer = EasyTransfer(
                    id: id, hop: HopRequest(url: url, method: .get, headerLines: [], sink: .memory(limit: 1024)))
                let outcome: String
                do {
                    _ = try await withCheckedThrowingContinuation { continuation in
                        transfer.continuation = continuation
                        loop.submit(transfer)
                        submitted.signal()
                    }
                    outcome = "success"
                } catch is SetupBroke {
                    outcome = "setup"
                } catch let error as SmartSyncError where error.code == .cancelled {
                    outcome = error.message.contains("shut down") ? "shutdown" : "cancelled"
                } catch {
                    outcome = "\(error)"
                }
                outcomes.byName.withLock { $0[name, default: ""] += outcome }
                resumed.signal()
            }
            try #require(submitted.wait(timeout: .now() + 60) == .success)
        }

        try submit("queued1", try #require(loop.register()))
        try submit("queued2", try #require(loop.register()))
        let cancelled = try #require(loop.register())
        try submit("queuedCancelled", cancelled)
        loop.cancel(cancelled)
        let early = try #require(loop.register())
        loop.cancel(early)
        try submit("cancelledEarly", early)
        let afterShutdown = try #require(loop.register())
        let afterExit = try #require(loop.register())

        loop.shutdown(wait: false)
        #expect(loop.register() == nil)
        try submit("afterShutdown", afterShutdown)
        let joined = DispatchSemaphore(value: 0)
        let sawSetupOver = Flag()
        Thread {
            loop.shutdown(wait: true)
            // Recorded as shutdown returns: a shutdown that did not wait for the setup returns before the release
            // below (or before the setup's end) and records false.
            sawSetupOver.value.withLock { $0 = setupOver.value.withLock { $0 } }
            joined.signal()
        }.start()
        // The setup is released only once the shutdown waits for the thread: one that returned instead fails here.
        let deadline = Date() + 60
        var returned = false
        while loop.shutdownWaiters == 0, !returned, Date() < deadline {
            returned = joined.wait(timeout: .now() + .milliseconds(1)) == .success
        }
        #expect(!returned, "shutdown(wait: true) returned while the setup ran")
        #expect(loop.shutdownWaiters == 1)
        if returned { joined.signal() }

        release.signal()
        // A generous bound, only so that a lost resumption fails the test instead of hanging it.
        #expect(joined.wait(timeout: .now() + 60) == .success)
        #expect(sawSetupOver.value.withLock { $0 }, "shutdown(wait: true) returned before the setup was over")
        try submit("afterExit", afterExit)
        for _ in 0..<6 { #expect(resumed.wait(timeout: .now() + 60) == .success) }
        return outcomes.byName.withLock { $0 }
    }
}
