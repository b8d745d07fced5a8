import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A rollback killed around its exchange: the kept-version records of the operator's versions it took out travel in
/// the switch's journal, so the recovery records them when it finishes the switch and drops them when it undoes it.
extension RollbackLocalVersionsTests {
    private struct Killed: Error {}

    /// A rollback of `t` to its first commit, with an edit of `d0/f0.nix` to keep, killed at `point`.
    private func killedRollback(_ t: StageRecyclerTests.Setup, at point: String) async throws {
        try await t.sync(0)
        try await t.sync(1)
        try save(t.target + "/d0/f0.nix", "{ edited = true; }\n")
        #expect(throws: (any Error).self) {
            try Rollback.run(
                target: t.target, to: t.commits[0], state: t.runner.state, store: t.runner.store, keepGenerations: 0,
                linkMode: t.runner.linkMode, checkpoint: { if $0 == point { throw Killed() } })
        }
    }

    /// Killed right after the exchange (before the records were appended): the next run under the lock (`restore`
    /// here) finishes the switch and records the kept version, which `restore --list` shows as the rollback's and
    /// `restore` brings back byte for byte. It used to sit unrecorded in the store until gc.
    @Test func aRollbackKilledAfterItsExchangeIsRecordedByTheRecovery() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await killedRollback(t, at: "after-exchange")
        try t.expectTarget(0)
        let outcome = try Restore.run(path: "d0/f0.nix", target: t.target, store: t.runner.store, state: t.runner.state)
        #expect(TestFiles.read(t.target + "/d0/f0.nix") == "{ edited = true; }\n", "the kept version is lost")
        guard case .kept(let version) = outcome.restored.origin else {
            Issue.record("restored \(outcome.restored.origin), not the kept version")
            return
        }
        #expect(version.rollbackTo != nil && version.replacedBy?.hex == t.commits[0])
        let versions = try Restore.versions(
            of: "d0/f0.nix", target: t.target, state: t.runner.state, store: t.runner.store)
        #expect(versions.filter { if case .kept = $0.origin { true } else { false } }.count == 1)
        #expect(try t.runner.state.load(target: t.target)?.commit.hex == t.commits[0])
    }

    /// `restore --list` right after a rollback killed after its exchange recovers the switch first (under the target
    /// lock, as `restore PATH` does): the kept version the rollback took out is listed at once. It used to show only
    /// after the next sync, rollback or `restore PATH`.
    @Test func restoreListFinishesAKilledRollbackFirst() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await killedRollback(t, at: "after-exchange")
        let versions = try Restore.versions(
            of: "d0/f0.nix", target: t.target, state: t.runner.state, store: t.runner.store)
        let kept = versions.compactMap { if case .kept(let k) = $0.origin { k } else { nil } }
        #expect(kept.count == 1 && kept.first?.rollbackTo != nil, "\(versions)")
        #expect(try t.runner.state.load(target: t.target)?.commit.hex == t.commits[0])
        #expect(TestFiles.lstat(SwitchLayout(target: t.target).journal) == nil)
    }

    /// `restore --list` of `d0/f0.nix` in `t` (a lock held): it lists the generations holding it, with one warning.
    private func listWithOneWarning(
        _ t: StageRecyclerTests.Setup, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [String] {
        let warnings = Locked<[String]>([])
        let versions = try Restore.versions(
            of: "d0/f0.nix", target: t.target, state: t.runner.state, store: t.runner.store,
            events: { if case .warning(let text) = $0 { warnings.withLock { $0.append(text) } } })
        #expect(!versions.isEmpty, "the generations holding it are listed", sourceLocation: sourceLocation)
        let said = warnings.withLock { $0 }
        #expect(said.count == 1, "\(said)", sourceLocation: sourceLocation)
        return said
    }

    /// `restore --list` while another run holds the target lock (an `update` holds it for minutes) lists without the
    /// recovery, as before it recovered, warning that the target is in use (naming the holder, as the lock's error
    /// does) and that what that run keeps shows once it ends. It used to fail (exit 7) for as long as the lock was
    /// held, then to warn of "a switch a killed run may have left", whether or not one had.
    @Test func restoreListWhileTheTargetLockIsHeldListsWithANote() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await killedRollback(t, at: "after-exchange")
        let lock = try t.runner.state.lock(target: t.target)
        defer { lock.release() }
        let said = try listWithOneWarning(t)
        #expect(
            said.contains {
                $0.contains("in use by another smart-sync run (held by process \(getpid()))")
                    && $0.contains("listed as it stands") && !$0.contains("killed run may have left")
            }, "\(said)")
        // Nothing was recovered: the switch is left to the lock's holder (or the next run).
        #expect(TestFiles.lstat(SwitchLayout(target: t.target).journal) != nil)
    }

    /// `restore --list` while a gc holds the store's lock (the recovery takes it, shared, before the target's): the
    /// listing goes on with the recovery's own warning, naming the store. The warning for a live run on the target
    /// ("listed as it stands", "what that run keeps") is for the target's lock alone: it used to catch the store's too.
    @Test func restoreListWhileAGCHoldsTheStoreLockSaysSo() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await killedRollback(t, at: "after-exchange")
        let storeLock = try t.runner.store.lock(shared: false)
        defer { storeLock.release() }
        let said = try listWithOneWarning(t)
        #expect(
            said.contains {
                $0.contains("listed without finishing a switch") && $0.contains("the store at")
                    && !$0.contains("listed as it stands") && !$0.contains("what that run keeps")
            }, "\(said)")
        #expect(TestFiles.lstat(SwitchLayout(target: t.target).journal) != nil)
    }

    /// `restore --list` of a target never synced (a mistyped one) creates nothing: it used to create the target's
    /// state directory to take its lock.
    @Test func restoreListOfANeverSyncedTargetCreatesNothing() throws {
        let dir = try TemporaryDirectory(prefix: "sync-tests")
        defer { dir.remove() }
        let state = try StateStore(root: dir["state"])
        let store = try ObjectStore(root: dir["store"])
        let before = try FileSystem.names(in: dir["state"]).sorted()
        let versions = try Restore.versions(of: "a.nix", target: dir["typo"], state: state, store: store)
        #expect(versions.isEmpty)
        #expect(TestFiles.lstat(state.directory(for: dir["typo"])) == nil)
        #expect(try FileSystem.names(in: dir["state"]).sorted() == before)
        #expect(
            TestFiles.lstat(dir["typo"]) == nil && TestFiles.lstat(SwitchLayout(target: dir["typo"]).sidecar) == nil)
    }

    /// The recovery's warning of a pending version whose object is gone reaches `restore`'s events (both forms): it
    /// used to be dropped, the version left out of `restore --list` without a word.
    @Test(arguments: [false, true])
    func restoreWarnsOfAPendingVersionWithoutItsObject(list: Bool) async throws {
        let (t, id) = try await killedAfterExchange()
        #expect(unlink(t.runner.store.path(for: id)) == 0)
        let warnings = Locked<[String]>([])
        let events: (SyncEvent) -> Void = { event in
            if case .warning(let text) = event { warnings.withLock { $0.append(text) } }
        }
        if list {
            _ = try Restore.versions(
                of: "d0/f0.nix", target: t.target, state: t.runner.state, store: t.runner.store, events: events)
        } else {
            // No kept version to restore is left: refused, after the warning.
            #expect(throws: SmartSyncError.self) {
                try Restore.run(
                    path: "d0/f0.nix", target: t.target, store: t.runner.store, state: t.runner.state, events: events)
            }
        }
        #expect(warnings.withLock { $0 }.contains { $0.contains("d0/f0.nix") && $0.contains("no longer in the store") })
    }

    /// A rollback killed right after its exchange, and the blob of the version pending in its journal.
    private func killedAfterExchange() async throws -> (StageRecyclerTests.Setup, ObjectID) {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await killedRollback(t, at: "after-exchange")
        let layout = SwitchLayout(target: t.target)
        let journal = try #require(try SwitchJournal.load(layout: layout))
        return (t, try #require(journal.pending.first?.id))
    }

    /// Killed right after the exchange, then gc (grace 0) before any run recovered it: the version recorded only in the
    /// journal is a root, so the recovery still records a version `restore` brings back. gc used to sweep it (nothing
    /// read the journal) and the recovery recorded an object the store no longer held.
    @Test func gcKeepsAVersionRecordedOnlyInAJournal() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await killedRollback(t, at: "after-exchange")
        try await gc(t)
        _ = try Restore.run(path: "d0/f0.nix", target: t.target, store: t.runner.store, state: t.runner.state)
        #expect(TestFiles.read(t.target + "/d0/f0.nix") == "{ edited = true; }\n", "gc swept the journaled version")
    }

    /// A switch journal gc cannot read stops gc, naming it, and nothing is swept: what it protects is unknown.
    @Test func aDamagedJournalStopsGC() async throws {
        let (t, id) = try await killedAfterExchange()
        try TestFiles.write(
            SwitchLayout(target: t.target).journal, "{\"format\":\"smart-sync-switch-journal\",\"version\":1}\n")
        let error = await #expect(throws: SmartSyncError.self) { try await gc(t) }
        #expect(error?.message.contains("switch journal") == true, "\(String(describing: error))")
        #expect(t.runner.store.contains(id), "gc swept a version the damaged journal may protect")
    }

    /// An empty or all-NUL journal (a power cut before its write reached the disk) is no journal to gc, as to the
    /// recovery: gc beside a synced target succeeds. It used to stop with "the switch journal cannot be used".
    @Test(arguments: [0, 4096])
    func anUnwrittenJournalDoesNotStopGC(length: Int) async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        let journal = SwitchLayout(target: t.target).journal
        try TestFiles.write(journal, bytes: [UInt8](repeating: 0, count: length))
        try await gc(t)
        try t.expectTarget(0)
    }

    /// A FIFO planted as a generation's state is skipped by gc: it is not opened for a blocking read, and gc
    /// succeeds. (A FIFO as the journal stops gc as it stops the recovery, without blocking:
    /// ``aFIFOAtTheJournalStopsGCAndIsWarnedAboutByFsck()``.)
    @Test func aFIFOPlantedAsAGenerationsStateDoesNotHangGC() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        try await t.sync(1)
        let layout = SwitchLayout(target: t.target)
        let generation = try #require(try FileSystem.names(in: layout.generations).first { Int($0) != nil })
        let state = layout.generations + "/" + generation + "/state"
        _ = unlink(state)
        #expect(mkfifo(state, 0o600) == 0)
        try await gc(t)
        try t.expectTarget(1)
    }

    /// A sidecar that is a symlink: its roots are unknown, so gc stops naming it rather than sweep (fail-safe); the
    /// walk with the warning policy (fsck's) warns and goes on.
    @Test func aSymlinkedSidecarStopsGCAndIsWarnedAboutByTheWarningPolicy() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        try await t.sync(1)  // commit 0's generation, with its state: a root the refused sidecar hides
        let layout = SwitchLayout(target: t.target)
        #expect(rename(layout.sidecar, layout.sidecar + "-moved") == 0)
        #expect(symlink(layout.sidecar + "-moved", layout.sidecar) == 0)
        let error = await #expect(throws: SmartSyncError.self) { try await gc(t) }
        #expect(error?.message.contains(layout.sidecar) == true, "\(String(describing: error))")
        let (kinds, warnings) = try rootsWithWarnings(t)
        #expect(kinds.contains(.target) && !kinds.contains(.generation))
        #expect(warnings.contains { $0.contains(layout.sidecar) })
        // The generations' states are kept in the sidecar alone (none in the state directory): fsck cannot count
        // them through a refused one, and says what that costs.
        #expect(!FileSystem.exists(t.runner.state.root + "/generations"))
        #expect(
            warnings.contains { $0.contains("an object only they need is not listed as missing or repaired now") },
            "\(warnings)")
        // The sidecar put right: its generations count as roots again.
        #expect(unlink(layout.sidecar) == 0 && rename(layout.sidecar + "-moved", layout.sidecar) == 0)
        let (again, none) = try rootsWithWarnings(t)
        #expect(again.contains(.generation) && none.isEmpty, "\(again) \(none)")
    }

    /// gc of `t`'s store with no grace period.
    private func gc(_ t: StageRecyclerTests.Setup) async throws {
        var options = StoreGC.Options()
        options.grace = 0
        _ = try await StoreGC(store: t.runner.store, state: t.runner.state).run(options)
    }

    /// The kinds of the roots of `t` walked under the warning policy (fsck's), and the warnings.
    private func rootsWithWarnings(_ t: StageRecyclerTests.Setup) throws -> ([StoreRoot.Kind], [String]) {
        let warnings = Locked<[String]>([])
        let roots = StoreRoots(
            store: t.runner.store, states: [t.runner.state], keptSinceNs: 0,
            policy: .warn { _, w in warnings.withLock { $0.append(w.text) } })
        var kinds: [StoreRoot.Kind] = []
        try roots.forEach { kinds.append($0.kind) }
        return (kinds, warnings.withLock { $0 })
    }

    /// gc reads the journal as the recovery does (one reader): a FIFO there stops it naming the path (it used to read
    /// as no journal), and the warning policy (fsck's) warns and goes on; neither blocks on it.
    @Test func aFIFOAtTheJournalStopsGCAndIsWarnedAboutByFsck() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        let layout = SwitchLayout(target: t.target)
        #expect(mkfifo(layout.journal, 0o600) == 0)
        let error = await #expect(throws: SmartSyncError.self) { try await gc(t) }
        #expect(error?.message.contains("'\(layout.journal)'") == true, "\(error?.text ?? "")")
        let (kinds, warnings) = try rootsWithWarnings(t)
        #expect(kinds.contains(.target))
        #expect(warnings.contains { $0.contains(layout.journal) && $0.contains("a FIFO") }, "\(warnings)")
    }

    /// A damaged journal under the warning policy (fsck's): warned about naming it, the other roots still visited.
    @Test func aDamagedJournalIsWarnedAboutByTheWarningPolicy() async throws {
        let (t, _) = try await killedAfterExchange()
        let layout = SwitchLayout(target: t.target)
        try TestFiles.write(layout.journal, "{\"format\":\"smart-sync-switch-journal\",\"version\":1}\n")
        let (kinds, warnings) = try rootsWithWarnings(t)
        #expect(kinds.contains(.target))
        #expect(warnings.contains { $0.contains(layout.journal) }, "\(warnings)")
    }

    /// The second guard: a pending record whose object the store no longer holds is not recorded (a record `restore`
    /// could not use), and a warning says so.
    @Test func aPendingRecordWithoutItsObjectIsSkippedAndWarned() async throws {
        let (t, id) = try await killedAfterExchange()
        #expect(unlink(t.runner.store.path(for: id)) == 0)
        let warnings = Locked<[String]>([])
        try t.runner.state.recoverSwitch(target: t.target, store: t.runner.store) { w in
            warnings.withLock { $0.append(w) }
        }
        #expect(try kept(t, "d0/f0.nix") == nil, "a record of an object the store does not hold")
        #expect(warnings.withLock { $0 }.contains { $0.contains("d0/f0.nix") })
        #expect(try t.runner.state.load(target: t.target)?.commit.hex == t.commits[0])
    }

    /// Killed after the records were appended, before the journal went: the recovery does not record them twice.
    @Test func aRecoveryDoesNotRecordTwice() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await killedRollback(t, at: "recorded")
        try t.runner.state.recoverSwitch(target: t.target, store: t.runner.store)
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        #expect(try log.versions(of: "d0/f0.nix").count == 1)
        #expect(try kept(t, "d0/f0.nix") == "{ edited = true; }\n")
    }

    /// Killed before the exchange, its journal written: the recovery undoes the switch and records nothing.
    @Test func anUndoneRollbackRecordsNothing() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await killedRollback(t, at: "before-exchange")
        try t.runner.state.recoverSwitch(target: t.target, store: t.runner.store)
        #expect(try kept(t, "d0/f0.nix") == nil, "a record of a rollback that did not happen")
        #expect(TestFiles.read(t.target + "/d0/f0.nix") == "{ edited = true; }\n")
    }

    /// A journal of an earlier release (no pending records below its JSON line) is still finished, the state recorded
    /// from the intent; and the JSON line of a journal with pending records holds the journal's fields alone (what an
    /// earlier release decodes of it, the first line only, is checked against that release's fields in
    /// ``SwitchJournalTests/anEarlierReleaseReadsTheFirstLine()``).
    @Test func aJournalWithoutPendingRecordsIsRecovered() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await killedRollback(t, at: "after-exchange")
        let layout = SwitchLayout(target: t.target)
        var journal = try #require(try SwitchJournal.load(layout: layout))
        #expect(journal.pending.map(\.path) == ["d0/f0.nix"])
        #expect(try SwitchJournal.read(at: layout.journal)?.record == SwitchJournal(
            sequence: journal.sequence, incoming: journal.incoming, incomingInode: journal.incomingInode,
            consumed: journal.consumed, untracked: journal.untracked))
        journal.pending = []
        try journal.write(to: layout.journal)
        #expect(TestFiles.read(layout.journal)?.split(separator: "\n").count == 1, "an earlier release's journal")
        try t.runner.state.recoverSwitch(target: t.target, store: t.runner.store)
        #expect(try t.runner.state.load(target: t.target)?.commit.hex == t.commits[0])
        #expect(!FileManager.default.fileExists(atPath: layout.journal))
        try t.expectTarget(0)
    }
}

/// What a rollback does with the operator's permissions and owner on a file the generation shares.
extension RollbackLocalVersionsTests {
    /// A rollback killed before its exchange after its repair mended a generation file the operator's `chmod` reached
    /// (hard links), then retried: the version is recorded once, by the retry that happened. The repair used to
    /// append its record before the exchange, outside the journal: the killed run left a "replaced by the rollback"
    /// record while the target still held the file, and the retry recorded the same version again.
    @Test func aRetriedRollbackRecordsTheRepairedVersionOnce() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        try await t.sync(1)  // d0/f0.nix: the same in A and B, one inode in hard-link mode
        #expect(chmod(t.target + "/d0/f0.nix", 0o600) == 0)
        #expect(throws: (any Error).self) {
            try Rollback.run(
                target: t.target, to: t.commits[0], state: t.runner.state, store: t.runner.store, keepGenerations: 0,
                linkMode: t.runner.linkMode, checkpoint: { if $0 == "before-exchange" { throw Killed() } })
        }
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        try t.runner.state.recoverSwitch(target: t.target, store: t.runner.store)
        #expect(try log.versions(of: "d0/f0.nix").isEmpty, "a record of a rollback that did not happen")
        _ = try rollback(t, to: t.commits[0], Locked<[String]>([]))
        try t.expectTarget(0)
        let records = try log.versions(of: "d0/f0.nix")
        #expect(records.count == 1, "\(records)")
        #expect(records.first?.metadata?.permissions == 0o600)
    }

    /// A `chmod` (or `chown`) of a synced file whose content the generation shares: the generation's file takes its
    /// place with the installed mode, so the operator's permissions and owner are kept as a version (a warning with
    /// the path; `restore` brings them back). They used to be reverted unrecorded.
    @Test(arguments: [false, true], [LinkMode.copy, .hardlink])
    func aPermissionsOrOwnerChangeOnASharedFileIsKept(_ owner: Bool, _ mode: LinkMode) async throws {
        let t = try await StageRecyclerTests.Setup(mode: mode)
        try await t.sync(0)
        try await t.sync(1)  // d0/f0.nix: the same in A and B
        let path = t.target + "/d0/f0.nix"
        if owner { #expect(chown(path, 65534, 65534) == 0) } else { #expect(chmod(path, 0o600) == 0) }
        let warnings = Locked<[String]>([])
        let outcome = try rollback(t, to: t.commits[0], warnings)
        try t.expectTarget(0)
        let version = try #require(outcome.kept.first { $0.path == "d0/f0.nix" }, "the operator's change is lost")
        #expect(owner ? version.metadata?.owner == 65534 : version.metadata?.permissions == 0o600)
        #expect(warnings.withLock { $0 }.contains { $0.contains("'d0/f0.nix' had permissions") })
        let records = try KeptVersionLog(state: t.runner.state, target: t.target).versions(of: "d0/f0.nix")
        #expect(records.count == 1, "recorded twice (in hard-link mode, by the generation's repair too): \(records)")
        _ = try Restore.run(path: "d0/f0.nix", target: t.target, store: t.runner.store, state: t.runner.state)
        var st = stat()
        #expect(lstat(path, &st) == 0 && (owner ? st.st_uid == 65534 : st.st_mode & 0o7777 == 0o600))
        #expect(TestFiles.read(path) == "{ a = 0; }\n")
    }
}
