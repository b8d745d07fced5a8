import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// The note beside a quarantined object, `<hex>.<random>.why`: a ``JSONRecord`` (`smart-sync-quarantine-note`).
/// Notes written before it (0.1.0 and the first releases after) were one sentence, "object <hex> quarantined at
/// <seconds>: <reason>" (a twin's: "the executable twin of object …", or " (the executable twin only)" after the
/// reason); they are still read.
struct QuarantineNote: JSONRecord, Equatable {
    static let format = "smart-sync-quarantine-note"
    static let version = 1

    /// The id the object was stored under.
    var id: String
    /// When it was quarantined, seconds since the epoch.
    var time: Int64
    /// Why.
    var reason: String
    /// True when only the executable twin was moved.
    var twinOnly: Bool

    /// Reads the note at `path` in either format; nil when it is missing or unreadable.
    static func load(_ path: String) -> QuarantineNote? {
        let legacy: ([UInt8]) -> (record: QuarantineNote, payload: ArraySlice<UInt8>)? = { bytes in
            let text = Substring(String(decoding: bytes, as: UTF8.self).trimmingTrailingNewlines())
            guard let id = text.split(separator: " ").first(where: { $0.count == 40 }) else { return nil }
            var (time, reason) = ObjectStore.parseNote(text)
            let twin = " (the executable twin only)"
            if reason.hasSuffix(twin) { reason.removeLast(twin.count) }
            let twinOnly = text.hasPrefix("the executable twin") || text.hasSuffix(twin)
            return (QuarantineNote(id: String(id), time: time, reason: reason, twinOnly: twinOnly), [])
        }
        return ((try? read(at: path, legacy: legacy)) ?? nil)?.record
    }
}

/// An object in `<store>/quarantine/` (see ``ObjectStore/quarantine(_:reason:)``): `<hex>.<random>`, its twin
/// `<hex>.<random>.x`, and the note `<hex>.<random>.why`.
public struct QuarantinedObject: Sendable, Hashable {
    /// The id the object was stored under (what its content should hash to).
    public var id: ObjectID
    /// The quarantined file: the object's, or its twin's when only the twin was moved.
    public var path: String
    /// The note's reason.
    public var reason: String
    /// When it was quarantined, seconds since the epoch (from the note).
    public var time: Int64
}

extension ObjectStore {
    /// Moves only the executable twin of `id` into the quarantine (its base object is intact; a twin is made again
    /// from the base on demand), with a note as ``quarantine(_:reason:)`` writes. Returns its new path, or nil when
    /// there was no twin.
    @discardableResult
    public func quarantineTwin(of id: ObjectID, reason: String) throws -> String? {
        try FileSystem.makeDirectories(quarantineDirectory, mode: 0o700)
        let stem = FileSystem.temporaryName(quarantineDirectory + "/" + id.hex + ".")
        let source = path(for: id) + ".x"
        guard rename(source, stem + ".x") == 0 else {
            if errno == ENOENT { return nil }
            throw SmartSyncError.io("rename", path: source, hint: "Check that \(quarantineDirectory) is writable")
        }
        try QuarantineNote(id: id.hex, time: Int64(time(nil)), reason: reason, twinOnly: true)
            .write(to: stem + ".why", mode: 0o600)
        return stem + ".x"
    }

    /// Every quarantined object with a readable note, oldest first.
    public func quarantinedObjects() -> [QuarantinedObject] {
        var out: [QuarantinedObject] = []
        for name in (try? FileSystem.names(in: quarantineDirectory)) ?? [] where name.hasSuffix(".why") {
            let stem = quarantineDirectory + "/" + name.dropLast(4)
            guard let id = ObjectID(hex: name.prefix(40)),
                let note = QuarantineNote.load(quarantineDirectory + "/" + name)
            else { continue }
            let path = FileSystem.exists(stem) ? stem : stem + ".x"
            out.append(QuarantinedObject(id: id, path: path, reason: note.reason, time: note.time))
        }
        return out.sorted { ($0.time, $0.path) < ($1.time, $1.path) }
    }

    /// The time and reason of an old note, "object <hex> quarantined at <seconds>: <reason>" (0 and the whole text
    /// when it has another shape).
    static func parseNote(_ text: Substring) -> (Int64, String) {
        let marker = " quarantined at "
        var rest = text[...]
        while !rest.isEmpty && !rest.hasPrefix(marker) { rest = rest.dropFirst() }
        guard !rest.isEmpty, let colon = rest.firstIndex(of: ":") else { return (0, String(text)) }
        let seconds = Int64(rest.dropFirst(marker.count)[..<colon]) ?? 0
        return (seconds, String(rest[rest.index(after: colon)...].drop { $0 == " " }))
    }

    /// Puts a fresh sealed copy of a quarantined object back into `objects/` when its content is still intact: the
    /// quarantined file is hashed as each object kind, and only when one gives its id is it copied through an
    /// ``ObjectWriter`` (verified again, published sealed). Returns false when its content does not hash to its id
    /// (it must be fetched again) or only a twin was quarantined.
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
}

extension FileSystem {
    /// True when something (of any type) is at `path`, not following a final symlink.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
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

extension String {
    fileprivate func trimmingTrailingNewlines() -> String {
        var s = self[...]
        while s.last == "\n" { s = s.dropLast() }
        return String(s)
    }
}
