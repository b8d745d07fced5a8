import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// What the state directory remembers about one target, read for gc and fsck.
public struct TargetRecord: Sendable {
    /// The key (`targets/<key>`): hex SHA-1 of the target's path.
    public var key: String
    /// `<state>/targets/<key>`.
    public var directory: String
    /// The last applied state, if readable.
    public var state: TargetState?
    /// The intent of an apply that did not finish, if any.
    public var intent: TargetState?
    /// The kept local versions (the whole log, oldest first).
    public var kept: [KeptVersion]
    /// True when a `state`, `intent` or `kept` file is there, readable or not.
    public var remembersAnything: Bool

    /// The target's path, as its state or intent records it; nil when neither is there (a directory holding only
    /// a kept log, a lock, a stat cache or an excludes file).
    public var target: String? { state?.target ?? intent?.target }
}

extension StateStore {
    /// The keys of every target directory under `targets/`.
    public func targetKeys() throws -> [String] {
        let dir = root + "/targets"
        return try FileSystem.names(in: dir).filter { ObjectID(hex: $0) != nil }.sorted()
    }

    /// Reads what is remembered under `targets/<key>` (takes no lock). A damaged state or intent reads as absent.
    public func record(key: String) throws -> TargetRecord {
        let dir = root + "/targets/" + key
        let state = try TargetState.read(from: dir + "/state")
        let intent = try TargetState.read(from: dir + "/intent")
        let kept = try KeptVersionLog(path: dir + "/kept").load()
        let remembers = ["state", "intent", "kept"].contains { FileSystem.exists(dir + "/" + $0) }
        return TargetRecord(
            key: key, directory: dir, state: state, intent: intent, kept: kept, remembersAnything: remembers)
    }

    /// Takes the lock of the target directory `key` without waiting (`.locked` when a run holds it).
    public func lock(key: String) throws -> FileLock {
        try FileLock.acquire(path: root + "/targets/" + key + "/lock", what: "the state of target \(key)")
    }

    /// Removes everything remembered under `targets/<key>` (state, intent, stat cache, kept log, lock). The caller
    /// holds its lock.
    public func removeTargetDirectory(key: String) throws {
        try TreeOps.removeTree(root + "/targets/" + key)
        FileSystem.syncDirectory(root + "/targets")
    }
}

extension KeptVersionLog {
    /// Rewrites the log (atomically) with only the records saved at or after `cutoffNs`; returns how many were
    /// dropped. Their content is no longer a gc root, so gc may remove it.
    @discardableResult
    public func expire(before cutoffNs: Int64) throws -> Int {
        let all = try load()
        let keep = all.filter { $0.timeNs >= cutoffNs }
        guard keep.count < all.count else { return 0 }
        try FileSystem.writeFileAtomically(path, Array(keep.map { $0.line() }.joined().utf8), mode: 0o600)
        return all.count - keep.count
    }
}
