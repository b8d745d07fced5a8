import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// What the operator makes in the target while the stage is validated (``StagedSwitchApplier/validateStage``: the
/// checks of `update`, possibly minutes) reaches the new target: the carry looks again just before the exchange.
/// With `--keep-generations 0` the outgoing tree is removed as soon as the switch stands, so anything left there
/// would be lost.
@Suite("files made while the stage is validated", .serialized)
struct ValidationWindowTests {
    /// Through the runner (the carrier passes over directories unchanged since the scan): a file at the top, one in
    /// a directory of the tree, one in a directory made meanwhile, one inside an excluded directory, and an operator's
    /// file replaced (another inode) since the first carry, in the tree and in the excluded directory.
    @Test func whatTheOperatorMakesWhileTheStageIsValidatedReachesTheTarget() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0, excludes: ["ex"])
        try TestFiles.write(t.target + "/notes/old.txt", "old\n")
        try TestFiles.write(t.target + "/ex/sub/kept.txt", "excluded\n")
        try TestFiles.write(t.target + "/mine.txt", "first\n")
        t.runner.keepGenerations = 0
        let target = t.target
        let validated = Locked(0)
        t.runner.stageValidator = { stage in
            validated.withLock { $0 += 1 }
            #expect(TestFiles.read(stage + "/mine.txt") == "first\n", "the validator sees the operator's files")
            try TestFiles.write(target + "/during.txt", "made while validating\n")
            try TestFiles.write(target + "/d2/during.txt", "in a directory of the tree\n")
            try TestFiles.write(target + "/notes/new/during.txt", "in a new directory\n")
            try TestFiles.write(target + "/ex/sub/during.txt", "in an excluded directory\n")
            try TestFiles.write(target + "/mine.txt", "second\n")
            try TestFiles.write(target + "/ex/sub/kept.txt", "excluded, edited\n")
        }
        try await t.sync(1, excludes: ["ex"])
        #expect(validated.withLock { $0 } == 1)
        #expect(TestFiles.read(t.target + "/d1/f1.nix") == "{ a = 1; b = 2; }\n", "B is the target")
        #expect(TestFiles.read(t.target + "/during.txt") == "made while validating\n")
        #expect(TestFiles.read(t.target + "/d2/during.txt") == "in a directory of the tree\n")
        #expect(TestFiles.read(t.target + "/notes/new/during.txt") == "in a new directory\n")
        #expect(TestFiles.read(t.target + "/notes/old.txt") == "old\n")
        #expect(TestFiles.read(t.target + "/ex/sub/during.txt") == "in an excluded directory\n")
        #expect(TestFiles.read(t.target + "/ex/sub/kept.txt") == "excluded, edited\n")
        #expect(TestFiles.read(t.target + "/mine.txt") == "second\n", "the operator's newer version")
        #expect(try Rollback.generations(target: t.target).isEmpty)
    }

    /// The look before the exchange (``UntrackedCarrier/changedSinceScan(_:source:)``) finds nothing in a tree as the
    /// scan saw it, so an update carries once, and finds a file made since in a directory the scan saw (deep or at the
    /// top) or in an excluded subtree (which the scan does not enter).
    @Test(arguments: ["", "/a/b", "/ex/in/deep"])
    func theLookBeforeTheExchangeFindsOnlyAChange(_ directory: String) throws {
        let dir = try TemporaryDirectory(prefix: "carry-changes")
        defer { dir.remove() }
        let source = dir["source"]
        for d in ["", "/a", "/a/b", "/c", "/ex", "/ex/in", "/ex/in/deep"] { mkdir(source + d, 0o755) }
        for f in ["/a/t", "/a/b/t", "/c/t", "/ex/in/deep/x"] { try TestFiles.write(source + f, "tree\n") }
        usleep(100_000)  // stamped well before the scan's tick
        let scan = try TargetScanner(excludes: ExcludeSet(["ex"])).scan(target: source)
        let rules = PathTable(
            sorting: [
                ("a/t", .treeFile), ("a/b/t", .treeFile), ("c/t", .treeFile), ("ex", .carryWhole),
            ] as [(TreePath, UntrackedCarrier.Rule)])
        let scanned = ScannedDirectories(
            scan.tree, startedAtNs: scan.startedAtNs,
            plan: Plan(
                commit: try #require(ObjectID(hex: String(repeating: "0", count: 40))), changes: [], blobsNeeded: []))
        let carrier = UntrackedCarrier(rules: rules)
        #expect(!carrier.changedSinceScan(scanned, source: source), "a tree as the scan saw it")
        try TestFiles.write(source + directory + "/made-since", "operator\n")
        #expect(carrier.changedSinceScan(scanned, source: source), "a file made in '\(directory)' since the scan")
    }

    /// An applier given no scan's directories (every directory is looked at again) does the same.
    @Test func withoutTheScansDirectoriesToo() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let store = try ObjectStore(root: dir["store"])
        let target = dir["target"]
        try TestFiles.write(target + "/old.txt", "old")
        let tree = FixtureTree(files: [("new.txt", .regular, "new")])
        let plan = try tree.firstSyncPlan(of: target, store: store)
        var applier = StagedSwitchApplier(keepGenerations: 0)
        applier.validateStage = { _ in try TestFiles.write(target + "/late/late.txt", "late") }
        _ = try applier.apply(plan, listing: tree.listing, store: store, target: target)
        #expect(TestFiles.read(target + "/new.txt") == "new")
        #expect(TestFiles.read(target + "/old.txt") == "old")
        #expect(TestFiles.read(target + "/late/late.txt") == "late")
    }

    /// A sync through a validator that runs `during` in the target, with `--keep-generations 0`: the error it fails
    /// with (the target then still holds A).
    private func syncFailing(_ t: StageRecyclerTests.Setup, during: @escaping @Sendable () throws -> Void) async throws
        -> SmartSyncError?
    {
        try await t.sync(0)
        t.runner.keepGenerations = 0
        t.runner.stageValidator = { _ in try during() }
        let error = await #expect(throws: SmartSyncError.self) { try await t.sync(1) }
        #expect(error?.code == .conflict, "\(String(describing: error))")
        #expect(try t.runner.state.load(target: t.target)?.commit.hex == t.commits[0])
        t.runner.stageValidator = nil
        return error
    }

    /// An edit (a new inode, as an editor saves) of a tracked file the plan replaces, and the deletion of one it
    /// changes, while the stage is validated: the keep before the stage did not see them, so the run fails before
    /// the exchange, the target untouched; the next run keeps the edit as a local version.
    @Test func anEditOfATrackedFileWhileTheStageIsValidatedFailsTheRun() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let target = t.target
        let error = try await syncFailing(t) {
            try TestFiles.write(target + "/d1/f1.nix", "{ mine = 1; }\n")  // B changes it
            try FileManager.default.removeItem(atPath: target + "/link")  // B points it elsewhere
        }
        #expect(error?.message.contains("d1/f1.nix") == true, "\(error?.message ?? "")")
        #expect(TestFiles.read(t.target + "/d1/f1.nix") == "{ mine = 1; }\n", "the operator's edit is lost")
        #expect(TestFiles.readLink(t.target + "/link") == nil)
        try await t.sync(1)
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        let kept = try #require(try log.versions(of: TreePath("d1/f1.nix")).first)
        #expect(String(decoding: try t.runner.store.read(kept.id), as: UTF8.self) == "{ mine = 1; }\n")
        try t.expectTarget(1)
    }

    /// The operator's untracked file turned into a directory while the stage is validated (and an untracked
    /// directory into a file): the carry before the exchange cannot put it in place of the one carried before,
    /// so the run fails, the target untouched, and nothing of the operator's is lost or brought back.
    @Test(arguments: [false, true])
    func anUntrackedEntryThatChangesTypeWhileTheStageIsValidatedFailsTheRun(_ fromDirectory: Bool) async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let target = t.target
        if fromDirectory {
            try TestFiles.write(target + "/u/old", "old\n")
        } else {
            try TestFiles.write(target + "/u", "a file\n")
        }
        _ = try await syncFailing(t) {
            try FileManager.default.removeItem(atPath: target + "/u")
            if fromDirectory {
                try TestFiles.write(target + "/u", "a file now\n")
            } else {
                try TestFiles.write(target + "/u/f", "in a directory now\n")
            }
        }
        let (path, text) = fromDirectory ? ("/u", "a file now\n") : ("/u/f", "in a directory now\n")
        #expect(TestFiles.read(t.target + path) == text, "the operator's new version is lost")
        try await t.sync(1)
        #expect(TestFiles.read(t.target + path) == text, "the operator's new version is lost")
        try t.expectTarget(1, ignoring: fromDirectory ? ["u"] : ["u", "u/f"])
    }
}
