import Foundation
import SmartSyncFileSystem
import TestSupport
import Testing

/// `FileSystem.makePrivateDirectory`: 0700 for a new directory, others' access taken from an existing one, and a
/// planted symlink refused where the caller says so.
@Suite("FileSystem.makePrivateDirectory")
struct PrivateDirectoryTests {
    private func mode(_ path: String) -> mode_t {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_mode & 0o7777 : 0
    }

    @Test func aNewDirectoryIsPrivateAndAnExistingOneLosesOthersAccess() throws {
        let dir = try TemporaryDirectory(prefix: "private")
        let fresh = dir.appending("a/b/fresh")
        try FileSystem.makePrivateDirectory(fresh)
        #expect(mode(fresh) == 0o700)
        let shared = dir.appending("shared")
        #expect(mkdir(shared, 0o777) == 0 && chmod(shared, 0o2775) == 0)
        try FileSystem.makePrivateDirectory(shared)
        #expect(mode(shared) == 0o2770, "group bits and setgid kept, others' taken")
    }

    /// A sidecar is created beside the target, where a symlink could be planted between the check and the chmod:
    /// the directory a symlink points at was made private (or chmodded through it) before.
    @Test func aSymlinkIsRefusedWhenNotToBeFollowedAndItsTargetUntouched() throws {
        let dir = try TemporaryDirectory(prefix: "private")
        let outside = dir.appending("outside")
        #expect(mkdir(outside, 0o755) == 0 && chmod(outside, 0o755) == 0)
        let planted = dir.appending(".target.smart-sync")
        #expect(symlink(outside, planted) == 0)
        #expect(throws: (any Error).self) { try FileSystem.makePrivateDirectory(planted, followingSymlink: false) }
        #expect(mode(outside) == 0o755)
        // A store or state root may be a symlink the operator made: followed.
        try FileSystem.makePrivateDirectory(planted)
        #expect(mode(outside) == 0o750)
    }
}
