import CLinuxShims
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// How a file was put in place.
enum PlacementMethod {
    case hardlink, reflink, copy
}

/// Creates files under a temporary name in a directory and renames them over their final name.
enum Materializer {
    /// The prefix of temporary names in a target (``RepoPath/temporaryPrefix``: a listing naming a path so is
    /// refused). A scan may find leftovers of a crashed run under it.
    static let temporaryPrefix = RepoPath.temporaryPrefix

    static func temporaryName() -> String {
        FileSystem.temporaryName(temporaryPrefix)
    }

    /// Creates a sealed file of its own at `tmp` in `dirFD` with the content of the store object at `source`: a
    /// reflink (`FICLONE`) when `reflink` is set and the file systems allow it, else a byte copy. Returns how, or nil
    /// when `reflink` alone was asked (`copyFallback` false) and the file systems refused it (`errno` says why).
    static func clone(
        source: String, dirFD: Int32, tmp: String, executable: Bool, reflink: Bool, copyFallback: Bool,
        syncFile: Bool, display: String
    ) throws -> PlacementMethod? {
        let src = open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard src >= 0 else {
            throw SmartSyncError.io(
                "open", path: source, hint: "the object is missing from the store; run the sync again")
        }
        defer { close(src) }
        let dst = openat(
            dirFD, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, Seal.permissions(executable: executable))
        guard dst >= 0 else { throw SmartSyncError.io("create", path: display) }
        var ok = false
        defer {
            close(dst)
            if !ok { unlinkat(dirFD, tmp, 0) }
        }
        var method = PlacementMethod.copy
        if reflink {
            if ss_ficlone(dst, src) == 0 {
                method = .reflink
            } else if !copyFallback {
                return nil
            }
        }
        if method == .copy {
            try readChunks(fd: src, path: source) { try FileSystem.writeAll(fd: dst, $0, path: display) }
        }
        // The creation mode went through the umask: set the sealed permissions exactly.
        guard fchmod(dst, Seal.permissions(executable: executable)) == 0 else {
            throw SmartSyncError.io("fchmod", path: display)
        }
        try Seal.apply(fd: dst, path: display)
        if syncFile { guard fsync(dst) == 0 else { throw SmartSyncError.io("fsync", path: display) } }
        ok = true
        return method
    }

    /// Creates a symlink to `destination` at `tmp` in `dirFD`.
    static func symlink(_ destination: [UInt8], dirFD: Int32, tmp: String, display: String) throws {
        guard !destination.contains(0) else {
            throw SmartSyncError(
                .unsafePath, "the symlink '\(display)' has a target containing a NUL byte; refusing it")
        }
        // The target as bytes: a name that is not UTF-8 stays exactly what the tree says.
        let made = (destination + [0]).withUnsafeBufferPointer { bytes in
            bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: bytes.count) { symlinkat($0, dirFD, tmp) }
        }
        guard made == 0 else { throw SmartSyncError.io("symlink", path: display) }
    }

    /// Replaces `path` (relative) under `root` with a file `make` creates: the directory is entered by descriptor
    /// (missing ones created, a planted symlink refused), `make(dirFD, tmp, display)` creates the new file at a
    /// temporary name there, and it is renamed over the path, so a reader sees the old file or the new one.
    static func replace<T>(
        _ path: TreePath, under root: String, _ make: (_ dirFD: Int32, _ tmp: String, _ display: String) throws -> T
    ) throws -> T {
        let cursor = try DirectoryCursor(target: root)
        defer { cursor.finish() }
        guard let (dirFD, name) = try cursor.enterParent(of: path, create: true) else {
            throw SmartSyncError(.internal, "could not open the directory of '\(path)' in \(root)")
        }
        let display = root + "/" + path.description
        let tmp = temporaryName()
        let made = try make(dirFD, tmp, display)
        try commit(dirFD: dirFD, tmp: tmp, name: name, display: display)
        cursor.markDirty()
        return made
    }

    /// Renames `tmp` over `name` in `dirFD`; removes `tmp` on failure.
    ///
    /// When `tmp` and `name` are already links to the same inode, rename(2) succeeds and does nothing, leaving
    /// `tmp` behind: it is unlinked afterwards (its name is unique, so normally that finds nothing).
    static func commit(dirFD: Int32, tmp: String, name: TreePath, display: String) throws {
        if name.withCString({ renameat(dirFD, tmp, dirFD, $0) }) != 0 {
            let err = errno
            unlinkat(dirFD, tmp, 0)
            throw SmartSyncError.io("rename", path: display, errno: err)
        }
        unlinkat(dirFD, tmp, 0)
    }
}
