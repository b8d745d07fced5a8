import SmartSyncGitObjects

extension SyncRunner {
    /// Keeps every local file that is about to be replaced and is not what the previous sync put there
    /// (``LocalVersionKeeper``), with a warning for each. Returns the records.
    func keepLocalVersions(_ plan: Plan, target: String, previous: Manifest, owner: UInt32) throws
        -> [KeptVersion]
    {
        var keeper = LocalVersionKeeper(
            store: store, log: KeptVersionLog(state: state, target: target), replacedBy: plan.commit, owner: owner,
            timeNs: Self.nowNs())
        let tree = try TreeReader(root: target, blockedIsMissing: true)
        for c in plan.changes where c.writes {
            guard let localID = c.localID, let mode = c.localKind?.fileMode, mode.isBlob else { continue }
            if let warning = try keeper.keep(
                c.path, in: tree, mode: mode, id: localID, metadata: c.localMetadata, previous: previous[c.path])
            {
                events(.warning(warning))
            }
        }
        try keeper.record()
        return keeper.kept
    }
}
