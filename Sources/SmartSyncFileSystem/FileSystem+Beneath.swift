import CLinuxShims
import Glibc
import SmartSyncCore

/// Descriptor-relative steps for code that writes inside a directory other users may write (a published mirror, a
/// target): every component is opened from its parent's descriptor without following a symlink, so a symlink planted
/// in place of a directory can never send a write outside.
extension FileSystem {
    /// Opens the directory `name` inside the directory open on `parent`, never through a symlink; with `create`,
    /// makes it (mode 0755, umask applied) when missing. Returns the new descriptor (the caller closes it) and
    /// whether it was made, or nil when it is missing and `create` is false.
    ///
    /// - Throws: `.unsafePath` naming `display` when it is a symlink or no directory (`hint` says what to do);
    ///   `.io` for anything else.
    public static func openDirectory(
        _ name: String, in parent: Int32, create: Bool, display: String, hint: String
    ) throws -> (fd: Int32, created: Bool)? {
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        var created = false
        var fd = openat(parent, name, flags)
        if fd < 0 && errno == ENOENT {
            guard create else { return nil }
            if mkdirat(parent, name, 0o755) == 0 {
                created = true
            } else if errno != EEXIST {
                throw SmartSyncError.io("mkdir", path: display)
            }
            fd = openat(parent, name, flags)
        }
        guard fd >= 0 else {
            let err = errno
            var st = stat()
            if err == ELOOP || err == ENOTDIR, fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 {
                let what = (st.st_mode & S_IFMT) == S_IFLNK ? "a symlink" : "not a directory"
                throw SmartSyncError(
                    .unsafePath, "'\(display)' is \(what) where a directory is expected; "
                        + "smart-sync will not write through it",
                    hint: hint)
            }
            throw SmartSyncError.io("open", path: display, errno: err)
        }
        return (fd, created)
    }

    /// Renames `name` in the directory open on `from` to `newName` in the one open on `to` unless something is
    /// there: `renameat2(RENAME_NOREPLACE)`, so what exists is never replaced even by a racing writer. Returns 0, or
    /// the `errno` (`EEXIST`: it exists). Where the file system lacks the flag (`EINVAL`), a check then `renameat`.
    public static func renameWithoutReplacing(_ name: String, in from: Int32, to newName: String, in to: Int32)
        -> Int32
    {
        if ss_renameat2(from, name, to, newName, 1 /* RENAME_NOREPLACE */) == 0 { return 0 }
        guard errno == EINVAL else { return errno }
        var st = stat()
        if fstatat(to, newName, &st, AT_SYMLINK_NOFOLLOW) == 0 { return EEXIST }
        return renameat(from, name, to, newName) == 0 ? 0 : errno
    }

    /// The names in the directory open on `fd` (which stays open, its position unchanged for other readers), without
    /// `.` and `..`.
    public static func names(inDirectory fd: Int32, display: String) throws -> [String] {
        let copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0, let dir = fdopendir(copy) else {
            let err = errno  // read before close() can change it
            if copy >= 0 { close(copy) }
            throw SmartSyncError.io("opendir", path: display, errno: err)
        }
        return names(readingAndClosing: dir)
    }

    /// The names `readdir` gives for `dir`, without `.` and `..`; closes `dir`.
    static func names(readingAndClosing dir: OpaquePointer) -> [String] {
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
