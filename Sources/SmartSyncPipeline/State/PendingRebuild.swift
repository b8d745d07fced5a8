import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// The mark `update` keeps on a target while a tree it may have switched in has not passed its rebuild and checks.
///
/// `update` writes it before its sync (so it is on disk before any exchange) and removes it once the post-validation
/// passes, or once the target is back at ``confirmed`` (rolled back, and rebuilt where the failed rebuild may have
/// changed the running system). A later `update` that finds it and switches nothing knows that an earlier one was
/// killed or failed after its switch: it rebuilds and validates the tree in the target instead of reporting
/// "no change". Text, one `key=value` per line, in `<state>/targets/<key>/pending-rebuild`.
public struct PendingRebuild: Sendable, Equatable {
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

    func encoded() -> [UInt8] {
        let text =
            "confirmed=\(confirmed?.hex ?? "")\ngeneration-before=\(generationBefore.map(String.init) ?? "")\n"
            + "since-ns=\(sinceNs)\n"
        return Array(text.utf8)
    }

    /// Reads ``encoded()``; nil when a field is missing or malformed.
    init?(_ bytes: [UInt8]) {
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

    /// `target`'s ``PendingRebuild`` mark, or nil when there is none (a damaged one counts as none).
    public func loadPendingRebuild(target: String) throws -> PendingRebuild? {
        try FileSystem.readFileIfPresent(pendingRebuildPath(target)).flatMap { PendingRebuild($0.bytes) }
    }

    /// Saves `mark` for `target` atomically (durable before this returns).
    public func savePendingRebuild(_ mark: PendingRebuild, target: String) throws {
        try FileSystem.makeDirectories(directory(for: target))
        try FileSystem.writeFileAtomically(pendingRebuildPath(target), mark.encoded())
    }

    /// Removes `target`'s mark (nothing when there is none).
    public func clearPendingRebuild(target: String) throws {
        let path = pendingRebuildPath(target)
        if unlink(path) != 0 && errno != ENOENT { throw SmartSyncError.io("unlink", path: path) }
    }
}
