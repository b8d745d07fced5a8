import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import TestSupport
import Testing

@testable import SmartSyncPipeline

/// A stage directory takes the target directory's metadata; the target has none to give only where nothing, a file
/// or a symlink (never followed) stands at its path. Any other failure to open it fails the run, naming the path: it
/// is not taken for "no directory", which would give the stage a new directory's metadata in place of the operator's.
@Suite struct StageDirectoriesTests {
    private func stageDirectory(_ dirs: TemporaryDirectory) throws -> Int32 {
        let stage = dirs.appending("stage")
        #expect(mkdir(stage, 0o700) == 0)
        let fd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(fd >= 0)
        return fd
    }

    @Test func noDirectoryMeansNoneAndTheTargetsModeOtherwise() throws {
        let dirs = try TemporaryDirectory(prefix: "stage-directories")
        defer { dirs.remove() }
        let target = dirs.appending("target")
        #expect(mkdir(target, 0o755) == 0)
        #expect(mkdir(target + "/real", 0o750) == 0)
        chmod(target + "/real", 0o750)
        try Data("x\n".utf8).write(to: URL(fileURLWithPath: target + "/file"))
        #expect(symlink(dirs.path, target + "/link") == 0)
        let fd = try stageDirectory(dirs)
        defer { close(fd) }
        let directories = try StageDirectories(target: target)
        for path: TreePath in ["missing", "missing/below", "file", "file/below", "link", "link/below"] {
            #expect(try !directories.copyFromTarget(path.components[...], to: fd, display: "stage/\(path)"), "\(path)")
        }
        var st = stat()
        #expect(fstat(fd, &st) == 0 && st.st_mode & 0o7777 == 0o700, "written from a path that has no directory")
        #expect(try directories.copyFromTarget(TreePath("real").components[...], to: fd, display: "stage/real"))
        #expect(fstat(fd, &st) == 0 && st.st_mode & 0o7777 == 0o750)
    }

    /// A target directory that cannot be opened for another reason (here a name too long for the file system,
    /// `ENAMETOOLONG`: as root, `EACCES` cannot be had) is an error naming the path, not "no directory".
    @Test func anyOtherFailureToOpenTheTargetsDirectoryFailsNamingIt() throws {
        let dirs = try TemporaryDirectory(prefix: "stage-directories")
        defer { dirs.remove() }
        let target = dirs.appending("target")
        #expect(mkdir(target, 0o755) == 0)
        let fd = try stageDirectory(dirs)
        defer { close(fd) }
        let directories = try StageDirectories(target: target)
        let long = TreePath(String(repeating: "n", count: 300))
        let error = #expect(throws: SmartSyncError.self) {
            try directories.copyFromTarget([long], to: fd, display: "stage/long")
        }
        #expect(error?.code == .io)
        #expect(error?.message.contains(target + "/" + long.description) == true, "\(error?.message ?? "")")
        #expect((error?.cause as? SystemCallError)?.errno == ENAMETOOLONG)
    }
}
