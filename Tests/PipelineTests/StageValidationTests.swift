import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// ``StagedSwitchApplier/validateStage``: called with the complete stage before the exchange; a throw leaves the
/// target as it was and removes the stage.
@Suite struct StageValidationTests {
    private struct Refused: Error {}

    private func plan(_ tree: FixtureTree, target: String, store: ObjectStore) throws -> Plan {
        try tree.firstSyncPlan(of: target, store: store)
    }

    @Test func aThrowingValidatorLeavesTheTargetAndRemovesTheStage() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        let target = dir["target"]
        try TestFiles.write(target + "/old.txt", "old")
        let inode = TestFiles.lstat(target)!.st_ino
        var tree = FixtureTree()
        tree.files = [("new.txt", .regular, "new")]
        let p = try plan(tree, target: target, store: store)
        let seen = Locked<[String]>([])
        var applier = StagedSwitchApplier()
        applier.validateStage = { stage in
            seen.withLock { $0.append(TestFiles.read(stage + "/new.txt") ?? "missing") }
            throw Refused()
        }
        #expect(throws: Refused.self) { try applier.apply(p, listing: tree.listing, store: store, target: target) }
        #expect(seen.withLock { $0 } == ["new"], "the validator saw the complete new tree")
        #expect(TestFiles.lstat(target)!.st_ino == inode)
        #expect(TestFiles.read(target + "/old.txt") == "old")
        #expect(TestFiles.read(target + "/new.txt") == nil)
        #expect(TestFiles.lstat(dir[".target.smart-sync/stage"]) == nil)
        #expect(try Rollback.generations(target: target).isEmpty)

        // A passing validator: the tree goes in.
        applier.validateStage = { _ in }
        _ = try applier.apply(p, listing: tree.listing, store: store, target: target)
        #expect(TestFiles.read(target + "/new.txt") == "new")
    }
}
