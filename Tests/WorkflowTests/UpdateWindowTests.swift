import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncWorkflow
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// What the operator does to the target after `update`'s switch, while the rebuild and the post-validation run, when
/// the update then rolls back: nothing of it is lost, and a deletion stands.
@Suite(.serialized) struct UpdateWindowTests {
    /// Commits a and b of a repository where b changes `conf.nix` and leaves `same.nix`, a target synced to a with an
    /// operator's `mine.txt`, and a rebuild that (not on the run after a rollback) runs `during` in the target and
    /// fails.
    struct Setup {
        let dirs: TemporaryDirectory
        let repo: GitFixture
        var runner: SyncRunner
        let commits: [String]
        var target: String { dirs.appending("target") }

        init() async throws {
            dirs = try TemporaryDirectory(prefix: "workflow")
            repo = try GitFixture()
            try repo.write("same.nix", "same\n")
            try repo.write("conf.nix", "a\n")
            let a = try repo.commit("a")
            try repo.write("conf.nix", "b\n")
            commits = [a, try repo.commit("b")]
            runner = SyncRunner(
                source: try await LocalGitSource(path: repo.path),
                store: try ObjectStore(root: dirs.appending("store")),
                state: try StateStore(root: dirs.appending("state")))
            _ = try await runner.sync(.init(ref: commits[0], target: target))
            try TestFiles.write(target + "/mine.txt", "mine\n")
        }

        func update(during script: String) async -> UpdateReport {
            let template = "test \"$SMART_SYNC_ROLLBACK\" = 1 && exit 0; cd \"$SMART_SYNC_TARGET\" && " + script
                + "; exit 1"
            var options = UpdateWorkflow.Options(
                request: .init(ref: commits[1], target: target), checks: UpdateChecks(checks: []),
                rebuild: RebuildCommand(template: template, action: .switch, hostname: "h"))
            options.captureOutput = true
            return await UpdateWorkflow(runner: runner).run(options)
        }
    }

    /// During the rebuild the operator saves an edit of `same.nix` (which b left as a had it) and of `conf.nix`, and
    /// deletes `mine.txt`; the rebuild fails and the update rolls back to a: both edits are kept as local versions
    /// (`restore` brings them back), the target holds a's files, and `mine.txt` stays deleted.
    @Test func editsAreKeptAndADeletionStandsAcrossTheRollback() async throws {
        let t = try await Setup()
        let report = await t.update(
            during: "printf 'edited\\n' > s.tmp && mv -f s.tmp same.nix"
                + " && printf 'mine\\n' > c.tmp && mv -f c.tmp conf.nix && rm mine.txt")
        #expect(report.rolledBack, "\(String(describing: report.failure))")
        #expect(report.commitAfter?.hex == t.commits[0])
        #expect(TestFiles.read(t.target + "/same.nix") == "same\n")
        #expect(TestFiles.read(t.target + "/conf.nix") == "a\n")
        var st = stat()
        #expect(lstat(t.target + "/mine.txt", &st) != 0, "the operator's deletion was undone")
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        for (path, text) in [("same.nix", "edited\n"), ("conf.nix", "mine\n")] {
            let kept = try #require(try log.versions(of: TreePath(path)).first, "\(path) was not kept")
            #expect(String(decoding: try t.runner.store.read(kept.id), as: UTF8.self) == text)
        }
    }

    /// With `--keep-generations 0` no tree is kept to roll back to: the update says so (the failed step, and how to
    /// bring the old commit back), rather than that rolling back failed, and nothing the operator did is undone.
    @Test func withKeepGenerationsZeroTheUpdateSaysNoTreeWasKept() async throws {
        var t = try await Setup()
        t.runner.keepGenerations = 0
        let report = await t.update(during: "rm mine.txt")
        let failure = try #require(report.failure)
        #expect(!report.rolledBack)
        #expect(failure.code == .commandFailed, "\(failure.text)")
        #expect(failure.message.contains("--keep-generations 0"), "\(failure.message)")
        #expect(failure.hint?.contains("smart-sync sync --ref") == true, "\(failure.hint ?? "")")
        #expect(TestFiles.read(t.target + "/conf.nix") == "b\n")
    }
}
