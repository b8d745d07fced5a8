import Foundation
import Glibc
import SmartSyncCore
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// The directories of a recycled stage: they take the target's metadata as it is now, written only where it differs,
/// and what is made in them inherits nothing of the recycled tree's past.
extension StageRecyclerTests {
    /// A directory's mode, owner, group, ACL and extended attributes, as `stat`, `getfacl` and `getfattr` print them.
    static func metadata(_ path: String) throws -> String {
        let stat = try ProcessRunner.run("/usr/bin/stat", ["-c", "%a %u %g", path]).stdoutString
        let acl = try ProcessRunner.run("/usr/bin/getfacl", ["-p", "-c", path]).stdoutString
        let xattrs = try ProcessRunner.run("/usr/bin/getfattr", ["-d", "-m", "-", "-h", "--absolute-names", path])
            .stdoutString.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: "\n")
        return stat + acl + xattrs
    }

    private func ctime(_ path: String) -> timespec {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_ctim : timespec()
    }

    /// A recycled directory that already has the target directory's metadata is not written: neither given a new
    /// directory's metadata by the recycler nor the target's again by the carrier (each was a `chmod`, and with ACLs
    /// and attributes a rewrite of each, on every directory of the tree at every update).
    @Test func aRecycledDirectoryWhoseMetadataIsTheTargetsIsNotWritten() async throws {
        let t = try await Setup(mode: .hardlink)
        try await t.sync(0)
        for (tool, args) in [
            ("/bin/chmod", ["2750", t.target + "/d2"]), ("/bin/chown", ["65534:65534", t.target + "/d2"]),
            ("/usr/bin/setfacl", ["-m", "u:65534:rx", t.target + "/d2"]),
            ("/usr/bin/setfattr", ["-n", "user.note", "-v", "kept", t.target + "/d2"]),
        ] {
            try ProcessRunner.run(tool, args)
        }
        let wanted = try Self.metadata(t.target + "/d2")
        for i in [1, 2, 1] { try await t.sync(i) }  // the spare now holds B's tree, d2 as the operator left it
        let spareD2 = t.spare + "/d2"
        let (before, spareInode) = (ctime(spareD2), inode(spareD2))
        #expect(try Self.metadata(spareD2) == wanted)

        let outcome = try await t.sync(2)  // B → C leaves d2 alone
        #expect(outcome.applied?.recycled == true)
        #expect(inode(t.target + "/d2") == spareInode, "the recycled d2 is not the target's")
        let after = ctime(t.target + "/d2")
        #expect(
            after.tv_sec == before.tv_sec && after.tv_nsec == before.tv_nsec,
            "d2's metadata was written (its ctime moved) though it already was the target's")
        #expect(try Self.metadata(t.target + "/d2") == wanted)
        try t.expectTarget(2)
    }

    /// The target's directory metadata as it is now reaches a recycled directory that had another: attributes added,
    /// changed and removed, the mode and the owner.
    @Test func aRecycledDirectoryGetsTheTargetsMetadataAsItIsNow() async throws {
        let t = try await Setup(mode: .hardlink)
        try await t.sync(0)
        try ProcessRunner.run("/usr/bin/setfattr", ["-n", "user.old", "-v", "1", t.target + "/d1"])
        try ProcessRunner.run("/usr/bin/setfacl", ["-m", "u:65534:rwx", t.target + "/d1"])
        for i in [1, 2, 1] { try await t.sync(i) }  // the spare holds B's tree, d1 with user.old and the ACL
        #expect(try Self.metadata(t.spare + "/d1").contains("user.old"))
        for (tool, args) in [
            ("/usr/bin/setfattr", ["-x", "user.old", t.target + "/d1"]),
            ("/usr/bin/setfattr", ["-n", "user.new", "-v", "2", t.target + "/d1"]),
            ("/usr/bin/setfacl", ["-b", t.target + "/d1"]), ("/bin/chmod", ["1750", t.target + "/d1"]),
            ("/bin/chown", ["65534:100", t.target + "/d1"]),
        ] {
            try ProcessRunner.run(tool, args)
        }
        let wanted = try Self.metadata(t.target + "/d1")
        let outcome = try await t.sync(2)
        #expect(outcome.applied?.recycled == true)
        #expect(try Self.metadata(t.target + "/d1") == wanted)
        #expect(try Self.metadata(t.target + "/d3") == Self.metadata(t.target + "/d0"))
    }

    /// What a recycled directory had in its past is not inherited by what is made in it: a file the update writes (a
    /// new inode, with `--link-mode copy`) in a directory that had a default ACL and a setgid bit then gets neither
    /// the ACL nor that group, as in a stage built from scratch.
    @Test func whatIsMadeInARecycledDirectoryInheritsNothingFromItsPast() async throws {
        let t = try await Setup(mode: .copy)
        try await t.sync(0)
        for (tool, args) in [
            ("/bin/chmod", ["2755", t.target + "/d0"]), ("/bin/chown", ["0:65534", t.target + "/d0"]),
            ("/usr/bin/setfacl", ["-d", "-m", "u:65534:rwx", t.target + "/d0"]),
        ] {
            try ProcessRunner.run(tool, args)
        }
        for i in [1, 2, 1] { try await t.sync(i) }  // the spare holds B's tree, d0 with the metadata above
        #expect(try Self.metadata(t.spare + "/d0").contains("default:user:nobody:rwx"))
        for (tool, args) in [
            ("/usr/bin/setfacl", ["-k", t.target + "/d0"]), ("/bin/chmod", ["00755", t.target + "/d0"]),
            ("/bin/chown", ["0:0", t.target + "/d0"]),
        ] {
            try ProcessRunner.run(tool, args)
        }
        let outcome = try await t.sync(2)  // C writes d0/f4.nix anew, in the recycled d0
        #expect(outcome.applied?.recycled == true)
        try t.expectTarget(2)
        var written = stat()
        var elsewhere = stat()
        #expect(lstat(t.target + "/d0/f4.nix", &written) == 0 && lstat(t.target + "/d1/f1.nix", &elsewhere) == 0)
        #expect(written.st_gid == elsewhere.st_gid, "the new file took the group of d0's setgid bit of another time")
        let acl = try ProcessRunner.run("/usr/bin/getfacl", ["-p", "-c", t.target + "/d0/f4.nix"]).stdoutString
        #expect(!acl.contains("nobody"), "the new file inherited d0's default ACL of another time: \(acl)")
        #expect(try Self.metadata(t.target + "/d0") == Self.metadata(t.target + "/d2"))
    }

    /// A directory of the recycled tree that the target does not have (the new commit adds it back) comes out as any
    /// directory the tree adds, whatever it had when that tree was the target.
    @Test func aDirectoryTheTreeAddsBackHasNoMetadataFromTheRecycledTreesPast() async throws {
        let t = try await Setup(mode: .hardlink)
        try await t.sync(0)  // A has gone/only.nix
        for (tool, args) in [
            ("/bin/chmod", ["2700", t.target + "/gone"]), ("/bin/chown", ["65534:65534", t.target + "/gone"]),
            ("/usr/bin/setfacl", ["-m", "u:65534:rwx", t.target + "/gone"]),
            ("/usr/bin/setfacl", ["-d", "-m", "g:65534:rwx", t.target + "/gone"]),
            ("/usr/bin/setfattr", ["-n", "user.stale", "-v", "old", t.target + "/gone"]),
        ] {
            try ProcessRunner.run(tool, args)
        }
        try await t.sync(1)  // B has no gone/
        try await t.sync(2)  // the spare now holds A's tree, gone/ with the metadata above
        #expect(try Self.metadata(t.spare + "/gone").contains("user.stale"))
        let outcome = try await t.sync(0)  // back to A: gone/ is added, and the recycled tree has it
        #expect(outcome.applied?.recycled == true)
        try t.expectTarget(0)
        let fresh = try Self.metadata(t.target + "/gone")
        #expect(fresh == "755 \(geteuid()) \(getegid())\nuser::rwx\ngroup::r-x\nother::r-x\n\n", "\(fresh)")
    }
}
