import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
@testable import SmartSyncPipeline
import TestSupport
import Testing

/// `--keep-local` and kept-version records through ``SyncRunner``, with both apply modes.
@Suite(.serialized) struct KeepLocalRunnerTests {
    @Test(arguments: [SyncRunner.ApplyMode.inPlace, .stagedSwitch])
    func keepLocalLeavesTheEditAndTheNextSyncKeepsThenReplacesIt(mode: SyncRunner.ApplyMode) async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let repo = try GitFixture()
        try repo.write("conf.nix", "v1\n")
        try repo.write("other.nix", "o1\n")
        _ = try repo.commit("A")
        let runner = try await SyncRunner.local(repo, in: dir, mode: mode)
        let target = dir["target"]
        _ = try await runner.sync(.init(ref: nil, target: target))

        try TestFiles.write(target + "/conf.nix", "operator\n")  // a new inode, as an editor writes it
        try repo.write("conf.nix", "v2\n")
        try repo.write("other.nix", "o2\n")
        _ = try repo.commit("B")
        let kept = try await runner.sync(.init(ref: nil, target: target, keepLocal: true))
        #expect(kept.plan.kind("conf.nix") == .conflict)
        #expect(kept.kept.isEmpty)
        #expect(TestFiles.read(target + "/conf.nix") == "operator\n")
        #expect(TestFiles.read(target + "/other.nix") == "o2\n")

        // The same commit again, without the flag: the edit is saved, recorded, then replaced.
        let replaced = try await runner.sync(.init(ref: nil, target: target))
        #expect(replaced.plan.kind("conf.nix") == .modify)
        #expect(replaced.kept.map(\.path) == ["conf.nix"])
        #expect(TestFiles.read(target + "/conf.nix") == "v2\n")
        #expect(runner.store.contains(blob("operator\n")))
        let log = KeptVersionLog(state: runner.state, target: target)
        #expect(try log.versions(of: "conf.nix").map(\.id) == [blob("operator\n")])
        // And restore brings it back.
        _ = try Restore.run(path: "conf.nix", target: target, store: runner.store, state: runner.state)
        #expect(TestFiles.read(target + "/conf.nix") == "operator\n")
    }
}
