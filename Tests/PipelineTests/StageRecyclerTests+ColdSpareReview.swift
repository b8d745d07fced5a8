import Foundation
import Glibc
import SmartSyncCore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The cold spare is made only once the switch stands: a stage that never reaches the target leaves no spare (it
/// did, when the spare was linked from the stage before validation and the exchange).
extension StageRecyclerTests {
    struct Rejected: Error {}

    /// A cold sync whose stage `update` rejects (validateStage throws) switches nothing in, yet leaves
    /// `generations/spare` holding hard links to the rejected stage's files (in copy mode: a whole hidden copy of a
    /// tree that was never the target's); the cold sync that follows finds it and leaves no spare of its own.
    @Test(arguments: [LinkMode.copy, .hardlink])
    func aRejectedColdStageLeavesNoSpare(_ mode: LinkMode) async throws {
        let t = try await Setup(mode: mode)
        t.runner.stageValidator = { _ in throw Rejected() }
        await #expect(throws: (any Error).self) { try await t.sync(0) }
        #expect(!FileManager.default.fileExists(atPath: t.target), "nothing was switched in")
        #expect(!FileManager.default.fileExists(atPath: t.spare), "a spare of a stage that never was the target")

        // The next cold sync's spare is its own tree's: the target's inodes.
        t.runner.stageValidator = nil
        try await t.sync(0)
        #expect(inode(t.spare + "/d2/f2.nix") == inode(t.target + "/d2/f2.nix"), "the stale spare was kept instead")
    }
}

extension StageRecyclerTests {
    /// An edit of a target file (the cold spare's own inode) after the first update's scan and before the recycler's
    /// pass, that puts the sealed time back (same size): only the ctime shows it. Copy mode only: with hard links the
    /// file is the store's object, whose seal (mode, owner, mtime) such an edit keeps, a known window (ARCHITECTURE,
    /// "Store integrity": what the seal cannot see) that predates the spare.
    @Test(arguments: [LinkMode.copy])
    func aSealKeepingEditBetweenTheScanAndTheRecycleIsNotKept(_ mode: LinkMode) async throws {
        let t = try await Setup(mode: mode)
        try await t.sync(0)
        let file = t.target + "/d3/f3.nix"  // the same in A and B
        t.runner.checkpoint = { name in
            guard name == "recycled" else { return }
            chmod(file, 0o644)
            Self.writeKeepingTheSeal(file, "{ b = 3; }\n")
            chmod(file, 0o444)
            var times = [timespec(tv_sec: 1, tv_nsec: 0), timespec(tv_sec: 1, tv_nsec: 0)]
            utimensat(AT_FDCWD, file, &times, AT_SYMLINK_NOFOLLOW)
        }
        do {
            try await t.sync(1)
            #expect(
                try String(contentsOfFile: file, encoding: .utf8) == "{ a = 3; }\n", "the edit was kept as B's file")
        } catch {
            #expect(try String(contentsOfFile: t.target + "/d2/f2.nix", encoding: .utf8) == "{ a = 2; }\n", "\(error)")
        }
    }
}
