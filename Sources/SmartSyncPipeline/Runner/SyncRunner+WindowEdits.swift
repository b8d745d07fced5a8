import Glibc
import SmartSyncCore
import SmartSyncGitObjects

extension SyncRunner {
    /// With `--keep-generations 0`, has `applier` keep, just before its prune removes the outgoing tree
    /// (``StagedSwitchApplier/keepOutgoing``), the operator's edits of tracked files `plan` leaves unchanged made since
    /// the scan (``keepWindowEdits(_:tree:target:cache:owner:kept:)``). Returns where the records are left for the outcome,
    /// with the stat cache `cache` read (for the save after the switch, not to decode it twice); nil when generations
    /// are kept (the outgoing tree keeps such an edit: `rollback` brings it back).
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

    /// Keeps as local versions (``LocalVersionKeeper``, a warning for each, recorded in the ``KeptVersionLog``) the
    /// files of `tree`, the outgoing tree of a switch, at the paths `plan` leaves unchanged that are not what the last
    /// sync put there: the operator's edits made after the scan looked (while the stage was made and validated:
    /// `update`'s checks, minutes), which no look before the exchange sees (one would cost an `fstatat` for every
    /// file of the tree on every update; docs/BENCHMARKS.md). Run only when that tree is about to be removed
    /// (`--keep-generations 0`, whose prune removes every one of its files anyway): one `fstatat` a path, by directory
    /// descriptor; a file is read only when neither `cache` (the scan's) nor its seal vouches for it
    /// (``LocalEditScan``'s rules, as a rollback keeps). `kept` gets the records, also those recorded before a
    /// failure.
    func keepWindowEdits(
        _ plan: Plan, tree: String, target: String, cache: StatCache, owner: UInt32, kept: inout [KeptVersion]
    ) throws {
        // After the exchange: a throw leaves the generation (AfterSwitchStep.keepEdits), where a trap would not say why.
        guard plan.listsUnchanged else {
            throw SmartSyncError(.internal, "the look at the outgoing tree needs a plan listing its unchanged paths")
        }
        var keeper = LocalVersionKeeper(
            store: store, log: KeptVersionLog(state: state, target: target), replacedBy: plan.commit, owner: owner,
            timeNs: Self.nowNs())
        var warnings: [String] = []
        do {
            let reader = try TreeReader(root: tree, blockedIsMissing: true)
            for c in plan.changes where c.kind == .unchanged {
                guard let mode = c.mode, mode.isBlob, let id = c.id, let st = try reader.status(c.path),
                    let local = FileMode(blobOf: st)
                else { continue }  // deleted (the new tree has it back), or a directory now
                let entry = Manifest.Entry(mode: mode, id: id)
                let cached = cache.entries[c.path]
                guard try LocalEditScan.differs(st, entry, cached: cached, link: { try reader.readLink(c.path) })
                else { continue }
                if let warning = try keeper.keep(
                    c.path, in: reader, mode: local, id: nil, metadata: FileMetadata(st), previous: entry,
                    replacement: entry)
                {
                    warnings.append(warning)
                }
            }
        } catch {
            // What was saved before the failure is recorded and announced still (the generation stays as well).
            if (try? keeper.record()) != nil {
                kept = keeper.kept
                for warning in warnings { events(.warning(warning)) }
            }
            throw error
        }
        try keeper.record()
        kept = keeper.kept
        for warning in warnings { events(.warning(warning)) }
    }
}
