import Glibc
import SmartSyncGitObjects
@testable import SmartSyncPipeline
import TestSupport
import Testing

/// A commit that turns a synced file into a directory (and back, and a symlink into one) syncs: the look again
/// before the apply (``SyncRunner/recheck(_:target:)``) reads the new tree's paths below what is still a file or a
/// symlink in the target as nothing there, not as an error (every sync of such a commit failed with "Not a
/// directory").
@Suite(.serialized) struct TypeChangeSyncTests {
    @Test(arguments: [SyncRunner.ApplyMode.inPlace, .stagedSwitch])
    func aFileBecomesADirectoryAndBack(mode: SyncRunner.ApplyMode) async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let repo = try GitFixture()
        let target = dir["target"]
        try repo.write("conf", "a file\n")
        try repo.write("other.nix", "o\n")
        _ = try repo.commit("A: conf is a file")
        let runner = try await SyncRunner.local(repo, in: dir, mode: mode)
        _ = try await runner.sync(.init(ref: nil, target: target))
        #expect(TestFiles.read(target + "/conf") == "a file\n")

        try repo.remove("conf")
        try repo.write("conf/main", "in a directory\n")
        try repo.write("conf/sub/deep", "deeper\n")
        _ = try repo.commit("B: conf is a directory")
        let toDirectory = try await runner.sync(.init(ref: nil, target: target))
        #expect(toDirectory.plan.kind("conf") == .delete && toDirectory.plan.kind("conf/main") == .add)
        #expect(TestFiles.read(target + "/conf/main") == "in a directory\n")
        #expect(TestFiles.read(target + "/conf/sub/deep") == "deeper\n")

        try repo.remove("conf")
        try repo.write("conf", "a file again\n")
        _ = try repo.commit("C: conf is a file again")
        _ = try await runner.sync(.init(ref: nil, target: target))
        #expect(TestFiles.read(target + "/conf") == "a file again\n")

        try repo.remove("conf")
        try repo.symlink("conf", to: "other.nix")
        _ = try repo.commit("D: conf is a symlink")
        _ = try await runner.sync(.init(ref: nil, target: target))
        #expect(TestFiles.lstat(target + "/conf").map { $0.st_mode & S_IFMT } == S_IFLNK)

        try repo.remove("conf")
        try repo.write("conf/main", "a directory again\n")
        _ = try repo.commit("E: the symlink becomes a directory")
        _ = try await runner.sync(.init(ref: nil, target: target))
        #expect(TestFiles.read(target + "/conf/main") == "a directory again\n")
        let again = try await runner.sync(.init(ref: nil, target: target))
        #expect(again.summary.upToDate)
    }
}
