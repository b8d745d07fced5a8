import Foundation
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
        try repo.write("foo", "v1\n")
        try repo.write("bar", "b\n")
        let c1 = try repo.commit("C1")
        try repo.write("foo", "v2\n")
        try repo.write("added", "new\n")
        let c2 = try repo.commit("C2")
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
        #expect(log.recorded.contains { $0.contains("applied with excludes this run lacks; listed anew") })
        #expect(TestFiles.read(target + "/foo") == "v2\n")
        #expect(TestFiles.read(target + "/added") == "new\n")
        #expect(dropped.plan.kind("foo") == .modify && dropped.plan.kind("added") == .add)
        // Recorded without the exclude: the next run at this commit is a no-op from the manifest again.
        let again = try await runner.sync(.init(ref: c2, target: target))
        #expect(again.summary.upToDate && again.plan.count(.unchanged) == 3)
    }
}

/// The excludes an apply ran with are recorded with its state, after the optional sections before them; a state
/// without them is written as before.
@Suite struct ExcludedStateEncodingTests {
    @Test func excludesRoundTripAfterTheOptionalSections() throws {
        let id = ObjectID.blob(Array("x".utf8))
        var state = TargetState(target: "/t", commit: id, ref: "main", appliedAtNs: 1, manifest: Manifest())
        state.manifest["a"] = Manifest.Entry(mode: .regular, id: id)
        let plain = state.encoded()
        #expect(TargetState(encoded: plain) == state)
        state.excludes = ["foo", "secrets/*"]
        #expect(TargetState(encoded: state.encoded()) == state)
        state.keptLocal["k"] = Manifest.Entry(mode: .regular, id: id)
        state.pendingDeletes["p"] = Manifest.Entry(mode: .regular, id: id)
        #expect(TargetState(encoded: state.encoded()) == state)
        state.excludes = []
        #expect(TargetState(encoded: state.encoded()) == state)
        // Cut short inside the excludes: not a state.
        state.excludes = ["foo"]
        #expect(TargetState(encoded: Array(state.encoded().dropLast(2))) == nil)
    }
}
