import Glibc
import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// What follows the exchange: the new state is recorded first, and a failure afterwards (pruning, the stat cache,
/// recording itself) reports that the switch happened instead of leaving the target recorded at its old commit.
@Suite(.serialized) struct AfterSwitchTests {
    private struct Stop: Error {}

    /// Commits a, b, c, d of one repository (`conf.nix` says which), a runner on it and a target.
    private struct Setup {
        let dir: TemporaryDirectory
        let repo: GitFixture
        var commits: [String] = []
        var runner: SyncRunner
        var target: String { dir["target"] }
        var layout: SwitchLayout { SwitchLayout(target: target) }

        init(keepGenerations: Int = 3) async throws {
            dir = try TemporaryDirectory(prefix: "sync-tests")
            repo = try GitFixture()
            var previous: String?
            for v in ["a", "b", "c", "d"] {
                try repo.write("conf.nix", "\(v)\n")
                try repo.write("only-\(v).txt", "\(v)\n")
                if let previous { try repo.remove("only-\(previous).txt") }
                previous = v
                commits.append(try repo.commit(v))
            }
            runner = SyncRunner(
                source: try await LocalGitSource(path: repo.path), store: try ObjectStore(root: dir["store"]),
                state: try StateStore(root: dir["state"]))
            runner.keepGenerations = keepGenerations
        }

        @discardableResult
        func sync(_ i: Int) async throws -> SyncRunner.Outcome {
            try await runner.sync(.init(ref: commits[i], target: target))
        }

        func recorded() throws -> String? { try runner.state.load(target: target)?.commit.hex }
        func generations() throws -> [(Int, String?)] {
            try Rollback.generations(target: target).map { ($0.sequence, $0.state?.commit.hex) }
        }
    }

    @Test func aFailedPruneLeavesTheNewCommitRecorded() async throws {
        var t = try await Setup(keepGenerations: 2)
        defer {
            PinnedDirectory.unpinAll(under: t.dir.path)
            t.dir.remove()
        }
        for i in 0..<3 { try await t.sync(i) }
        // With one generation kept when d comes, generation 2 (b's tree) becomes the spare and generation 1 (a's) is
        // due to go; a mount point in it cannot be removed.
        try PinnedDirectory.pin(t.layout.generation(1) + "/tree/pinned")
        t.runner.keepGenerations = 1

        let failed = await #expect(throws: FailedAfterSwitch<SyncRunner.Outcome>.self) { try await t.sync(3) }
        #expect(failed?.step == .prune)
        #expect(failed?.outcome.switched == true)
        #expect(failed?.outcome.applied?.generation == 3)
        #expect(
            failed?.error.message.contains("was switched to \(t.commits[3])") == true, "\(failed?.error.message ?? "")")
        #expect(failed?.error.message.contains("removing old generations failed") == true)
        #expect(TestFiles.read(t.target + "/conf.nix") == "d\n")
        #expect(try t.recorded() == t.commits[3])
        #expect(try t.runner.state.loadIntent(target: t.target) == nil)
        // The generation that could not go is not listed half removed (say, as the tree found before the first sync).
        #expect(try t.generations().map(\.0) == [3])
        #expect(try t.generations().map(\.1) == [t.commits[2]])
        #expect(TestFiles.read(t.layout.generations + "/spare/tree/conf.nix") == "b\n")

        // Once it can be removed, the target is simply up to date.
        PinnedDirectory.unpinAll(under: t.dir.path)
        let again = try await t.sync(3)
        #expect(!again.switched)
    }

    @Test func aFailureToRecordTheStateIsFinishedByTheNextRun() async throws {
        var t = try await Setup()
        defer { t.dir.remove() }
        try await t.sync(0)
        // Stands in for a failure (or a kill) between the exchange and the state's save.
        t.runner.checkpoint = { if $0 == "after-exchange" { throw Stop() } }
        let failed = await #expect(throws: FailedAfterSwitch<SyncRunner.Outcome>.self) { try await t.sync(1) }
        #expect(failed?.step == .record)
        #expect(failed?.error.message.contains("The state still names \(t.commits[0])") == true)
        #expect(TestFiles.read(t.target + "/conf.nix") == "b\n")
        #expect(try t.recorded() == t.commits[0])
        // What the next run needs to finish the switch: the journal and the intent.
        #expect(TestFiles.lstat(t.layout.journal) != nil)
        #expect(try t.runner.state.loadIntent(target: t.target)?.commit.hex == t.commits[1])

        t.runner.checkpoint = { _ in }
        let again = try await t.sync(1)
        #expect(!again.switched, "the target already holds b: nothing to switch")
        #expect(try t.recorded() == t.commits[1])
        #expect(try t.runner.state.loadIntent(target: t.target) == nil)
        #expect(TestFiles.lstat(t.layout.journal) == nil)
        // One generation, a's tree recorded as a: no second one recording a over b's tree.
        #expect(try t.generations().map(\.1) == [t.commits[0]])
        #expect(TestFiles.read(t.layout.generation(1) + "/tree/conf.nix") == "a\n")
    }

    @Test func aFailedStatCacheSaveIsReportedWithTheStateRecorded() async throws {
        var t = try await Setup()
        defer { t.dir.remove() }
        try await t.sync(0)
        let cache = t.runner.state.statCachePath(for: t.target)
        // After the state is recorded, a directory takes the stat cache's place: its save fails for real.
        t.runner.checkpoint = { point in
            guard point == "filed" else { return }
            unlink(cache)
            mkdir(cache, 0o755)
            try TestFiles.write(cache + "/in-the-way", "x")
        }
        let failed = await #expect(throws: FailedAfterSwitch<SyncRunner.Outcome>.self) { try await t.sync(1) }
        #expect(failed?.step == .statCache)
        #expect(failed?.error.message.contains("The target and its state are at \(t.commits[1])") == true)
        #expect(try t.recorded() == t.commits[1])
        #expect(try t.generations().map(\.1) == [t.commits[0]])
    }

    @Test func aRollbackReportsAFailureAfterItsExchange() async throws {
        let t = try await Setup()
        defer {
            PinnedDirectory.unpinAll(under: t.dir.path)
            t.dir.remove()
        }
        for i in 0..<4 { try await t.sync(i) }
        // Back to b (generation 2) keeping one: d's tree is kept, c's becomes the spare and a's cannot go.
        try PinnedDirectory.pin(t.layout.generation(1) + "/tree/pinned")
        let failed = #expect(throws: FailedAfterSwitch<Rollback.Outcome>.self) {
            try Rollback.run(
                target: t.target, to: "2", state: t.runner.state, store: t.runner.store, keepGenerations: 1)
        }
        #expect(failed?.step == .prune)
        #expect(failed?.outcome.to?.hex == t.commits[1])
        #expect(TestFiles.read(t.target + "/conf.nix") == "b\n")
        #expect(try t.recorded() == t.commits[1])
        #expect(try t.runner.state.loadIntent(target: t.target) == nil)
    }

    /// Back to the tree found before the first sync, killed between the exchange and the state's removal: the next
    /// run's recovery must not leave the replaced commit recorded over a tree smart-sync never synced.
    @Test func aRollbackToTheFoundTreeKilledAfterItsExchangeForgetsTheState() async throws {
        let t = try await Setup()
        defer { t.dir.remove() }
        try TestFiles.makeDirectories(t.target)
        try TestFiles.write(t.target + "/found.txt", "found\n")
        try await t.sync(0)
        try await t.sync(1)
        let found = try #require(try t.generations().first { $0.1 == nil })
        // A throw at the step stands in for a kill there (the journal stays, nothing after it runs).
        #expect(throws: FailedAfterSwitch<Rollback.Outcome>.self) {
            try Rollback.run(
                target: t.target, to: String(found.0), state: t.runner.state, store: t.runner.store,
                checkpoint: { if $0 == "after-exchange" { throw Stop() } })
        }
        #expect(TestFiles.read(t.target + "/found.txt") == "found\n")
        #expect(TestFiles.lstat(t.layout.journal) != nil)
        try t.runner.state.recoverSwitch(target: t.target, store: t.runner.store)
        let recorded = try t.recorded()
        #expect(recorded == nil, "the found tree is recorded as \(recorded ?? "")")
        #expect(TestFiles.lstat(t.runner.state.statCachePath(for: t.target)) == nil)
        #expect(TestFiles.lstat(t.layout.journal) == nil)
        // b's tree is kept, recorded as b.
        #expect(try t.generations().first?.1 == t.commits[1])

        // Killed before the exchange instead: nothing changed, the state still names the tree the target holds.
        try await t.sync(2)
        let again = try #require(try t.generations().first { $0.1 == nil })
        #expect(throws: Stop.self) {
            try Rollback.run(
                target: t.target, to: String(again.0), state: t.runner.state, store: t.runner.store,
                checkpoint: { if $0 == "before-exchange" { throw Stop() } })
        }
        try t.runner.state.recoverSwitch(target: t.target, store: t.runner.store)
        #expect(try t.recorded() == t.commits[2])
        #expect(TestFiles.read(t.target + "/conf.nix") == "c\n")
    }

    /// Recovery records the state before the journal goes: when recording fails (here a non-empty directory where the
    /// state file goes), the journal stays, and a later recovery, the obstacle gone, records the tree from the intent.
    /// Before, the journal was removed first: the failure left the state naming a's commit over b's tree for good.
    @Test func aRecoveryThatCannotRecordKeepsTheJournal() async throws {
        var t = try await Setup()
        defer { t.dir.remove() }
        try await t.sync(0)
        t.runner.checkpoint = { if $0 == "after-exchange" { throw Stop() } }
        await #expect(throws: FailedAfterSwitch<SyncRunner.Outcome>.self) { try await t.sync(1) }
        #expect(TestFiles.lstat(t.layout.journal) != nil)
        let stateFile = t.runner.state.directory(for: t.target) + "/state"
        #expect(unlink(stateFile) == 0)
        try TestFiles.makeDirectories(stateFile)
        try TestFiles.write(stateFile + "/obstacle", "x\n")
        #expect(throws: SmartSyncError.self) {
            try t.runner.state.recoverSwitch(target: t.target, store: t.runner.store)
        }
        #expect(TestFiles.lstat(t.layout.journal) != nil, "the journal went before the state was recorded")
        TemporaryDirectory.removeTree(stateFile)
        try t.runner.state.recoverSwitch(target: t.target, store: t.runner.store)
        #expect(try t.recorded() == t.commits[1])
        #expect(TestFiles.read(t.target + "/conf.nix") == "b\n")
        #expect(TestFiles.lstat(t.layout.journal) == nil)
        #expect(try t.runner.state.loadIntent(target: t.target) == nil)
    }

    /// A sync killed while staging leaves its intent (no journal yet). A rollback to the tree found before the first
    /// sync clears it before its exchange: a release that does not know the journal's `untracked` would otherwise
    /// record that intent (a commit the target never held) when it recovers the rollback.
    @Test func aRollbackToTheFoundTreeClearsALeftoverIntentBeforeItsExchange() async throws {
        var t = try await Setup()
        defer { t.dir.remove() }
        try TestFiles.makeDirectories(t.target)
        try TestFiles.write(t.target + "/found.txt", "found\n")
        try await t.sync(0)
        try await t.sync(1)
        t.runner.checkpoint = { if $0 == "staged" { throw Stop() } }
        await #expect(throws: Stop.self) { try await t.sync(2) }
        #expect(try t.runner.state.loadIntent(target: t.target)?.commit.hex == t.commits[2])
        let found = try #require(try t.generations().first { $0.1 == nil })
        let state = t.runner.state
        let target = t.target
        var intentAtExchange: String??
        #expect(throws: Stop.self) {
            try Rollback.run(
                target: t.target, to: String(found.0), state: t.runner.state, store: t.runner.store,
                checkpoint: {
                    if $0 == "before-exchange" {
                        intentAtExchange = .some(try state.loadIntent(target: target)?.commit.hex)
                        throw Stop()
                    }
                })
        }
        #expect(intentAtExchange == .some(nil), "the intent of c was left: \(String(describing: intentAtExchange))")

        // Killed after the exchange: the journal stays version 1 (an earlier release reads it), and what such a
        // release, ignoring `untracked`, would record from is the intent: there is none, so it records nothing.
        #expect(throws: FailedAfterSwitch<Rollback.Outcome>.self) {
            try Rollback.run(
                target: t.target, to: String(found.0), state: t.runner.state, store: t.runner.store,
                checkpoint: { if $0 == "after-exchange" { throw Stop() } })
        }
        let journal = TestFiles.read(t.layout.journal) ?? ""
        #expect(journal.contains("\"untracked\":true") && journal.contains("\"version\":1"), "\(journal)")
        #expect(try state.loadIntent(target: target) == nil)
        try state.recoverSwitch(target: target, store: t.runner.store)
        #expect(try t.recorded() == nil)
        #expect(TestFiles.read(t.target + "/found.txt") == "found\n")
    }

    /// `restore` is the first run after a sync that failed (or was killed) between its exchange and its state's save:
    /// it finishes the switch and must record it from the intent, as a sync or rollback would. Before, it finished the
    /// switch without recording, and the journal and intent were gone: the state named a's commit over b's tree.
    @Test func aRestoreAfterAnUnrecordedSwitchRecordsIt() async throws {
        var t = try await Setup()
        defer { t.dir.remove() }
        try await t.sync(0)
        t.runner.checkpoint = { if $0 == "after-exchange" { throw Stop() } }
        await #expect(throws: FailedAfterSwitch<SyncRunner.Outcome>.self) { try await t.sync(1) }
        #expect(try t.recorded() == t.commits[0])
        _ = try? Restore.run(path: "conf.nix", target: t.target, store: t.runner.store, state: t.runner.state)
        #expect(try t.recorded() == t.commits[1])
        #expect(try t.runner.state.loadIntent(target: t.target) == nil)
        #expect(TestFiles.lstat(t.layout.journal) == nil)
    }

    @Test func aHeldLockIsUsedInsteadOfTakenAgain() async throws {
        var t = try await Setup()
        defer { t.dir.remove() }
        let lock = try t.runner.state.lock(target: t.target)
        let refused = await #expect(throws: SmartSyncError.self) { try await t.sync(0) }
        #expect(refused?.code == .locked)
        t.runner.targetLock = lock
        try await t.sync(0)
        try await t.sync(1)
        #expect(try t.recorded() == t.commits[1])
        #expect(throws: SmartSyncError.self) {
            try Rollback.run(target: t.target, to: nil, state: t.runner.state, store: t.runner.store)
        }
        let back = try Rollback.run(
            target: t.target, to: nil, state: t.runner.state, store: t.runner.store, lock: lock)
        #expect(back.to?.hex == t.commits[0])
        // Still held: another run is kept out.
        #expect(throws: SmartSyncError.self) { try t.runner.state.lock(target: t.target) }

        // A lock for another target is not a pass.
        let other = try t.runner.state.lock(target: t.dir["other"])
        t.runner.targetLock = other
        let wrong = await #expect(throws: SmartSyncError.self) { try await t.sync(1) }
        #expect(wrong?.code == .internal)
        lock.release()
        other.release()
    }

    @Test func aGenerationNumberWinsOverACommitPrefix() async throws {
        let t = try await Setup()
        defer { t.dir.remove() }
        // b's commit id starts with "1", the number of a's generation.
        var b = t.commits[1]
        var n = 0
        while !b.hasPrefix("1") {
            n += 1
            b = try t.repo.git("commit", "-q", "--amend", "--allow-empty", "--no-verify", "-m", "b \(n)")
            b = try t.repo.revParse("HEAD")
        }
        try t.repo.write("conf.nix", "c\n")
        let c = try t.repo.commit("c")
        try await t.sync(0)
        _ = try await t.runner.sync(.init(ref: b, target: t.target))
        _ = try await t.runner.sync(.init(ref: c, target: t.target))
        #expect(try t.generations().map(\.1) == [b, t.commits[0]])
        let back = try Rollback.run(target: t.target, to: "1", state: t.runner.state, store: t.runner.store)
        #expect(back.to?.hex == t.commits[0])
        #expect(TestFiles.read(t.target + "/conf.nix") == "a\n")
    }

    @Test func thePendingRebuildMarkRoundTrips() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let state = try StateStore(root: dir["state"])
        let target = dir["target"]
        #expect(try state.loadPendingRebuild(target: target) == nil)
        let id = ObjectID.hash(.blob, Array("x".utf8))
        for mark in [
            PendingRebuild(confirmed: id, generationBefore: 4, sinceNs: 17),
            PendingRebuild(confirmed: nil, generationBefore: nil, sinceNs: 0),
        ] {
            try state.savePendingRebuild(mark, target: target)
            #expect(try state.loadPendingRebuild(target: target) == mark)
        }
        try TestFiles.write(state.directory(for: target) + "/pending-rebuild", "confirmed=zz\n")
        #expect(try state.loadPendingRebuild(target: target) == nil, "a damaged mark counts as none")
        try state.clearPendingRebuild(target: target)
        try state.clearPendingRebuild(target: target)
        #expect(try state.loadPendingRebuild(target: target) == nil)
    }
}
