import Foundation
import SmartSyncCore
import SmartSyncGitObjects
@testable import SmartSyncPipeline
import TestSupport
import Testing

/// Kills between the excludes file's write and the write of the intent or state it describes (StateStore's
/// `excludes-saved` point), in each apply mode: the file's tag is then a record's that was not written, the recorded
/// state's excludes read as unknown, and what a later run takes as the commit's listing is never an excluded entry.
extension ExcludedListingTests {
    /// `runner` with a checkpoint that throws ``Killed`` at the `nth` write of an excludes file (the state store's).
    static func killed(_ runner: SyncRunner, atExcludesWrite nth: Int) -> SyncRunner {
        var killed = runner
        let writes = Locked(0)
        killed.checkpoint = { point in
            guard point == "excludes-saved" else { return }
            if writes.withLock({ $0 += 1; return $0 }) == nth { throw Killed() }
        }
        return killed
    }

    /// A run to C3 killed with the excludes file written for its intent, the intent not (no intent left); then a run
    /// to C3 completes.
    @Test(arguments: [SyncRunner.ApplyMode.inPlace, .stagedSwitch])
    func aKillBetweenTheExcludesAndTheIntent(mode: SyncRunner.ApplyMode) async throws {
        let s = try await ExcludedFoo(mode: mode)
        defer { s.dir.remove() }
        let killer = Self.killed(s.runner, atExcludesWrite: 1)
        await #expect(throws: Killed.self) {
            try await killer.sync(.init(ref: s.c3, target: s.target, excludes: ["foo"]))
        }
        #expect(try s.runner.state.loadIntent(target: s.target) == nil)
        try await s.expectOneListingAnewAtC2()
        _ = try await s.runner.sync(.init(ref: s.c3, target: s.target))
        #expect(TestFiles.read(s.target + "/baz") == "z\n")
    }

    /// A killed run's intent (to B, `only-in-b.txt` put in place: ``IntentTests/killedRunToB(inPlace:killedToC:)``),
    /// then a run to C with `keep.txt` (C changes it) excluded, whose intent holds that path as a pending delete: its
    /// record rewrites the intent without it before renaming it over the state, and the run is killed there, with the
    /// excludes file written for that record and the record not (in place: after the apply; staged: after the
    /// exchange). The next run (at C, with the exclude) ends with C's tree and state and `keep.txt` as A had it; a
    /// no-op then takes the manifest (its excludes known, or recorded by that run), a run without the exclude brings
    /// C's `keep.txt`.
    @Test(arguments: [SyncRunner.ApplyMode.inPlace, .stagedSwitch])
    func aKillBetweenTheExcludesAndTheStateRecord(mode: SyncRunner.ApplyMode) async throws {
        let s = try await IntentTests.killedRunToB(inPlace: mode == .inPlace)
        defer { s.dirs.remove() }
        let (runner, target, c) = (s.runner, s.target, s.c)
        // The first write is the run's intent's, the second the record's.
        let killer = Self.killed(runner, atExcludesWrite: 2)
        let failed = await #expect(throws: FailedAfterSwitch<SyncRunner.Outcome>.self) {
            try await killer.sync(.init(ref: c, target: target, excludes: ["keep.txt"]))
        }
        #expect(failed?.step == .record)
        #expect(TestFiles.lstat(target + "/only-in-b.txt") == nil && TestFiles.read(target + "/keep.txt") == "keep\n")
        // The intent as the run wrote it, its pending delete still in it; the excludes file is the record's.
        let intent = try #require(try runner.state.loadIntent(target: target))
        #expect(intent.commit.hex == c && intent.pendingDeletes["only-in-b.txt"] != nil && intent.excludes == nil)

        _ = try await runner.sync(.init(ref: c, target: target, excludes: ["keep.txt"]))
        #expect(try runner.state.loadIntent(target: target) == nil)
        let state = try #require(try runner.state.load(target: target))
        #expect(state.commit.hex == c && state.manifest["only-in-b.txt"] == nil && state.manifest["keep.txt"] != nil)
        #expect(TestFiles.lstat(target + "/only-in-b.txt") == nil && TestFiles.read(target + "/keep.txt") == "keep\n")
        var logged = runner
        let log = RecordingLogHandler()
        logged.logger = log.logger
        let noOp = try await logged.sync(.init(ref: c, target: target, excludes: ["keep.txt"]))
        #expect(noOp.summary.upToDate)
        #expect(log.recorded.contains { $0.contains("listing: the target's manifest of this commit") })
        _ = try await runner.sync(.init(ref: c, target: target))
        #expect(TestFiles.read(target + "/keep.txt") == "keep, C\n")
    }

    struct Killed: Error {}
}
