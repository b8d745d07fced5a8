import Glibc
import SmartSyncCore
import SmartSyncGitObjects
@testable import SmartSyncPipeline
import TestSupport
import Testing

/// A file or a symlink standing where a directory of a path would be: the sync's own looks read the path as absent
/// (``TreeReader/init(root:blockedIsMissing:)``), every other reader (the checks, `verify`) gets an error, so that a
/// check of `ssh/sshd_config.d` never passes on nothing when `ssh` is a planted symlink.
@Suite struct TreeReaderBlockedTests {
    @Test func aPathBehindASymlinkOrAFileIsAnErrorUnlessAsked() throws {
        let dir = try TemporaryDirectory(prefix: "reader-tests")
        defer { dir.remove() }
        let outside = try TemporaryDirectory(prefix: "reader-outside")
        defer { outside.remove() }
        try TestFiles.write(outside.path + "/sshd_config.d/x.conf", "PermitRootLogin yes\n")
        try TestFiles.write(dir["target/file"], "a file\n")
        try TestFiles.symlink(dir["target/ssh"], to: outside.path)

        let strict = try TreeReader(root: dir["target"])
        #expect(throws: SmartSyncError.self) { try strict.status("ssh/sshd_config.d") }
        #expect(throws: SmartSyncError.self) { try strict.status("file/below") }
        #expect(try strict.status("missing/below") == nil)

        let lenient = try TreeReader(root: dir["target"], blockedIsMissing: true)
        #expect(try lenient.status("ssh/sshd_config.d") == nil)
        #expect(try lenient.status("ssh/sshd_config.d/x.conf") == nil)
        #expect(try lenient.status("file/below") == nil)
        #expect(try lenient.status("file").map { $0.st_mode & S_IFMT } == S_IFREG)
    }
}
