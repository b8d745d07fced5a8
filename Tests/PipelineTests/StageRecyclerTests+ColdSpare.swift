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
        // One tree for each switch until a generation falls beyond --keep-generations (1 here): a reserve beside it.
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: generations).sorted() == ["spare", "spare-1"],
            "no generation, no leftover")
        #expect(inode(generations + "/spare-1/tree/d2/f2.nix") == inode(t.target + "/d2/f2.nix"))

        let kept = inode(t.target + "/d2/f2.nix")
        let outcome = try await t.sync(1)
        #expect(outcome.applied?.recycled == true, "the first update built its stage from the store")
        try t.expectTarget(1)
        #expect(inode(t.target + "/d2/f2.nix") == kept, "an unchanged file was placed again")
        // The reserve is the spare now, for the second update; nothing else is left beside the generation.
        #expect(try FileManager.default.contentsOfDirectory(atPath: generations).sorted() == ["1", "spare"])
    }

    /// A host updated many times in a row after a cold sync recycles every time: the cold sync leaves a tree for each
    /// update until a generation falls beyond `--keep-generations` and the prune makes the spare (before, updates 2 to
    /// keep + 1 built their stage from the store). The reserves are used up by then, and no tree is left over.
    @Test(arguments: [1, 3])
    func everyUpdateAfterAColdSyncRecycles(_ keep: Int) async throws {
        let t = try await Setup(mode: .hardlink)
        t.runner.keepGenerations = keep
        try await t.sync(0)
        let generations = (t.spare as NSString).deletingLastPathComponent.replacingOccurrences(of: "/spare", with: "")
        #expect(try FileManager.default.contentsOfDirectory(atPath: generations).count == keep + 1)
        for (n, i) in [1, 2, 1, 2, 1, 2, 0].enumerated() {
            let outcome = try await t.sync(i)
            #expect(outcome.applied?.recycled == true, "update \(n + 1) built its stage from the store")
            try t.expectTarget(i)
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: generations).sorted()
        #expect(left == ((8 - keep)...7).map(String.init) + ["spare"], "the newest \(keep) and the spare: \(left)")
    }

    /// Reserves past what the switches to come can use go at the next prune: `--keep-generations` lowered after the
    /// cold sync leaves no tree beyond the kept generations and the spare.
    @Test func reservesBeyondTheKeptGenerationsArePruned() async throws {
        let t = try await Setup(mode: .hardlink)
        t.runner.keepGenerations = 3
        try await t.sync(0)
        t.runner.keepGenerations = 1
        let outcome = try await t.sync(1)
        #expect(outcome.applied?.recycled == true)
        try t.expectTarget(1)
        let generations = (t.spare as NSString).deletingLastPathComponent.replacingOccurrences(of: "/spare", with: "")
        #expect(try FileManager.default.contentsOfDirectory(atPath: generations).sorted() == ["1", "spare"])
    }

    /// A file of the target written in place after the cold sync is written in the spare too (one inode): the first
    /// update must not keep it, and the tree it lands is the commit's.
    @Test(arguments: [LinkMode.hardlink, .copy])
    func aFileEditedInPlaceAfterTheColdSyncIsNotKeptFromTheSpare(_ mode: LinkMode) async throws {
        let t = try await Setup(mode: mode)
        try await t.sync(0)
        try await editInPlaceAndUpdate(t, to: 1)
    }

    /// With `--keep-generations 0` nothing beyond the target is kept, after a cold sync too.
    @Test func aColdSyncKeepingNoGenerationsLeavesNoSpare() async throws {
        let t = try await Setup(mode: .hardlink)
        t.runner.keepGenerations = 0
        try await t.sync(0)
        #expect(!FileManager.default.fileExists(atPath: t.spare))
    }
}
