import Foundation
import Glibc
import SmartSyncFileSystem
import TestSupport
import Testing

/// `FileSystem.linkOrCopy`: a hard link where the file system allows one, else a copy that keeps the source's mode and
/// modification time (a stat cache's timestamp) and replaces what was at the destination whole.
@Suite("FileSystem.linkOrCopy")
struct LinkOrCopyTests {
    private func stat(_ path: String) -> Glibc.stat {
        var st = Glibc.stat()
        _ = lstat(path, &st)
        return st
    }

    private func source(in dir: TemporaryDirectory) throws -> String {
        let path = dir.appending("source")
        try Data("saved\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o640)
        var times = [
            timespec(tv_sec: 1_000_000_000, tv_nsec: 123_456_789),
            timespec(tv_sec: 1_000_000_000, tv_nsec: 123_456_789),
        ]
        #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        return path
    }

    @Test func onOneFileSystemItLinks() throws {
        let dir = try TemporaryDirectory(prefix: "link-or-copy")
        defer { dir.remove() }
        let from = try source(in: dir)
        #expect(try FileSystem.linkOrCopy(from: from, to: dir.appending("linked")))
        #expect(stat(dir.appending("linked")).st_ino == stat(from).st_ino)
    }

    /// Across file systems (`/dev/shm`, a tmpfs, and the temporary directory's) the link fails with `EXDEV`: a copy.
    @Test func acrossFileSystemsItCopiesKeepingModeAndTime() throws {
        let dir = try TemporaryDirectory(prefix: "link-or-copy")
        defer { dir.remove() }
        let from = try source(in: dir)
        var shm = Array("/dev/shm/link-or-copy-XXXXXX".utf8CString)
        try #require(shm.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) } != nil)
        let other = String(cString: shm)
        defer { _ = try? FileManager.default.removeItem(atPath: other) }
        try #require(stat(other).st_dev != stat(from).st_dev, "/dev/shm is on the same file system here")
        let to = other + "/copied"
        try Data("an older file there\n".utf8).write(to: URL(fileURLWithPath: to))

        #expect(try !FileSystem.linkOrCopy(from: from, to: to, durable: false))
        #expect(FileManager.default.contents(atPath: to) == Data("saved\n".utf8))
        let (a, b) = (stat(from), stat(to))
        #expect(b.st_ino != a.st_ino)
        #expect(b.st_mode & 0o7777 == 0o640)
        #expect(b.st_mtim.tv_sec == a.st_mtim.tv_sec && b.st_mtim.tv_nsec == a.st_mtim.tv_nsec)
        #expect(try FileManager.default.contentsOfDirectory(atPath: other) == ["copied"], "a temporary file was left")
    }
}
