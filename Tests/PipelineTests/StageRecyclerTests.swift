import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The spare tree becomes the next stage: what it can be vouched for to hold stays (same inode, no work), everything
/// else is removed or placed, and nothing damaged, stale or outdated reaches the target.
@Suite("recycling the spare tree as the stage", .serialized)
struct StageRecyclerTests {
    /// A repository with commits A, B, C and a runner keeping one generation (plus the spare) of `target`.
    final class Setup: @unchecked Sendable {
        let repo: GitFixture
        let dirs: TemporaryDirectory
        var runner: SyncRunner
        let target: String
        var commits: [String] = []

        /// `under`: where the target, the store and the state go (default: a temporary directory).
        init(mode: LinkMode, under: String? = nil) async throws {
            repo = try GitFixture()
            for i in 0..<40 { try repo.write("d\(i % 4)/f\(i).nix", "{ a = \(i); }\n") }
            try repo.write("same-1", "twin\n")
            try repo.write("scripts/run.sh", "#!/bin/sh\n", executable: true)
            try repo.symlink("link", to: "d0/f0.nix")
            try repo.write("gone/only.nix", "{ }\n")
            commits.append(try repo.commit("A"))
            try repo.write("d1/f1.nix", "{ a = 1; b = 2; }\n")
            try repo.symlink("link", to: "d1/f1.nix")
            try repo.remove("gone/only.nix")
            try repo.write("fresh/new.nix", "{ fresh = true; }\n")
            try repo.write("same-2", "twin\n")  // the same blob as same-1, at a second path
            commits.append(try repo.commit("B"))
            try repo.write("d0/f4.nix", "{ a = 9; }\n")  // the same size as A's and B's "{ a = 4; }"
            try repo.write("scripts/run.sh", "#!/bin/sh\n#\n", executable: true)
            commits.append(try repo.commit("C"))
            dirs = try TemporaryDirectory(prefix: "recycle")
            let root = under ?? dirs.path
            target = root + "/target"
            runner = SyncRunner(
                source: try await LocalGitSource(path: repo.path), store: try ObjectStore(root: root + "/store"),
                state: try StateStore(root: root + "/state"))
            runner.keepGenerations = 1
            runner.linkMode = mode
            // The tests move back and forth between the commits on purpose.
            runner.commitPolicy = CommitPolicy(allowDowngrade: true)
        }

        @discardableResult
        func sync(_ i: Int, excludes: [String] = [], keepLocal: Bool = false) async throws -> SyncRunner.Outcome {
            try await runner.sync(.init(ref: commits[i], target: target, excludes: excludes, keepLocal: keepLocal))
        }

        var spare: String {
            (target as NSString).deletingLastPathComponent + "/.target.smart-sync/generations/spare/tree"
        }

        func expectTarget(_ i: Int, ignoring: Set<String> = [], _ location: SourceLocation = #_sourceLocation) throws {
            var got = try DirectorySnapshot(of: target)
            for path in ignoring { got.entries[path] = nil }
            let want = try repo.archiveSnapshot(commit: commits[i])
            #expect(got == want, "\(got.difference(from: want))", sourceLocation: location)
        }
    }

    func inode(_ path: String) -> UInt64 {
        var st = stat()
        return lstat(path, &st) == 0 ? UInt64(st.st_ino) : 0
    }

    /// Writes `text` (of the same length) over the start of `path` in place and puts its sealed time back: only the
    /// ctime shows the write.
    static func writeKeepingTheSeal(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY)
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        var times = [timespec(tv_sec: 1, tv_nsec: 0), timespec(tv_sec: 1, tv_nsec: 0)]
        utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    }

    @Test(arguments: [LinkMode.hardlink, .copy])
    func aSameSizeChangeIsWrittenThroughARecycledStage(_ mode: LinkMode) async throws {
        let t = try await Setup(mode: mode)
        for i in [0, 1, 2, 1] { try await t.sync(i) }  // the spare now holds B's tree
        #expect(FileManager.default.fileExists(atPath: t.spare))
        let outcome = try await t.sync(2)  // B's tree recycled into C: d0/f4.nix keeps its size, not its content
        #expect(outcome.applied?.recycled == true)
        try t.expectTarget(2)
        #expect(try String(contentsOfFile: t.target + "/d0/f4.nix", encoding: .utf8) == "{ a = 9; }\n")
        #expect(try String(contentsOfFile: t.target + "/scripts/run.sh", encoding: .utf8) == "#!/bin/sh\n#\n")
    }

    /// A spare's file is kept without an `lstat` of its own only when `readdir` says it is the very inode the scan
    /// saw at that path of the target: one replaced by another inode (same content size, sealed, the stat cache's
    /// size and times) is looked at, not vouched for, and placed from the store.
    @Test func aSpareFileIsKeptByItsInodeOnlyWhenItIsTheScannedOne() async throws {
        let t = try await Setup(mode: .hardlink)
        for i in [0, 1, 2] { try await t.sync(i) }  // the spare holds A's tree, the target C's
        let shared = inode(t.target + "/d2/f2.nix")
        #expect(inode(t.spare + "/d2/f2.nix") == shared, "hard links of one store object")
        let replaced = t.spare + "/d3/f3.nix"
        #expect(unlink(replaced) == 0)
        try Data("{ b = 3; }\n".utf8).write(to: URL(fileURLWithPath: replaced))
        chmod(replaced, 0o444)
        Self.writeKeepingTheSeal(replaced, "{ b = 3; }\n")
        #expect(inode(replaced) != inode(t.target + "/d3/f3.nix"))

        let outcome = try await t.sync(0)
        #expect(outcome.applied?.recycled == true)
        try t.expectTarget(0)
        #expect(inode(t.target + "/d2/f2.nix") == shared, "the scanned inode was written again")
        #expect(try String(contentsOfFile: t.target + "/d3/f3.nix", encoding: .utf8) == "{ a = 3; }\n")
        // The kept file's stat data, the scan's, is the target's now.
        let statCache = try t.runner.state.loadStatCache(target: t.target)
        var st = stat()
        #expect(lstat(t.target + "/d2/f2.nix", &st) == 0)
        #expect(statCache.trustedID(for: TreePath("d2/f2.nix"), stat: StatData(st)) != nil)
    }

    @Test(arguments: [LinkMode.copy, .hardlink])
    func theRecycledStageKeepsOnlyWhatItCanVouchFor(_ mode: LinkMode) async throws {
        let t = try await Setup(mode: mode)
        for i in [0, 1, 2] { try await t.sync(i) }  // the spare holds A's tree
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: t.target + "/operator.txt"))
        let keptInode = inode(t.spare + "/d2/f2.nix")
        if mode == .copy {
            // Written in place with its time and size put back: only its ctime (the stat cache) gives it away.
            Self.writeKeepingTheSeal(t.spare + "/d3/f3.nix", "{ b = 3; }\n")
        }
        chmod(t.spare + "/d3/f7.nix", 0o644)
        try Data("stale\n".utf8).write(to: URL(fileURLWithPath: t.spare + "/stale-operator.txt"))

        let outcome = try await t.sync(0)  // back to A through the recycled tree
        let applied = try #require(outcome.applied)
        #expect(applied.recycled, "the stage was built from scratch")
        try t.expectTarget(0, ignoring: ["operator.txt"])
        #expect(try String(contentsOfFile: t.target + "/operator.txt", encoding: .utf8) == "mine\n")
        #expect(!FileManager.default.fileExists(atPath: t.target + "/stale-operator.txt"))
        #expect(inode(t.target + "/d2/f2.nix") == keptInode, "an unchanged, intact file was written again")
        // Few writes: C→A changes 5 paths, plus the 1–2 the test damaged in the spare.
        #expect(applied.filesLinked + applied.filesReflinked + applied.filesCopied <= 8, "\(applied)")
        // The files the stat cache got from the recycler are the target's now.
        let statCache = try t.runner.state.loadStatCache(target: t.target)
        #expect(statCache.entries[TreePath("d2/f2.nix")]?.stat.inode == keptInode)
        // Two paths of one blob never share an inode.
        #expect(inode(t.target + "/same-1") != inode(t.target + "/d2/f2.nix"))
    }

    @Test(arguments: [LinkMode.hardlink, .copy])
    func aBlobKeptAtOnePathAndPlacedAtAnotherGetsTwoInodes(_ mode: LinkMode) async throws {
        let t = try await Setup(mode: mode)
        for i in [0, 1, 2] { try await t.sync(i) }  // the spare holds A's tree: same-1, but not same-2
        let kept = inode(t.spare + "/same-1")
        let outcome = try await t.sync(1)  // B adds same-2, the blob same-1 holds
        #expect(outcome.applied?.recycled == true)
        try t.expectTarget(1)
        #expect(inode(t.target + "/same-1") == kept, "the kept file was written again")
        #expect(inode(t.target + "/same-2") != inode(t.target + "/same-1"), "two paths of one blob share an inode")
    }

    @Test func theOutgoingGenerationKeepsTheStatCacheItsTreeHad() async throws {
        let t = try await Setup(mode: .hardlink)
        for i in [0, 1] { try await t.sync(i) }
        let before = try t.runner.state.loadStatCache(target: t.target)  // B's tree as the last run saw it
        #expect(before.entries.count > 40)
        let outcome = try await t.sync(2)
        let generation = try #require(outcome.applied?.generation)
        let sidecar = (t.target as NSString).deletingLastPathComponent + "/.target.smart-sync"
        // Copied as the run saved it before the stage (not read and encoded again): the same entries, B's files.
        let filed = try StatCache.load(from: sidecar + "/generations/\(generation)/stat-cache")
        #expect(filed.entries.keys == before.entries.keys)
        #expect(filed.entries.values.map(\.id) == before.entries.values.map(\.id))
        #expect(filed.entries.values.map(\.stat) == before.entries.values.map(\.stat))
        // The target's own cache is the new tree's.
        let after = try t.runner.state.loadStatCache(target: t.target)
        #expect(after.entries[TreePath("d0/f4.nix")]?.id != before.entries[TreePath("d0/f4.nix")]?.id)
    }

    @Test func excludedPathsAndKeptLocalVersionsComeFromTheTargetNotTheStore() async throws {
        let t = try await Setup(mode: .hardlink)
        for i in [0, 1, 2] { try await t.sync(i, excludes: ["d3/f3.nix"]) }
        // The operator's own version of an excluded tree path, and an edit kept with --keep-local.
        try? FileManager.default.removeItem(atPath: t.target + "/d3/f3.nix")
        try Data("operator's f3\n".utf8).write(to: URL(fileURLWithPath: t.target + "/d3/f3.nix"))
        try? FileManager.default.removeItem(atPath: t.target + "/d2/f6.nix")
        try Data("operator's f6\n".utf8).write(to: URL(fileURLWithPath: t.target + "/d2/f6.nix"))
        let outcome = try await t.sync(0, excludes: ["d3/f3.nix"], keepLocal: true)
        #expect(outcome.applied?.recycled == true)
        #expect(try String(contentsOfFile: t.target + "/d3/f3.nix", encoding: .utf8) == "operator's f3\n")
        #expect(try String(contentsOfFile: t.target + "/d2/f6.nix", encoding: .utf8) == "operator's f6\n")
    }

    @Test func aSwitchThatFailsCostsTheSpareNotAGeneration() async throws {
        let t = try await Setup(mode: .hardlink)
        for i in [0, 1, 2] { try await t.sync(i) }
        #expect(try Rollback.generations(target: t.target).count == 1)
        t.runner.stageValidator = { _ in throw SmartSyncError(.checksFailed, "the stage fails its checks (test)") }
        await #expect(throws: SmartSyncError.self) { try await t.sync(0) }
        #expect(try Rollback.generations(target: t.target).count == 1, "a failed switch took a generation")
        try t.expectTarget(2)
        t.runner.stageValidator = nil
        try await t.sync(0)
        try t.expectTarget(0)
    }

    @Test func keepingNoGenerationsKeepsNoSpare() async throws {
        let t = try await Setup(mode: .hardlink)
        for i in [0, 1, 2] { try await t.sync(i) }
        #expect(FileManager.default.fileExists(atPath: t.spare))
        t.runner.keepGenerations = 0
        let outcome = try await t.sync(1)
        #expect(outcome.applied?.recycled == false, "nothing is kept, so nothing is recycled")
        let generations = (t.spare as NSString).deletingLastPathComponent.replacingOccurrences(of: "/spare", with: "")
        #expect(try FileManager.default.contentsOfDirectory(atPath: generations) == [], "nothing beyond the target")
        try t.expectTarget(1)
    }

    @Test func aSpareWithoutItsTreeIsRemoved() async throws {
        let t = try await Setup(mode: .hardlink)
        for i in [0, 1, 2] { try await t.sync(i) }
        let spare = (t.spare as NSString).deletingLastPathComponent
        try FileManager.default.removeItem(atPath: t.spare)  // say, a crash in the middle of its removal
        let outcome = try await t.sync(1)
        #expect(outcome.applied?.recycled == false)
        try t.expectTarget(1)
        // The broken spare went and the generation beyond the one kept took its place.
        #expect(FileManager.default.fileExists(atPath: t.spare))
        #expect(FileManager.default.contents(atPath: spare + "/state")?.isEmpty == false)
    }
}

/// A rollback checks the generation it brings back: every file and symlink must hold its blob (vouched for, or read),
/// and a repaired file never shares an inode with another path.
@Suite("rollback's check of a generation", .serialized)
struct GenerationRepairTests {
    private func inode(_ path: String) -> UInt64 {
        var st = stat()
        return lstat(path, &st) == 0 ? UInt64(st.st_ino) : 0
    }

    private func rollback(_ t: StageRecyclerTests.Setup, to commit: String) throws -> Rollback.Outcome {
        try Rollback.run(
            target: t.target, to: commit, state: t.runner.state, store: t.runner.store, keepGenerations: 1,
            linkMode: t.runner.linkMode)
    }

    @Test func anEditThatPutItsTimeBackIsNotRolledBackTo() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .copy)
        try await t.sync(0)
        // Written in place, time and size put back: the scan sees it (ctime), keeps it, and the generation has it.
        StageRecyclerTests.writeKeepingTheSeal(t.target + "/d2/f2.nix", "{ E = 2; }\n")
        try await t.sync(1)
        let outcome = try rollback(t, to: t.commits[0])
        #expect(outcome.repaired.contains(TreePath("d2/f2.nix")), "\(outcome.repaired)")
        try t.expectTarget(0)
    }

    @Test func aRetargetedSymlinkIsNotRolledBackTo() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        try await t.sync(1)
        // Generation 1 holds A's tree: its symlink is pointed elsewhere.
        let generation = try #require(try Rollback.generations(target: t.target).first)
        unlink(generation.tree + "/link")
        symlink("/etc/shadow", generation.tree + "/link")
        let outcome = try rollback(t, to: t.commits[0])
        #expect(outcome.repaired.contains(TreePath("link")))
        try t.expectTarget(0)
    }

    @Test func aRepairedFileGetsAnInodeOfItsOwn() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try t.repo.write("same-2", "twin\n")
        let twins = try t.repo.commit("A with twins")
        t.commits[0] = twins
        try await t.sync(0)
        try await t.sync(1)
        let generation = try #require(try Rollback.generations(target: t.target).first)
        // One of the twins, replaced in the generation by something else.
        unlink(generation.tree + "/same-2")
        try Data("other\n".utf8).write(to: URL(fileURLWithPath: generation.tree + "/same-2"))
        _ = try rollback(t, to: twins)
        try t.expectTarget(0)
        #expect(inode(t.target + "/same-1") != inode(t.target + "/same-2"), "two paths share one inode")
    }
}
