import Foundation
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncWorkflow
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A failure after the exchange counts as a switch; an update killed after its switch is finished by the next one
/// (the pending-rebuild mark).
@Suite(.serialized) struct UpdateRecoveryTests {
    private struct Stop: Error {}

    /// "after-exchange": the state's save fails (the journal stays); "filed": pruning fails (the state is saved).
    /// With `--keep-generations 0` too: the replaced tree is still on disk (the prune that removes it had not run, or
    /// failed), so the update rolls back to it rather than saying no tree was kept.
    @Test(arguments: ["after-exchange", "filed"], [3, 0])
    func aFailureAfterTheExchangeRollsBack(point: String, keep: Int) async throws {
        var f = try await UpdateFixture()
        f.runner.keepGenerations = keep
        try await f.sync(0)
        var runner = f.runner
        runner.checkpoint = { if $0 == point { throw Stop() } }
        let report = await UpdateWorkflow(runner: runner).run(f.options(1))
        let message = report.failure?.message ?? ""
        #expect(report.switched)
        #expect(report.rolledBack, "\(message)")
        #expect(report.commitAfter?.hex == f.commits[0])
        #expect(f.conf() == "a\n")
        #expect(f.runs().isEmpty, "no rebuild ran for b, so none runs for a either")
        #expect(message.contains("update failed at sync"), "\(message)")
        #expect(message.contains("was switched to \(f.commits[1])"))
        #expect(message.contains("rolled back to \(f.commits[0])"))
        #expect(report.record(.sync)?.status == .failed)
        #expect(try f.runner.state.load(target: f.target)?.commit.hex == f.commits[0])
        #expect(try f.runner.state.loadPendingRebuild(target: f.target) == nil, "back at the confirmed tree")

        // The next update goes to b as usual.
        let again = await UpdateWorkflow(runner: f.runner).run(f.options(1))
        #expect(again.failure == nil, "\(again.failure?.message ?? "")")
        #expect(again.switched)
        #expect(f.runs() == ["\(f.commits[1]) 0"])
    }

    @Test func anUpdateKilledAfterItsSwitchIsFinishedByTheNext() async throws {
        let f = try await UpdateFixture()
        try await f.sync(0)
        // What an update killed after its switch leaves: its mark (made before the sync) and the target at b.
        try f.mark(confirmed: 0)
        try await f.sync(1)

        let report = await UpdateWorkflow(runner: f.runner).run(f.options(1))
        #expect(report.failure == nil, "\(report.failure?.message ?? "")")
        #expect(report.resumed)
        #expect(!report.switched)
        #expect(f.runs() == ["\(f.commits[1]) 0"])
        #expect(report.record(.sync)?.message.contains("did not finish") == true)
        #expect(try f.runner.state.loadPendingRebuild(target: f.target) == nil)
        // Confirmed: the next update of the same commit changes and rebuilds nothing.
        let again = await UpdateWorkflow(runner: f.runner).run(f.options(1))
        #expect(!again.resumed)
        #expect(f.runs().count == 1)
    }

    @Test func aFailingRebuildOfAnInterruptedUpdateRollsBackToTheConfirmedTree() async throws {
        let f = try await UpdateFixture()
        try await f.sync(0)
        try f.mark(confirmed: 0)
        // Two switches since the mark (a → b → c): the rollback goes to a, the last confirmed tree.
        try await f.sync(1)
        try await f.sync(2)
        let report = await UpdateWorkflow(runner: f.runner).run(f.options(2, failOn: "c"))
        #expect(report.resumed)
        #expect(report.rolledBack)
        #expect(f.conf() == "a\n")
        #expect(f.runs() == ["\(f.commits[2]) 0", "\(f.commits[0]) 1"])
        #expect(try f.runner.state.loadPendingRebuild(target: f.target) == nil)
    }

    @Test func aMarkAtTheConfirmedTreeRebuildsItAndKeepsTheMarkUntilItPasses() async throws {
        let f = try await UpdateFixture()
        try await f.sync(0)
        // Killed before its switch (or after a rollback whose rebuild never ran): the target is at the confirmed a.
        try f.mark(confirmed: 0)
        let failing = await UpdateWorkflow(runner: f.runner).run(f.options(0, failOn: "a"))
        #expect(failing.resumed)
        #expect(!failing.rolledBack)
        #expect(
            failing.failure?.message.contains("nothing to roll back to") == true, "\(failing.failure?.message ?? "")")
        #expect(try f.runner.state.loadPendingRebuild(target: f.target) != nil, "kept: a is still not rebuilt")
        let passing = await UpdateWorkflow(runner: f.runner).run(f.options(0))
        #expect(passing.failure == nil)
        #expect(passing.resumed)
        #expect(f.runs() == ["\(f.commits[0]) 0", "\(f.commits[0]) 0"])
        #expect(try f.runner.state.loadPendingRebuild(target: f.target) == nil)
    }
}

extension UpdateFixture {
    /// The mark an update makes before its sync, with commit `i` confirmed.
    func mark(confirmed i: Int) throws {
        let generation = try Rollback.generations(target: target).first?.sequence
        try runner.state.savePendingRebuild(
            PendingRebuild(confirmed: ObjectID(hex: commits[i]), generationBefore: generation, sinceNs: 1),
            target: target)
    }
}
