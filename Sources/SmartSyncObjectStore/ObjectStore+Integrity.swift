import CLinuxShims
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// What a check of a store object before it is linked found (see ``ObjectStore/condition(of:size:repair:)``).
public enum ObjectCondition: Sendable, Equatable {
    /// Its seal holds: nothing was read.
    case sealed
    /// Its seal was broken but its content still hashes to its id (a `touch`, a `chmod` through a target's hard
    /// link, or an object published by an earlier release); when repairing, it was sealed again.
    case verified
    /// Not in the store (or quarantined by this check, when repairing).
    case missing
    /// Its content no longer hashes to its id; when repairing, it was moved to the quarantine.
    case damaged
}

extension ObjectStore {
    /// Checks the blob `id` before it is linked anywhere: one `lstat` against its ``Seal``, a re-hash only when the
    /// seal is broken.
    ///
    /// With `repair`, the store is mended on the way: content that re-hashes correctly is sealed again — in place
    /// when only its modification time moved (its permissions and owner are untouched, so no target sharing the
    /// inode sees an operator's metadata change), else by a fresh sealed copy renamed over it (the old inode stays
    /// with whoever links it) — and damaged content is quarantined, so the caller fetches it again. Without `repair`
    /// (a `plan`) nothing changes.
    public func condition(of id: ObjectID, size: Int?, repair: Bool) throws -> ObjectCondition {
        let path = self.path(for: id)
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return .missing }
            throw SmartSyncError.io("lstat", path: path)
        }
        let seal = Seal.breach(of: st, executable: false, size: size, group: objectGroup)
        guard let breach = seal ?? (hasAttributes(path) ? .attributes : nil) else { return .sealed }
        guard breach != .notAFile else {
            if repair { try quarantine(id, reason: "\(breach)", expecting: FileIdentity(st)) }
            return .damaged
        }
        // One descriptor for what is hashed, checked and sealed again: one inode, whatever happens to the name.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return .missing }
            throw SmartSyncError.io("open", path: path)
        }
        defer { close(fd) }
        var before = stat()
        guard fstat(fd, &before) == 0, (before.st_mode & S_IFMT) == S_IFREG else {
            throw SmartSyncError.io("fstat", path: path)
        }
        let intact = try BlobHasher.hash(fd: fd, size: Int(before.st_size), path: path).id == id
        var after = stat()
        let steady =
            fstat(fd, &after) == 0 && after.st_size == before.st_size
            && after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec
        guard intact && steady else {
            if repair {
                try quarantine(
                    id, reason: "\(breach); its content no longer hashes to \(id.hex)", expecting: FileIdentity(before))
            }
            return .damaged
        }
        guard repair else { return .verified }
        if breach.keepsPermissionsAndOwner {
            try Seal.apply(fd: fd, path: path)
        } else {
            try replaceWithSealedCopy(id, from: path)
        }
        return .verified
    }

    /// The identity of the blob `id`'s object file (of its `0555` twin with `executable`) when its ``Seal`` holds as
    /// it is, and its size is `size` when given: one `lstat` and one `llistxattr`, nothing read, nothing mended. nil
    /// when it is missing or its seal is broken; the caller then checks it with ``condition(of:size:repair:)``, which
    /// may mend it into a new inode (or, for a twin, makes it again: ``executablePath(for:)``).
    public func sealedIdentity(of id: ObjectID, executable: Bool, size: Int? = nil) -> FileIdentity? {
        let path = self.path(for: id) + (executable ? ".x" : "")
        var st = stat()
        guard lstat(path, &st) == 0, Seal.breach(of: st, executable: executable, size: size, group: objectGroup) == nil,
            !hasAttributes(path)
        else { return nil }
        return FileIdentity(st)
    }

    /// True when the file at `path` has extended attributes other than an SELinux label (which every file has where
    /// SELinux labels them).
    func hasAttributes(_ path: String) -> Bool {
        let size = ss_llistxattr(path, nil, 0)
        guard size > 0 else { return false }
        var list = [CChar](repeating: 0, count: size)
        let n = list.withUnsafeMutableBufferPointer { ss_llistxattr(path, $0.baseAddress, UInt($0.count)) }
        guard n > 0 else { return n != 0 }
        return list[0..<n].split(separator: 0).contains {
            String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) != "security.selinux"
        }
    }

    /// True when the blob `id` is in the store with its content intact (``condition(of:size:repair:)`` is `.sealed`
    /// or `.verified`); false when it is absent, damaged, or was just quarantined.
    public func holds(_ id: ObjectID, size: Int?, repair: Bool) throws -> Bool {
        switch try condition(of: id, size: size, repair: repair) {
        case .sealed, .verified: return true
        case .missing, .damaged: return false
        }
    }

    /// True when the object file at `path` hashes to `id` as a blob (the only kind that is ever linked).
    private func rehashes(_ path: String, to id: ObjectID) throws -> Bool {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return false }
            throw SmartSyncError.io("open", path: path)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SmartSyncError.io("fstat", path: path) }
        return try BlobHasher.hash(fd: fd, size: Int(st.st_size), path: path).id == id
    }

    /// Publishes a fresh sealed copy of verified content over the object's name (its executable twin, a copy of
    /// the old inode, is dropped and made again on demand).
    func replaceWithSealedCopy(_ id: ObjectID, from path: String) throws {
        let tmp = FileSystem.temporaryName(temporaryDirectory + "/reseal-" + id.hex + "-")
        try FileSystem.copyFile(from: path, to: tmp, mode: Seal.permissions(executable: false)) {
            try Seal.apply(fd: $0, path: tmp)
        }
        guard rename(tmp, path) == 0 else {
            let err = errno
            unlink(tmp)
            throw SmartSyncError.io("rename", path: path, errno: err)
        }
        if unlink(path + ".x") != 0 {
            let err = errno
            if err != ENOENT { throw SmartSyncError.io("unlink", path: path + ".x", errno: err) }
        }
        FileSystem.syncDirectory(String(path[..<path.lastIndex(of: "/")!]))
    }

    /// The path to link the blob `id` from, checked just before the link: the object (or its `0555` twin for
    /// `executable`), sealed. An object whose content is damaged is quarantined and `.integrity` thrown: the run
    /// that checked it earlier raced a write to it, and the next run fetches it again.
    public func sealedPath(for id: ObjectID, executable: Bool, size: Int?) throws -> String {
        switch try condition(of: id, size: size, repair: true) {
        case .sealed, .verified:
            return executable ? try executablePath(for: id) : path(for: id)
        case .missing:
            throw SmartSyncError(
                .notFound, "object \(id) is not in the store at \(root)",
                hint: "run the sync again to fetch it")
        case .damaged:
            throw SmartSyncError(
                .integrity, "store object \(id) was written to in place during this run; it was quarantined",
                hint: "run the sync again: it fetches the object anew")
        }
    }

    /// Reads a blob held in memory (a symlink's target), verified against its id: symlinks are made from the bytes,
    /// so a changed object would otherwise go unnoticed.
    public func readVerifiedBlob(_ id: ObjectID) throws -> [UInt8] {
        let bytes = try read(id)
        guard ObjectID.blob(bytes) == id else {
            try quarantine(id, reason: "its content no longer hashes to \(id.hex)")
            throw SmartSyncError(
                .integrity, "store object \(id) was changed; it was quarantined",
                hint: "run the sync again: it fetches the object anew")
        }
        return bytes
    }
}
