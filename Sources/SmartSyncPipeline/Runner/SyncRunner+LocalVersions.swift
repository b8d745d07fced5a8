import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

extension SyncRunner {
    /// Saves into the store every local file that is about to be replaced and is not what the previous sync put there
    /// (a user's edit of a synced file — content, kind, permissions or owner — or a file that was never ours), and
    /// records each, with its permissions and owner, in the target's ``KeptVersionLog``, so nothing is lost and
    /// `smart-sync restore` can bring it back. Returns the records.
    func keepLocalVersions(_ plan: Plan, target: String, previous: Manifest, owner: UInt32) throws
        -> [KeptVersion]
    {
        var kept: [KeptVersion] = []
        let now = Self.nowNs()
        let tree = try TreeReader(root: target)
        for c in plan.changes where c.writes {
            guard let localID = c.localID, let mode = c.localKind?.fileMode, mode.isBlob else { continue }
            let metadata = c.localMetadata
            let installed = metadata?.isInstalled(as: mode, owner: owner) ?? true
            // What the previous sync put there is only saved when the store lost it, and not recorded.
            let ours = previous[c.path] == Manifest.Entry(mode: mode, id: localID) && installed
            if ours, try store.holds(localID, size: nil, repair: true) { continue }
            try LocalVersionSaver(store: store).save(c.path, in: tree, mode: mode, id: localID)
            if ours { continue }
            kept.append(
                KeptVersion(
                    timeNs: now, mode: mode, id: localID, replacedBy: plan.commit, path: c.path, metadata: metadata))
            let what =
                previous[c.path] == Manifest.Entry(mode: mode, id: localID) && !installed
                ? "permissions \(String(metadata?.permissions ?? 0, radix: 8)) and owner \(metadata?.owner ?? 0)"
                : "local content \(localID.abbreviated())"
            events(
                .warning(
                    "'\(c.path)' had \(what); kept before replacing it (smart-sync restore '\(c.path)' brings it back)"
                ))
        }
        // A record trusts the store to hold its version (`restore` reads it there), and one the store already held
        // was not saved now: its name may be one this run's pack published unsynced (``ObjectBatch``), which the
        // stage's sync makes durable only where the store shares the target's file system. Rare (a local edit).
        if !kept.isEmpty { try FileSystem.syncFileSystem(containing: store.root) }
        try KeptVersionLog(state: state, target: target).append(kept)
        return kept
    }
}
