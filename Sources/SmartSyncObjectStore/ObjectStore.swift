import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// A content-addressed store of git objects: `objects/ab/cdef…`, keyed by the git SHA-1 of the content.
///
/// Objects are written to `tmp/`, fsynced, verified against their id, made read-only and renamed into place,
/// so a path under `objects/` always holds exactly the bytes its name promises. Executable entries link a
/// `0555` twin (`objects/ab/cdef….x`) so a blob can be hardlinked with either mode.
public final class ObjectStore: Sendable {
    /// The store's root directory.
    public let root: String
    /// `root/objects`.
    public let objectsDirectory: String
    /// `root/tmp`: in-progress writes.
    public let temporaryDirectory: String

    /// Opens (creating when needed) the store at `root`, private to its owner (see
    /// ``FileSystem/makePrivateDirectory(_:)``: a store of an earlier release loses access for others).
    public init(root: String) throws {
        self.root = root
        objectsDirectory = root + "/objects"
        temporaryDirectory = root + "/tmp"
        try FileSystem.makePrivateDirectory(root)
        for dir in [objectsDirectory, temporaryDirectory] {
            try FileSystem.makeDirectories(dir)
        }
        // Objects are made in tmp/: their group is its group when it is setgid, else the effective group.
        var st = stat()
        objectGroup = stat(temporaryDirectory, &st) == 0 && (st.st_mode & S_ISGID) != 0 ? st.st_gid : getegid()
    }

    /// The group every published object has: part of its ``Seal`` (a `chgrp` through a target's hard link breaks it).
    public let objectGroup: gid_t

    /// Where the object `id` lives (whether or not it is present).
    public func path(for id: ObjectID) -> String {
        let hex = id.hex
        return objectsDirectory + "/" + hex.prefix(2) + "/" + hex.dropFirst(2)
    }

    /// True when the object is in the store.
    public func contains(_ id: ObjectID) -> Bool {
        var st = stat()
        return lstat(path(for: id), &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The object's size in bytes, or nil when absent.
    public func size(of id: ObjectID) -> Int? {
        var st = stat()
        guard lstat(path(for: id), &st) == 0 else { return nil }
        return Int(st.st_size)
    }

    /// A `0555` twin of the object, created on demand, for linking mode-`100755` entries.
    ///
    /// A twin whose ``Seal`` is broken (a write or `chmod` through a target's hardlink changes it here too) is made
    /// again from the object, which the caller has checked (``sealedPath(for:executable:size:)``).
    public func executablePath(for id: ObjectID) throws -> String {
        let (twin, size) = try twinOfPresentObject(id)
        if sealedIdentity(of: id, executable: true, size: size) != nil { return twin }
        // Synced before it is named; the rename needs no sync: one lost in a crash only means the twin is made again.
        try FileSystem.moveIntoPlace(try draftTwin(of: id, sync: true), twin, durable: false)
        return twin
    }

    /// The path of the object's `0555` twin and the object's size; `.notFound` when the object is not in the store.
    func twinOfPresentObject(_ id: ObjectID) throws -> (twin: String, size: Int) {
        let source = path(for: id)
        var base = stat()
        guard lstat(source, &base) == 0, (base.st_mode & S_IFMT) == S_IFREG else {
            throw SmartSyncError(
                .notFound, "object \(id) is not in the store at \(root)", hint: "run the sync again to fetch it")
        }
        return (source + ".x", Int(base.st_size))
    }

    /// A sealed `0555` copy of the object in `tmp/`, not yet under its twin's name; fsynced when `sync`.
    func draftTwin(of id: ObjectID, sync: Bool) throws -> String {
        let tmp = FileSystem.temporaryName(temporaryDirectory + "/x-" + id.hex + "-")
        try FileSystem.copyFile(
            from: path(for: id), to: tmp, mode: Seal.permissions(executable: true), sync: sync,
            beforeSync: { try Seal.apply(fd: $0, path: tmp) })
        return tmp
    }

    /// Starts writing an object whose id is (usually) known in advance.
    ///
    /// - Parameters:
    ///   - id: the expected id; ``ObjectWriter/commit()`` refuses content that hashes to anything else.
    ///   - size: the blob size, needed up front for git's header.
    public func makeWriter(expecting id: ObjectID, size: Int) throws -> ObjectWriter {
        try ObjectWriter(store: self, kind: .blob, expected: id, size: size)
    }

    /// Starts writing an object of any kind.
    ///
    /// - Parameters:
    ///   - kind: the object's kind, hashed in git's header (the store keeps the raw content only).
    ///   - size: the content size, needed up front for git's header.
    ///   - expecting: the expected id, or nil to let ``ObjectWriter/commit()`` publish under the id the content
    ///     hashes to (keeping the copy already in the store, if any).
    public func makeWriter(kind: ObjectKind, size: Int, expecting id: ObjectID?) throws -> ObjectWriter {
        try ObjectWriter(store: self, kind: kind, expected: id, size: size)
    }

    /// Stores an in-memory object of any kind under the id its content hashes to, and returns that id.
    @discardableResult
    public func insert(_ bytes: [UInt8], kind: ObjectKind) throws -> ObjectID {
        try write(bytes, kind: kind, as: ObjectID.hash(kind, bytes))
    }

    private func write(_ bytes: [UInt8], kind: ObjectKind, as id: ObjectID) throws -> ObjectID {
        if kind == .blob ? try holds(id, size: bytes.count, repair: true) : contains(id) { return id }
        let writer = try makeWriter(kind: kind, size: bytes.count, expecting: id)
        do {
            try bytes.withUnsafeBytes { try writer.write($0) }
            return try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Stores in-memory content as a blob and returns its id.
    @discardableResult
    public func insert(_ bytes: [UInt8], expecting expected: ObjectID? = nil) throws -> ObjectID {
        let id = ObjectID.blob(bytes)
        if let expected, expected != id {
            throw SmartSyncError(.integrity, "content hashes to \(id), not the expected \(expected); it was not stored")
        }
        return try write(bytes, kind: .blob, as: id)
    }

    /// Copies a local file into the store (verified), e.g. to keep a user's file before replacing it.
    @discardableResult
    public func insertFile(atPath filePath: String, expecting expected: ObjectID? = nil) throws -> ObjectID {
        let fd = open(filePath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: filePath) }
        defer { close(fd) }
        return try insertFile(fd: fd, display: filePath, expecting: expected)
    }

    /// Copies the file open on `fd` (from its start) into the store, verified; `display` names it in errors.
    @discardableResult
    public func insertFile(fd: Int32, display filePath: String, expecting expected: ObjectID? = nil) throws -> ObjectID
    {
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw SmartSyncError.io("lseek", path: filePath) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SmartSyncError.io("fstat", path: filePath) }
        let size = Int(st.st_size)
        let (id, _) = try BlobHasher.hash(fd: fd, size: size, path: filePath)
        if let expected, expected != id {
            throw SmartSyncError(.integrity, "'\(filePath)' hashes to \(id), not the expected \(expected)")
        }
        if try holds(id, size: size, repair: true) { return id }
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw SmartSyncError.io("lseek", path: filePath) }
        let writer = try makeWriter(expecting: id, size: size)
        do {
            try readChunks(fd: fd, path: filePath) { try writer.write($0) }
            return try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Reads a whole object into memory (for small objects such as symlink targets).
    ///
    /// Opened with `O_NOFOLLOW`: whatever sits at the object's path that is no regular file (a planted symlink, a
    /// directory, a FIFO) is an `.integrity` error naming the object (``SmartSyncError/storeDamaged(_:)``), never
    /// followed or read. An object published between the failed open and the `lstat` that looks is read then.
    /// - Throws: `.io` when the object is absent (`ENOENT`) or its path cannot be looked at (`ENOTDIR`, `EACCES`: the
    ///   `lstat`'s own `errno`).
    public func read(_ id: ObjectID) throws -> [UInt8] {
        let path = path(for: id)
        for _ in 0..<2 {
            if let (bytes, _) = try FileSystem.readRegularFileIfPresent(path) { return bytes }
            var st = stat()
            guard lstat(path, &st) == 0 else { throw SmartSyncError.io("open", path: path) }
            // A regular file now: published since the open (another run's writer); open it again, once.
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw Self.notAnObject(id, at: path, mode: st.st_mode) }
        }
        throw SmartSyncError.io("open", path: path, errno: ENOENT)
    }

    /// The error for something at an object's path that is no regular file (`mode` from its `lstat`): not read.
    /// Damage in the local store (``SmartSyncError/storeDamaged(_:)``), worded alike wherever an object is read.
    public static func notAnObject(_ id: ObjectID, at path: String, mode: mode_t) -> SmartSyncError {
        let type = mode & S_IFMT
        let kind = type == S_IFLNK ? "a symlink" : type == S_IFDIR ? "a directory" : "no regular file"
        return .storeDamaged("the store object \(id) at \(path) is \(kind), not a file: it was not read")
    }

    /// The error for an object whose bytes at `path` (its store path or a batch's file in `tmp/`) hash to `actual`,
    /// not to its name: they were hashed as they were written, so this is damage in the local store
    /// (``SmartSyncError/storeDamaged(_:)``), never the fault of the source that sent them.
    public static func notItsBytes(_ id: ObjectID, at path: String, hashTo actual: ObjectID) -> SmartSyncError {
        .storeDamaged("the store object \(id) at \(path) hashes to \(actual), not to its name: it was not used")
    }

    /// Takes the store's lock (non-blocking); released when the returned lock is released or deallocated.
    ///
    /// Syncs and warms take it shared: concurrent writers are safe (unique temp names, publish by `link`).
    /// Maintenance that removes objects takes it exclusive.
    public func lock(shared: Bool = false) throws -> FileLock {
        try FileLock.acquire(path: root + "/lock", what: "the store at \(root)", shared: shared)
    }
}
