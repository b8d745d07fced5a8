#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import ObjectStore
import SmartSyncCore

/// How a file was put in place.
enum PlacementMethod {
    case hardlink, reflink, copy
}

/// Creates files under a temporary name in a directory and renames them over their final name.
enum Materializer {
    /// The prefix of temporary names in a target. A scan may find leftovers of a crashed run under it.
    static let temporaryPrefix = ".smart-sync-tmp-"

    static func temporaryName() -> String {
        temporaryPrefix + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }

    /// Places a copy of (or, when `link` is set, a hard link to) `source` at `tmp` in `dirFD`.
    /// Hard links fall back to a reflink or a copy on `EXDEV`, `EMLINK` and `EPERM`.
    static func place(
        source: String, dirFD: Int32, tmp: String, link: Bool, executable: Bool, display: String
    ) throws -> PlacementMethod {
        if link {
            if linkat(AT_FDCWD, source, dirFD, tmp, 0) == 0 { return .hardlink }
            let err = errno
            guard err == EXDEV || err == EMLINK || err == EPERM else {
                throw SmartSyncError.io(
                    "link", path: display, errno: err,
                    hint: err == ENOENT ? "the object \(source) is missing from the store; run the sync again" : nil)
            }
        }
        return try copy(source: source, dirFD: dirFD, tmp: tmp, executable: executable, display: display)
    }

    /// A reflink (`FICLONE`) when the file system shares extents, else a byte copy; fsynced.
    static func copy(source: String, dirFD: Int32, tmp: String, executable: Bool, display: String) throws
        -> PlacementMethod
    {
        let src = open(source, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else {
            throw SmartSyncError.io(
                "open", path: source, hint: "the object is missing from the store; run the sync again")
        }
        defer { close(src) }
        let dst = openat(dirFD, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, executable ? 0o555 : 0o444)
        guard dst >= 0 else { throw SmartSyncError.io("create", path: display) }
        var ok = false
        defer {
            close(dst)
            if !ok { unlinkat(dirFD, tmp, 0) }
        }
        var method = PlacementMethod.copy
        #if os(Linux)
            // FICLONE = _IOW(0x94, 9, int)
            if ioctl(dst, UInt(0x4004_9409), src) == 0 { method = .reflink }
        #endif
        if method == .copy {
            try readChunks(fd: src, path: source) { try FileSystem.writeAll(fd: dst, $0, path: display) }
        }
        guard fsync(dst) == 0 else { throw SmartSyncError.io("fsync", path: display) }
        ok = true
        return method
    }

    /// Creates a symlink to `destination` at `tmp` in `dirFD`.
    static func symlink(_ destination: [UInt8], dirFD: Int32, tmp: String, display: String) throws {
        guard !destination.contains(0) else {
            throw SmartSyncError(
                .unsafePath, "the symlink '\(display)' has a target containing a NUL byte; refusing it")
        }
        let target = String(decoding: destination, as: UTF8.self)
        guard symlinkat(target, dirFD, tmp) == 0 else { throw SmartSyncError.io("symlink", path: display) }
    }

    /// Renames `tmp` over `name` in `dirFD`; removes `tmp` on failure.
    ///
    /// When `tmp` and `name` are already links to the same inode, rename(2) succeeds and does nothing, leaving
    /// `tmp` behind: it is unlinked afterwards (its name is unique, so normally that finds nothing).
    static func commit(dirFD: Int32, tmp: String, name: String, display: String) throws {
        if renameat(dirFD, tmp, dirFD, name) != 0 {
            let err = errno
            unlinkat(dirFD, tmp, 0)
            throw SmartSyncError.io("rename", path: display, errno: err)
        }
        unlinkat(dirFD, tmp, 0)
    }
}
