import Foundation
import GitObjects
import ObjectStore
import Sources
import Testing
import TestSupport

@testable import Sync

#if canImport(Glibc)
    import Glibc
#endif

/// The oldest generation becomes the next stage: what still holds the new tree's blobs stays (same inode, no work),
/// everything else is removed or placed, and nothing damaged or stale reaches the target.
@Suite("recycling a generation as the stage", .serialized)
struct StageRecyclerTests {
    private func inode(_ path: String) -> UInt64 {
        var st = stat()
        return lstat(path, &st) == 0 ? UInt64(st.st_ino) : 0
    }

    private func snapshot(_ repo: GitFixture, _ commit: String) throws -> DirectorySnapshot {
        let dir = try TemporaryDirectory(prefix: "archive")
        try repo.archive(commit: commit, into: dir.path)
        return try DirectorySnapshot(of: dir.path)
    }

    @Test(arguments: [LinkMode.copy, .hardlink])
    func theOldestGenerationBecomesTheStageAndOnlyWhatChangedIsWritten(_ mode: LinkMode) async throws {
        let repo = try GitFixture()
        for i in 0..<40 { try repo.write("d\(i % 4)/f\(i).nix", "{ a = \(i); }\n") }
        try repo.write("same-1", "twin\n")
        try repo.write("scripts/run.sh", "#!/bin/sh\n", executable: true)
        try repo.symlink("link", to: "d0/f0.nix")
        try repo.write("gone/only.nix", "{ }\n")
        let a = try repo.commit("A")
        try repo.write("d1/f1.nix", "{ a = 1; b = 2; }\n")
        try repo.symlink("link", to: "d1/f1.nix")
        try repo.remove("gone/only.nix")
        try repo.write("fresh/new.nix", "{ fresh = true; }\n")
        try repo.write("same-2", "twin\n")  // the same blob as same-1, at a second path
        let b = try repo.commit("B")

        let dirs = try TemporaryDirectory(prefix: "recycle")
        let target = dirs.appending("target")
        var runner = SyncRunner(
            source: try await LocalGitSource(path: repo.path), store: try ObjectStore(root: dirs.appending("store")),
            state: try StateStore(root: dirs.appending("state")))
        runner.keepGenerations = 1
        runner.linkMode = mode
        _ = try await runner.sync(.init(ref: a, target: target))
        _ = try await runner.sync(.init(ref: b, target: target))  // generation 1 holds A
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: target + "/operator.txt"))

        // The kept generation (A), about to be recycled: one file written in place (its seal broken, content wrong),
        // one that lost its seal only, one operator file of that time, and the untouched rest.
        let generation = try #require(try Rollback.generations(target: target).first)
        let keptInode = inode(generation.tree + "/d2/f2.nix")
        let damaged = generation.tree + "/d3/f3.nix"
        if mode == .copy {
            let fd = open(damaged, O_WRONLY | O_TRUNC)
            _ = "{ evil = true; }\n".withCString { write(fd, $0, strlen($0)) }
            close(fd)
        }
        chmod(generation.tree + "/d3/f7.nix", 0o644)
        try Data("stale\n".utf8).write(to: URL(fileURLWithPath: generation.tree + "/stale-operator.txt"))

        // Back to A through the recycled tree.
        let outcome = try await runner.sync(.init(ref: a, target: target))
        let applied = try #require(outcome.applied)
        #expect(applied.recycled == generation.sequence, "the stage was built from scratch")
        var got = try DirectorySnapshot(of: target)
        got.entries["operator.txt"] = nil
        let want = try snapshot(repo, a)
        #expect(got == want, "\(got.difference(from: want))")
        #expect(try String(contentsOfFile: target + "/operator.txt", encoding: .utf8) == "mine\n")
        #expect(!FileManager.default.fileExists(atPath: target + "/stale-operator.txt"))
        #expect(inode(target + "/d2/f2.nix") == keptInode, "an unchanged, intact file was written again")
        // Few writes: B→A changes 3 paths, plus the 1–2 the test damaged in the generation.
        #expect(applied.filesLinked + applied.filesReflinked + applied.filesCopied <= 5, "\(applied)")
        #expect(!applied.unchangedStats.isEmpty)
        // The files the stat cache got from the recycler are the target's now.
        let statCache = try runner.state.loadStatCache(target: target)
        #expect(statCache.entries[TreePath("d2/f2.nix")]?.stat.inode == keptInode)
    }
}
