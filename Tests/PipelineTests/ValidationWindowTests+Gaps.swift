import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The two gaps the look before the exchange left (docs/ARCHITECTURE.md, "The carrier takes the scan's word for a
/// quiet directory"): an edit of a tracked file the plan leaves unchanged, and an untracked file deleted, while the
/// stage is validated.
extension ValidationWindowTests {
    /// A sync from A to B whose stage validator runs `during` in the target, recording the run's warnings.
    func syncThrough(
        _ t: StageRecyclerTests.Setup, excludes: [String] = [], during: @escaping @Sendable () throws -> Void
    ) async throws -> (outcome: SyncRunner.Outcome, warnings: [String]) {
        try await t.sync(0, excludes: excludes)
        let warnings = recordWarnings(t)
        t.runner.stageValidator = { _ in try during() }
        let outcome = try await t.sync(1, excludes: excludes)
        t.runner.stageValidator = nil
        return (outcome, warnings.withLock { $0 })
    }

    /// The content of `version` (nil: none), read from `t`'s store.
    func storedText(_ t: StageRecyclerTests.Setup, _ version: KeptVersion?) throws -> String? {
        try version.map { String(decoding: try t.runner.store.read($0.id), as: UTF8.self) }
    }

    /// Gives `t` a runner like its own that records the warnings of its runs, in what this returns.
    func recordWarnings(_ t: StageRecyclerTests.Setup) -> Locked<[String]> {
        let warnings = Locked<[String]>([])
        var runner = SyncRunner(source: t.runner.source, store: t.runner.store, state: t.runner.state) { event in
            if case .warning(let text) = event { warnings.withLock { $0.append(text) } }
        }
        runner.keepGenerations = t.runner.keepGenerations
        runner.linkMode = t.runner.linkMode
        runner.commitPolicy = t.runner.commitPolicy
        runner.logger = t.runner.logger
        runner.checkpoint = t.runner.checkpoint
        t.runner = runner
        return warnings
    }

    /// An edit (a new inode, as an editor saves; a symlink pointed elsewhere) of tracked paths B leaves as A had them,
    /// made while the stage is validated, with `--keep-generations 0`: the outgoing tree holding it is removed as
    /// soon as the switch stands, so it is kept as a local version first, named in a warning, as a sync keeps an
    /// edit its scan saw; the target holds B. (On main the edit went with the outgoing tree: no record, no warning.)
    @Test(arguments: [LinkMode.hardlink, .copy])
    func anEditOfAnUnchangedTrackedFileWhileTheStageIsValidatedIsKept(_ mode: LinkMode) async throws {
        let t = try await StageRecyclerTests.Setup(mode: mode)
        let target = t.target
        t.runner.keepGenerations = 0
        let (outcome, warnings) = try await syncThrough(t) {
            try TestFiles.write(target + "/d2/f2.nix", "{ mine = 2; }\n")
            try FileManager.default.removeItem(atPath: target + "/scripts/run.sh")
            try FileManager.default.createSymbolicLink(atPath: target + "/scripts/run.sh", withDestinationPath: "x")
        }
        #expect(outcome.switched)
        #expect(try Rollback.generations(target: t.target).isEmpty)
        try t.expectTarget(1)
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        let kept = try #require(try log.versions(of: TreePath("d2/f2.nix")).first)
        #expect(String(decoding: try t.runner.store.read(kept.id), as: UTF8.self) == "{ mine = 2; }\n")
        #expect(kept.replacedBy?.hex == t.commits[1])
        let link = try #require(try log.versions(of: TreePath("scripts/run.sh")).first)
        #expect(link.mode == .symlink)
        #expect(String(decoding: try t.runner.store.read(link.id), as: UTF8.self) == "x")
        #expect(warnings.contains { $0.contains("'d2/f2.nix'") && $0.contains("smart-sync restore") }, "\(warnings)")
        #expect(warnings.contains { $0.contains("'scripts/run.sh'") }, "\(warnings)")
        #expect(outcome.kept.map(\.path).sorted() == [TreePath("d2/f2.nix"), TreePath("scripts/run.sh")])
        // Nothing else was taken for an edit: the unchanged files the operator left alone are not kept.
        #expect(try log.load().count == 2)
    }

    /// With generations kept, the outgoing tree keeps such an edit (`smart-sync rollback` brings it back): no look
    /// at every unchanged file is paid for (docs/BENCHMARKS.md, "A look at every tracked file before the exchange,
    /// not taken").
    @Test func withGenerationsKeptTheEditStaysInTheOutgoingTree() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let target = t.target
        let log = RecordingLogHandler()
        t.runner.logger = log.logger
        let (outcome, warnings) = try await syncThrough(t) {
            try TestFiles.write(target + "/d2/f2.nix", "{ mine = 2; }\n")
        }
        #expect(outcome.kept.isEmpty && warnings.isEmpty, "\(warnings)")
        #expect(log.recorded.contains { $0.contains("prune") }, "\(log.recorded)")
        #expect(!log.recorded.contains { $0.contains("keep-outgoing") }, "the look ran: \(log.recorded)")
        let generation = try #require(try Rollback.generations(target: t.target).first)
        #expect(TestFiles.read(generation.tree + "/d2/f2.nix") == "{ mine = 2; }\n")
        try t.expectTarget(1)
    }

    /// With `--keep-generations 0`, a failure to keep those edits (here a checkpoint standing for a full store) fails
    /// the run after the switch at its own step, naming the generation left in place and how to restore from it;
    /// the edit is there.
    @Test func aFailedKeepOfTheWindowEditsNamesTheGenerationLeft() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let target = t.target
        t.runner.keepGenerations = 0
        let armed = Locked(false)  // from the second sync's validation on
        t.runner.checkpoint = { if $0 == "keep-edits" && armed.withLock({ $0 }) { throw SmartSyncError(.io, "full") } }
        do {
            _ = try await syncThrough(t) {
                try TestFiles.write(target + "/d2/f2.nix", "{ mine = 2; }\n")
                armed.withLock { $0 = true }
            }
            Issue.record("the sync did not fail")
        } catch let failed as FailedAfterSwitch<SyncRunner.Outcome> {
            #expect(failed.step == .keepEdits)
            let generation = try #require(try Rollback.generations(target: t.target).first)
            #expect(TestFiles.read(generation.tree + "/d2/f2.nix") == "{ mine = 2; }\n")
            let message = failed.error.message
            #expect(message.contains("generation \(generation.sequence)"), "\(message)")
            // Not `restore PATH --generation N`: it refuses a file that is neither the generation's nor a kept record.
            #expect(message.contains("'\(generation.tree)'"), "\(message)")
            #expect(!message.contains("--generation"), "\(message)")
        }
    }

    /// The operator's untracked files deleted while the stage is validated (a file at the top, a whole untracked
    /// directory, a file inside an excluded directory, and one renamed) stay deleted in the new target: the carry
    /// before the exchange removes from the stage what the first carry linked there and the target no longer has.
    /// The operator's other files, and B's, are all there. (On main the stage kept the first carry's links: they
    /// came back.)
    /// With `--keep-generations 0` too, where a file with another link is dropped only when the walk carried it to
    /// another path (``UntrackedCarrier/Drops``).
    @Test(arguments: [3, 0])
    func anUntrackedFileDeletedWhileTheStageIsValidatedStaysDeleted(keep: Int) async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        t.runner.keepGenerations = keep
        let target = t.target
        let mine = [
            "mine.txt", "kept.txt", "notes/a.txt", "notes/deep/b.txt", "d2/local.txt", "d3/moved.txt",
            "ex/sub/gone.txt", "ex/sub/stays.txt", "ex/deep/x/y.txt",
        ]
        for path in mine { try TestFiles.write(target + "/" + path, path + "\n") }
        _ = try await syncThrough(t, excludes: ["ex"]) {
            let fm = FileManager.default
            try fm.removeItem(atPath: target + "/mine.txt")
            try fm.removeItem(atPath: target + "/notes")
            try fm.removeItem(atPath: target + "/d2/local.txt")
            try fm.moveItem(atPath: target + "/d3/moved.txt", toPath: target + "/d3/renamed.txt")
            try fm.removeItem(atPath: target + "/ex/sub/gone.txt")
            try fm.removeItem(atPath: target + "/ex/deep/x")
        }
        for gone in ["mine.txt", "notes", "d2/local.txt", "d3/moved.txt", "ex/sub/gone.txt", "ex/deep/x"] {
            var st = stat()
            #expect(lstat(t.target + "/" + gone, &st) != 0, "'\(gone)' came back")
        }
        #expect(TestFiles.read(t.target + "/kept.txt") == "kept.txt\n")
        #expect(TestFiles.read(t.target + "/d3/renamed.txt") == "d3/moved.txt\n")
        #expect(TestFiles.read(t.target + "/ex/sub/stays.txt") == "ex/sub/stays.txt\n")
        for path in ["kept.txt", "d3/renamed.txt", "ex"] {
            try FileManager.default.removeItem(atPath: target + "/" + path)
        }
        try t.expectTarget(1)
    }
}

extension UntrackedCarrierTests {
    /// The carry before the exchange (``UntrackedCarrier/carryChanges(from:into:)``, on one thread or shared out)
    /// removes from the destination what the carry before linked there and the source no longer has (an operator's
    /// file, a directory of them, one renamed), and nothing of the new tree's (a tree file the operator deleted in the
    /// source: the new tree has it back, as a sync puts it back; a directory of the tree with nothing of the
    /// operator's left).
    @Test(arguments: carrySplits)
    func theCarryBeforeTheExchangeDropsOnlyWhatWasCarriedAndIsGone(_ split: StageRecycler.Split?) throws {
        let dir = try TemporaryDirectory(prefix: "carrier")
        defer { dir.remove() }
        let (source, destination) = (dir["source"], dir["destination"])
        let tree = ["deep/a/t", "deep/b/t", "z/t", "y/t"]
        for root in [source, destination] {
            for f in tree { try TestFiles.write(root + "/" + f, "tree\n") }
        }
        for f in ["deep/a/mine", "deep/b/mine", "z/mine", "own/x/f", "own/g", "y/mine"] {
            try TestFiles.write(source + "/" + f, "operator\n")
        }
        var carrier = UntrackedCarrier(rules: PathTable(sorting: tree.map { (TreePath($0), Rule.treeFile) }))
        carrier.split = split
        try carrier.carry(from: source, into: destination)
        #expect(TestFiles.read(destination + "/own/x/f") == "operator\n")
        for gone in ["deep/a/mine", "z/t", "own", "y"] {
            try FileManager.default.removeItem(atPath: source + "/" + gone)
        }
        #expect(rename(source + "/z/mine", source + "/z/renamed") == 0)
        try carrier.carryChanges(from: source, into: destination)
        for gone in ["deep/a/mine", "own", "z/mine", "y/mine"] {
            #expect(Self.stat(destination, TreePath(gone)) == nil, "'\(gone)' came back")
        }
        for kept in ["deep/a/t", "deep/b/t", "deep/b/mine", "z/t", "z/renamed", "y/t"] {
            #expect(Self.stat(destination, TreePath(kept)) != nil, "'\(kept)' went")
        }
    }
}

extension UntrackedCarrierTests {
    /// The operator moves a file during the carry before the exchange, into a directory the walk listed already: the
    /// source lacks the old path, and the walk never sees the new one. The destination's link at the old path stays
    /// (the move comes back as a copy) rather than going with nothing carried in its place, which the prune of the
    /// outgoing tree (`--keep-generations 0`) would make a loss. Simulated by a link outside the source made before
    /// the carry. A file deleted beside it still goes. (With the outgoing tree kept as a generation, the file moved is
    /// there; the test of the drop above.)
    @Test(arguments: carrySplits)
    func aFileMovedWhereTheWalkHadLookedStays(_ split: StageRecycler.Split?) throws {
        let dir = try TemporaryDirectory(prefix: "carrier")
        defer { dir.remove() }
        let (source, destination) = (dir["source"], dir["destination"])
        for root in [source, destination] { try TestFiles.write(root + "/a/t", "tree\n") }
        for f in ["z/moved", "z/gone", "a/mine"] { try TestFiles.write(source + "/" + f, f + "\n") }
        var carrier = UntrackedCarrier(rules: PathTable(sorting: [(TreePath("a/t"), Rule.treeFile)]))
        carrier.split = split
        carrier.outgoingKept = false
        try carrier.carry(from: source, into: destination)
        #expect(link(source + "/z/moved", dir["elsewhere"]) == 0)
        for gone in ["z/moved", "z/gone"] { try FileManager.default.removeItem(atPath: source + "/" + gone) }
        try carrier.carryChanges(from: source, into: destination)
        #expect(TestFiles.read(destination + "/z/moved") == "z/moved\n", "the moved file was dropped")
        #expect(Self.stat(destination, TreePath("z/gone")) == nil, "'z/gone' came back")
        #expect(TestFiles.read(destination + "/a/mine") == "a/mine\n")
    }
}
