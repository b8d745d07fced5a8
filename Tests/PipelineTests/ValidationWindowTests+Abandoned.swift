import Foundation
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The look's mark (``PendingLook``) where no switch stands: a stage abandoned before the exchange leaves no marked
/// generation and no look to do; and a rollback to a marked generation.
extension ValidationWindowTests {
    private struct Refused: Error {}

    /// No generation of `t`'s target is marked, and (with `log`) the kept-version log is empty.
    private func expectNoLook(_ t: StageRecyclerTests.Setup, log: Bool = true) throws {
        let layout = SwitchLayout(target: t.target)
        let names = TreeOps.isDirectory(layout.generations) ? try FileSystem.names(in: layout.generations) : []
        for seq in names.compactMap(Int.init) {
            #expect(TestFiles.lstat(PendingLook.path(layout, seq)) == nil, "generation \(seq) is marked")
        }
        if log { #expect(try KeptVersionLog(state: t.runner.state, target: t.target).load().isEmpty) }
    }

    /// A validator that throws (after an edit of a tracked file the plan leaves unchanged), or a run stopped at
    /// `prepared` (the mark written, the stage not synced): the switch is abandoned, the target holds A with the
    /// edit, no generation is left marked, and the next run looks at nothing (no record, no warning of a look).
    @Test(arguments: ["validator", "prepared"])
    func anAbandonedStageLeavesNoMarkedGeneration(_ how: String) async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let target = t.target
        try await t.sync(0)
        t.runner.keepGenerations = 0
        let stop = how == "prepared"
        t.runner.checkpoint = { if stop && $0 == "prepared" { throw Refused() } }
        t.runner.stageValidator = { _ in
            try TestFiles.write(target + "/d2/f2.nix", "{ mine = 2; }\n")
            if !stop { throw Refused() }
        }
        await #expect(throws: (any Error).self) { try await t.sync(1) }
        t.runner.stageValidator = nil
        t.runner.checkpoint = { _ in }
        #expect(try t.runner.state.load(target: t.target)?.commit.hex == t.commits[0])
        try expectNoLook(t)
        let warnings = recordWarnings(t)
        try await t.sync(0)  // keeps the edit before it puts A's file back (keep-local), not by a look
        try expectNoLook(t, log: false)
        let log = try KeptVersionLog(state: t.runner.state, target: t.target).load()
        if !stop {  // stopped at `prepared`, the validator never ran: no edit
            #expect(log.map(\.path) == [TreePath("d2/f2.nix")] && log.first?.replacedBy?.hex == t.commits[0], "\(log)")
        }
        let said = warnings.withLock { $0 }
        #expect(!said.contains { $0.contains("could not be kept") }, "\(said)")
    }

    /// A rollback to a marked generation: its recovery does the look first (the edit kept as a local version, the
    /// mark removed), then puts the generation's tree back as its state records it (the edit is not the generation's:
    /// repaired; `restore` brings the kept version back), and uses the generation up. (The
    /// directory `stoppedSync` puts in place of `d3/f3.nix` is removed first: a rollback to a generation holding a
    /// directory where its state has a file fails in the generation's repair, `rename ... Is a directory`, a defect
    /// of its own, not the look's.)
    @Test func aRollbackToAMarkedGenerationLooksFirstAndUsesItUp() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        let generation = try await stoppedSync(t, at: "keep-edits")
        try FileManager.default.removeItem(atPath: generation.tree + "/d3/f3.nix")
        let warnings = Locked<[String]>([])
        _ = try Rollback.run(
            target: t.target, to: String(generation.sequence), state: t.runner.state, store: t.runner.store,
            keepGenerations: 0, linkMode: t.runner.linkMode,
            events: { if case .warning(let text) = $0 { warnings.withLock { $0.append(text) } } })
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        let edited = try log.versions(of: TreePath("d2/f2.nix"))
        #expect(edited.count == 1 && edited.first?.replacedBy?.hex == t.commits[1], "\(edited)")
        #expect(warnings.withLock { $0 }.contains { $0.contains("'d2/f2.nix'") })
        #expect(TestFiles.read(t.target + "/d2/f2.nix") != "{ mine = 2; }\n", "the generation's file, not the edit")
        _ = try Restore.run(path: "d2/f2.nix", target: t.target, store: t.runner.store, state: t.runner.state)
        #expect(TestFiles.read(t.target + "/d2/f2.nix") == "{ mine = 2; }\n")
        #expect(!TreeOps.isDirectory(SwitchLayout(target: t.target).generation(generation.sequence)))
    }
}
