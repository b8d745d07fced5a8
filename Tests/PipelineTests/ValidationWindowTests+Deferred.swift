import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The look at the outgoing tree under `--keep-generations 0` left undone, by a keep that failed (a full store) or a
/// run killed between the exchange and the look: the generation is marked before the exchange (``PendingLook``), the
/// next run's recovery does the look, and no prune removes the generation before one succeeded.
extension ValidationWindowTests {
    private struct Stop: Error {}

    /// A sync from A to B with `--keep-generations 0` whose validator edits `d2/f2.nix` and replaces `d3/f3.nix` by a
    /// directory (both paths B leaves as A had them), stopped by a throw at the checkpoint `point` (from the
    /// validation on); the generation left, with the edits. Then the runner records its warnings.
    func stoppedSync(_ t: StageRecyclerTests.Setup, at point: String, edit: String = "{ mine = 2; }\n")
        async throws -> Generation
    {
        let target = t.target
        t.runner.keepGenerations = 0
        let armed = Locked(false)
        t.runner.checkpoint = { if $0 == point && armed.withLock({ $0 }) { throw Stop() } }
        await #expect(throws: (any Error).self) {
            try await syncThrough(t) {
                try TestFiles.write(target + "/d2/f2.nix", edit)
                try FileManager.default.removeItem(atPath: target + "/d3/f3.nix")
                try TestFiles.write(target + "/d3/f3.nix/mine.txt", "mine 3\n")
                armed.withLock { $0 = true }
            }
        }
        t.runner.checkpoint = { _ in }
        let layout = SwitchLayout(target: t.target)
        // The tree is filed as the generation by the run, or (killed before it was) by the next run's recovery.
        let sequence = try #require(try FileSystem.names(in: layout.generations).compactMap(Int.init).max())
        #expect(TestFiles.lstat(PendingLook.path(layout, sequence)) != nil, "the look is not marked as due")
        return Generation(sequence: sequence, state: nil, tree: layout.generation(sequence) + "/tree")
    }

    /// The edits `stoppedSync` made (`edit` in `d2/f2.nix`), kept once each as local versions replaced by B, named in
    /// `warnings`.
    func expectKept(
        _ t: StageRecyclerTests.Setup, warnings: [String], edit: String = "{ mine = 2; }\n", others: Int = 0
    ) throws {
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        let edited = try log.versions(of: TreePath("d2/f2.nix"))
        #expect(edited.count == 1, "\(edited)")
        #expect(try storedText(t, edited.first) == edit)
        #expect(edited.first?.replacedBy?.hex == t.commits[1])
        let inside = try log.versions(of: TreePath("d3/f3.nix/mine.txt"))
        #expect(inside.count == 1, "\(inside)")
        #expect(try storedText(t, inside.first) == "mine 3\n")
        #expect(try log.load().count == 2 + others)
        for path in ["d2/f2.nix", "d3/f3.nix/mine.txt"] {
            #expect(warnings.contains { $0.contains("'\(path)'") && $0.contains("smart-sync restore") }, "\(warnings)")
        }
    }

    /// A keep that fails (a checkpoint standing for a full store) leaves the generation marked; the next run (a no-op
    /// at B) keeps the edits in its recovery and removes the mark, and the switch after it prunes the generation, the
    /// kept versions recorded once. (The next switch used to prune it unlooked, the edits lost.)
    @Test func aFailedKeepIsDoneByTheNextRun() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let generation = try await stoppedSync(t, at: "keep-edits")
        #expect(TestFiles.read(generation.tree + "/d2/f2.nix") == "{ mine = 2; }\n")
        let warnings = recordWarnings(t)
        #expect(try await !t.sync(1).switched)
        try expectKept(t, warnings: warnings.withLock { $0 })
        let layout = SwitchLayout(target: t.target)
        #expect(TestFiles.lstat(PendingLook.path(layout, generation.sequence)) == nil, "the mark stayed")
        #expect(try await t.sync(2).switched)
        #expect(try Rollback.generations(target: t.target).isEmpty)
        try t.expectTarget(2)
        try expectKept(t, warnings: warnings.withLock { $0 })
    }

    /// A run killed after the exchange, before the look: before the record (the next run's recovery finishes the
    /// switch and records B first), before the outgoing tree was filed (no stat cache filed with it: the look goes by
    /// B's and A's manifests), and once it was filed. The next run keeps the edits; the target is B.
    @Test(arguments: ["after-exchange", "recorded", "filed"])
    func aRunKilledBetweenTheExchangeAndTheLookLeavesItToTheNextRun(at point: String) async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        _ = try await stoppedSync(t, at: point)
        let warnings = recordWarnings(t)
        try await t.sync(1)
        try t.expectTarget(1)
        try expectKept(t, warnings: warnings.withLock { $0 })
        #expect(try await t.sync(2).switched)
        #expect(try Rollback.generations(target: t.target).isEmpty)
    }

    /// The next run's look tells a record it made again (a look that failed half done) from an older one that is the
    /// same but for its time (the same edit, kept by an earlier run): only records made since the run that marked the
    /// generation started count as made already. The old record used to hide the new one (never recorded).
    @Test func anOldIdenticalRecordDoesNotHideTheLooksRecord() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let edit = "{ mine = 2; }\n"
        let generation = try await stoppedSync(t, at: "keep-edits")
        let st = try #require(TestFiles.lstat(generation.tree + "/d2/f2.nix"))
        let old = KeptVersion(
            timeNs: 1_000_000_000, mode: try #require(FileMode(blobOf: st)), id: ObjectID.hash(.blob, Array(edit.utf8)),
            replacedBy: try #require(ObjectID(hex: t.commits[1])), path: TreePath("d2/f2.nix"),
            metadata: FileMetadata(st), rollbackTo: nil)
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        try log.append([old])
        try await t.sync(1)
        let versions = try log.versions(of: TreePath("d2/f2.nix"))
        #expect(versions.count == 2, "\(versions)")
        #expect(versions.filter { $0.timeNs > old.timeNs }.count == 1)
    }

    /// When no recorded state can say which paths to look at (the target's state is of another commit than the
    /// mark's, and the generation has no state), the look is not done and its mark stays, with a warning: it used to
    /// look at nothing and remove the mark, silently.
    @Test func aLookWithoutATrustedManifestKeepsItsMark() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let generation = try await stoppedSync(t, at: "keep-edits")
        let layout = SwitchLayout(target: t.target)
        let mark = PendingLook.path(layout, generation.sequence)
        try PendingLook(replacedBy: try #require(ObjectID(hex: t.commits[2]))).write(to: mark)
        #expect(unlink(layout.generation(generation.sequence) + "/state") == 0)
        let warnings = recordWarnings(t)
        try await t.sync(1)
        let said = warnings.withLock { $0 }
        #expect(said.contains { $0.contains("no recorded state") && $0.contains("remove '\(mark)'") }, "\(said)")
        #expect(TestFiles.lstat(mark) != nil, "the mark went")
        #expect(try KeptVersionLog(state: t.runner.state, target: t.target).load().isEmpty)
    }

    /// A keep that fails half done (the second path's save, here a checkpoint after the first path's) records what
    /// it saved before the failure: the record is in the log and the outcome, and its warning is given; the other
    /// edit is in the generation left. The next run keeps that one and does not record the first again.
    @Test func aKeepFailingHalfDoneRecordsWhatItSaved() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let target = t.target
        t.runner.keepGenerations = 0
        let armed = Locked(false)
        t.runner.checkpoint = { if $0 == "window-edit-kept" && armed.withLock({ $0 }) { throw Stop() } }
        try await t.sync(0)
        let warnings = recordWarnings(t)
        t.runner.stageValidator = { _ in
            try TestFiles.write(target + "/d2/f2.nix", "{ mine = 2; }\n")
            try TestFiles.write(target + "/d3/f3.nix", "{ mine = 3; }\n")
            armed.withLock { $0 = true }
        }
        let failed = await #expect(throws: FailedAfterSwitch<SyncRunner.Outcome>.self) { try await t.sync(1) }
        t.runner.stageValidator = nil
        t.runner.checkpoint = { _ in }
        #expect(failed?.step == .keepEdits)
        #expect(failed?.outcome.kept.map(\.path) == [TreePath("d2/f2.nix")])
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        #expect(try log.load().map(\.path) == [TreePath("d2/f2.nix")])
        let first = warnings.withLock { $0 }
        #expect(first.contains { $0.contains("'d2/f2.nix'") }, "\(first)")
        #expect(!first.contains { $0.contains("'d3/f3.nix'") }, "\(first)")
        let generation = try #require(try Rollback.generations(target: t.target).first)
        #expect(TestFiles.read(generation.tree + "/d3/f3.nix") == "{ mine = 3; }\n")
        warnings.withLock { $0 = [] }
        try await t.sync(1)
        #expect(try log.versions(of: TreePath("d2/f2.nix")).count == 1, "recorded again")
        let second = try #require(try log.versions(of: TreePath("d3/f3.nix")).first)
        #expect(String(decoding: try t.runner.store.read(second.id), as: UTF8.self) == "{ mine = 3; }\n")
        #expect(second.replacedBy?.hex == t.commits[1])
        let next = warnings.withLock { $0 }
        #expect(next.contains { $0.contains("'d3/f3.nix'") }, "\(next)")
        #expect(!next.contains { $0.contains("'d2/f2.nix'") }, "\(next)")
    }

    /// A look the next run cannot do either (the store still cannot take the edit: a file stands where its fan-out
    /// directory goes, one no blob of the commits uses) is named in a warning, and the switch that run makes prunes
    /// every generation but that one, edit and mark in it. Once the store takes it, the run after keeps the edit and
    /// the next switch prunes the generation.
    @Test func aGenerationWhoseLookFailsAgainIsNotPruned() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let edit = "{ edited = 2; }\n"
        let generation = try await stoppedSync(t, at: "keep-edits", edit: edit)
        let fanOut = (t.runner.store.path(for: ObjectID.hash(.blob, Array(edit.utf8))) as NSString)
            .deletingLastPathComponent
        #expect(TestFiles.lstat(fanOut) == nil, "a blob of A or B uses it")
        try TestFiles.write(fanOut, "in the way\n")
        let warnings = recordWarnings(t)
        #expect(try await t.sync(2).switched)
        try t.expectTarget(2)
        // The premise: no blob of C either uses the blocked fan-out directory (else the sync, not the look, failed).
        let c = try #require(try t.runner.state.load(target: t.target))
        let store = t.runner.store
        let users = c.manifest.entries.filter {
            (store.path(for: $0.1.id) as NSString).deletingLastPathComponent == fanOut
        }
        #expect(users.isEmpty, "a blob of C uses it")
        let failed = warnings.withLock { $0 }
        #expect(
            failed.contains { $0.contains("generation \(generation.sequence)") && $0.contains("next run looks again") },
            "\(failed)")
        #expect(try Rollback.generations(target: t.target).map(\.sequence) == [generation.sequence])
        let mark = PendingLook.path(SwitchLayout(target: t.target), generation.sequence)
        #expect(failed.contains { $0.contains("remove '\(mark)'") }, "the way out is not named: \(failed)")
        // `status` shows the look pending, since when, and the mark.
        let status = try TargetStatus.gather(target: t.target, state: t.runner.state, storeBytes: nil)
        let info = try #require(status.generations.first)
        #expect(info.lookMark == mark && info.lookPendingSinceNs != nil)
        #expect(TestFiles.read(generation.tree + "/d2/f2.nix") == edit)
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        #expect(try log.versions(of: TreePath("d2/f2.nix")).isEmpty)
        #expect(unlink(fanOut) == 0)
        try await t.sync(2)
        try expectKept(t, warnings: warnings.withLock { $0 }, edit: edit)
        let after = try TargetStatus.gather(target: t.target, state: t.runner.state, storeBytes: nil)
        #expect(after.generations.first?.lookPendingSinceNs == nil)
        #expect(try await t.sync(1).switched)
        #expect(try Rollback.generations(target: t.target).isEmpty)
    }

    /// A directory nested deeper than the keeper walks (``LocalVersionKeeper/maxDepth``) in the marked generation's
    /// tree: the next run's look stops with a clear error (a warning naming the limit, the path shortened), and the
    /// mark and the generation stay; what was looked at before it is kept, and the run after does the same (it used
    /// to recurse once per level: tens of thousands of levels overflowed the stack, every run). The files kept from
    /// the directory before the failure are announced in the failing run. Once the deep part is gone, the next run
    /// finishes the look.
    @Test func aDirectoryTooDeepToKeepIsAClearErrorAndTheMarkStays() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let generation = try await stoppedSync(t, at: "keep-edits")
        let levels = Array(repeating: "x", count: LocalVersionKeeper.maxDepth + 44)
        try TestFiles.write(generation.tree + "/d3/f3.nix/" + levels.joined(separator: "/") + "/deep.txt", "deep\n")
        try TestFiles.write(generation.tree + "/d3/f3.nix/a.txt", "a\n")
        let warnings = recordWarnings(t)
        let layout = SwitchLayout(target: t.target)
        for run in 0..<2 {
            let before = warnings.withLock { $0.count }
            try await t.sync(1)
            let seen = warnings.withLock { $0.dropFirst(before) }
            let limit = "more than \(LocalVersionKeeper.maxDepth) directory levels below 'd3/f3.nix'"
            #expect(seen.contains { $0.contains(limit) && $0.contains("…") && $0.count < 1_000 }, "\(seen)")
            // The first failing run kept what it walked before the limit, and says so; the second records nothing new.
            let inside = seen.filter { $0.contains("'d3/f3.nix' was a directory") }
            if run == 0 {
                #expect(inside.count == 1 && inside.allSatisfy { $0.contains("2 files") }, "\(seen)")
                #expect(inside.allSatisfy { $0.contains("'d3/f3.nix/a.txt'") && $0.contains("'d3/f3.nix/mine.txt'") })
            } else {
                #expect(inside.isEmpty, "\(seen)")
            }
            #expect(TestFiles.lstat(PendingLook.path(layout, generation.sequence)) != nil, "the mark went")
            #expect(try Rollback.generations(target: t.target).map(\.sequence) == [generation.sequence])
        }
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        #expect(try log.versions(of: TreePath("d2/f2.nix")).count == 1)
        try FileManager.default.removeItem(atPath: generation.tree + "/d3/f3.nix/x")
        try await t.sync(1)
        try expectKept(t, warnings: warnings.withLock { $0 }, others: 1)
        #expect(try log.versions(of: TreePath("d3/f3.nix/a.txt")).count == 1)
        #expect(TestFiles.lstat(PendingLook.path(layout, generation.sequence)) == nil, "the mark stayed")
    }

    /// `plan` and `restore --list` write nothing for a marked generation (no store object, no record, no warning): the
    /// look is left to a run that changes the target (`sync`, `update`, `rollback`, `restore PATH`). The sync after
    /// them does it.
    @Test func planAndListingsLeaveThePendingLook() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let generation = try await stoppedSync(t, at: "keep-edits")
        let warnings = recordWarnings(t)
        let objects = try storeObjects(t)
        _ = try await t.runner.plan(.init(ref: t.commits[1], target: t.target))
        _ = try Restore.versions(
            of: t.target + "/d2/f2.nix", target: t.target, state: t.runner.state, store: t.runner.store
        ) { if case .warning(let text) = $0 { warnings.withLock { $0.append(text) } } }
        let layout = SwitchLayout(target: t.target)
        #expect(TestFiles.lstat(PendingLook.path(layout, generation.sequence)) != nil, "the mark went")
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        #expect(try log.load().isEmpty)
        #expect(try storeObjects(t) == objects, "plan or restore --list added a store object")
        for edit in ["{ mine = 2; }\n", "mine 3\n"] {
            #expect(!t.runner.store.contains(ObjectID.blob(Array(edit.utf8))), "an edit was saved: \(edit)")
        }
        #expect(warnings.withLock { $0 }.isEmpty, "\(warnings.withLock { $0 })")
        try await t.sync(1)
        try expectKept(t, warnings: warnings.withLock { $0 })
    }

    /// A path `--keep-local` left (the state's `keptLocal`: the operator's file, which the target still holds) is no
    /// edit made while the stage was validated: the next run's look skips it (no local version "replaced by B", no
    /// warning), and the mark goes. (Here the state's manifest, which leaves `keptLocal` out, already keeps it from
    /// the look; the look's own skip of `keptLocal` paths is a second guard this does not reach.)
    @Test func theNextRunsLookSkipsKeptLocalPaths() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        let local = "{ local = true; }\n"
        #expect(unlink(t.target + "/d2/f2.nix") == 0)
        try TestFiles.write(t.target + "/d2/f2.nix", local)
        t.runner.keepGenerations = 0
        t.runner.checkpoint = { if $0 == "keep-edits" { throw Stop() } }
        await #expect(throws: (any Error).self) { try await t.sync(1, keepLocal: true) }
        t.runner.checkpoint = { _ in }
        let layout = SwitchLayout(target: t.target)
        let sequence = try #require(try FileSystem.names(in: layout.generations).compactMap(Int.init).max())
        // The premises: the look is due, the generation's tree has the operator's file, the state keeps it local.
        #expect(TestFiles.lstat(PendingLook.path(layout, sequence)) != nil, "the look is not marked as due")
        #expect(TestFiles.read(layout.generation(sequence) + "/tree/d2/f2.nix") == local)
        let state = try #require(try t.runner.state.load(target: t.target))
        #expect(state.commit.hex == t.commits[1] && state.keptLocal[TreePath("d2/f2.nix")] != nil)
        #expect(state.manifest[TreePath("d2/f2.nix")] == nil, "a kept-local path is in the state's manifest")
        let warnings = recordWarnings(t)
        try await t.sync(1, keepLocal: true)
        #expect(TestFiles.lstat(PendingLook.path(layout, sequence)) == nil, "the mark stayed")
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        #expect(try log.versions(of: TreePath("d2/f2.nix")).isEmpty)
        // (The plan's own warning, that it left the file, is not a kept version's.)
        let announced = warnings.withLock { $0 }.filter {
            $0.contains("'d2/f2.nix'") && $0.contains("smart-sync restore")
        }
        #expect(announced.isEmpty, "\(announced)")
        #expect(TestFiles.read(t.target + "/d2/f2.nix") == local)
    }

    /// The names of the objects in `t`'s store (fan-out directory and file).
    private func storeObjects(_ t: StageRecyclerTests.Setup) throws -> Set<String> {
        let objects = t.runner.store.objectsDirectory
        return Set(try FileSystem.names(in: objects).flatMap { dir in
            ((try? FileSystem.names(in: objects + "/" + dir)) ?? [""]).map { dir + "/" + $0 }
        })
    }
}

extension ValidationWindowTests {
    /// The prune leaves a generation marked for its look (``PendingLook``) whatever it keeps, and does not make it the
    /// spare; the others go as before.
    @Test func thePruneLeavesAGenerationAwaitingItsLook() throws {
        let dir = try TemporaryDirectory(prefix: "pending-look")
        defer { dir.remove() }
        let layout = SwitchLayout(target: dir["target"])
        let generations = GenerationStore(layout: layout)
        for seq in 1...3 { try TestFiles.write(layout.generation(seq) + "/tree/f", "\(seq)\n") }
        let commit = try #require(ObjectID(hex: String(repeating: "1", count: 40)))
        try PendingLook(replacedBy: commit).write(to: PendingLook.path(layout, 1))
        try generations.prune(keep: 2)
        #expect(try generations.completeSequences() == [3, 2, 1])
        #expect(generations.takeSpare() == nil, "a generation awaiting its look was made the spare")
        try generations.prune(keep: 0)
        #expect(try generations.completeSequences() == [1])
        #expect(generations.awaitsLook(1))
        try PendingLook.clear(layout, 1)
        try generations.prune(keep: 0)
        #expect(try generations.completeSequences().isEmpty)
    }
}
