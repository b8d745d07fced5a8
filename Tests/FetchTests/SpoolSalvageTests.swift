import Foundation
import Glibc
import SmartSyncGitObjects
import SmartSyncGitPack
import SmartSyncObjectStore
import SmartSyncTransfer
import TestSupport
import Testing

@testable import SmartSyncFetch

/// Spools left in the store's `tmp/` by a killed run are imported by the next run, held to the limits the killed run
/// wrote beside them; a live run's spool is not touched.
struct SpoolSalvageTests {
    /// A commit's pack (5 objects), a store and a pack source that never reaches a server.
    struct Setup {
        let commit: String
        let pack: [UInt8]
        let dirs: TemporaryDirectory
        let store: ObjectStore
        let engine: TransferEngine
        let source: GitPackSource

        init() throws {
            let repo = try GitFixture()
            try repo.write("a.txt", "alpha\n")
            try repo.write("b/c.txt", "gamma\n")
            commit = try repo.commit("one")
            pack = try repo.gitResult(["pack-objects", "--revs", "--stdout"], input: Array((commit + "\n").utf8))
                .stdout
            dirs = try TemporaryDirectory(prefix: "salvage")
            store = try ObjectStore(root: dirs.appending("store"))
            engine = try UploadPackFixture.engine()
            source = GitPackSource(
                repositoryURL: "http://127.0.0.1:9/acme/none.git", engine: engine, token: nil, store: store, raw: nil,
                cacheDirectory: nil)
        }

        /// The commit, as an id.
        var commitID: ObjectID { get throws { try #require(ObjectID(hex: commit)) } }

        /// Writes the pack where a run spools it, `tmp/pack-NAME.pack`, and `limits` beside it (none: no limits
        /// file); returns the spool's path.
        @discardableResult
        func spool(_ name: String, limits: [UInt8]?) throws -> String {
            let spool = store.temporaryDirectory + "/pack-\(name).pack"
            try Data(pack).write(to: URL(fileURLWithPath: spool))
            if let limits {
                try Data(limits).write(to: URL(fileURLWithPath: store.temporaryDirectory + "/pack-\(name).limits"))
            }
            return spool
        }
    }

    /// With `release010`, the limits are the bare `PackLimits` JSON that smart-sync 0.1.0 wrote (as in
    /// `Tests/Fixtures/Records/spool-limits`): a spool a killed run of that release left is salvaged the same.
    @Test(arguments: [false, true]) func aKilledRunsSpoolIsImportedAndALiveOneIsLeftAlone(release010: Bool)
        async throws
    {
        let setup = try Setup()
        let (store, source) = (setup.store, setup.source)
        defer { setup.engine.shutdown() }

        // A live run's spool: locked by an open file description this test holds.
        let limits = PackLimits(contents: .reachable(from: [try setup.commitID], history: false))
        let record = try GitPackSource.SpoolLimits(limits: limits).encodedRecord()
        let live = try setup.spool("live", limits: release010 ? Array(try JSONEncoder().encode(limits)) : record)
        let holder = open(live, O_RDONLY)
        #expect(flock(holder, LOCK_EX) == 0)
        await source.salvageSpools()
        #expect(FileManager.default.fileExists(atPath: live), "a locked spool was taken")
        #expect(!store.contains(try setup.commitID))

        // The run dies: its lock goes with it, and the next salvage imports the pack and removes the spool.
        close(holder)
        await source.salvageSpools()
        #expect(!FileManager.default.fileExists(atPath: live))
        #expect(!FileManager.default.fileExists(atPath: store.temporaryDirectory + "/pack-live.limits"))
        #expect(store.contains(try setup.commitID))
        #expect(source.statistics.packObjects == 5)
    }

    /// A spool whose limits are missing cannot be checked against what it was asked for: it is removed unread.
    @Test func aSpoolWithoutItsLimitsIsRemovedUnread() async throws {
        let setup = try Setup()
        let (store, source) = (setup.store, setup.source)
        defer { setup.engine.shutdown() }
        let spool = try setup.spool("old", limits: nil)
        // Limits left by a run killed after its spool was gone.
        let orphan = store.temporaryDirectory + "/pack-gone.limits"
        try Data("{}".utf8).write(to: URL(fileURLWithPath: orphan))
        await source.salvageSpools()
        #expect(!FileManager.default.fileExists(atPath: spool))
        #expect(!FileManager.default.fileExists(atPath: orphan))
        #expect(!store.contains(try setup.commitID))
        #expect(source.statistics.packObjects == 0)
    }

    /// A pack held to history (`history: true`) a killed run left is salvaged as any other: its limits are an
    /// ancestry walk's in name only (a walk spools `held-pack-`): a listing's or commit's, no shallow, whose objects a
    /// rerun would otherwise download again whole (found in review: those were removed unread).
    @Test func aKilledRunsHistoryPackIsSalvagedAsAnyOther() async throws {
        let setup = try Setup()
        let (store, source) = (setup.store, setup.source)
        defer { setup.engine.shutdown() }
        let limits = PackLimits(contents: .reachable(from: [try setup.commitID], history: true))
        let spool = try setup.spool("walk", limits: try GitPackSource.SpoolLimits(limits: limits).encodedRecord())
        await source.salvageSpools()
        #expect(!FileManager.default.fileExists(atPath: spool))
        #expect(!FileManager.default.fileExists(atPath: store.temporaryDirectory + "/pack-walk.limits"))
        #expect(store.contains(try setup.commitID), "the history pack was not salvaged")
        #expect(source.statistics.packObjects > 0)
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
