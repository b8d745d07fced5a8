#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import ObjectStore
import SmartSyncCore

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
    private var stack: [(name: Substring, fd: Int32, dirty: Bool)] = []
    /// Directories created while descending.
    private(set) var createdDirectories = 0

    /// Opens (creating it and its parents when missing) the target directory.
    init(target: String, syncChanges: Bool = true) throws {
        self.target = target
        self.syncChanges = syncChanges
        try FileSystem.makeDirectories(target)
        let fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: target) }
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
    /// is returned when one is missing.
    func enterParent(of path: String, create: Bool) throws -> (fd: Int32, name: String)? {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        guard let name = components.last else { return nil }
        guard try enter(components.dropLast(), create: create) else { return nil }
        return (currentFD, String(name))
    }

    /// Enters the directory `components` below the target root.
    func enter(_ components: ArraySlice<Substring>, create: Bool) throws -> Bool {
        var common = 0
        while common < stack.count, common < components.count,
            stack[common].name == components[components.startIndex + common]
        {
            common += 1
        }
        while stack.count > common { pop() }
        for component in components.dropFirst(common) {
            let parent = currentFD
            var fd = openat(parent, String(component), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd < 0 && errno == ENOENT {
                guard create else { return false }
                if mkdirat(parent, String(component), 0o755) != 0 && errno != EEXIST {
                    throw SmartSyncError.io("mkdir", path: display(component))
                }
                markDirty()
                createdDirectories += 1
                fd = openat(parent, String(component), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if fd < 0 {
                let err = errno
                var st = stat()
                if fstatat(parent, String(component), &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
                {
                    throw SmartSyncError(
                        .unsafePath,
                        "'\(display(component))' is a symlink where a directory is expected; smart-sync will not write through it. Remove it (or exclude that path) and run again"
                    )
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
    func display(_ component: some StringProtocol) -> String {
        var p = target
        for e in stack { p += "/" + e.name }
        return p + "/" + component
    }
}
