import Glibc
import SmartSyncCore
import SmartSyncFileSystem
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

    /// A failure between the stage's sync and the exchange (here the `staged` checkpoint; the carry of what changed
    /// since the first carry, and its sync, alike) undoes the prepare at once, as a refused validation does: no
    /// journal, no half-made generation, no stage; the target as it was. It was left to the runner's recovery.
    @Test func aFailureAfterTheStagesSyncUndoesThePrepare() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        let target = dir["target"]
        try TestFiles.write(target + "/old.txt", "old")
        let inode = TestFiles.lstat(target)!.st_ino
        var tree = FixtureTree()
        tree.files = [("new.txt", .regular, "new")]
        let p = try plan(tree, target: target, store: store)
        var applier = StagedSwitchApplier()
        let reached = Locked<[String]>([])
        applier.checkpoint = { name in
            reached.withLock { $0.append(name) }
            if name == "staged" { throw Refused() }
        }
        #expect(throws: Refused.self) { try applier.apply(p, listing: tree.listing, store: store, target: target) }
        #expect(reached.withLock { $0 }.contains("prepared"), "no journal was prepared: \(reached.withLock { $0 })")
        let layout = SwitchLayout(target: target)
        #expect(TestFiles.lstat(layout.journal) == nil, "the journal was left")
        #expect(TestFiles.lstat(layout.stage) == nil, "the stage was left")
        let numbered = ((try? FileSystem.names(in: layout.generations)) ?? []).filter { Int($0) != nil }
        #expect(numbered.isEmpty, "a half-made generation was left: \(numbered)")
        #expect(TestFiles.lstat(target)!.st_ino == inode)
        #expect(TestFiles.read(target + "/old.txt") == "old")
    }
}

