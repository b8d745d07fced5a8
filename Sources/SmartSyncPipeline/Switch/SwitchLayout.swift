import Glibc
import SmartSyncCore
import SmartSyncGitObjects

/// Where the staged switch keeps its work beside a target `P/N`: the sidecar `P/.N.smart-sync/`, on the same
/// file system as the target so a rename can swap them.
///
/// ```
/// P/N                          the target
/// P/.N.smart-sync/stage        the next tree, being built
/// P/.N.smart-sync/journal      the switch in progress (what to finish or undo after a crash)
/// P/.N.smart-sync/generations/<seq>/tree    a previous tree, kept for rollback
/// P/.N.smart-sync/generations/<seq>/state   its commit and manifest (absent for a tree smart-sync found)
/// ```
public struct SwitchLayout: Sendable {
    /// The target directory (absolute).
    public let target: String
    /// `P/.N.smart-sync`.
    public let sidecar: String

    public init(target: String) {
        self.target = target
        let slash = target.lastIndex(of: "/") ?? target.startIndex
        let parent = slash == target.startIndex ? "" : String(target[..<slash])
        let name = String(target[target.index(after: slash)...])
        sidecar = parent + "/." + name + ".smart-sync"
    }

    public var stage: String { sidecar + "/stage" }
    public var journal: String { sidecar + "/journal" }
    public var generations: String { sidecar + "/generations" }

    /// The directory of generation `seq`.
    public func generation(_ seq: Int) -> String { generations + "/" + String(seq) }

    /// Refuses a sidecar that is not a real directory of the user smart-sync runs as: a symlink planted there would
    /// send the stage, the generations and the journal (what a rollback swaps in) somewhere else. Absent is fine.
    public func checkSidecar() throws {
        var st = stat()
        guard lstat(sidecar, &st) == 0 else {
            if errno == ENOENT { return }
            throw SmartSyncError.io("lstat", path: sidecar)
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == geteuid() else {
            let kind = st.st_mode & S_IFMT
            let what =
                kind == S_IFLNK ? "a symlink" : kind == S_IFDIR ? "a directory of another user" : "not a directory"
            throw SmartSyncError(
                .unsafePath,
                "'\(sidecar)', where smart-sync keeps the stage and generations of \(target), is \(what); "
                    + "refusing to use it",
                hint: "remove it (it holds nothing smart-sync cannot make again) and run again")
        }
    }
}

/// Filesystem steps of the switch.
enum TreeOps {
    /// The inode of `path` (not following a final symlink), or nil when absent.
    static func inode(_ path: String) -> UInt64? {
        var st = stat()
        return lstat(path, &st) == 0 ? UInt64(st.st_ino) : nil
    }

    /// True when `path` is a real directory (not a symlink to one).
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// `rm -rf`, never following symlinks: the tree is walked by directory descriptor (`O_NOFOLLOW`), names as bytes,
    /// so a symlink planted anywhere inside is removed as the link it is and nothing outside is ever touched.
    /// Read-only files (store hard links) are unlinked as usual: only the directory's write permission matters, and a
    /// directory of the user's own that lacks it (one the operator made read-only, kept in a generation) gets it back
    /// before it is emptied (``removeEntry(_:in:display:)``). Root needs no permission bit.
    static func removeTree(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw SmartSyncError.io("lstat", path: path)
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            if unlink(path) != 0 && errno != ENOENT { throw SmartSyncError.io("unlink", path: path) }
            return
        }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        defer { close(fd) }
        try makeRemovable(fd, st, display: path)
        try removeContents(of: fd, display: path)
        if rmdir(path) != 0 && errno != ENOENT { throw SmartSyncError.io("rmdir", path: path) }
    }

    /// Removes everything inside the directory open on `fd`.
    private static func removeContents(of fd: Int32, display: String) throws {
        for name in try directoryNames(fd, display: display) {
            try removeEntry(name, in: fd, display: display + "/" + name.description)
        }
    }

    /// Whether `st` is a directory of the (non-root) user smart-sync runs as whose mode keeps that user from emptying
    /// it: reading, writing or searching it.
    private static func isLocked(_ st: stat) -> Bool {
        let euid = geteuid()
        return euid != 0 && st.st_uid == euid && st.st_mode & 0o700 != 0o700
    }

    /// Gives the directory open on `fd` (whose `stat` was `st`) its owner's read, write and search bits back when it is
    /// ``isLocked(_:)``.
    private static func makeRemovable(_ fd: Int32, _ st: stat, display: String) throws {
        guard isLocked(st) else { return }
        guard fchmod(fd, (st.st_mode & 0o7777) | 0o700) == 0 else {
            throw SmartSyncError.io("fchmod", path: display, hint: "a directory kept "
                + "read-only could not be made removable")
        }
    }

    /// Removes the entry `name` of the directory open on `fd`: a file or symlink, or a directory with everything in
    /// it, by descriptor (a symlink is removed as the link it is).
    ///
    /// Run by a user other than root, a directory of that user's that its owner may not read, write or search (its
    /// mode the operator's, kept in a generation) is given those bits first, by descriptor: `fchmodat` with
    /// `AT_SYMLINK_NOFOLLOW` on the entry (which changes a symlink swapped in since the `fstatat` not at all), then
    /// `fchmod` on the directory opened with `O_NOFOLLOW`. It is about to go, so its mode is not put back.
    static func removeEntry(_ name: TreePath, in fd: Int32, display: String) throws {
        var st = stat()
        guard name.withCString({ fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else {
            if errno == ENOENT { return }
            throw SmartSyncError.io("fstatat", path: display)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            // Not readable by its owner: it cannot be opened to `fchmod` it.
            if isLocked(st) && st.st_mode & 0o400 == 0 {
                _ = name.withCString { fchmodat(fd, $0, (st.st_mode & 0o7777) | 0o700, AT_SYMLINK_NOFOLLOW) }
            }
            let sub = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard sub >= 0 else { throw SmartSyncError.io("open", path: display) }
            defer { close(sub) }
            try makeRemovable(sub, st, display: display)
            try removeContents(of: sub, display: display)
        }
        let flags = (st.st_mode & S_IFMT) == S_IFDIR ? AT_REMOVEDIR : 0
        if name.withCString({ unlinkat(fd, $0, flags) }) != 0 && errno != ENOENT {
            throw SmartSyncError.io(flags == 0 ? "unlink" : "rmdir", path: display)
        }
    }

}
