import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import Synchronization

/// The directory `smart-sync publish` writes (docs/MIRROR.md's layout), held locked while it does.
///
/// Every file is written under a temporary name in the directory itself (`.smart-sync-tmp-…`, one file system with
/// its final place), fsynced, and renamed into place; an immutable file that exists is never rewritten. The
/// directories that received files are fsynced by ``syncDirectories()`` before the caller writes `refs`, so `refs`
/// never becomes durable before what it points to. The lock is an `flock` of the directory itself, so nothing but
/// the layout is left in it.
///
/// Whoever can write the directory (a deploy user, an upload job) must not be able to steer root's writes outside
/// it, so everything below the directory goes through its descriptor: each component is opened with
/// `openat(O_DIRECTORY | O_NOFOLLOW)` (``FileSystem/openDirectory(_:in:create:display:hint:)``), files are made with
/// `O_EXCL | O_NOFOLLOW`, read with `O_NOFOLLOW`, renamed with `renameat`, checked with `fstatat(AT_SYMLINK_NOFOLLOW)`.
/// A symlink or a file where a directory belongs is refused by name.
final class PublishDirectory: Sendable {
    /// The directory, as given.
    let path: String
    private let fd: Int32
    /// Whether ``init(path:)`` made the directory (``abandon()`` removes it again while it is empty).
    private let created: Bool
    /// Directories (relative; "" for the root) that received a file since the last ``syncDirectories()``.
    private let touched = Mutex(Set<String>())

    static let temporaryPrefix = ".smart-sync-tmp-"
    private static let hint = "remove it (the mirror directory holds only directories and files smart-sync wrote)"

    /// Creates the directory when missing (0755), takes its lock, and removes temporaries a killed publish left.
    /// Throws `.locked` when another publish holds it.
    init(path: String) throws {
        self.path = path
        var st = stat()
        let existed = lstat(path, &st) == 0
        try FileSystem.makeDirectories(path)
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            close(fd)
            if err == EWOULDBLOCK {
                throw SmartSyncError(
                    .locked, "the mirror directory \(path) is in use by another smart-sync publish "
                        + "(or an upload under its lock)",
                    hint: "wait for it to finish")
            }
            throw SmartSyncError.io("flock", path: path, errno: err)
        }
        self.fd = fd
        created = !existed
        for name in try FileSystem.names(inDirectory: fd, display: path) where name.hasPrefix(Self.temporaryPrefix) {
            unlinkat(fd, name, 0)
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// After a failed publish: removes the directory when ``init(path:)`` made it and nothing was written into it.
    func abandon() {
        if created { rmdir(path) }
    }

    // MARK: - The layout's names

    /// `ab/cdef…`: a git id split after its first two digits.
    static func split(_ id: ObjectID) -> String {
        let hex = id.hex
        return String(hex.prefix(2)) + "/" + String(hex.dropFirst(2))
    }

    static func commitFile(_ id: ObjectID) -> String { "commits/" + split(id) }
    static func listingFile(_ tree: ObjectID) -> String { "listings/" + split(tree) }
    static func objectFile(_ id: ObjectID) -> String { "objects/" + split(id) }
    static func packFile(_ commit: ObjectID) -> String { "packs/" + commit.hex + ".pack" }
    static let refsFile = "refs"
    static let signatureFile = "refs.sig"

    // MARK: - Reading

    /// Whether `relative` exists (as anything: a directory where a file belongs is not replaced either). Throws
    /// `.unsafePath` when a directory on the way is a symlink.
    func contains(_ relative: String) throws -> Bool {
        try withParent(of: relative, create: false) { parent, name in
            var st = stat()
            return fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0
        } ?? false
    }

    /// The bytes of the file `relative`, or nil when it does not exist. A symlink is refused, not followed.
    func read(_ relative: String) throws -> [UInt8]? {
        // The descriptor, or minus the errno.
        let opened = try withParent(of: relative, create: false) { parent, name -> Int32 in
            let file = openat(parent, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            return file >= 0 ? file : -errno
        } ?? -ENOENT
        if opened == -ENOENT { return nil }
        guard opened >= 0 else {
            if opened == -ELOOP {
                throw SmartSyncError(
                    .unsafePath, "'\(path)/\(relative)' is a symlink; smart-sync will not read through it",
                    hint: Self.hint)
            }
            throw SmartSyncError.io("open", path: path + "/" + relative, errno: -opened)
        }
        let file = opened
        defer { close(file) }
        var st = stat()
        guard fstat(file, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw SmartSyncError(
                .unsafePath, "'\(path)/\(relative)' is not a regular file", hint: Self.hint)
        }
        var bytes: [UInt8] = []
        try readChunks(fd: file, path: path + "/" + relative) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The names in the root, without this publish's temporaries.
    func rootNames() throws -> [String] {
        try FileSystem.names(inDirectory: fd, display: path).filter { !$0.hasPrefix(Self.temporaryPrefix) }
    }

    // MARK: - Writing

    /// A new temporary file in the root (`O_EXCL | O_NOFOLLOW`): its name, and a descriptor open for writing that
    /// the caller closes.
    func createTemporary() throws -> (name: String, fd: Int32) {
        let name = temporaryName()
        let out = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw SmartSyncError.io("open", path: path + "/" + name) }
        return (name, out)
    }

    /// A fresh temporary name in the root (not created): for a file a child process creates (`O_EXCL`).
    func temporaryName() -> String {
        FileSystem.temporaryName(Self.temporaryPrefix + String(getpid()) + "-")
    }

    /// The path of the temporary `name`, for a child process and for messages.
    func temporaryPath(_ name: String) -> String { path + "/" + name }

    /// The size of the temporary file `name` (not following a symlink).
    func size(ofTemporary name: String) throws -> Int {
        var st = stat()
        guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw SmartSyncError.io("stat", path: temporaryPath(name))
        }
        return Int(st.st_size)
    }

    /// Removes the temporary `name` (nothing when it is gone).
    func removeTemporary(_ name: String) { unlinkat(fd, name, 0) }

    /// Writes `bytes` to `relative` through a temporary file. With `replacing` false an existing file is kept and
    /// false returned.
    @discardableResult
    func write(_ bytes: [UInt8], to relative: String, replacing: Bool = false) throws -> Bool {
        if try !replacing && contains(relative) { return false }
        let temporary = try writeTemporary(bytes)
        return try install(temporary, as: relative, replacing: replacing)
    }

    /// A new temporary file holding `bytes`, by name (not yet fsynced: ``install(_:as:replacing:)`` does that).
    func writeTemporary(_ bytes: [UInt8]) throws -> String {
        let (name, out) = try createTemporary()
        do {
            try bytes.withUnsafeBytes { try FileSystem.writeAll(fd: out, $0, path: temporaryPath(name)) }
            close(out)
        } catch {
            close(out)
            removeTemporary(name)
            throw error
        }
        return name
    }

    /// fsyncs the finished temporary file `name` (opened `O_NOFOLLOW`, a regular file) and renames it to `relative`
    /// (making its directories). With `replacing` false an existing file is kept (`RENAME_NOREPLACE`), the temporary
    /// removed and false returned.
    @discardableResult
    func install(_ name: String, as relative: String, replacing: Bool = false) throws -> Bool {
        defer { removeTemporary(name) }  // a no-op once renamed
        let file = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard file >= 0 else { throw SmartSyncError.io("open", path: temporaryPath(name)) }
        var st = stat()
        let statted = fstat(file, &st) == 0
        let regular = statted && (st.st_mode & S_IFMT) == S_IFREG
        let synced = regular && fsync(file) == 0
        let err = statted && !regular ? EINVAL : errno  // before `close`, which may change it
        close(file)
        guard synced else {
            throw SmartSyncError.io(statted ? "fsync" : "fstat", path: temporaryPath(name), errno: err)
        }
        let parent = relative.lastIndex(of: "/").map { String(relative[..<$0]) } ?? ""
        let failure = try withParent(of: relative, create: true) { directory, last -> Int32 in
            if replacing { return renameat(fd, name, directory, last) == 0 ? 0 : errno }
            return FileSystem.renameWithoutReplacing(name, in: fd, to: last, in: directory)
        } ?? EINVAL
        guard failure == 0 || failure == EEXIST else {
            throw SmartSyncError.io("rename", path: path + "/" + relative, errno: failure)
        }
        let done = failure == 0
        if done { touched.withLock { _ = $0.insert(parent) } }
        return done
    }

    /// Removes the file `relative` when it exists.
    func remove(_ relative: String) throws {
        let failure = try withParent(of: relative, create: false) { parent, name -> Int32 in
            unlinkat(parent, name, 0) == 0 || errno == ENOENT ? 0 : errno
        } ?? 0
        if failure != 0 { throw SmartSyncError.io("unlink", path: path + "/" + relative, errno: failure) }
        touched.withLock { _ = $0.insert("") }
    }

    /// fsyncs every directory that received a file (and the directories made for them) since the last call.
    func syncDirectories() {
        let directories = touched.withLock { t in
            defer { t.removeAll() }
            return t.sorted { $0.count > $1.count }
        }
        for relative in directories {
            if relative.isEmpty {
                fsync(fd)
            } else {
                _ = try? withParent(of: relative + "/.", create: false) { directory, _ in fsync(directory) }
            }
        }
    }

    /// Runs `body` with the descriptor of `relative`'s parent directory (walked from the root, never through a
    /// symlink; made, 0755, when `create`) and its last component. Nil when a directory is missing and not `create`.
    private func withParent<R>(of relative: String, create: Bool, _ body: (Int32, String) throws -> R) throws -> R? {
        var components = relative.split(separator: "/").map(String.init)
        guard let last = components.popLast() else { return nil }
        var current = fd
        var built = ""
        defer { if current != fd { close(current) } }
        for component in components {
            let display = path + "/" + built + component
            guard let (next, made) = try FileSystem.openDirectory(
                component, in: current, create: create, display: display, hint: Self.hint)
            else { return nil }
            if made { touched.withLock { _ = $0.insert(String(built.dropLast())) } }
            if current != fd { close(current) }
            current = next
            built += component + "/"
        }
        return try body(current, last)
    }
}
