import Glibc
import SmartSyncCore
import SmartSyncGitObjects

extension Rollback {
    /// Brings a kept generation's tree back to its own tree before the operator's files are carried into it from the
    /// target: every entry that is neither a path of `manifest` nor a directory holding one goes (by directory
    /// descriptor with `O_NOFOLLOW`; a symlink is removed as the link it is). Returns how many entries went.
    ///
    /// What goes is what the target held beside the tree when the generation was the target: the operator's files of
    /// that time, excluded paths, kept local edits, empty directories. Today's are carried from the target
    /// (``UntrackedCarrier``), so a file the operator deleted since stays deleted, as a sync in place from the current
    /// commit to the generation's would leave it. Also what a killed run left in the tree: a temporary directory
    /// (`DirectoryMetadata.reset`'s probe, made in a directory of the tree the carrier settles) or file, which a
    /// rollback would otherwise swap into the target.
    static func keepOwnTree(_ tree: String, manifest: PathTable<Manifest.Entry>) throws -> Int {
        let root = open(tree, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard root >= 0 else { throw SmartSyncError.io("open", path: tree) }
        defer { close(root) }
        return try keepOwnEntries(root, .root, display: tree, manifest: manifest)
    }

    /// ``keepOwnTree(_:manifest:)`` for the directory open on `fd` (left open), at `prefix` in the tree.
    private static func keepOwnEntries(
        _ fd: Int32, _ prefix: TreePath, display: String, manifest: PathTable<Manifest.Entry>
    ) throws -> Int {
        var removed = 0
        for name in try directoryNames(fd, display: display) {
            let path = prefix.appending(name)
            let shown = display + "/" + name.description
            if manifest.index(of: path) != nil { continue }  // a file of the tree (checked by `GenerationRepair`)
            if !manifest.descendants(of: path).isEmpty {
                let sub = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                if sub >= 0 {
                    defer { close(sub) }
                    removed += try keepOwnEntries(sub, path, display: shown, manifest: manifest)
                    continue
                }
                // Not a directory where the tree has one: it goes as anything else that is not the tree's.
                guard errno == ENOTDIR || errno == ELOOP else { throw SmartSyncError.io("open", path: shown) }
            }
            try TreeOps.removeEntry(name, in: fd, display: shown)
            removed += 1
        }
        return removed
    }
}
