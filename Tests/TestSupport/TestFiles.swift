import Foundation
import Glibc

private let posixSymlink = Glibc.symlink
private let posixLstat = Glibc.lstat

/// The little file operations tests repeat: write a file with a mode (creating parents), read it back, make a
/// symlink, look at an entry without following links, set an mtime, list a tree.
///
/// ```swift
/// try TestFiles.write(dir["a/run.sh"], "#!/bin/sh\n", mode: 0o755)
/// #expect(TestFiles.read(dir["a/run.sh"]) == "#!/bin/sh\n")
/// ```
public enum TestFiles {
    /// Writes `text` to `path` (creating parent directories), replacing whatever was there (a symlink too), and
    /// sets `mode` exactly (the umask does not apply).
    public static func write(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        try write(path, bytes: Array(text.utf8), mode: mode)
    }

    /// Binary form of ``write(_:_:mode:)``.
    public static func write(_ path: String, bytes: [UInt8], mode: mode_t = 0o644) throws {
        try makeDirectories((path as NSString).deletingLastPathComponent)
        try removeEntry(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw TestSupportError(description: "cannot create \(path): errno \(errno)") }
        defer { close(fd) }
        try writeAll(fd, bytes, path)
        guard fchmod(fd, mode) == 0 else { throw TestSupportError(description: "chmod \(path): errno \(errno)") }
    }

    /// Overwrites the content of an existing file in place (same inode), keeping its mode.
    public static func overwriteInPlace(_ path: String, _ text: String) throws {
        let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { throw TestSupportError(description: "cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        try writeAll(fd, Array(text.utf8), path)
    }

    /// The file's content as text (bytes decoded as UTF-8), or nil when it cannot be read.
    public static func read(_ path: String) -> String? {
        readBytes(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The file's bytes, or nil when it cannot be read.
    public static func readBytes(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { Array($0) }
    }

    /// Creates (or replaces) a symlink at `path` pointing at `target` (verbatim), creating parent directories.
    public static func symlink(_ path: String, to target: String) throws {
        try makeDirectories((path as NSString).deletingLastPathComponent)
        try removeEntry(path)
        guard posixSymlink(target, path) == 0 else {
            throw TestSupportError(description: "symlink \(path) -> \(target) failed: errno \(errno)")
        }
    }

    /// The symlink's target, or nil when `path` is not a symlink.
    public static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count)
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `lstat` (symlinks not followed), or nil when there is no entry.
    public static func lstat(_ path: String) -> stat? {
        var st = stat()
        return posixLstat(path, &st) == 0 ? st : nil
    }

    /// The permission bits (`0o7777`) of the entry at `path`, symlinks not followed; nil when missing.
    public static func mode(_ path: String) -> mode_t? {
        lstat(path).map { $0.st_mode & 0o7777 }
    }

    /// Whether there is an entry (a dangling symlink counts) at `path`.
    public static func exists(_ path: String) -> Bool { lstat(path) != nil }

    /// Creates `path` and its missing parents (mode 0755).
    public static func makeDirectories(_ path: String) throws {
        guard !path.isEmpty else { return }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Sets the mtime of `path` (not following symlinks) to `ns` nanoseconds since the epoch; atime is kept.
    public static func setMtime(_ path: String, ns: Int64) throws {
        var times = [
            timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2 /* UTIME_OMIT */),
            timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000)),
        ]
        guard utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw TestSupportError(description: "utimensat \(path): errno \(errno)")
        }
    }

    /// Every path below `root`, relative and sorted, directories included, symlinks not followed.
    public static func allPaths(under root: String) -> [String] {
        var out: [String] = []
        func walk(_ relative: String) {
            let directory = relative.isEmpty ? root : root + "/" + relative
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                let path = relative.isEmpty ? name : relative + "/" + name
                out.append(path)
                if let st = lstat(root + "/" + path), (st.st_mode & S_IFMT) == S_IFDIR { walk(path) }
            }
        }
        walk("")
        return out.sorted()
    }

    private static func removeEntry(_ path: String) throws {
        guard let st = lstat(path) else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            try FileManager.default.removeItem(atPath: path)
        } else if unlink(path) != 0 {
            throw TestSupportError(description: "cannot replace \(path): errno \(errno)")
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw TestSupportError(description: "write \(path): errno \(errno)") }
            done += n
        }
    }
}
