import Foundation
import SmartSyncGitObjects
import SmartSyncObjectStore
@testable import SmartSyncPipeline
import TestSupport
import Testing

/// A no-op at the target's commit whose state's excludes are unknown or lack one of the run's: it lists the commit
/// anew, and records its own excludes when the state's files differ from the listing only at paths it excludes, so
/// the next run takes the listing from the manifest again (not a listing on every run until the next apply).
extension ExcludedListingTests {
    /// `runs` runs at `ref` with `excludes`, each a no-op: how many listed the commit anew.
    static func listingsAnew(
        _ runner: SyncRunner, ref: String, target: String, excludes: [String], runs: Int = 2
    ) async throws -> Int {
        var logged = runner
        let log = RecordingLogHandler()
        logged.logger = log.logger
        for _ in 0..<runs {
            let outcome = try await logged.sync(.init(ref: ref, target: target, excludes: excludes))
            #expect(outcome.summary.upToDate)
        }
        return log.recorded.count { $0.contains("listed anew") }
    }

    /// A target synced to C1 (foo v1, bar), then to C2 (foo v2) with foo excluded: its manifest keeps C1's foo. C3
    /// adds `baz`.
    struct ExcludedFoo {
        let dir: TemporaryDirectory
        let repo: GitFixture
        var runner: SyncRunner
        let target: String
        let c2: String
        let c3: String

        init(mode: SyncRunner.ApplyMode) async throws {
            dir = try TemporaryDirectory(prefix: "sync-tests")
            repo = try GitFixture()
            try repo.write("foo", "v1\n")
            try repo.write("bar", "b\n")
            let c1 = try repo.commit("C1")
            try repo.write("foo", "v2\n")
            c2 = try repo.commit("C2")
            try repo.write("baz", "z\n")
            c3 = try repo.commit("C3")
            runner = try await SyncRunner.local(repo, in: dir, mode: mode)
            target = dir["target"]
            _ = try await runner.sync(.init(ref: c1, target: target))
            _ = try await runner.sync(.init(ref: c2, target: target, excludes: ["foo"]))
        }

        /// After a run to C3 that failed or was killed with its excludes file written: the target and its state are
        /// C2's, whose excludes read as unknown. Two no-ops at C2 with the exclude list anew once and record it; a run
        /// without it then brings C2's foo (the record claims nothing for it). `intentLeft`: the run's intent is
        /// still there; once the no-op recorded its excludes for the state, the intent's read as unknown (listed anew
        /// should recovery record it as the state).
        func expectOneListingAnewAtC2(intentLeft: Bool = false) async throws {
            let state = try #require(try runner.state.load(target: target))
            #expect(state.commit.hex == c2 && state.excludes == nil)
            #expect(TestFiles.read(target + "/foo") == "v1\n" && TestFiles.lstat(target + "/baz") == nil)
            let anew = try await ExcludedListingTests.listingsAnew(runner, ref: c2, target: target, excludes: ["foo"])
            #expect(anew == 1)
            #expect(try runner.state.load(target: target)?.excludes == ["foo"])
            if intentLeft {
                let intent = try #require(try runner.state.loadIntent(target: target))
                #expect(intent.commit.hex == c3 && intent.excludes == nil)
            }
            _ = try await runner.sync(.init(ref: c2, target: target))
            #expect(TestFiles.read(target + "/foo") == "v2\n" && TestFiles.lstat(target + "/baz") == nil)
        }
    }

    /// An apply to C3 that failed once its intent retagged the excludes file, in each mode (the in-place one as a
    /// killed run leaves it: its intent written, nothing applied); the intent stays. Same-commit no-ops with the
    /// exclude list anew once. Failed before (every run listed anew: no record with an intent there).
    @Test(arguments: [SyncRunner.ApplyMode.inPlace, .stagedSwitch])
    func aNoOpAfterAFailedApplyListsAnewOnce(mode: SyncRunner.ApplyMode) async throws {
        var s = try await ExcludedFoo(mode: mode)
        defer { s.dir.remove() }
        switch mode {
        case .stagedSwitch:
            s.runner.checkpoint = { if $0 == "staged" { throw Killed() } }
            let (runner, target, c3) = (s.runner, s.target, s.c3)
            await #expect(throws: Killed.self) {
                try await runner.sync(.init(ref: c3, target: target, excludes: ["foo"]))
            }
            s.runner.checkpoint = { _ in }
        case .inPlace:
            try await IntentTests.saveIntent(s.runner, toCommit: s.c3, of: s.repo, target: s.target, excludes: ["foo"])
        }
        #expect(try s.runner.state.loadIntent(target: s.target) != nil)
        try await s.expectOneListingAnewAtC2(intentLeft: true)
    }

    /// A dropped exclude over a path the commit changed, whose file the operator made the commit's version by hand:
    /// the run finds nothing to do, but the manifest's entry there is the older commit's and the run does not exclude
    /// it, so nothing is recorded. Recorded, the next run would take that entry for the commit's and put the old
    /// version back; it lists anew instead and keeps the commit's.
    @Test(arguments: [SyncRunner.ApplyMode.inPlace, .stagedSwitch])
    func aDroppedExcludeOverAChangedPathIsNotRecorded(mode: SyncRunner.ApplyMode) async throws {
        let s = try await ExcludedFoo(mode: mode)
        defer { s.dir.remove() }
        let foo = s.target + "/foo"
        try FileManager.default.removeItem(atPath: foo)
        try TestFiles.write(foo, "v2\n")
        chmod(foo, Seal.permissions(executable: false))  // as an apply installs it

        #expect(try await Self.listingsAnew(s.runner, ref: s.c2, target: s.target, excludes: []) == 2)
        #expect(try s.runner.state.load(target: s.target)?.excludes == ["foo"])
        #expect(TestFiles.read(foo) == "v2\n")
    }
}
