import Glibc
import SmartSyncCore
import SmartSyncGitObjects

extension SyncRunner {
    /// What the scan saw at each path `changes` writes or deletes (nil: nothing), looked at again before anything is
    /// kept or changed (``recheck(_:target:)``): one pass, a lookup in the scan per path.
    static func watched(_ changes: [Change], in tree: LocalTree) throws -> PathTable<StatData?> {
        var seen: (paths: [TreePath], stats: [StatData?]) = ([], [])
        for c in changes where c.writes || c.kind == .delete {
            // A listing from the target's own manifest (the same commit), a generation's or an earlier release's pin
            // was not checked by this release: a path of the temporary shape there is refused as a fetched listing
            // would be (the scan passes over such a file, so the recheck would see it change every run).
            if c.writes { try RepoPath.refuseTemporaryName(c.path) }
            seen.paths.append(c.path)
            seen.stats.append(tree[c.path]?.stat)
        }
        return PathTable(sortedKeys: seen.paths, values: seen.stats) ?? PathTable()
    }

    /// Looks again, just before anything is kept or changed, at every path the plan writes or deletes: the scan ran
    /// while the ref was resolved, checked and listed, and blobs may have been fetched since (a pack over a slow link
    /// takes minutes), so a file edited there since (vim, `cp`: a new inode) or created where the tree adds one must
    /// not be taken for what the scan saw — it would be replaced without being kept. One `fstatat` a path, by directory
    /// descriptor (``TreeReader``), in path order: work in proportion to the change.
    ///
    /// The inode, size, modification time and type and permissions are compared, not the change time: the run itself
    /// moves it since the scan (quarantining a store object written through a target's hard link, or seeding the
    /// store from a target file, changes that inode's link count).
    ///
    /// Throws `.conflict` naming the paths, the target untouched; the next run sees them as they are now and keeps
    /// them (or refuses to write over a file that is not ours).
    ///
    /// Run again just before the exchange (``StagedSwitchApplier/recheck``): the operator's versions were kept before
    /// the stage was made, synced and validated (`update`'s checks: minutes), and an edit since would go with the
    /// outgoing tree unkept.
    static func recheck(_ watched: PathTable<StatData?>, target: String) throws {
        guard !watched.isEmpty else { return }
        let reader = try TreeReader(root: target, blockedIsMissing: true)
        var changed: [TreePath] = []
        for (path, then) in watched {
            let now = try reader.status(path).map { StatData($0) }
            if !Self.same(now, then) { changed.append(path) }
        }
        guard !changed.isEmpty else { return }
        let list = changed.prefix(5).map { "'\($0)'" }.joined(separator: ", ") + (changed.count > 5 ? ", …" : "")
        throw SmartSyncError(
            .conflict,
            "\(changed.count) path\(changed.count == 1 ? "" : "s") of \(target) changed while this sync ran "
                + "(\(list)); the target was not changed",
            hint: "run the sync again: it keeps what is there now as a local version, or refuses to "
                + "write over a file that is not ours")
    }

    /// Whether what is at a path now is what the scan saw there (both nothing, or the same file unchanged).
    static func same(_ now: StatData?, _ then: StatData?) -> Bool {
        guard let now, let then else { return now == nil && then == nil }
        return now.device == then.device && now.inode == then.inode && now.size == then.size
            && now.mtimeNs == then.mtimeNs && now.mode == then.mode
    }
}
