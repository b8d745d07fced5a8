import Foundation
import Glibc
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A rollback brings back the generation's tree and the operator's files of now, from the target: nothing the target
/// held beside the tree when the generation was kept (a file the operator deleted since, an empty directory), and
/// nothing a killed run left in the generation's tree.
@Suite("what a rollback brings back", .serialized)
struct RollbackTreeTests {
    private func rollback(_ t: StageRecyclerTests.Setup, to commit: String) throws -> Rollback.Outcome {
        try Rollback.run(
            target: t.target, to: commit, state: t.runner.state, store: t.runner.store, keepGenerations: 1,
            linkMode: t.runner.linkMode)
    }

    private func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    private func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// The operator's files come from the target as it is now: one deleted since the generation was kept stays
    /// deleted (with its directory, and an empty directory of theirs), one rewritten since has its new content, one
    /// made since arrives; the generation's own tree is whole.
    @Test(arguments: [LinkMode.hardlink, .copy])
    func operatorFilesComeFromTheTargetOfNowNotFromTheGeneration(_ mode: LinkMode) async throws {
        let t = try await StageRecyclerTests.Setup(mode: mode)
        try await t.sync(0)
        try write(t.target + "/notes/todo.txt", "call the vendor\n")
        try write(t.target + "/d0/local.conf", "debug = true\n")
        try write(t.target + "/keep.txt", "first\n")
        mkdir(t.target + "/scratch", 0o755)
        try await t.sync(1)  // generation 1: A's tree with all of the above
        let generation = try #require(try Rollback.generations(target: t.target).first)
        #expect(exists(generation.tree + "/notes/todo.txt") && exists(generation.tree + "/scratch"))

        // The operator tidies up while B is the target.
        try FileManager.default.removeItem(atPath: t.target + "/notes")
        try FileManager.default.removeItem(atPath: t.target + "/d0/local.conf")
        try FileManager.default.removeItem(atPath: t.target + "/scratch")
        try FileManager.default.removeItem(atPath: t.target + "/keep.txt")
        try write(t.target + "/keep.txt", "second\n")
        try write(t.target + "/fresh/mine.txt", "made under B\n")

        let outcome = try rollback(t, to: t.commits[0])
        #expect(!exists(t.target + "/notes"), "a directory the operator deleted came back from the generation")
        #expect(!exists(t.target + "/d0/local.conf"), "a file the operator deleted came back from the generation")
        #expect(!exists(t.target + "/scratch"), "an empty directory the operator deleted came back")
        #expect(try String(contentsOfFile: t.target + "/keep.txt", encoding: .utf8) == "second\n")
        #expect(try String(contentsOfFile: t.target + "/fresh/mine.txt", encoding: .utf8) == "made under B\n")
        #expect(outcome.carried >= 2)
        try t.expectTarget(0, ignoring: ["keep.txt", "fresh/mine.txt"])
    }

    /// A run killed in `DirectoryMetadata.reset` leaves its probe, an empty `.smart-sync-tmp-*` directory, in a
    /// directory of the generation's tree (the parent of one the carrier settles); a killed in-place write leaves a
    /// temporary file. Planted as such a run leaves them, they never reach the target.
    @Test func whatAKilledRunLeftInTheGenerationDoesNotReachTheTarget() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        try await t.sync(1)
        let generation = try #require(try Rollback.generations(target: t.target).first)
        // `gone/` is A's and not B's: the carrier resets it, its probe made in the tree's root.
        let probes = [
            generation.tree + "/" + Materializer.temporaryName(),
            generation.tree + "/d0/" + Materializer.temporaryName(),
        ]
        for probe in probes { #expect(mkdir(probe, 0o755) == 0) }
        let file = generation.tree + "/d1/" + Materializer.temporaryName()
        try write(file, "half written\n")

        _ = try rollback(t, to: t.commits[0])
        try t.expectTarget(0)
        let left = try FileManager.default.subpathsOfDirectory(atPath: t.target).filter {
            ($0 as NSString).lastPathComponent.hasPrefix(Materializer.temporaryPrefix)
        }
        #expect(left.isEmpty, "a killed run's leftovers reached the target: \(left)")
    }

    /// A rollback to the tree found before the first sync (no manifest: all of it the operator's of that time) brings
    /// it back as it was kept.
    @Test func theTreeFoundBeforeTheFirstSyncComesBackWhole() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try write(t.target + "/before/sync.txt", "found\n")
        try await t.sync(0)
        try FileManager.default.removeItem(atPath: t.target + "/before")
        let found = try #require(try Rollback.generations(target: t.target).first { $0.state == nil })
        _ = try Rollback.run(
            target: t.target, to: String(found.sequence), state: t.runner.state, store: t.runner.store,
            keepGenerations: 1, linkMode: t.runner.linkMode)
        #expect(try String(contentsOfFile: t.target + "/before/sync.txt", encoding: .utf8) == "found\n")
    }

    /// A path `--keep-local` left alone when the generation was the target is in its state's `keptLocal`, not its
    /// manifest: it is a file of the generation's commit all the same, and a rollback must not lose it.
    @Test func aKeptLocalPathOfTheGenerationSurvivesTheRollback() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        let path = t.target + "/d2/f2.nix"
        #expect(unlink(path) == 0)
        try write(path, "{ local = true; }\n")
        try await t.sync(1, keepLocal: true)  // B with the operator's d2/f2.nix (state.keptLocal)
        try await t.sync(2)  // C replaces it; generation: B's tree, with the local version
        let generation = try #require(try Rollback.generations(target: t.target).first)
        #expect(generation.state?.keptLocal.entries.isEmpty == false)
        _ = try rollback(t, to: t.commits[1])
        #expect(exists(path), "a tracked path of the generation's commit (kept local then) is gone after the rollback")
    }
}
