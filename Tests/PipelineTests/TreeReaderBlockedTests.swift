import Glibc
import SmartSyncCore
import SmartSyncGitObjects
@testable import SmartSyncPipeline
import TestSupport
import Testing

/// A file or a symlink standing where a directory of a path would be: the sync's own looks read the path as absent
/// (``TreeReader/init(root:blockedIsMissing:)``), every other reader (the checks, `verify`) and `validate --fix`
/// (``TreeEditor``) get an error naming it, so that a check of `ssh/sshd_config.d` never passes on nothing when `ssh`
/// is a planted symlink.
@Suite struct TreeReaderBlockedTests {
    /// `dir/target` with a file `file` and a symlink `ssh` to `outside`, which holds `sshd_config.d/x.conf` (0644).
    private struct Blocked {
        let dir: TemporaryDirectory
        let outside: TemporaryDirectory

        init() throws {
            dir = try TemporaryDirectory(prefix: "blocked-tests")
            outside = try TemporaryDirectory(prefix: "blocked-outside")
            try TestFiles.write(outside.path + "/sshd_config.d/x.conf", "PermitRootLogin yes\n", mode: 0o644)
            try TestFiles.write(dir["target/file"], "a file\n")
            try TestFiles.symlink(dir["target/ssh"], to: outside.path)
        }

        func remove() {
            dir.remove()
            outside.remove()
        }
    }

    @Test func aPathBehindASymlinkOrAFileIsAnErrorUnlessAsked() throws {
        let b = try Blocked()
        defer { b.remove() }
        let strict = try TreeReader(root: b.dir["target"])
        #expect(throws: SmartSyncError.self) { try strict.status("ssh/sshd_config.d") }
        #expect(throws: SmartSyncError.self) { try strict.status("file/below") }
        #expect(try strict.status("missing/below") == nil)

        let lenient = try TreeReader(root: b.dir["target"], blockedIsMissing: true)
        #expect(try lenient.status("ssh/sshd_config.d") == nil)
        #expect(try lenient.status("ssh/sshd_config.d/x.conf") == nil)
        #expect(try lenient.status("file/below") == nil)
        #expect(try lenient.status("file").map { $0.st_mode & S_IFMT } == S_IFREG)
    }

    /// `validate --fix` on a path behind a planted symlink or a file: refused, naming what stands in the way, never
    /// followed. (Before, the cursor's lookups read such a path as absent, so the fix failed with "No such file" on
    /// the parent, naming neither the symlink nor the cause.)
    @Test func aFixBehindASymlinkOrAFileNamesIt() throws {
        let b = try Blocked()
        defer { b.remove() }
        let editor = TreeEditor(root: b.dir["target"])
        for fix in [
            { try editor.setPermissions("ssh/sshd_config.d/x.conf", 0o600) },
            { try editor.setOwner("ssh/sshd_config.d/x.conf", uid: getuid(), gid: nil) },
            { try editor.makeDirectory("ssh/sshd_config.d/new", mode: 0o700) },
        ] as [() throws -> Void] {
            let error = #expect(throws: SmartSyncError.self) { try fix() }
            #expect(error?.code == .unsafePath)
            let named = error?.message.contains(b.dir["target/ssh"] + "' is a symlink") == true
            #expect(named, "\(String(describing: error))")
        }
        var st = stat()
        #expect(stat(b.outside.path + "/sshd_config.d/x.conf", &st) == 0 && st.st_mode & 0o7777 == 0o644)
        #expect(access(b.outside.path + "/sshd_config.d/new", F_OK) != 0)

        let error = #expect(throws: SmartSyncError.self) { try editor.setPermissions("file/below", 0o600) }
        #expect(error?.message.contains(b.dir["target/file"]) == true, "\(String(describing: error))")
        #expect(error?.message.contains("a file stands where a directory is needed") == true)
    }
}
