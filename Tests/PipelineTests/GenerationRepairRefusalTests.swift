import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A rollback whose generation cannot be mended at one path changes none: the versions kept at the paths before it
/// are not lost (their records would be, were those paths mended first), and a directory of the operator's at a file's
/// path is refused with its path and what to do, its files where they were.
@Suite("rollback's refusals of a generation", .serialized)
struct GenerationRepairRefusalTests {
    private func rollback(_ t: StageRecyclerTests.Setup, keep: Int = 1) throws -> Rollback.Outcome {
        try Rollback.run(
            target: t.target, to: t.commits[0], state: t.runner.state, store: t.runner.store, keepGenerations: keep,
            linkMode: t.runner.linkMode)
    }

    /// Generation 1 (A's tree) with an edit at `d2/f2.nix` and a directory of the operator's at `d3/f3.nix`.
    private func damagedGeneration(_ t: StageRecyclerTests.Setup) async throws -> Generation {
        try await t.sync(0)
        try await t.sync(1)
        let generation = try #require(try Rollback.generations(target: t.target).first)
        try TestFiles.write(generation.tree + "/d2/f2.nix", "{ edited = true; }\n")
        unlink(generation.tree + "/d3/f3.nix")
        try TestFiles.write(generation.tree + "/d3/f3.nix/mine.txt", "the operator's\n")
        return generation
    }

    private func versions(_ t: StageRecyclerTests.Setup, _ path: String) throws -> [ObjectID] {
        try Restore.versions(of: path, target: t.target, state: t.runner.state, store: t.runner.store).map(\.id)
    }

    /// The edit at the path before the failing one is still to be had after the refusal (in the generation), and
    /// after the retry (a kept version, `restore --list`), its content in the store.
    @Test(arguments: [LinkMode.hardlink, .copy])
    func aPathThatFailsLosesNoVersionKeptBeforeIt(_ mode: LinkMode) async throws {
        let t = try await StageRecyclerTests.Setup(mode: mode)
        let generation = try await damagedGeneration(t)
        let edit = ObjectID.blob(Array("{ edited = true; }\n".utf8))
        #expect(throws: SmartSyncError.self) { try rollback(t) }
        #expect(try versions(t, "d2/f2.nix").contains(edit), "the edit went before the rollback failed")

        // The operator moves the directory away and rolls back again.
        #expect(rename(generation.tree + "/d3/f3.nix", t.dirs.path + "/moved") == 0)
        let outcome = try rollback(t)
        #expect(outcome.repaired.contains(TreePath("d2/f2.nix")))
        try t.expectTarget(0)
        #expect(try versions(t, "d2/f2.nix").contains(edit), "the edit is out of restore's reach")
        #expect(try t.runner.store.readVerifiedBlob(edit) == Array("{ edited = true; }\n".utf8))
        #expect(TestFiles.read(t.dirs.path + "/moved/mine.txt") == "the operator's\n")
    }

    /// A directory at a tracked file's path of the generation (it went with the generation, keep 3): the rollback is
    /// refused before anything changes, naming the path and what to do; the target and the directory's files stay.
    @Test func aDirectoryAtAFilesPathIsRefusedWithItsPath() async throws {
        let t = try await StageRecyclerTests.Setup(mode: .hardlink)
        t.runner.keepGenerations = 3
        let generation = try await damagedGeneration(t)
        let shown = generation.tree + "/d3/f3.nix"
        do {
            _ = try rollback(t, keep: 3)
            Issue.record("a rollback onto a directory at a file's path went through")
        } catch let error as SmartSyncError {
            #expect(error.code == .conflict, "\(error.text)")
            #expect(error.message.contains(shown), "\(error.text)")
            #expect(error.hint?.contains("move '\(shown)' away") == true, "\(error.text)")
        }
        #expect(TestFiles.read(shown + "/mine.txt") == "the operator's\n")
        #expect(TestFiles.read(generation.tree + "/d2/f2.nix") == "{ edited = true; }\n")
        try t.expectTarget(1)
    }
}
