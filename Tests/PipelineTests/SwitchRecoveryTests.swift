import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The recovery of a switch a killed or failed run left: one reader of the journal, one recovery per run, and the
/// same recovery (which records the switch) on a run's own failure path.
@Suite(.serialized) struct SwitchRecoveryTests {
    private struct Stop: Error {}

    /// A target synced to A, then a sync to B stopped right after its exchange (nothing recorded): its journal pending.
    private func stoppedAfterExchange() async throws -> StageRecyclerTests.Setup {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        t.runner.checkpoint = { if $0 == "after-exchange" { throw Stop() } }
        await #expect(throws: (any Error).self) { try await t.sync(1) }
        t.runner.checkpoint = { _ in }
        #expect(TestFiles.lstat(SwitchLayout(target: t.target).journal) != nil)
        return t
    }

    /// A symlink (to the very journal it replaced) or a FIFO at the journal's path stops the recovery at once, naming
    /// the path and what is there: it is not followed (recovery used to follow it and finish the switch it named) and
    /// not opened for a blocking read (recovery used to hang on a FIFO). Nothing is changed.
    @Test(arguments: ["symlink", "fifo"])
    func aSymlinkOrFIFOAtTheJournalStopsTheRecoveryNamingIt(kind: String) async throws {
        let t = try await stoppedAfterExchange()
        let layout = SwitchLayout(target: t.target)
        let aside = layout.sidecar + "/journal-aside"
        #expect(rename(layout.journal, aside) == 0)
        if kind == "symlink" {
            #expect(symlink(aside, layout.journal) == 0)
        } else {
            #expect(mkfifo(layout.journal, 0o600) == 0)
        }
        let error = await #expect(throws: SmartSyncError.self) { try await t.sync(1) }
        #expect(error?.code == .unsafePath)
        #expect(error?.message.contains("'\(layout.journal)'") == true, "\(error?.text ?? "")")
        #expect(error?.message.contains(kind == "symlink" ? "a symlink" : "a FIFO") == true)
        #expect(TestFiles.lstat(aside) != nil && TestFiles.lstat(layout.journal) != nil, "nothing is removed")
        #expect(
            try t.runner.state.load(target: t.target)?.commit.hex == t.commits[0],
            "the refused recovery recorded the switch (the state should still name A)")
        // Put back, the journal is recovered as any other.
        #expect(unlink(layout.journal) == 0 && rename(aside, layout.journal) == 0)
        let again = try await t.sync(1)
        #expect(!again.switched, "the recovery recorded B's tree: nothing to switch")
        try t.expectTarget(1)
    }

    /// A run recovers once, under the lock before its scan; the apply does not recover again. A journal that appears
    /// after the run's recovery (planted here while the target is scanned) is refused by the apply, not silently
    /// undone by a second recovery as it used to be; the failed run's way out leaves it alone too (it used to recover
    /// it: a journal the run did not write), and the next run's recovery undoes it (the target lacks its inode).
    @Test func theApplyLeavesTheRecoveryToTheRun() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        let layout = SwitchLayout(target: t.target)
        let planted = SwitchJournal(sequence: 99, incoming: layout.stage, incomingInode: 1, consumed: nil)
        let bytes = try planted.encodedRecord()
        // Planted once, exactly: two scan threads call the hook, and a check of the path then a write could race.
        let plantedYet = Locked(false)
        t.runner.beforeScanOpening = { _, _ in
            let first = plantedYet.withLock { done in
                defer { done = true }
                return !done
            }
            if first { try? TestFiles.write(layout.journal, bytes: bytes) }  // the refusal below says it was
        }
        let error = await #expect(throws: SmartSyncError.self) { try await t.sync(1) }
        #expect(error?.code == .internal, "\(error?.text ?? "")")
        #expect(error?.message.contains("must be recovered") == true, "\(error?.text ?? "")")
        try t.expectTarget(0)
        #expect(TestFiles.lstat(layout.journal) != nil, "the failure path acted on a journal the run did not write")
        t.runner.beforeScanOpening = nil
        try await t.sync(1)
        try t.expectTarget(1)
    }

    /// A run that fails after its journal was written (before the exchange: every failure after it is reported as one
    /// after the switch) undoes the switch on its way out with the recovery every run starts with: no journal, no
    /// stage, no half-made generation, the target and its recorded state as they were; the next run switches.
    @Test(arguments: ["prepared", "staged", "before-exchange"])
    func aRunFailingAfterItsJournalWasWrittenUndoesTheSwitch(at point: String) async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        try await t.sync(0)
        try await t.sync(1)
        let layout = SwitchLayout(target: t.target)
        // The numbered generations (the spare, recycled as the stage, goes with it).
        let numbered = { try FileSystem.names(in: layout.generations).filter { Int($0) != nil }.sorted() }
        let generationsBefore = try numbered()
        t.runner.checkpoint = { if $0 == point { throw Stop() } }
        await #expect(throws: (any Error).self) { try await t.sync(2) }
        #expect(TestFiles.lstat(layout.journal) == nil, "the failed run left its journal")
        #expect(TestFiles.lstat(layout.stage) == nil, "the failed run left its stage")
        #expect(try numbered() == generationsBefore, "a half-made generation is left")
        try t.expectTarget(1)
        #expect(try t.runner.state.load(target: t.target)?.commit.hex == t.commits[1])
        t.runner.checkpoint = { _ in }
        #expect(try await t.sync(2).switched)
        try t.expectTarget(2)
        #expect(try t.runner.state.load(target: t.target)?.commit.hex == t.commits[2])
    }
}
