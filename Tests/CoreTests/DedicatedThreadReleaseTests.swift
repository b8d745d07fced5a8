import Dispatch
import Glibc
import Synchronization
import Testing

@testable import SmartSyncCore

/// ``DedicatedThread/release(_:name:)``: what it is handed is let go of on the thread it starts, never on the
/// caller's, however soon that thread runs (the no-op's tables: BENCHMARKS "noop9load").
struct DedicatedThreadReleaseTests {
    /// Records the thread its deinit ran on, and says when it has.
    final class Probe: Sendable {
        let freedOn: Locked<pthread_t?>
        let freed: DispatchSemaphore
        init(_ freedOn: Locked<pthread_t?>, _ freed: DispatchSemaphore) {
            self.freedOn = freedOn
            self.freed = freed
        }
        deinit {
            freedOn.withLock { $0 = pthread_self() }
            freed.signal()
        }
    }

    /// The caller waits, before `release` returns, for the probe's deinit: it can run then only if the caller keeps
    /// no reference (a capture of `value`, or a copy, held until the return would time out here), and it must run
    /// on the other thread.
    @Test func releasedOnTheThreadItStartsBeforeTheCallerLetsGo() throws {
        let freedOn = Locked<pthread_t?>(nil)
        let freed = DispatchSemaphore(value: 0)
        // A struct of values holding the object, as the runner hands its tables: moved in, no copy left here.
        struct Tables { var probe: Probe; var other: [Int] }
        var freedBeforeReturn = false
        let started = DedicatedThread.release(
            Tables(probe: Probe(freedOn, freed), other: [1, 2, 3]), name: "ss-free-tables",
            beforeReturn: { freedBeforeReturn = freed.wait(timeout: .now() + 30) == .success })
        #expect(started)
        #expect(freedBeforeReturn)
        if !freedBeforeReturn { freed.wait() }  // released as `release` returned: still say on which thread
        let thread = try #require(freedOn.withLock { $0 })
        #expect(pthread_equal(thread, pthread_self()) == 0)
    }
}
