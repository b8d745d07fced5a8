import Foundation
import Glibc
import SmartSyncCore
import SmartSyncObjectStore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The spare a cold sync leaves: hard links to the files of the stage it built from the store, so the first update
/// recycles instead of building its stage from the store again.
extension StageRecyclerTests {
    @Test(arguments: [LinkMode.hardlink, .copy])
    func aColdSyncLeavesASpareThatTheFirstUpdateRecycles(_ mode: LinkMode) async throws {
        let t = try await Setup(mode: mode)
        try await t.sync(0)
        try t.expectTarget(0)
        // Every regular file and executable of the tree, the target's very inode; no symlink.
        #expect(inode(t.spare + "/d2/f2.nix") == inode(t.target + "/d2/f2.nix"))
        #expect(inode(t.spare + "/scripts/run.sh") == inode(t.target + "/scripts/run.sh"))
        #expect(inode(t.spare + "/link") == 0, "symlinks are left for the recycler to place")
        let generations = (t.spare as NSString).deletingLastPathComponent.replacingOccurrences(of: "/spare", with: "")
        #expect(try FileManager.default.contentsOfDirectory(atPath: generations) == ["spare"], "no generation, no leftover")

        let kept = inode(t.target + "/d2/f2.nix")
        let outcome = try await t.sync(1)
        #expect(outcome.applied?.recycled == true, "the first update built its stage from the store")
        try t.expectTarget(1)
        #expect(inode(t.target + "/d2/f2.nix") == kept, "an unchanged file was placed again")
        #expect(!FileManager.default.fileExists(atPath: t.spare), "the spare was not used up")
    }

    /// A file of the target written in place after the cold sync is written in the spare too (one inode): the first
    /// update must not keep it, and the tree it lands is the commit's.
    @Test(arguments: [LinkMode.hardlink, .copy])
    func aFileEditedInPlaceAfterTheColdSyncIsNotKeptFromTheSpare(_ mode: LinkMode) async throws {
        let t = try await Setup(mode: mode)
        try await t.sync(0)
        let file = t.target + "/d3/f3.nix"  // the same in A and B
        Self.writeKeepingTheSeal(file, "{ b = 3; }\n")
        #expect(try String(contentsOfFile: t.spare + "/d3/f3.nix", encoding: .utf8) == "{ b = 3; }\n")

        let outcome = try await t.sync(1)
        #expect(outcome.applied?.recycled == true)
        try t.expectTarget(1)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "{ a = 3; }\n")
    }

    /// With `--keep-generations 0` nothing beyond the target is kept, after a cold sync too.
    @Test func aColdSyncKeepingNoGenerationsLeavesNoSpare() async throws {
        let t = try await Setup(mode: .hardlink)
        t.runner.keepGenerations = 0
        try await t.sync(0)
        #expect(!FileManager.default.fileExists(atPath: t.spare))
    }
}
