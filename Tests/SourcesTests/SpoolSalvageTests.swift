import Foundation
import GitObjects
import ObjectStore
import Testing
import TestSupport

@testable import Sources

#if canImport(Glibc)
    import Glibc
#endif

/// Spools left in the store's `tmp/` by a killed run are imported by the next run; a live run's spool is not touched.
struct SpoolSalvageTests {
    @Test func aKilledRunsSpoolIsImportedAndALiveOneIsLeftAlone() async throws {
        let repo = try GitFixture()
        try repo.write("a.txt", "alpha\n")
        try repo.write("b/c.txt", "gamma\n")
        let commit = try repo.commit("one")
        let pack = try repo.gitResult(["pack-objects", "--revs", "--stdout"], input: Array((commit + "\n").utf8))
        let dirs = try TemporaryDirectory(prefix: "salvage")
        let store = try ObjectStore(root: dirs.appending("store"))
        let engine = try UploadPackFixture.engine()
        defer { engine.shutdown() }
        let source = GitPackSource(
            repositoryURL: "http://127.0.0.1:9/acme/none.git", engine: engine, token: nil, store: store, raw: nil,
            cacheDirectory: nil)

        // A live run's spool: locked by an open file description this test holds.
        let live = store.temporaryDirectory + "/pack-live.pack"
        try Data(pack.stdout).write(to: URL(fileURLWithPath: live))
        let holder = open(live, O_RDONLY)
        #expect(flock(holder, LOCK_EX) == 0)
        await source.salvageSpools()
        #expect(FileManager.default.fileExists(atPath: live), "a locked spool was taken")
        #expect(!store.contains(try #require(ObjectID(hex: commit))))

        // The run dies: its lock goes with it, and the next salvage imports the pack and removes the spool.
        close(holder)
        await source.salvageSpools()
        #expect(!FileManager.default.fileExists(atPath: live))
        #expect(store.contains(try #require(ObjectID(hex: commit))))
        #expect(source.statistics.packObjects == 5)
    }
}

/// Statistics of two paths add up counter by counter.
struct SourceStatisticsTests {
    @Test func countersAddUp() {
        var a = SourceStatistics()
        a.apiRequests = 2
        a.bytesReceived = 100
        a.rateLimitRemaining = 50
        var b = SourceStatistics()
        b.blobRequests = 3
        b.bytesReceived = 10
        b.packRequests = 1
        b.packObjects = 7
        b.bytesSent = 5
        let sum = a + b
        #expect(sum.apiRequests == 2 && sum.blobRequests == 3 && sum.bytesReceived == 110)
        #expect(sum.packRequests == 1 && sum.packObjects == 7 && sum.bytesSent == 5)
        #expect(sum.rateLimitRemaining == 50, "kept when the other side knows none")
        b.rateLimitRemaining = 10
        #expect((a + b).rateLimitRemaining == 10)
    }
}
