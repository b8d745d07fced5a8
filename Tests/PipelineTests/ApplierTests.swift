import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import Testing

@testable import SmartSyncPipeline

@Suite struct ApplierTests {
    /// Scans, plans and applies `tree` to `target` with `previous`; returns plan and report.
    private func sync(
        _ tree: FixtureTree, target: String, store: ObjectStore, previous: Manifest = Manifest()
    ) throws -> (Plan, ApplyReport) {
        try tree.fill(store)
        let local = try TargetScanner().scan(target: target).tree
        let plan = Planner().plan(listing: tree.listing, previous: previous, local: local)
        let report = try InPlaceApplier().apply(plan, listing: tree.listing, store: store, target: target)
        return (plan, report)
    }

    @Test func materializesFromTheStore() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        let target = dir["target"]
        writeFile(target + "/untracked.txt", "mine")
        var tree = FixtureTree()
        tree.files = [
            ("a.txt", .regular, "same"), ("deep/b.txt", .regular, "same"), ("bin/tool", .executable, "#!/bin/sh\n"),
            ("link", .symlink, "a.txt"),
        ]
        let (plan, report) = try sync(tree, target: target, store: store)
        #expect(plan.blobsNeeded.count == 3)

        let a = lstatOf(target + "/a.txt")!
        let objectA = lstatOf(store.path(for: blob("same")))!
        #expect(a.st_ino == objectA.st_ino)  // a hard link of the store object
        let b = lstatOf(target + "/deep/b.txt")!
        #expect(b.st_ino != a.st_ino)  // never two target paths on one inode
        #expect(readFile(target + "/deep/b.txt") == "same")
        let tool = lstatOf(target + "/bin/tool")!
        #expect(tool.st_ino == lstatOf(try store.executablePath(for: blob("#!/bin/sh\n")))!.st_ino)
        #expect(tool.st_mode & 0o777 == 0o555)
        #expect(readLink(target + "/link") == "a.txt")
        #expect(readFile(target + "/untracked.txt") == "mine")
        #expect(report.filesLinked == 2)
        #expect(report.filesReflinked + report.filesCopied == 1)
        #expect(report.count(.add) == 3 && report.count(.symlink) == 1 && report.count(.untracked) == 1)
        #expect(!allPaths(target).contains { $0.contains(".smart-sync-tmp-") })

        // A second run is a no-op.
        let local = try TargetScanner().scan(target: target).tree
        let again = Planner().plan(listing: tree.listing, previous: Manifest(listing: tree.listing), local: local)
        #expect(!again.hasWork)
    }

    @Test func updatesDeletesAndRemovesEmptyDirectories() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        let target = dir["target"]
        var v1 = FixtureTree()
        v1.files = [
            ("keep", .regular, "k"), ("old/deep/gone", .regular, "g"), ("mixed/gone", .regular, "m"),
            ("script", .regular, "s"), ("ln", .symlink, "keep"), ("swap", .regular, "file"), ("d/x", .regular, "x"),
        ]
        _ = try sync(v1, target: target, store: store)
        writeFile(target + "/mixed/user-file", "mine")
        let inodeBefore = lstatOf(target + "/keep")!.st_ino

        var v2 = FixtureTree()
        v2.files = [
            ("keep", .regular, "k"), ("script", .executable, "s"), ("ln", .symlink, "script"),
            ("swap", .symlink, "keep"), ("d", .regular, "file now"), ("new/file", .regular, "n"),
        ]
        let (plan, report) = try sync(v2, target: target, store: store, previous: Manifest(listing: v1.listing))
        #expect(plan.kind("script") == .mode)
        #expect(plan.kind("d") == .typeChange)
        #expect(lstatOf(target + "/keep")!.st_ino == inodeBefore)  // untouched
        #expect(lstatOf(target + "/script")!.st_mode & 0o111 != 0)
        #expect(readLink(target + "/ln") == "script")
        #expect(readLink(target + "/swap") == "keep")
        #expect(readFile(target + "/d") == "file now")
        #expect(lstatOf(target + "/old") == nil)  // emptied directories removed up the chain
        #expect(readFile(target + "/mixed/user-file") == "mine")  // untracked kept, so its directory stays
        #expect(lstatOf(target + "/mixed/gone") == nil)
        #expect(report.count(.delete) == 3)
        #expect(report.directoriesRemoved >= 3)
        #expect(!allPaths(target).contains { $0.contains(".smart-sync-tmp-") })
    }

    @Test func refusesToWriteThroughAPlantedSymlink() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        let target = dir["target"]
        let outside = dir["outside"]
        mkdirs(outside)
        mkdirs(target)
        var tree = FixtureTree()
        tree.files = [("etc/passwd", .regular, "pwned")]
        try tree.fill(store)
        let plan = Planner().plan(
            listing: tree.listing, previous: Manifest(), local: try TargetScanner().scan(target: target).tree)
        // Planted after the scan (or by a racing process): apply must not follow it.
        symlink(outside, target + "/etc")
        #expect {
            try InPlaceApplier().apply(plan, listing: tree.listing, store: store, target: target)
        } throws: { ($0 as? SmartSyncError)?.code == .unsafePath }
        #expect(allPaths(outside).isEmpty)

        // Seen at plan time, the symlink is not ours: the path is blocked and apply leaves it alone.
        let replan = Planner().plan(
            listing: tree.listing, previous: Manifest(), local: try TargetScanner().scan(target: target).tree)
        #expect(replan.kind("etc/passwd") == .blocked)
        _ = try InPlaceApplier().apply(replan, listing: tree.listing, store: store, target: target)
        #expect(allPaths(outside).isEmpty)
    }

    @Test func seedsStoreFromLocalFiles() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        let target = dir["target"]
        writeFile(target + "/old-name", "moved content")
        var tree = FixtureTree()
        tree.files = [("new-name", .regular, "moved content")]
        let plan = Planner().plan(
            listing: tree.listing, previous: Manifest(), local: try TargetScanner().scan(target: target).tree)
        #expect(try plan.missingBlobs(in: store, repair: false).count == 1)
        #expect(plan.seedStore(store, fromTarget: target) == [blob("moved content")])
        #expect(try plan.missingBlobs(in: store, repair: false).isEmpty)
    }

    @Test func recordedStatCacheSkipsRehashOfAppliedFiles() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        let target = dir["target"]
        var tree = FixtureTree()
        tree.files = (0..<20).map { ("f\($0)", FileMode.regular, "content \($0)") }
        let (plan, _) = try sync(tree, target: target, store: store)
        var cache = StatCache()
        cache.record(plan, target: target)
        usleep(30_000)  // out of the racy window
        try cache.save(to: dir["cache"])
        let scan = try TargetScanner().scan(target: target, cache: StatCache.load(from: dir["cache"]))
        #expect(scan.statistics.cacheHits == 20)
        #expect(scan.statistics.filesHashed == 0)
    }
}
