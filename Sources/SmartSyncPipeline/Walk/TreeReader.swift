import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Reads the files of a directory tree (a target, a stage, a generation) by directory descriptor: every directory on
/// the way is opened with `O_NOFOLLOW`, so a symlink planted in place of a directory is never followed, and names are
/// bytes, so a name that is not UTF-8 is read as it is. Nothing is created or changed.
public final class TreeReader {
    public let root: String
    private let cursor: DirectoryCursor?
    /// Whether a file or a symlink standing where a directory of a path would be reads as nothing at that path;
    /// otherwise it throws (a symlink: `.unsafePath`).
    private let blockedIsMissing: Bool

    /// `blockedIsMissing`: for the sync's own looks at the target (the recheck, the keeping of local versions), where
    /// the new tree's paths may lie below what is still a file or a symlink (a commit turning a file into a
    /// directory): the entry in the way is a path of its own. Checks and `verify` keep the default, so a path behind a
    /// planted symlink is an error, never a pass.
    public init(root: String, blockedIsMissing: Bool = false) throws {
        self.root = root
        self.blockedIsMissing = blockedIsMissing
        cursor = try DirectoryCursor(existing: root)
    }

    /// How `path` shows in messages.
    public func display(_ path: TreePath) -> String { root + "/" + path.description }

    /// The directory holding `path` and its last component; nil when a directory on the way is missing, or (with
    /// ``blockedIsMissing``) a file or a symlink stands where it would be.
    private func parent(_ path: TreePath) throws -> (fd: Int32, name: TreePath)? {
        try cursor?.enterParent(of: path, create: false, blockedIsMissing: blockedIsMissing)
    }

    /// `lstat` of `path` (``TreePath/root``: the root itself); nil when it (or a directory on the way) does not exist,
    /// or (with ``blockedIsMissing``) a file or a symlink stands where a directory on the way would be.
    public func status(_ path: TreePath) throws -> stat? {
        var st = stat()
        if path.isEmpty {
            guard let cursor else { return nil }
            return fstat(cursor.rootFD, &st) == 0 ? st : nil
        }
        guard let (fd, name) = try parent(path) else { return nil }
        guard name.withCString({ fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else {
            if errno == ENOENT { return nil }
            throw SmartSyncError.io("fstatat", path: display(path))
        }
        return st
    }

    /// The names in the directory at `path`, as bytes; nil when there is no directory there (or on the way).
    func names(inDirectory path: TreePath) throws -> [TreePath]? {
        guard let cursor, try cursor.enter(path.components[...], create: false, blockedIsMissing: blockedIsMissing)
        else { return nil }
        return try directoryNames(cursor.currentFD, display: display(path))
    }

    /// Runs `body` with the regular file at `path` open for reading and its `fstat`; nil when there is no regular file
    /// there. Opened never through a symlink and without blocking (a FIFO or device swapped in is not waited on, and is
    /// not a regular file).
    func withFile<R>(_ path: TreePath, _ body: (Int32, stat) throws -> R) throws -> R? {
        guard let (dirFD, name) = try parent(path) else { return nil }
        let fd = name.withCString { openat(dirFD, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) }
        guard fd >= 0 else {
            if errno == ENOENT || errno == ELOOP || errno == ENXIO { return nil }
            throw SmartSyncError.io("open", path: display(path))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SmartSyncError.io("fstat", path: display(path)) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return try body(fd, st)
    }

    /// The blob id of the regular file at `path`, hashed now, with the `fstat` of what was hashed; nil when there is
    /// no regular file there.
    public func hashFile(_ path: TreePath) throws -> (id: ObjectID, stat: stat)? {
        try withFile(path) { fd, st in
            (try BlobHasher.hash(fd: fd, size: Int(st.st_size), path: display(path)).id, st)
        }
    }

    /// The target of the symlink at `path`, as bytes.
    public func readLink(_ path: TreePath) throws -> [UInt8] {
        guard let (dirFD, name) = try parent(path) else {
            throw SmartSyncError.io("readlink", path: display(path), errno: ENOENT)
        }
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = buffer.withUnsafeMutableBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { c in name.withCString { readlinkat(dirFD, $0, c.baseAddress!, c.count) } }
        }
        guard n >= 0 else { throw SmartSyncError.io("readlink", path: display(path)) }
        return Array(buffer[0..<n])
    }

    /// Copies the file or symlink at `path` into `store` (verified against `id` when given) and returns its id.
    @discardableResult
    func insert(_ path: TreePath, mode: FileMode, into store: ObjectStore, expecting id: ObjectID?) throws -> ObjectID {
        if mode == .symlink { return try store.insert(readLink(path), expecting: id) }
        guard let inserted = try withFile(path, { fd, _ in try store.insertFile(fd: fd, display: display(path), expecting: id) })
        else {
            throw SmartSyncError.io("open", path: display(path), errno: ENOENT)
        }
        return inserted
    }
}
