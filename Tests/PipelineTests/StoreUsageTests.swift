import Foundation
import SmartSyncFileSystem
import SmartSyncObjectStore
import SmartSyncPipeline
import Testing
import TestSupport

/// ``StoreUsage``: the store's size without a walk of every object, re-measuring only fan-out directories that changed.
struct StoreUsageTests {
    /// A store with objects in three fan-out directories, a partial download and a temporary file.
    struct Setup {
        let dir: TemporaryDirectory
        let store: String
        let state: StateStore

        init() throws {
            dir = try TemporaryDirectory()
            store = dir.appending("store")
            state = try StateStore(root: dir.appending("state"))
            for (fan, count) in [("0a", 3), ("7f", 1), ("ff", 2)] {
                for i in 0..<count { try write(fan, "\(i)", bytes: 5_000 * (i + 1)) }
            }
            try FileSystem.makeDirectories(store + "/partials")
            try Data(repeating: 1, count: 9_000).write(to: URL(fileURLWithPath: store + "/partials/p"))
            try FileSystem.makeDirectories(store + "/tmp")
            try Data(repeating: 2, count: 100).write(to: URL(fileURLWithPath: store + "/tmp/t"))
        }

        func write(_ fan: String, _ name: String, bytes: Int) throws {
            try FileSystem.makeDirectories(store + "/objects/" + fan)
            try Data(repeating: 7, count: bytes).write(to: URL(fileURLWithPath: store + "/objects/\(fan)/\(name)"))
        }

        /// Grows a file in place: its directory's stamps stay as they were.
        func grow(_ path: String, by bytes: Int) throws {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: store + "/" + path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(repeating: 3, count: bytes))
            try handle.close()
        }

        var walked: Int { FileSystem.diskUsage(of: store) }
    }

    @Test func theSizeIsWhatAWalkOfTheStoreCounts() throws {
        let s = try Setup()
        #expect(StoreUsage(state: s.state).measure(s.store) == s.walked)
        #expect(StoreUsage(state: s.state).measure(s.dir.appending("none")) == nil)
    }

    /// The proof that a measurement reuses what it cached: a change that moves no directory stamp (an object grown in
    /// place) is not seen, while one that does (a new object) is, and outside `objects/` everything is seen.
    @Test func onlyFanOutsWhoseStampsMovedAreMeasuredAgain() throws {
        let s = try Setup()
        let usage = StoreUsage(state: s.state, racyWindow: .zero)
        let first = try #require(usage.measure(s.store))
        #expect(first == s.walked)

        try s.grow("objects/0a/1", by: 256 * 1024)
        #expect(s.walked > first)
        #expect(usage.measure(s.store) == first, "an unchanged fan-out directory's bytes come from the cache")

        try s.write("0a", "new", bytes: 1_000)
        #expect(usage.measure(s.store) == s.walked, "a new object moves its directory's stamps")

        try s.grow("partials/p", by: 64 * 1024)
        #expect(usage.measure(s.store) == s.walked, "outside objects/ every run walks")
    }

    /// A directory changed just before the measurement might change again within the same timestamp tick: it is not
    /// cached, and `status` (saving: false) writes no cache at all.
    @Test func recentChangesAndStatusLeaveNothingCached() throws {
        let s = try Setup()
        #expect(StoreUsage(state: s.state).measure(s.store) == s.walked)
        try s.grow("objects/7f/0", by: 128 * 1024)
        #expect(StoreUsage(state: s.state).measure(s.store) == s.walked)

        let other = try Setup()
        _ = StoreUsage(state: other.state, racyWindow: .zero).measure(other.store, saving: false)
        #expect(!FileSystem.exists(other.dir.appending("state/aux/store-usage")))
    }
}
