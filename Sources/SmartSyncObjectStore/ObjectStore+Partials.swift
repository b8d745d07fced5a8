import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

extension ObjectStore {
    /// `root/partials`: kept partial downloads (`<id>`) and their metadata (`<id>.meta`).
    public var partialsDirectory: String { root + "/partials" }

    /// Opens the partial download of `id`, resuming what an earlier attempt or run left when `keep` is set.
    ///
    /// - Parameters:
    ///   - size: the object's size; kept bytes for another size are dropped.
    ///   - url: where the bytes will come from (recorded in the metadata).
    ///   - keep: keep the bytes in `partials/` when this run ends unfinished (for large objects); otherwise a
    ///     private file in `tmp/` that only this run's retries resume.
    /// - Returns: nil when another run holds this object's partial (download it without resuming, or later).
    public func openPartial(expecting id: ObjectID, size: Int, url: String, keep: Bool) throws -> PartialObject? {
        guard keep else {
            let path = FileSystem.temporaryName(temporaryDirectory + "/" + id.hex + "-part-")
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw SmartSyncError.io(
                    "open", path: path, hint: "Check that the store directory is writable (--store)")
            }
            return try PartialObject(
                store: self, id: id, size: size, url: url, fd: fd, dataPath: path, metaPath: nil, kept: nil)
        }
        try FileSystem.makeDirectories(partialsDirectory)
        let dataPath = partialsDirectory + "/" + id.hex
        let metaPath = dataPath + ".meta"
        for _ in 0..<3 {
            let fd = open(dataPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw SmartSyncError.io(
                    "open", path: dataPath, hint: "Check that the store directory is writable (--store)")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let err = errno
                close(fd)
                if err == EWOULDBLOCK { return nil }
                throw SmartSyncError.io("flock", path: dataPath, errno: err)
            }
            // The holder we waited for may have published or dropped the file: lock the file the name names now.
            var held = stat()
            var named = stat()
            guard fstat(fd, &held) == 0, stat(dataPath, &named) == 0, held.st_dev == named.st_dev,
                held.st_ino == named.st_ino
            else {
                close(fd)
                continue
            }
            let kept = PartialMetadata.load(from: metaPath)
            return try PartialObject(
                store: self, id: id, size: size, url: url, fd: fd, dataPath: dataPath, metaPath: metaPath, kept: kept)
        }
        return nil
    }

    /// The kept partial's metadata for `id`, if any (for tests and diagnostics; takes no lock).
    public func partialMetadata(for id: ObjectID) -> PartialMetadata? {
        PartialMetadata.load(from: partialsDirectory + "/" + id.hex + ".meta")
    }

    /// Publishes a verified object from an open file: fsync, make it read-only, `link` it into `objects/`
    /// (never replacing: a concurrent writer that got there first published identical bytes), fsync the directory.
    func publish(fd: Int32, path: String, as id: ObjectID) throws {
        guard fsync(fd) == 0 else { throw SmartSyncError.io("fsync", path: path) }
        guard fchmod(fd, Seal.permissions(executable: false)) == 0 else {
            throw SmartSyncError.io("fchmod", path: path)
        }
        try Seal.apply(fd: fd, path: path)
        let final = self.path(for: id)
        let dir = String(final[..<final.lastIndex(of: "/")!])
        if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw SmartSyncError.io("mkdir", path: dir) }
        if link(path, final) != 0 && errno != EEXIST {
            throw SmartSyncError.io("link", path: final)
        }
        FileSystem.syncDirectory(dir)
    }

    /// Removes kept partials not touched for `age` seconds (objects no run came back for), skipping any a run
    /// holds. Returns how many were removed. Best effort.
    @discardableResult
    public func removeStalePartials(olderThan age: Int = 7 * 24 * 3600) -> Int {
        let nowNs = Timestamps.nowNs()
        var removed = 0
        for name in (try? FileSystem.names(in: partialsDirectory)) ?? [] where ObjectID(hex: name) != nil {
            let path = partialsDirectory + "/" + name
            guard let ageNs = FileSystem.inodeAgeNs(path, at: nowNs, regularFile: true),
                ageNs > Int64(age) * 1_000_000_000
            else { continue }
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                unlink(path)
                unlink(path + ".meta")
                removed += 1
            }
            close(fd)
        }
        return removed
    }
}
