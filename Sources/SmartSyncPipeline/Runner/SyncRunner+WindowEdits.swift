import Glibc
import SmartSyncCore
import SmartSyncGitObjects

extension SyncRunner {
    /// With `--keep-generations 0`, has `applier` keep, just before its prune removes the outgoing tree
    /// (``StagedSwitchApplier/keepOutgoing``), what the operator changed since the scan at tracked paths `plan` leaves
    /// unchanged (``keepWindowEdits(_:tree:target:cache:owner:kept:)``). Returns where the records are left for the
    /// outcome, with the stat cache `cache` read (for the save after the switch, not to decode it twice); nil when
    /// generations are kept (the outgoing tree keeps such an edit: `rollback` brings it back).
    func keepWindowEdits(
        _ applier: inout StagedSwitchApplier, plan: Plan, target: String, cache: @escaping @Sendable () -> StatCache,
        owner: UInt32
    ) -> Locked<(kept: [KeptVersion], cache: StatCache?)>? {
        guard keepGenerations == 0 else { return nil }
        let result = Locked<(kept: [KeptVersion], cache: StatCache?)>(([], nil))
        applier.keepOutgoing = { [self] tree in
            let read = cache()
            result.withLock { $0.cache = read }
            var records: [KeptVersion] = []
            defer { result.withLock { $0.kept = records } }  // also what was recorded before a failure
            try keepWindowEdits(plan, tree: tree, target: target, cache: read, owner: owner, kept: &records)
        }
        return result
    }

    /// Keeps as local versions (``LocalVersionKeeper``, a warning for each, recorded in the ``KeptVersionLog``) what
    /// the operator changed in `tree`, the outgoing tree of a switch, at the paths `plan` leaves unchanged since the
    /// scan looked (while the stage was made and validated: `update`'s checks, minutes), which no look before the
    /// exchange sees (one would cost an `fstatat` for every file of the tree on every update; docs/BENCHMARKS.md): a
    /// file or symlink that is not what the last sync put there, or a directory put in its place, whose files are
    /// kept (``WindowLook``). Run only when that tree is about to be removed (`--keep-generations 0`, whose prune
    /// removes every one of its files anyway): one `fstatat` a path, by directory descriptor; a file is read only when
    /// neither `cache` (the scan's) nor its seal vouches for it. `kept` gets the records, also those recorded before a
    /// failure. The `window-edit-kept` checkpoint runs after each path kept.
    func keepWindowEdits(
        _ plan: Plan, tree: String, target: String, cache: StatCache, owner: UInt32, kept: inout [KeptVersion]
    ) throws {
        // After the exchange: a throw leaves the generation (AfterSwitchStep.keepEdits), where a trap would not say
        // why.
        guard plan.listsUnchanged else {
            throw SmartSyncError(.internal, "the look at the outgoing tree needs a plan listing its unchanged paths")
        }
        let keeper = LocalVersionKeeper(
            store: store, log: KeptVersionLog(state: state, target: target), replacedBy: plan.commit, owner: owner,
            timeNs: Self.nowNs())
        let unchanged = plan.changes.lazy.compactMap { c -> (path: TreePath, entry: Manifest.Entry)? in
            guard c.kind == .unchanged, let mode = c.mode, mode.isBlob, let id = c.id else { return nil }
            return (c.path, Manifest.Entry(mode: mode, id: id))
        }
        try WindowLook.keep(
            unchanged, in: tree, cache: cache, keeper: keeper, warn: { events(.warning($0)) }, kept: &kept,
            checkpoint: { try checkpoint("window-edit-kept") })
    }
}
