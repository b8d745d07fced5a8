import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// The mark `update` keeps on a target while a tree it may have switched in has not passed its rebuild and checks.
///
/// `update` writes it before its sync (so it is on disk before any exchange) and removes it once the post-validation
/// passes, or once the target is back at ``confirmed`` (rolled back, and rebuilt where the failed rebuild may have
/// changed the running system). A later `update` that finds it and switches nothing knows that an earlier one was
/// killed or failed after its switch: it rebuilds and validates the tree in the target instead of reporting
/// "no change". `<state>/targets/<key>/pending-rebuild`, a ``JSONRecord`` (format `smart-sync-pending-rebuild`,
/// version 1; the `key=value` text of smart-sync 0.1.0 is still read).
public struct PendingRebuild: JSONRecord, Equatable {
    public static let format = "smart-sync-pending-rebuild"
    public static let version = 1

    /// The commit the target had when the mark was made: the last one an update left confirmed (nil: the target had
    /// no sync state).
    public var confirmed: ObjectID?
    /// The newest kept generation when the mark was made (nil: none). A generation newer than this one that holds
    /// ``confirmed`` is the tree to roll back to.
    public var generationBefore: Int?
    /// When the mark was made, nanoseconds since the epoch.
    public var sinceNs: Int64

    public init(confirmed: ObjectID?, generationBefore: Int?, sinceNs: Int64) {
        self.confirmed = confirmed
        self.generationBefore = generationBefore
        self.sinceNs = sinceNs
    }

    /// Parses the `key=value` text of smart-sync 0.1.0 (`confirmed`, `generation-before`, `since-ns`; an empty
    /// value is nil); nil when a field is missing or malformed.
    init?(legacyText bytes: [UInt8]) {
        guard let fields = KeyValueText.parse(bytes), let confirmed = fields["confirmed"],
            let before = fields["generation-before"],
            let since = fields["since-ns"].flatMap(Int64.init)
        else { return nil }
        if confirmed.isEmpty {
            self.confirmed = nil
        } else {
            guard let id = ObjectID(hex: confirmed) else { return nil }
            self.confirmed = id
        }
        if before.isEmpty {
            generationBefore = nil
        } else {
            guard let n = Int(before) else { return nil }
            generationBefore = n
        }
        sinceNs = since
    }
}

extension StateStore {
    private func pendingRebuildPath(_ target: String) -> String { directory(for: target) + "/pending-rebuild" }

    /// `target`'s ``PendingRebuild`` mark, or nil when there is none (a damaged one counts as none). A mark in the
    /// text of smart-sync 0.1.0 is read and rewritten as JSON; call under the target lock.
    public func loadPendingRebuild(target: String) throws -> PendingRebuild? {
        do {
            return try PendingRebuild.readMigrating(at: pendingRebuildPath(target)) { bytes in
                PendingRebuild(legacyText: bytes).map { ($0, []) }
            }?.record
        } catch let error as SmartSyncError where error.code == .integrity {
            return nil
        }
    }

    /// Saves `mark` for `target` atomically (durable before this returns).
    public func savePendingRebuild(_ mark: PendingRebuild, target: String) throws {
        try FileSystem.makeDirectories(directory(for: target))
        try mark.write(to: pendingRebuildPath(target))
    }

    /// Removes `target`'s mark (nothing when there is none).
    public func clearPendingRebuild(target: String) throws {
        let path = pendingRebuildPath(target)
        if unlink(path) != 0 && errno != ENOENT { throw SmartSyncError.io("unlink", path: path) }
    }
}
