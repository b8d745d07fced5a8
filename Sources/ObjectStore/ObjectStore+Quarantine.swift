import GitObjects
import SmartSyncCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An object moved out of `objects/` because it failed a check, kept in `<store>/quarantine/` for inspection.
public struct QuarantinedObject: Sendable, Hashable {
    /// The id the object was stored under (what its content should hash to).
    public var id: ObjectID
    /// The quarantined file: `<store>/quarantine/<hex>-<time ns>`, or its `.x` when only the twin was moved.
    public var path: String
    /// Why it was moved.
    public var reason: String
    /// When, ns since the epoch.
    public var timeNs: Int64
}

extension ObjectStore {
    /// `root/quarantine`: objects that failed a check (fsck, the link-time check), with a `.why` record each.
    public var quarantineDirectory: String { root + "/quarantine" }

    /// Moves the object `id` (`objects/ab/cdef…`) and its executable twin, if any, into `quarantine/` under a
    /// unique name (`<hex>-<time ns>`, the twin beside it with `.x`), with a record `<name>.why` of the id, the
    /// reason and the time. Returns the quarantined object's path (the twin's when only the twin was present), or
    /// nil when neither was in the store.
    ///
    /// A rename within the store's file system: target files hardlinking the object keep their inode; the store
    /// simply no longer offers it, so the next run that needs it fetches it again.
    @discardableResult
    public func quarantine(_ id: ObjectID, reason: String) throws -> String? {
        try quarantine(id, reason: reason, twinOnly: false)
    }

    /// Moves only the executable twin of `id` into `quarantine/` (its base object is intact; a twin is made again
    /// from the base on demand). Returns its new path, or nil when there was no twin.
    @discardableResult
    public func quarantineTwin(of id: ObjectID, reason: String) throws -> String? {
        try quarantine(id, reason: reason, twinOnly: true)
    }

    private func quarantine(_ id: ObjectID, reason: String, twinOnly: Bool) throws -> String? {
        let base = path(for: id)
        let twin = base + ".x"
        let present = [(base, ""), (twin, ".x")].filter { FileSystem.exists($0.0) && (!twinOnly || $0.1 == ".x") }
        guard !present.isEmpty else { return nil }
        try FileSystem.makeDirectories(quarantineDirectory, mode: 0o700)
        let now = Timestamps.nowNs()
        var name = id.hex + "-" + String(now)
        if FileSystem.exists(quarantineDirectory + "/" + name + ".why") {
            name += "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        }
        let stem = quarantineDirectory + "/" + name
        let record = "id \(id.hex)\ntime \(now)\nreason \(reason.replacingNewlines())\n"
        try FileSystem.writeFileAtomically(stem + ".why", Array(record.utf8), mode: 0o600)
        var moved: String?
        for (source, suffix) in present {
            if rename(source, stem + suffix) != 0 {
                if errno == ENOENT { continue }  // removed meanwhile: nothing left to quarantine
                throw SmartSyncError.io("rename", path: source, hint: "Check that the store directory is writable")
            }
            moved = moved ?? stem + suffix
        }
        if let slash = base.lastIndex(of: "/") { FileSystem.syncDirectory(String(base[..<slash])) }
        FileSystem.syncDirectory(quarantineDirectory)
        if moved == nil { unlink(stem + ".why") }
        return moved
    }

    /// Puts a fresh copy of a quarantined object back into `objects/` when its content is intact (it was quarantined
    /// for its mode, say): the quarantined file is hashed as each object kind, and only when one gives its id is it
    /// copied through an ``ObjectWriter`` (verified again, published read-only). Returns false when its content does
    /// not hash to its id (it must be fetched again) or only a twin was quarantined.
    public func restoreFromQuarantine(_ object: QuarantinedObject) throws -> Bool {
        guard !object.path.hasSuffix(".x") else { return false }
        let fd = open(object.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
        let size = Int(st.st_size)
        let kinds: [ObjectKind] = [.blob, .tree, .commit, .tag]
        let hashers = kinds.map { BlobHasher(kind: $0, size: size) }
        try readChunks(fd: fd, path: object.path) { chunk in for h in hashers { h.update(chunk) } }
        guard let kind = zip(kinds, hashers).first(where: { $0.1.finalize() == object.id })?.0 else { return false }
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw SmartSyncError.io("lseek", path: object.path) }
        let writer = try makeWriter(kind: kind, size: size, expecting: object.id)
        do {
            try readChunks(fd: fd, path: object.path) { try writer.write($0) }
            try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
        return true
    }

    /// Every quarantined object with a readable record, oldest first.
    public func quarantinedObjects() -> [QuarantinedObject] {
        var out: [QuarantinedObject] = []
        for name in (try? FileSystem.names(in: quarantineDirectory)) ?? [] where name.hasSuffix(".why") {
            let stem = quarantineDirectory + "/" + name.dropLast(4)
            guard let bytes = try? FileSystem.readFile(quarantineDirectory + "/" + name) else { continue }
            var fields: [Substring: Substring] = [:]
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                guard let space = line.firstIndex(of: " ") else { continue }
                fields[line[..<space]] = line[line.index(after: space)...]
            }
            guard let id = fields["id"].flatMap({ ObjectID(hex: $0) }), let time = fields["time"].flatMap({ Int64($0) })
            else { continue }
            let path = FileSystem.exists(stem) ? stem : stem + ".x"
            out.append(QuarantinedObject(id: id, path: path, reason: String(fields["reason"] ?? ""), timeNs: time))
        }
        return out.sorted { $0.timeNs < $1.timeNs }
    }

}

extension Timestamps {
    /// The wall clock now, ns since the epoch (comparable with file times).
    public static func nowNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

extension FileSystem {
    /// True when something (of any type) is at `path`, not following a final symlink.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        String(map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
