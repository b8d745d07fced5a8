import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// Metadata changes to entries of a tree (`validate --fix`: `chmod`, `chown`, `mkdir`), and walks of it, made by
/// directory descriptor: every directory on the way is opened with `O_NOFOLLOW`, and the entry itself is acted on
/// through a descriptor opened with `O_NOFOLLOW` (or `fchownat(AT_SYMLINK_NOFOLLOW)`). A symlink planted anywhere on
/// the way, even between the check and the fix, is never followed: the change fails instead of landing outside.
public struct TreeEditor: Sendable {
    /// The directory the relative paths start from (opened as given; its own path may hold symlinks).
    public let root: String

    public init(root: String) {
        self.root = root
    }

    /// How `path` shows in messages.
    public func display(_ path: TreePath) -> String { path.isEmpty ? root : root + "/" + path.description }

    private func parent(of path: TreePath, create: Bool) throws -> (cursor: DirectoryCursor, fd: Int32, name: TreePath) {
        guard let cursor = try DirectoryCursor(existing: root) else {
            throw SmartSyncError.io("open", path: root, errno: ENOENT)
        }
        guard let (fd, name) = try cursor.enterParent(of: path, create: create) else {
            throw SmartSyncError.io("open", path: display(path.parent), errno: ENOENT)
        }
        return (cursor, fd, name)
    }

    /// Sets the permission bits of the file or directory at `path`. A symlink is refused (`.unsafePath`), never
    /// followed. A regular file with more than one link is replaced by a private copy with the new mode (temp file,
    /// rename), keeping its owner: synced files may be hard links of read-only store objects, and a `chmod` through one
    /// would change the store object and every other target linking it. Returns what was done.
    @discardableResult
    public func setPermissions(_ path: TreePath, _ mode: mode_t) throws -> String {
        let digits = String(mode & 0o7777, radix: 8)
        let octal = String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        if path.isEmpty {
            guard chmod(root, mode & 0o7777) == 0 else { throw SmartSyncError.io("chmod", path: root) }
            return "chmod \(octal) \(root)"
        }
        let (cursor, dirFD, name) = try parent(of: path, create: false)
        defer { cursor.finish() }
        let fd = name.withCString { openat(dirFD, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) }
        guard fd >= 0 else {
            if errno == ELOOP {
                throw SmartSyncError(
                    .unsafePath, "'\(display(path))' is a symlink; its permissions are not changed through it")
            }
            throw SmartSyncError.io("open", path: display(path))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SmartSyncError.io("fstat", path: display(path)) }
        guard (st.st_mode & S_IFMT) == S_IFREG && st.st_nlink > 1 else {
            guard fchmod(fd, mode & 0o7777) == 0 else { throw SmartSyncError.io("chmod", path: display(path)) }
            return "chmod \(octal) \(display(path))"
        }
        try privateCopy(path, of: fd, owner: st.st_uid, group: st.st_gid, mode: mode)
        return "chmod \(octal) \(display(path)) (as a private copy: it was a hardlink, e.g. of a store object)"
    }

    /// Replaces the regular file at `path`, open on `fd`, by a copy of its own with this owner, group and mode: a
    /// change to a file with several links must not reach the others (a store object, other targets, generations).
    private func privateCopy(_ path: TreePath, of fd: Int32, owner: uid_t, group: gid_t, mode: mode_t) throws {
        try Materializer.replace(path, under: root) { dir, tmp, shown in
            let copy = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard copy >= 0 else { throw SmartSyncError.io("create", path: shown) }
            var ok = false
            defer {
                close(copy)
                if !ok { unlinkat(dir, tmp, 0) }
            }
            guard lseek(fd, 0, SEEK_SET) == 0 else { throw SmartSyncError.io("lseek", path: shown) }
            try readChunks(fd: fd, path: shown) { try FileSystem.writeAll(fd: copy, $0, path: shown) }
            // The owner first: chown clears setuid and setgid bits, which the chmod then sets.
            guard fchown(copy, owner, group) == 0, fchmod(copy, mode & 0o7777) == 0, fsync(copy) == 0 else {
                throw SmartSyncError.io("chmod", path: shown)
            }
            ok = true
        }
    }

    /// Sets the owner and/or group of the entry at `path` itself (a symlink's own, never its target's). A regular file
    /// with more than one link gets a private copy with the new owner instead, as ``setPermissions(_:_:)`` does.
    public func setOwner(_ path: TreePath, uid: uid_t?, gid: gid_t?) throws {
        if path.isEmpty {
            guard lchown(root, uid ?? uid_t.max, gid ?? gid_t.max) == 0 else {
                throw SmartSyncError.io("chown", path: root, hint: "run validate --fix as root")
            }
            return
        }
        let (cursor, dirFD, name) = try parent(of: path, create: false)
        defer { cursor.finish() }
        // A regular file with several links gets a copy of its own, as for a chmod.
        let fd = name.withCString { openat(dirFD, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) }
        if fd >= 0 {
            defer { close(fd) }
            var st = stat()
            if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_nlink > 1 {
                try privateCopy(path, of: fd, owner: uid ?? st.st_uid, group: gid ?? st.st_gid, mode: st.st_mode)
                return
            }
        }
        let changed = name.withCString {
            fchownat(dirFD, $0, uid ?? uid_t.max, gid ?? gid_t.max, AT_SYMLINK_NOFOLLOW)
        }
        guard changed == 0 else {
            throw SmartSyncError.io("chown", path: display(path), hint: "run validate --fix as root")
        }
    }

    /// `mkdir -p` of `path` (missing parents 0755), the last directory with `mode` whatever the umask.
    public func makeDirectory(_ path: TreePath, mode: mode_t) throws {
        let (cursor, dirFD, name) = try parent(of: path, create: true)
        defer { cursor.finish() }
        if name.withCString({ mkdirat(dirFD, $0, 0o700) }) != 0 && errno != EEXIST {
            throw SmartSyncError.io("mkdir", path: display(path))
        }
        try setPermissions(path, mode)
    }

    /// Calls `visit(path, stat)` for every entry below `under` (depth first, in byte order), never following a
    /// symlink and never entering `.git`; `visit` returns false to skip a directory's contents. A missing `under` is
    /// walked as empty; a symlink or file at `under` or on its way throws (`.unsafePath` for a symlink), never read
    /// as nothing.
    public func walk(under: TreePath = .root, _ visit: (TreePath, stat) throws -> Bool) throws {
        guard let cursor = try DirectoryCursor(existing: root) else { return }
        defer { cursor.finish() }
        var start = cursor.rootFD
        var opened: Int32 = -1
        if !under.isEmpty {
            // Strict: a symlink or file standing for a directory on the way throws (the callers are checks, which
            // must not pass on nothing because a planted symlink hid what they look at); a missing one is nothing.
            guard let (parentFD, name) = try cursor.enterParent(of: under, create: false) else { return }
            opened = name.withCString { openat(parentFD, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if opened < 0 {
                let err = errno
                if err == ENOENT { return }
                guard err == ELOOP || err == ENOTDIR else { throw SmartSyncError.io("open", path: display(under)) }
                throw SmartSyncError(
                    .unsafePath,
                    "'\(display(under))' is \(err == ELOOP ? "a symlink, " : "")not a directory; smart-sync will not walk through it",
                    hint: "remove it (or exclude that path) and run again")
            }
            start = opened
        }
        defer { if opened >= 0 { close(opened) } }
        try walk(start, under, visit)
    }

    private func walk(_ fd: Int32, _ prefix: TreePath, _ visit: (TreePath, stat) throws -> Bool) throws {
        let dotGit = TreePath(".git")
        for name in try directoryNames(fd, display: display(prefix)).sorted() where name != dotGit {
            var st = stat()
            guard name.withCString({ fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
            let path = prefix.appending(name)
            guard try visit(path, st), (st.st_mode & S_IFMT) == S_IFDIR else { continue }
            let sub = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard sub >= 0 else { continue }  // replaced by a symlink since: not entered
            defer { close(sub) }
            try walk(sub, path, visit)
        }
    }
}
