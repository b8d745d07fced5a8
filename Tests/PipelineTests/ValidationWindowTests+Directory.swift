import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A tracked file the plan leaves unchanged that the operator replaces by a directory while the stage is validated:
/// the carry passes over it (the new tree has a file there), so the directory stays in the outgoing tree.
extension ValidationWindowTests {
    /// With `--keep-generations 0`, whose prune removes that tree as soon as the switch stands, every file and symlink
    /// inside the directory is kept as a local version first (named in a warning, recorded with the new commit), walked
    /// by directory descriptor: a symlink inside is kept as the link it is, and what it points at (a directory outside,
    /// with a file) is not entered. The target holds B. (It went with the outgoing tree: no record, no warning.)
    @Test(arguments: [LinkMode.hardlink, .copy])
    func aTrackedFileReplacedByADirectoryWhileTheStageIsValidatedIsKept(_ mode: LinkMode) async throws {
        let t = try await StageRecyclerTests.Setup(mode: mode)
        let target = t.target
        let outside = t.dirs.path + "/outside"
        try TestFiles.write(outside + "/secret.txt", "not the operator's to keep\n")
        t.runner.keepGenerations = 0
        let (outcome, warnings) = try await syncThrough(t) {
            try FileManager.default.removeItem(atPath: target + "/d2/f2.nix")
            try TestFiles.write(target + "/d2/f2.nix/a.txt", "mine a\n")
            try TestFiles.write(target + "/d2/f2.nix/sub/b.txt", "mine b\n", mode: 0o600)
            try FileManager.default.createSymbolicLink(
                atPath: target + "/d2/f2.nix/sub/out", withDestinationPath: outside)
        }
        #expect(outcome.switched)
        #expect(try Rollback.generations(target: t.target).isEmpty)
        try t.expectTarget(1)
        let log = KeptVersionLog(state: t.runner.state, target: t.target)
        let a = try log.versions(of: TreePath("d2/f2.nix/a.txt")).first
        #expect(try storedText(t, a) == "mine a\n" && a?.replacedBy?.hex == t.commits[1])
        let b = try log.versions(of: TreePath("d2/f2.nix/sub/b.txt")).first
        #expect(try storedText(t, b) == "mine b\n" && b?.metadata?.permissions == 0o600)
        let link = try log.versions(of: TreePath("d2/f2.nix/sub/out")).first
        #expect(try storedText(t, link) == outside && link?.mode == .symlink)
        #expect(try log.versions(of: TreePath("d2/f2.nix/sub/out/secret.txt")).isEmpty, "the symlink was followed")
        let all = try log.load().map(\.path.description)
        #expect(all.count == 3, "\(all)")
        // One warning for the directory (not one a file), naming it, how many, and a restore step that works.
        let named = warnings.filter { $0.contains("'d2/f2.nix' was a directory") }
        #expect(named.count == 1 && warnings.count == 1, "\(warnings)")
        let said = named.first ?? ""
        #expect(said.contains("3 files") && said.contains("move the file 'd2/f2.nix' away"), "\(said)")
        // The tracked file stands at d2/f2.nix: a restore inside fails until it is moved away, as the warning says.
        let (store, state) = (t.runner.store, t.runner.state)
        #expect(throws: (any Error).self) {
            try Restore.run(path: "d2/f2.nix/a.txt", target: target, store: store, state: state)
        }
        try FileManager.default.moveItem(atPath: target + "/d2/f2.nix", toPath: t.dirs.path + "/f2.nix.tracked")
        for path in ["d2/f2.nix/a.txt", "d2/f2.nix/sub/b.txt"] {
            _ = try Restore.run(path: path, target: target, store: store, state: state)
        }
        #expect(TestFiles.read(target + "/d2/f2.nix/a.txt") == "mine a\n")
        #expect(TestFiles.read(target + "/d2/f2.nix/sub/b.txt") == "mine b\n")
        let kept = outcome.kept.map(\.path.description).sorted()
        #expect(kept == ["d2/f2.nix/a.txt", "d2/f2.nix/sub/b.txt", "d2/f2.nix/sub/out"])
        #expect(TestFiles.read(outside + "/secret.txt") == "not the operator's to keep\n")
    }
}
