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
final class PublishDirectory: Sendable {
    /// The directory, as given.
    let path: String
    private let fd: Int32
    /// Directories (relative; "" for the root) that received a file since the last ``syncDirectories()``.
    private let touched = Mutex(Set<String>())

    static let temporaryPrefix = ".smart-sync-tmp-"

    /// Creates the directory when missing (0755), takes its lock, and removes temporaries a killed publish left.
    /// Throws `.locked` when another publish holds it.
    init(path: String) throws {
        self.path = path
        try FileSystem.makeDirectories(path)
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let err = errno
            close(fd)
            if err == EWOULDBLOCK {
                throw SmartSyncError(
                    .locked, "the mirror directory \(path) is in use by another smart-sync publish",
                    hint: "wait for it to finish")
            }
            throw SmartSyncError.io("flock", path: path, errno: err)
        }
        self.fd = fd
        for name in try FileSystem.names(in: path) where name.hasPrefix(Self.temporaryPrefix) {
            unlink(path + "/" + name)
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
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

    /// Whether `relative` exists (as anything: a directory where a file belongs is not replaced either).
    func contains(_ relative: String) -> Bool {
        var st = stat()
        return lstat(path + "/" + relative, &st) == 0
    }

    /// The bytes of `relative`, or nil when it does not exist.
    func read(_ relative: String) throws -> [UInt8]? {
        try FileSystem.readFileIfPresent(path + "/" + relative)?.bytes
    }

    /// The names in the root, without this publish's temporaries.
    func rootNames() throws -> [String] {
        try FileSystem.names(in: path).filter { !$0.hasPrefix(Self.temporaryPrefix) }
    }

    // MARK: - Writing

    /// A fresh temporary path in the root (not created).
    func temporaryPath() -> String {
        path + "/" + Self.temporaryPrefix + String(getpid()) + "-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    /// Writes `bytes` to `relative` through a temporary file. With `replacing` false an existing file is kept and
    /// false returned.
    @discardableResult
    func write(_ bytes: [UInt8], to relative: String, replacing: Bool = false) throws -> Bool {
        if !replacing && contains(relative) { return false }
        let temporary = try writeTemporary(bytes)
        return try install(temporary, as: relative, replacing: replacing)
    }

    /// A new temporary file holding `bytes` (not yet fsynced: ``install(_:as:replacing:)`` does that).
    func writeTemporary(_ bytes: [UInt8]) throws -> String {
        let temporary = temporaryPath()
        let out = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw SmartSyncError.io("open", path: temporary) }
        do {
            try bytes.withUnsafeBytes { try FileSystem.writeAll(fd: out, $0, path: temporary) }
            close(out)
        } catch {
            close(out)
            unlink(temporary)
            throw error
        }
        return temporary
    }

    /// fsyncs the finished temporary file and renames it to `relative` (making its directory). With `replacing`
    /// false, an existing file is kept, the temporary removed and false returned.
    @discardableResult
    func install(_ temporary: String, as relative: String, replacing: Bool = false) throws -> Bool {
        defer { unlink(temporary) }  // a no-op once renamed
        if !replacing && contains(relative) { return false }
        let file = open(temporary, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { throw SmartSyncError.io("open", path: temporary) }
        let synced = fsync(file) == 0
        close(file)
        guard synced else { throw SmartSyncError.io("fsync", path: temporary) }
        let parent = relative.lastIndex(of: "/").map { String(relative[..<$0]) } ?? ""
        if !parent.isEmpty { try makeParent(parent) }
        guard rename(temporary, path + "/" + relative) == 0 else {
            throw SmartSyncError.io("rename", path: path + "/" + relative)
        }
        touched.withLock { _ = $0.insert(parent) }
        return true
    }

    /// Removes `relative` when it exists.
    func remove(_ relative: String) throws {
        if unlink(path + "/" + relative) != 0 && errno != ENOENT {
            throw SmartSyncError.io("unlink", path: path + "/" + relative)
        }
        touched.withLock { _ = $0.insert("") }
    }

    /// fsyncs every directory that received a file (and the directories made for them) since the last call.
    func syncDirectories() {
        let directories = touched.withLock { t in
            defer { t.removeAll() }
            return t.sorted { $0.count > $1.count }
        }
        for relative in directories { FileSystem.syncDirectory(relative.isEmpty ? path : path + "/" + relative) }
    }

    /// `mkdir -p` of `relative`, noting each new directory's parent for ``syncDirectories()``.
    private func makeParent(_ relative: String) throws {
        var built = ""
        for component in relative.split(separator: "/") {
            let parent = built
            built += (built.isEmpty ? "" : "/") + component
            let full = path + "/" + built
            if mkdir(full, 0o755) == 0 {
                touched.withLock { _ = $0.insert(parent) }
            } else if errno != EEXIST {
                throw SmartSyncError.io("mkdir", path: full)
            }
        }
    }
}
