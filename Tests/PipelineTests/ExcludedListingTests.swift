import Foundation
import SmartSyncFileSystem
import SmartSyncGitObjects
@testable import SmartSyncPipeline
import TestSupport
import Testing

/// A run at the commit the target has takes the commit's listing from the target's manifest, but a manifest applied
/// with `--exclude` is not that listing: it keeps an excluded path's entry from an older commit (carried over) and
/// lacks an excluded path the commit added. A later run without the exclude lists the commit from the source.
@Suite(.serialized) struct ExcludedListingTests {
    @Test(arguments: [SyncRunner.ApplyMode.inPlace, .stagedSwitch])
    func droppingAnExcludeAtTheSameCommitBringsTheCommitsVersions(mode: SyncRunner.ApplyMode) async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let repo = try GitFixture()
        let c1 = try repo.commit("C1", writing: ["foo": "v1\n", "bar": "b\n"])
        let c2 = try repo.commit("C2", writing: ["foo": "v2\n", "added": "new\n"])
        let runner = try await SyncRunner.local(repo, in: dir, mode: mode)
        let target = dir["target"]

        _ = try await runner.sync(.init(ref: c1, target: target))
        #expect(TestFiles.read(target + "/foo") == "v1\n")
        _ = try await runner.sync(.init(ref: c2, target: target, excludes: ["foo", "added"]))
        #expect(TestFiles.read(target + "/foo") == "v1\n")
        #expect(TestFiles.lstat(target + "/added") == nil)
        // The same globs again (in another order): the manifest is the listing, nothing is asked.
        var logged = runner
        let log = RecordingLogHandler()
        logged.logger = log.logger
        let same = try await logged.sync(.init(ref: c2, target: target, excludes: ["added", "foo"]))
        #expect(same.summary.upToDate && TestFiles.read(target + "/foo") == "v1\n")
        #expect(log.recorded.contains { $0.contains("listing: the target's manifest of this commit") })

        let dropped = try await logged.sync(.init(ref: c2, target: target))
        #expect(log.recorded.contains { $0.contains("applied with excludes this run lacks (or unknown); listed anew") })
        #expect(TestFiles.read(target + "/foo") == "v2\n")
        #expect(TestFiles.read(target + "/added") == "new\n")
        #expect(dropped.plan.kind("foo") == .modify && dropped.plan.kind("added") == .add)
        // Recorded without the exclude: the next run at this commit is a no-op from the manifest again.
        let again = try await runner.sync(.init(ref: c2, target: target))
        #expect(again.summary.upToDate && again.plan.count(.unchanged) == 3)
    }
}

extension ExcludedListingTests {
    /// An exclude whose paths the commit did not change: the manifest is the commit's listing. The first run
    /// without it lists anew and finds nothing to do (it records no state); it records its excludes, so the next run
    /// takes the listing from the manifest again instead of listing anew on every no-op. In each apply mode.
    @Test(arguments: [SyncRunner.ApplyMode.inPlace, .stagedSwitch])
    func aDroppedExcludeOverUnchangedPathsListsAnewOnce(mode: SyncRunner.ApplyMode) async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let repo = try GitFixture()
        try repo.write("sub/a", "a\n")
        try repo.write("foo", "v1\n")
        let c1 = try repo.commit("C1")
        try repo.write("foo", "v2\n")
        let c2 = try repo.commit("C2")
        var runner = try await SyncRunner.local(repo, in: dir, mode: mode)
        let target = dir["target"]
        _ = try await runner.sync(.init(ref: c1, target: target))
        _ = try await runner.sync(.init(ref: c2, target: target, excludes: ["sub"]))

        let log = RecordingLogHandler()
        runner.logger = log.logger
        let first = try await runner.sync(.init(ref: c2, target: target))
        #expect(first.summary.upToDate)
        #expect(log.recorded.contains { $0.contains("listed anew") })
        #expect(log.recorded.contains { $0.contains("the run's excludes recorded") })
        let after = log.recorded.count
        let second = try await runner.sync(.init(ref: c2, target: target))
        #expect(second.summary.upToDate)
        #expect(log.recorded.dropFirst(after).contains { $0.contains("the target's manifest of this commit") })
    }
}

extension ExcludedListingTests {
    /// A rollback does not keep a generation's excludes: the restored state's are unknown, and a run at its commit
    /// without the exclude lists the commit anew and brings the commit's version of the excluded path. Before it,
    /// no-ops with the exclude (the manifest carries C0's foo) list anew once and record it, not on every run (they
    /// did before the record took differences at excluded paths).
    @Test func aRolledBackStatesExcludesAreUnknown() async throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let repo = try GitFixture()
        let c0 = try repo.commit("C0", writing: ["foo": "v0\n"])
        let c1 = try repo.commit("C1", writing: ["foo": "v1\n"])
        let c2 = try repo.commit("C2", writing: ["bar": "b\n"])
        var runner = try await SyncRunner.local(repo, in: dir, mode: .stagedSwitch)
        let target = dir["target"]
        _ = try await runner.sync(.init(ref: c0, target: target))
        _ = try await runner.sync(.init(ref: c1, target: target, excludes: ["foo"]))
        _ = try await runner.sync(.init(ref: c2, target: target, excludes: ["foo"]))
        _ = try Rollback.run(
            target: target, to: c1, state: runner.state, store: runner.store, keepGenerations: 3,
            linkMode: runner.linkMode)
        #expect(try runner.state.load(target: target)?.excludes == nil)
        #expect(TestFiles.read(target + "/foo") == "v0\n")
        #expect(try await Self.listingsAnew(runner, ref: c1, target: target, excludes: ["foo"]) == 1)
        #expect(try runner.state.load(target: target)?.excludes == ["foo"])
        #expect(TestFiles.read(target + "/foo") == "v0\n")
        let log = RecordingLogHandler()
        runner.logger = log.logger
        _ = try await runner.sync(.init(ref: c1, target: target))
        #expect(log.recorded.contains { $0.contains("listed anew") })
        #expect(TestFiles.read(target + "/foo") == "v1\n")
    }
}

/// The excludes an apply ran with are kept beside its state (`targets/<key>/excludes`), not in it: the state and
/// intent files are byte for byte what the release before them writes, which reads them.
@Suite struct ExcludedStateEncodingTests {
    @Test func theStateFileDoesNotCarryTheExcludes() throws {
        let id = ObjectID.blob(Array("x".utf8))
        var state = TargetState(target: "/t", commit: id, ref: "main", appliedAtNs: 1, manifest: Manifest())
        state.manifest["a"] = Manifest.Entry(mode: .regular, id: id)
        state.keptLocal["k"] = Manifest.Entry(mode: .regular, id: id)
        let before = state.encoded()
        state.excludes = ["foo", "secrets/*"]
        #expect(state.encoded() == before)
        // The encoding of the release before the excludes (a keptLocal-only state), byte for byte.
        #expect(before.map { String(format: "%02x", $0) }.joined() == Self.golden)
        state.pendingDeletes["p"] = Manifest.Entry(mode: .regular, id: id)
        let intent = state.encoded()
        state.excludes = nil
        #expect(state.encoded() == intent)
    }

    static let golden =
        "5353535401000000020000002f74c1b0730e0133447badcfd47fd144e254807b06e1040000006d61696e01000000000000000100000001"
        + "00000061a4810000c1b0730e0133447badcfd47fd144e254807b06e101000000010000006ba4810000c1b0730e0133447badcfd47fd1"
        + "44e254807b06e1f6abb5a93d9b13c8c13527943c459f4e3d29fc2e"

    @Test func theExcludesFileCountsOnlyForItsState() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let store = try StateStore(root: dir["state"])
        let id = ObjectID.blob(Array("x".utf8))
        var state = TargetState(target: "/t", commit: id, ref: "main", appliedAtNs: 1, manifest: Manifest())
        state.manifest["a"] = Manifest.Entry(mode: .regular, id: id)
        let path = store.directory(for: "/t") + "/excludes"

        // None: no file is written.
        try store.save(state)
        #expect(try store.load(target: "/t")?.excludes == [] && TestFiles.lstat(path) == nil)
        state.excludes = ["foo", "secrets/*"]
        try store.save(state)
        #expect(try store.load(target: "/t")?.excludes == ["foo", "secrets/*"])
        // The intent of the next apply (another time) replaces the file: the recorded state's excludes are unknown.
        var next = state
        next.appliedAtNs = 2
        next.excludes = []
        try store.saveIntent(next)
        #expect(try store.load(target: "/t")?.excludes == nil)
        #expect(try store.loadIntent(target: "/t")?.excludes == [])
        #expect(try store.recordIntent(target: "/t"))
        #expect(try store.load(target: "/t")?.excludes == [])
        // Unknown (a rolled-back generation's state) is recorded as such.
        next.excludes = nil
        try store.save(next)
        #expect(try store.load(target: "/t")?.excludes == nil)
        // Damaged: unknown.
        next.excludes = ["foo"]
        try store.save(next)
        let bytes = try #require(try FileSystem.readFileIfPresent(path)).bytes
        try FileSystem.writeFileAtomically(path, Array(bytes.dropLast(1)))
        #expect(try store.load(target: "/t")?.excludes == nil)
        try store.forget(target: "/t")
        #expect(TestFiles.lstat(path) == nil)
    }
}
