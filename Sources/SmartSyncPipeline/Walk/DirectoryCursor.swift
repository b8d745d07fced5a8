import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// Descends a target one component at a time with `openat(O_NOFOLLOW | O_DIRECTORY)`, so a symlink planted in
/// place of a directory can never redirect a write outside the target: it is refused with `.unsafePath`.
///
/// Keeps only the current chain of directories open (paths processed in sorted order share most of it), and
/// `fsync`s each directory it changed when leaving it (unless ``syncChanges`` is off: the caller syncs the whole
/// file system once instead).
final class DirectoryCursor {
    let target: String
    let rootFD: Int32
    let syncChanges: Bool
    private var rootDirty = false
    private var stack: [(name: TreePath, fd: Int32, dirty: Bool)] = []
    /// Directories created while descending.
    private(set) var createdDirectories = 0
    /// Called with each directory created while descending (its path's components and the directory open), before
    /// anything is made inside it.
    var created: ((_ path: [TreePath], _ fd: Int32) throws -> Void)?

    /// Opens (creating it and its parents when missing) the target directory.
    init(target: String, syncChanges: Bool = true) throws {
        self.target = target
        self.syncChanges = syncChanges
        try FileSystem.makeDirectories(target)
        let fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: target) }
        rootFD = fd
    }

    /// A cursor on an existing directory, or nil when there is none (for reading: nothing is created).
    init?(existing target: String) throws {
        let fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SmartSyncError.io("open", path: target)
        }
        self.target = target
        syncChanges = false
        rootFD = fd
    }

    deinit {
        for e in stack { _ = close(e.fd) }
        _ = close(rootFD)
    }

    /// The descriptor of the directory currently entered.
    var currentFD: Int32 { stack.last?.fd ?? rootFD }

    /// Marks the current directory as changed (it gets an `fsync`).
    func markDirty() {
        if stack.isEmpty { rootDirty = true } else { stack[stack.count - 1].dirty = true }
    }

    /// Enters the parent directory of `path` (relative, `/`-separated) and returns its descriptor and the
    /// last component. Missing directories are created with mode 0755 when `create` is set; otherwise nil
    /// is returned when one is missing. A file or a symlink standing where one of them would be is an error naming it
    /// (a symlink: `.unsafePath`), unless `blockedIsMissing` (and `create` unset): then it reads as nothing at `path`,
    /// never entered, the entry in the way being a path of its own (the sync's own looks at its trees; see
    /// ``TreeReader/init(root:blockedIsMissing:)``).
    func enterParent(of path: TreePath, create: Bool, blockedIsMissing: Bool = false) throws
        -> (fd: Int32, name: TreePath)?
    {
        let components = path.components
        guard let name = components.last else { return nil }
        guard try enter(components.dropLast(), create: create, blockedIsMissing: blockedIsMissing) else { return nil }
        return (currentFD, name)
    }

    /// Enters the directory `components` below the target root (see ``enterParent(of:create:blockedIsMissing:)``).
    func enter(_ components: ArraySlice<TreePath>, create: Bool, blockedIsMissing: Bool = false) throws -> Bool {
        var common = 0
        while common < stack.count, common < components.count,
            stack[common].name == components[components.startIndex + common]
        {
            common += 1
        }
        while stack.count > common { pop() }
        for component in components.dropFirst(common) {
            let parent = currentFD
            var fd = component.withCString { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            // A lenient lookup (`blockedIsMissing`, `create` unset) reads a file or a symlink standing where a
            // directory of the path would be as nothing at that path, as it reads a missing one: never entered
            // (O_NOFOLLOW), and what stands there is a path of its own, seen by whoever asks for it. (A commit turning
            // a synced file into a directory asks for the paths below it before the apply removes it.)
            if fd < 0 && !create && blockedIsMissing && (errno == ENOTDIR || errno == ELOOP) { return false }
            if fd < 0 && errno == ENOENT {
                guard create else { return false }
                fd = component.withCString { DirectoryMetadata.makeDirectory($0, in: parent) }
                if fd >= 0 {
                    markDirty()
                    createdDirectories += 1
                    // Its metadata settled before anything is made inside it (a stage's: the target's).
                    if let created {
                        do { try created(Array(stack.lazy.map(\.name)) + [component], fd) } catch {
                            close(fd)
                            throw error
                        }
                    }
                } else if errno == EEXIST {  // made by someone else since
                    fd = component.withCString { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                } else if errno != ELOOP && errno != ENOTDIR {  // those two: replaced since it was made (told below)
                    throw SmartSyncError.io("mkdir", path: display(component))
                }
            }
            if fd < 0 {
                let err = errno
                var st = stat()
                if component.withCString({ fstatat(parent, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0
                    && (st.st_mode & S_IFMT) == S_IFLNK
                {
                    throw SmartSyncError(
                        .unsafePath,
                        "'\(display(component))' is a symlink where a directory is expected; smart-sync will not write through it",
                        hint: "remove it (or exclude that path) and run again")
                }
                throw SmartSyncError.io(
                    "open", path: display(component), errno: err,
                    hint: err == ENOTDIR ? "a file stands where a directory is needed" : nil)
            }
            stack.append((component, fd, false))
        }
        return true
    }

    /// Leaves every entered directory, `fsync`ing the changed ones and the root if it changed.
    func finish() {
        while !stack.isEmpty { pop() }
        if rootDirty {
            if syncChanges { _ = fsync(rootFD) }
            rootDirty = false
        }
    }

    private func pop() {
        let e = stack.removeLast()
        if e.dirty && syncChanges { _ = fsync(e.fd) }
        _ = close(e.fd)
    }

    /// The on-disk path of `component` under the current directory, for messages.
    func display(_ component: TreePath) -> String {
        var p = target
        for e in stack { p += "/" + e.name.description }
        return p + "/" + component.description
    }
}

/// The name of a directory entry, as its bytes; nil for `.` and `..`.
func entryName(_ entry: UnsafeMutablePointer<dirent>) -> TreePath? {
    withUnsafePointer(to: &entry.pointee.d_name) {
        $0.withMemoryRebound(to: UInt8.self, capacity: 256) { name in
            if name[0] == 0x2E && (name[1] == 0 || (name[1] == 0x2E && name[2] == 0)) { return nil }
            var length = 0
            while name[length] != 0 { length += 1 }
            return TreePath(bytes: UnsafeBufferPointer(start: name, count: length))
        }
    }
}

/// The entries the directory stream `dir` has not yet returned, as ``directoryEntries(stream:display:)`` gives them,
/// with the inode number `readdir` reports for each (`d_ino`: for a walker that can tell a file it knows by its inode
/// without an `lstat`).
func directoryEntriesWithInodes(stream dir: OpaquePointer, display: String) throws
    -> [(name: TreePath, type: UInt8, inode: UInt64)]
{
    var entries: [(name: TreePath, type: UInt8, inode: UInt64)] = []
    while true {
        errno = 0
        guard let entry = readdir(dir) else {
            if errno != 0 { throw SmartSyncError.io("readdir", path: display) }
            return entries
        }
        if let name = entryName(entry) { entries.append((name, entry.pointee.d_type, UInt64(entry.pointee.d_ino))) }
    }
}

/// The names in the directory open on `fd` (which stays open), as bytes, without `.` and `..`.
func directoryNames(_ fd: Int32, display: String) throws -> [TreePath] {
    try directoryEntries(fd, display: display).map(\.name)
}

/// The entries of the directory open on `fd` (which stays open): names as bytes, and the type `readdir` reports
/// (`DT_DIR`, `DT_REG`, …; `DT_UNKNOWN` where the file system does not say), without `.` and `..`.
func directoryEntries(_ fd: Int32, display: String) throws -> [(name: TreePath, type: UInt8)] {
    let copy = dup(fd)
    guard copy >= 0, let dir = fdopendir(copy) else {
        let err = errno  // read before close() can change it
        if copy >= 0 { close(copy) }
        throw SmartSyncError.io("fdopendir", path: display, errno: err)
    }
    defer { closedir(dir) }
    rewinddir(dir)  // the duplicate shares the position of `fd`, which an earlier listing left at the end
    return try directoryEntries(stream: dir, display: display)
}

/// The entries the directory stream `dir` has not yet returned (all of them, for a stream just opened), as
/// ``directoryEntries(_:display:)`` gives them: for a walker that owns its descriptor and reads it once, with no
/// duplicate to make and rewind.
func directoryEntries(stream dir: OpaquePointer, display: String) throws -> [(name: TreePath, type: UInt8)] {
    try directoryEntriesWithInodes(stream: dir, display: display).map { ($0.name, $0.type) }
}
