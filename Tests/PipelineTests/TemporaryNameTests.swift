import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// Names of the exact shape of the tool's own temporary files (`.smart-sync-tmp-<hex>`). The scan passes over such a
/// file as a killed run's leftover, so a tracked one would be seen by the recheck and not by the scan: every later
/// sync failed with a conflict. A listing naming one is refused; a directory of that shape is the operator's.
@Suite(.serialized) struct TemporaryNameTests {
    /// A repository at commit `good`, then `bad` adding `path`; a target synced to `good`.
    private struct Fixture {
        let dirs: TemporaryDirectory
        let repo: GitFixture
        let runner: SyncRunner
        let good: String
        var target: String { dirs.appending("target") }

        init() async throws {
            dirs = try TemporaryDirectory(prefix: "tmpnames")
            repo = try GitFixture()
            try repo.write("conf.nix", "a\n")
            good = try repo.commit("good")
            runner = SyncRunner(
                source: try await LocalGitSource(path: repo.path),
                store: try ObjectStore(root: dirs.appending("store")),
                state: try StateStore(root: dirs.appending("state")))
            _ = try await runner.sync(.init(ref: good, target: target))
        }
    }

    /// `refused`: the entry the error names (a directory of that shape is refused before what it holds).
    @Test(arguments: [
        (".smart-sync-tmp-0123abcd", ".smart-sync-tmp-0123abcd"), ("etc/.smart-sync-tmp-ff", "etc/.smart-sync-tmp-ff"),
        ("etc/.smart-sync-tmp-0123456789abcdef/inner.conf", "etc/.smart-sync-tmp-0123456789abcdef"),
    ])
    func aTrackedPathOfTheTemporaryShapeIsRefusedWithTheTargetUntouched(path: String, refused: String) async throws {
        let f = try await Fixture()
        try f.repo.write(path, "from the repository\n")
        try f.repo.write("conf.nix", "b\n")
        let bad = try f.repo.commit("bad")
        expectRefusal(
            of: refused,
            try await #require(throws: SmartSyncError.self, "a tree with '\(path)' was synced") {
                try await f.runner.sync(.init(ref: bad, target: f.target))
            })
        #expect(TestFiles.read(f.target + "/conf.nix") == "a\n")
        #expect(TestFiles.lstat(f.target + "/" + path) == nil)
        #expect(try f.runner.state.load(target: f.target)?.commit.hex == f.good)
    }

    /// A target as an earlier release left it synced to a commit that adds `path` (no check of the temporary shape
    /// then): the file in the target, the state at that commit with the path in its manifest. Returns the commit.
    private func syncedByAnEarlierRelease(_ f: Fixture, adding path: String) async throws -> String {
        try f.repo.write(path, "from the repository\n")
        let commit = try f.repo.commit("bad")
        let source = try await LocalGitSource(path: f.repo.path)
        let listing = try await source.listing(for: try await source.resolve(commit))
        try TestFiles.write(f.target + "/" + path, "from the repository\n")
        try f.runner.state.save(
            TargetState(
                target: f.target, commit: listing.commit, ref: commit, appliedAtNs: SyncRunner.nowNs(),
                manifest: Manifest(listing: listing)))
        return commit
    }

    /// Expects `error` to be the refusal of the tree entry `path`, of the temporary shape.
    private func expectRefusal(of path: String, _ error: SmartSyncError) {
        #expect(error.code == .unsafePath, "\(error)")
        #expect(error.message.contains("'\(path)'") && error.message.contains("temporary"), "\(error.message)")
        #expect(error.hint?.contains("rename it in the repository") == true, "\(error.hint ?? "")")
    }

    /// Syncs (or plans) `commit` expecting the refusal of `path`, the target untouched.
    private func expectRefused(_ f: Fixture, _ commit: String, _ path: String, plan: Bool = false) async throws {
        let request = SyncRunner.Request(ref: commit, target: f.target)
        expectRefusal(
            of: path,
            try await #require(
                throws: SmartSyncError.self, "a tree holding '\(path)' was \(plan ? "planned" : "synced")"
            ) {
                _ = plan ? try await f.runner.plan(request) : try await f.runner.sync(request)
            })
        #expect(TestFiles.read(f.target + "/" + path) == "from the repository\n")
        #expect(try f.runner.state.load(target: f.target)?.commit.hex == commit)
    }

    /// At the commit the target has, the listing is the saved manifest, not checked again: such a path there was
    /// passed over by the scan and seen by the recheck, and every sync failed with "changed while this sync ran"
    /// (and `plan` showed one add for ever). It is refused as a fetched listing's is.
    @Test func aSavedManifestHoldingATemporaryShapedPathIsRefused() async throws {
        let f = try await Fixture()
        let path = ".smart-sync-tmp-0123abcd"
        let bad = try await syncedByAnEarlierRelease(f, adding: path)
        try await expectRefused(f, bad, path)
        try await expectRefused(f, bad, path, plan: true)
        #expect(TestFiles.read(f.target + "/conf.nix") == "a\n")
    }

    /// A rollback to a generation holding such a path brings it back; a sync of that commit then is refused (it
    /// failed with a conflict every run).
    @Test func aRolledBackGenerationHoldingATemporaryShapedPathIsRefusedBySync() async throws {
        let f = try await Fixture()
        let path = "etc/.smart-sync-tmp-ff"
        let bad = try await syncedByAnEarlierRelease(f, adding: path)
        try f.repo.write("conf.nix", "b\n")
        try f.repo.remove(path)
        let next = try f.repo.commit("next")
        _ = try await f.runner.sync(.init(ref: next, target: f.target))
        _ = try Rollback.run(target: f.target, to: nil, state: f.runner.state, store: f.runner.store)
        #expect(TestFiles.read(f.target + "/conf.nix") == "a\n")
        try await expectRefused(f, bad, path)
    }

    /// A pin an earlier release made of a tree holding such a path: refused as the source's listing would be, not
    /// passed over as a pin that does not verify (the run then went to the source; here one without the commit).
    @Test func aPinHoldingATemporaryShapedPathIsRefused() async throws {
        let f = try await Fixture()
        let path = "etc/.smart-sync-tmp-0123abcd"
        try f.repo.write(path, "from the repository\n")
        let bad = try f.repo.commit("bad")
        let source = try await LocalGitSource(path: f.repo.path)
        try await PinStore(store: f.runner.store).pin(
            "old", listing: try await source.listing(for: try await source.resolve(bad)))
        let elsewhere = try GitFixture()
        try elsewhere.write("other", "x\n")
        _ = try elsewhere.commit("other")
        let runner = SyncRunner(
            source: try await LocalGitSource(path: elsewhere.path), store: f.runner.store, state: f.runner.state)
        let fresh = f.dirs.appending("fresh")
        expectRefusal(
            of: path,
            try await #require(throws: SmartSyncError.self, "a pinned tree with '\(path)' was synced") {
                try await runner.sync(.init(ref: bad, target: fresh))
            })
        #expect(TestFiles.lstat(fresh) == nil)
    }

    /// Names under the prefix but not of its exact shape are ordinary names.
    @Test func otherNamesUnderThePrefixAreSynced() async throws {
        let f = try await Fixture()
        for name in [".smart-sync-tmp-notes", ".smart-sync-tmp-DEAD", ".smart-sync-tmp-0123456789abcdef0"] {
            try f.repo.write("d/" + name, name)
        }
        let next = try f.repo.commit("next")
        _ = try await f.runner.sync(.init(ref: next, target: f.target))
        #expect(TestFiles.read(f.target + "/d/.smart-sync-tmp-notes") == ".smart-sync-tmp-notes")
        // And again: nothing is seen by one look and not the other.
        _ = try await f.runner.sync(.init(ref: next, target: f.target))
    }

    /// The tool makes no directory of that shape: one in the target is the operator's, scanned and carried by the
    /// switch (it was passed over, and went with the outgoing tree), while a file of that shape (a killed run's
    /// leftover) is still left behind.
    @Test func anUntrackedDirectoryOfTheTemporaryShapeIsCarried() async throws {
        let f = try await Fixture()
        let directory = f.target + "/.smart-sync-tmp-1a2b"
        mkdir(directory, 0o755)
        try TestFiles.write(directory + "/mine.txt", "mine")
        try TestFiles.write(f.target + "/.smart-sync-tmp-3c4d", "a leftover")
        try f.repo.write("conf.nix", "b\n")
        let next = try f.repo.commit("next")
        let outcome = try await f.runner.sync(.init(ref: next, target: f.target))
        #expect(outcome.switched)
        #expect(outcome.applied?.generation != nil, "exchanged, not applied in place")
        #expect(TestFiles.read(f.target + "/conf.nix") == "b\n")
        #expect(TestFiles.read(directory + "/mine.txt") == "mine")
        #expect(TestFiles.lstat(f.target + "/.smart-sync-tmp-3c4d") == nil)
    }
}
