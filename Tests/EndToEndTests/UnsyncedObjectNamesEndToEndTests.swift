import Foundation
import Glibc
import TestSupport
import Testing

/// A pack's objects are named in `objects/` without a sync of their own (``ObjectBatch``: the bytes are synced first,
/// the names made durable by the next sync of the file system). A crash can lose names the same run published, never
/// bytes: with the store on a file system no later sync covered (a target elsewhere), the commit's name may survive
/// while its trees' and blobs' names, linked after it, are gone. Through the pack transport (the test server's git
/// listener): the next runs' pack asks `have <commit>` only for a commit whose closure the store holds, reads trees
/// from the store only when they are there, and lands every tree.
@Suite("object names lost in a crash, pack transport", .serialized)
struct UnsyncedObjectNamesEndToEndTests {
    /// The store's object names (`xx/yyyy…`).
    private func names(_ store: String) throws -> Set<String> {
        var out: Set<String> = []
        for dir in try FileManager.default.contentsOfDirectory(atPath: store + "/objects") {
            for name in try FileManager.default.contentsOfDirectory(atPath: store + "/objects/" + dir) {
                out.insert(dir + "/" + name)
            }
        }
        return out
    }

    /// The update to B published its commit, trees and blobs in one batch; the crash keeps the commit's name and loses
    /// the others'. The next update (C, one file from B), a move back to B, and B again all land their trees.
    @Test(arguments: ["copy", "hardlink"])
    func aCrashKeepingTheCommitsNameAndLosingItsTreesAndBlobs(_ mode: String) throws {
        let s = try Scenario()
        let common = ["--transport", "pack", "--link-mode", mode, "--allow-downgrade"]
        let a = try Fixtures.commitA(s.repo)
        try s.sync(common + ["--ref", a])
        let before = try names(s.store)
        let b = try Fixtures.commitB(s.repo)
        try s.sync(common + ["--ref", b])
        try s.expectTargetEqualsArchive(b)
        let commit = b.prefix(2) + "/" + b.dropFirst(2)
        let published = try names(s.store).subtracting(before)
        #expect(published.contains(String(commit)), "the update's pack did not bring its commit")
        var lost = 0
        for name in published where name != commit {
            #expect(unlink(s.store + "/objects/" + name) == 0)
            lost += 1
        }
        #expect(lost >= 3, "the update's pack brought no trees and blobs: \(published)")

        try s.repo.write("README.md", "# hyper, C\n")
        let c = try s.repo.commit("C")
        try s.sync(common + ["--ref", c])
        try s.expectTargetEqualsArchive(c)
        try s.sync(common + ["--ref", a])
        try s.expectTargetEqualsArchive(a)
        try s.sync(common + ["--ref", b])
        try s.expectTargetEqualsArchive(b)
    }
}
