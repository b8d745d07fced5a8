import Dispatch
import Glibc
import SmartSyncCore
import Synchronization
import Testing

/// ``DedicatedThread/release(_:)``: what it is handed is let go of on the thread it starts, never on the caller's,
/// however soon that thread runs (the no-op's tables: BENCHMARKS "noop9load").
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

    @Test(arguments: [0, 1, 2])
    func releasedOnTheThreadItStarts(delayBeforeReturn: Int) throws {
        let freedOn = Locked<pthread_t?>(nil)
        let freed = DispatchSemaphore(value: 0)
        // A struct of values holding the object, as the runner hands its tables: moved in, no copy left here.
        struct Tables { var probe: Probe; var other: [Int] }
        let started = DedicatedThread.release(Tables(probe: Probe(freedOn, freed), other: [1, 2, 3]))
        #expect(started)
        // The caller's own work after the handover (none, a yield, a pause): whichever lets go last, the free is
        // the thread's.
        if delayBeforeReturn == 1 { sched_yield() }
        if delayBeforeReturn == 2 { usleep(2_000) }
        #expect(freed.wait(timeout: .now() + 60) == .success)
        let thread = try #require(freedOn.withLock { $0 })
        #expect(pthread_equal(thread, pthread_self()) == 0)
    }
}
