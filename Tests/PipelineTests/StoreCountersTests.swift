import SmartSyncPipeline
import Testing
import TestSupport

/// `aux/store-counters`: what gc adds for the metrics file.
struct StoreCountersTests {
    /// gc runs of two stores sharing a state directory each read, add and write the file: under its lock no run's
    /// count is lost.
    @Test func concurrentGCRecordsAreAllCounted() async throws {
        let dir = try TemporaryDirectory(prefix: "store-counters")
        let state = try StateStore(root: dir.appending("state"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<16 {
                group.addTask { try await state.recordGC(store: "/stores/\(i % 2)", freedBytes: 100) }
            }
            try await group.waitForAll()
        }
        let counters = state.loadStoreCounters()
        #expect(counters.stores["/stores/0"]?.gcRuns == 8 && counters.stores["/stores/1"]?.gcRuns == 8)
        #expect(counters.stores.values.reduce(0) { $0 + $1.gcFreedBytes } == 1_600)
    }
}
