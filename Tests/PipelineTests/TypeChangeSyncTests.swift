import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFetch
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

    /// Type changes both ways (file, directory, symlink) with two generations kept, so the stage is a recycled spare
    /// whose tree has another type at the path; then rollbacks across them (directory to symlink, symlink to file,
    /// symlink and file to directory). The target is each commit's tree every time.
    @Test(arguments: [SyncRunner.ApplyMode.inPlace, .stagedSwitch], [LinkMode.hardlink, .copy])
    func typeChangesThroughRecycledSparesAndRollbacks(mode: SyncRunner.ApplyMode, link: LinkMode) async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let repo = try GitFixture()
        let target = dir["target"]
        var commits: [String] = []
        try repo.write("conf", "a file\n")
        try repo.write("dd/x", "x\n")
        try repo.write("other.nix", "o\n")
        commits.append(try repo.commit("A: conf a file, dd a directory"))
        try repo.remove("conf")
        try repo.write("conf/main", "dir\n")
        try repo.remove("dd")
        try repo.symlink("dd", to: "other.nix")
        commits.append(try repo.commit("B: conf a directory, dd a symlink"))
        try repo.remove("conf")
        try repo.symlink("conf", to: "other.nix")
        try repo.remove("dd")
        try repo.write("dd", "d is a file\n")
        commits.append(try repo.commit("C: conf a symlink, dd a file"))
        try repo.remove("conf")
        try repo.write("conf/main", "dir again\n")
        try repo.remove("dd")
        try repo.write("dd/y/z", "z\n")
        commits.append(try repo.commit("D: both directories"))
        var runner = try await SyncRunner.local(repo, in: dir, mode: mode)
        runner.keepGenerations = 2
        runner.linkMode = link
        runner.commitPolicy = CommitPolicy(allowDowngrade: true)
        for i in [0, 1, 2, 3, 0, 2, 1, 3, 0, 3, 2, 1] {
            _ = try await runner.sync(.init(ref: commits[i], target: target))
            let got = try DirectorySnapshot(of: target)
            let want = try repo.archiveSnapshot(commit: commits[i])
            #expect(got == want, "sync to \(i): \(got.difference(from: want))")
        }
        // At B; C and D are kept generations (a staged switch keeps them; in place keeps none).
        guard mode == .stagedSwitch else { return }
        for i in [2, 3] {
            _ = try Rollback.run(
                target: target, to: commits[i], state: runner.state, store: runner.store, keepGenerations: 2,
                linkMode: link)
            let got = try DirectorySnapshot(of: target)
            let want = try repo.archiveSnapshot(commit: commits[i])
            #expect(got == want, "rollback to \(i): \(got.difference(from: want))")
        }
    }

    /// An operator's untracked file, and a symlink to an outside directory, where the new tree wants a directory:
    /// the sync is refused as a conflict naming it, with the file and the symlink untouched and nothing written
    /// outside.
    @Test(arguments: [SyncRunner.ApplyMode.inPlace, .stagedSwitch])
    func anUntrackedFileOrSymlinkWhereTheTreeWantsADirectoryIsRefused(mode: SyncRunner.ApplyMode) async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let repo = try GitFixture()
        let target = dir["target"]
        try repo.write("a.nix", "a\n")
        _ = try repo.commit("A")
        let runner = try await SyncRunner.local(repo, in: dir, mode: mode)
        _ = try await runner.sync(.init(ref: nil, target: target))
        try TestFiles.write(target + "/mine", "precious\n")
        let outside = try TemporaryDirectory(prefix: "sync-tests-outside")
        defer { outside.remove() }
        try TestFiles.symlink(target + "/link", to: outside.path)

        try repo.write("mine/x", "x\n")
        _ = try repo.commit("B: mine is a directory")
        let file = await #expect(throws: SmartSyncError.self) { try await runner.sync(.init(ref: nil, target: target)) }
        #expect(file?.code == .conflict, "\(String(describing: file))")
        #expect(
            file?.message.contains("'mine' is a file that is not ours") == true
                && file?.message.contains("the target was not changed") == true, "\(String(describing: file))")
        #expect(TestFiles.read(target + "/mine") == "precious\n")

        try repo.remove("mine/x")
        try repo.write("link/y", "y\n")
        _ = try repo.commit("C: link is a directory")
        let symlink = await #expect(throws: SmartSyncError.self) {
            try await runner.sync(.init(ref: nil, target: target))
        }
        #expect(symlink?.code == .conflict, "\(String(describing: symlink))")
        #expect(
            symlink?.message.contains("'link' is a symlink that is not ours") == true, "\(String(describing: symlink))")
        #expect(TestFiles.lstat(target + "/link").map { $0.st_mode & S_IFMT } == S_IFLNK)
        #expect(TestFiles.readLink(target + "/link") == outside.path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
        #expect(TestFiles.read(target + "/a.nix") == "a\n")
    }
}
