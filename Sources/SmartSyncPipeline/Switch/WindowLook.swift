import Glibc
import SmartSyncCore
import SmartSyncGitObjects

/// The look at an outgoing tree about to be removed (`--keep-generations 0`) for what the operator changed in it while
/// the stage was validated at paths the plan left unchanged, which no look before the exchange sees (docs/
/// ARCHITECTURE.md, "The carrier takes the scan's word for a quiet directory"): an edit of a tracked file or symlink,
/// or a directory put in its place. Done by the switch, just before its prune
/// (``SyncRunner/keepWindowEdits(_:tree:target:cache:owner:kept:)``), or, when that run failed to keep or was killed
/// before it, by the next run's recovery (``PendingLook``).
enum WindowLook {
    /// Keeps with `keeper`, from `tree`, at each of `paths` (with what the new tree has there, which the scan found in
    /// the target: the same entry before and after), a file or symlink that is not that entry (``LocalEditScan``'s
    /// rules: one `fstatat` by descriptor; read only when neither `cache`, the scan's, nor the seal vouches for it),
    /// and every file and symlink inside a directory standing there
    /// (``LocalVersionKeeper/keepInside(_:in:skip:warnings:)``).
    /// The records are appended to the log, each announced through `warn`, and left in `kept`; on a failure, those
    /// saved before it as well, and the error is rethrown. `checkpoint` runs after each path that got a record
    /// (tests stop a look half done there).
    static func keep(
        _ paths: some Sequence<(path: TreePath, entry: Manifest.Entry)>, in tree: String, cache: StatCache,
        keeper: LocalVersionKeeper, warn: (String) -> Void, kept: inout [KeptVersion],
        checkpoint: () throws -> Void = {}
    ) throws {
        var keeper = keeper
        var warnings: [String] = []
        do {
            let reader = try TreeReader(root: tree, blockedIsMissing: true)
            for (path, entry) in paths {
                guard let st = try reader.status(path) else { continue }  // deleted: the new tree has it back
                let before = warnings.count
                if let local = FileMode(blobOf: st) {
                    guard
                        try LocalEditScan.differs(
                            st, entry, cached: cache.entries[path], link: { try reader.readLink(path) })
                    else { continue }
                    if let warning = try keeper.keep(
                        path, in: reader, mode: local, id: nil, metadata: FileMetadata(st), previous: entry,
                        replacement: entry)
                    {
                        warnings.append(warning)
                    }
                } else if st.st_mode & S_IFMT == S_IFDIR {
                    // A directory the operator put where the tree has a file: the carry passes over it (the new
                    // tree's file wins), so all of it is in this tree.
                    try keeper.keepInside(path, in: reader, warnings: &warnings)
                }  // a FIFO, socket or device holds nothing to keep
                if warnings.count > before { try checkpoint() }
            }
        } catch {
            // What was saved before the failure is recorded and announced still (the generation stays as well).
            if (try? keeper.record()) != nil {
                kept = keeper.kept
                warnings.forEach(warn)
            }
            throw error
        }
        try keeper.record()
        kept = keeper.kept
        warnings.forEach(warn)
    }
}
