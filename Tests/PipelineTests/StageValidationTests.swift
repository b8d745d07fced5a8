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

    /// A target holding `old.txt` and the plan of a first sync to a tree of `new.txt`.
    private struct Setup {
        let dir: TemporaryDirectory
        let store: ObjectStore
        let target: String
        let inode: ino_t
        let tree: FixtureTree
        let plan: Plan

        init() throws {
            dir = try TemporaryDirectory(prefix: "sync-tests")
            store = try ObjectStore(root: dir["store"])
            target = dir["target"]
            try TestFiles.write(target + "/old.txt", "old")
            inode = TestFiles.lstat(target)!.st_ino
            var tree = FixtureTree()
            tree.files = [("new.txt", .regular, "new")]
            self.tree = tree
            plan = try tree.firstSyncPlan(of: target, store: store)
        }

        func apply(_ applier: StagedSwitchApplier) throws {
            _ = try applier.apply(plan, listing: tree.listing, store: store, target: target)
        }

        /// The target as it was: its inode, `old.txt`, no `new.txt`.
        func expectTargetAsItWas() {
            #expect(TestFiles.lstat(target)!.st_ino == inode)
            #expect(TestFiles.read(target + "/old.txt") == "old")
            #expect(TestFiles.read(target + "/new.txt") == nil)
        }
    }

    @Test func aThrowingValidatorLeavesTheTargetAndRemovesTheStage() throws {
        let t = try Setup()
        defer { t.dir.remove() }
        let seen = Locked<[String]>([])
        var applier = StagedSwitchApplier()
        applier.validateStage = { stage in
            seen.withLock { $0.append(TestFiles.read(stage + "/new.txt") ?? "missing") }
            throw Refused()
        }
        #expect(throws: Refused.self) { try t.apply(applier) }
        #expect(seen.withLock { $0 } == ["new"], "the validator saw the complete new tree")
        t.expectTargetAsItWas()
        #expect(TestFiles.lstat(t.dir[".target.smart-sync/stage"]) == nil)
        #expect(try Rollback.generations(target: t.target).isEmpty)

        // A passing validator: the tree goes in.
        applier.validateStage = { _ in }
        try t.apply(applier)
        #expect(TestFiles.read(t.target + "/new.txt") == "new")
    }

    /// A failure between the stage's sync and the exchange (here the `staged` checkpoint; the carry of what changed
    /// since the first carry, and its sync, alike) undoes the prepare at once, as a refused validation does: no
    /// journal, no half-made generation, no stage; the target as it was. It was left to the runner's recovery.
    @Test func aFailureAfterTheStagesSyncUndoesThePrepare() throws {
        let t = try Setup()
        defer { t.dir.remove() }
        var applier = StagedSwitchApplier()
        let reached = Locked<[String]>([])
        applier.checkpoint = { name in
            reached.withLock { $0.append(name) }
            if name == "staged" { throw Refused() }
        }
        #expect(throws: Refused.self) { try t.apply(applier) }
        #expect(reached.withLock { $0 }.contains("prepared"), "no journal was prepared: \(reached.withLock { $0 })")
        let layout = SwitchLayout(target: t.target)
        #expect(TestFiles.lstat(layout.journal) == nil, "the journal was left")
        #expect(TestFiles.lstat(layout.stage) == nil, "the stage was left")
        let numbered = ((try? FileSystem.names(in: layout.generations)) ?? []).filter { Int($0) != nil }
        #expect(numbered.isEmpty, "a half-made generation was left: \(numbered)")
        t.expectTargetAsItWas()
    }
}

