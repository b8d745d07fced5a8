import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Rollback: swap a kept generation back in, with no network.
public enum Rollback {
    /// What a rollback did.
    public struct Outcome: Sendable {
        /// The commit the target had before (nil when it had no sync state).
        public var from: ObjectID?
        /// The commit it has now (nil for the tree smart-sync found before its first switch).
        public var to: ObjectID?
        /// Operator files carried from the outgoing tree into the restored one.
        public var carried: Int
        /// Files of the generation that were written in place since it was kept, replaced from the store.
        public var repaired: [TreePath] = []
        /// The operator's versions the rollback took out of the target, kept first (`smart-sync restore`), and those
        /// the repair of the generation's files took out of its tree.
        public var kept: [KeptVersion] = []
    }

    /// The generations kept for `target`, the most recent first.
    public static func generations(target: String) throws -> [Generation] {
        try GenerationStore(layout: SwitchLayout(target: StateStore.normalize(target))).list()
    }

    /// Whether generation `sequence` of `target` is on disk, to roll back to: kept, or prepared by a switch that
    /// failed before filing the outgoing tree in it (the journal left; a rollback finishes that first). False once a
    /// prune removed it (`--keep-generations 0`).
    public static func keeps(_ sequence: Int, target: String) -> Bool {
        TreeOps.isDirectory(SwitchLayout(target: StateStore.normalize(target)).generation(sequence))
    }

    /// Swaps a kept generation into `target` (the most recent, or the one whose commit starts with `to`, or
    /// whose sequence number is `to`), keeping the outgoing tree as a generation in turn and carrying the
    /// operator's files over. Needs no source: everything is on disk.
    ///
    /// The generation is checked first (``GenerationRepair``): a file written in place since it was kept is replaced
    /// from the store, or the rollback is refused before anything changes when the store has no intact copy or a
    /// directory stands where the generation has a file.
    ///
    /// The operator's versions it takes out of the target (an edit of a synced file, a file made since at a path of the
    /// generation's tree) are kept first, as a sync keeps those it replaces
    /// (``keepLocalVersions(target:current:then:replacedBy:generation:state:store:)``): saved into the store before the
    /// carry, recorded in the ``KeptVersionLog`` once the exchange is done, with a warning to `events` for each then.
    /// The records are written in the switch's journal too (``SwitchJournal/pending``): a run killed after the
    /// exchange leaves them to the recovery (the next run, `rollback` or `restore`), which records them.
    ///
    /// `lock`: the target's lock when the caller holds it already (`update`); otherwise the rollback takes it.
    /// `checkpoint`: called with the switch's step names (`before-exchange`, `after-exchange`, `recorded`); a throw
    /// stands in for a kill there (tests).
    ///
    /// - Throws: ``FailedAfterSwitch`` when a step after the exchange failed (the target holds the generation's tree).
    public static func run(
        target: String, to selector: String?, state: StateStore, store: ObjectStore, keepGenerations: Int = 3,
        linkMode: LinkMode = .auto, lock held: TargetLock? = nil, events: @Sendable (SyncEvent) -> Void = { _ in },
        checkpoint: (String) throws -> Void = { _ in }
    ) throws -> Outcome {
        let target = StateStore.normalize(target)
        let storeLock = try store.lock(shared: true)
        defer { storeLock.release() }
        let lock = try state.lock(target: target, unlessHeld: held)
        defer { lock?.release() }
        let layout = SwitchLayout(target: target)
        let switcher = TreeSwitch(layout: layout)
        try state.recoverSwitch(target: target, store: store) { events(.warning($0)) }
        let generations = GenerationStore(layout: layout)
        let kept = try generations.list()
        let chosen: Generation?
        if let selector {
            // A generation number first: "4" must not pick a newer generation whose commit starts with 4.
            chosen =
                kept.first { String($0.sequence) == selector }
                ?? kept.first { $0.state.map { $0.commit.hex.hasPrefix(selector.lowercased()) } ?? false }
        } else {
            chosen = kept.first
        }
        guard let generation = chosen else {
            let available = kept.map {
                "\($0.sequence): \($0.state?.commit.abbreviated() ?? "the tree found before the first sync")"
            }
            throw SmartSyncError(
                .notFound,
                kept.isEmpty
                    ? "'\(target)' has no kept generations to roll back to (they are made when a sync switches trees)"
                    : "no kept generation of '\(target)' matches '\(selector ?? "")'; kept: "
                        + "\(available.joined(separator: ", "))"
            )
        }
        let (repaired, repairKept) = try GenerationRepair(
            store: store, linkMode: linkMode, log: KeptVersionLog(state: state, target: target)
        ).repair(generation)
        let current = try state.load(target: target)
        let now = current?.manifest.entries ?? [:]
        let then = generation.state?.manifest.entries ?? [:]
        var local = try keepLocalVersions(
            target: target, current: current, then: then, replacedBy: generation.state?.commit,
            generation: generation.sequence, state: state, store: store)
        // The repair's versions are recorded with the keeper's, journaled and once the exchange stands. A file sharing
        // its inode with the generation's (a chmod reached both) is warned about here, recorded once.
        local.keeper.adopt(repairKept)
        // The operator's files follow: everything the current tree holds that neither the current sync nor the
        // generation's put there (the generation's own files passed over without a look), into the generation's tree
        // brought back to its own files first (the operator's of its time go: today's are carried; and whatever a
        // killed rollback left there, ``keepOwnTree(_:manifest:)``). Directories of the
        // generation's tree the target no longer has come back as an update in place would make them: new
        // directories under their parent (its setgid group and default ACL), not with the metadata they had then.
        // A target with no sync state (a rollback to the tree found before the first sync forgot it) is all the
        // operator's but the generation's paths.
        if let old = generation.state {
            // Its own files include those --keep-local left as the operator had them (not in its manifest).
            let own = old.keptLocal.isEmpty ? then : old.manifest.union(old.keptLocal).entries
            _ = try keepOwnTree(generation.tree, manifest: own)
        }
        var rules = PathTable<UntrackedCarrier.Rule>()
        rules.reserveCapacity(max(now.count, then.count))
        for step in mergeJoin(now, then) {
            switch step {
            case .left(let i): rules.append(now.keys[i], .leave)
            case .right(let j), .both(_, let j): rules.append(then.keys[j], .treeFile)
            }
        }
        // The generation's directories: each one the current target has gets its metadata (as every directory both
        // have), the others a new directory's made now under their parent (see "Target fidelity").
        var directories = Set<TreePath>()
        for path in then.keys {
            var parent = path.parent
            while !parent.isEmpty && directories.insert(parent).inserted { parent = parent.parent }
        }
        let carrier = UntrackedCarrier(rules: rules, replaceExisting: true, unsettled: directories.sorted())
        let carried = try carrier.carry(from: target, into: generation.tree)
        // The generation's state is the intent: a run killed right after the exchange is recorded from it.
        let restored = generation.state.map { s -> TargetState in
            var record = s
            record.target = target
            record.appliedAtNs = SyncRunner.nowNs()
            // The excludes the generation was applied with are not kept with it: unknown, so a run at its commit
            // lists the commit anew rather than take a manifest that may hold carried-over entries
            // (``TargetState/excludes``).
            record.excludes = nil
            return record
        }
        // The tree found before the first sync has no state: its journal says so (``SwitchJournal/untracked``), and
        // a run killed after the exchange is recovered by forgetting the target's. An intent a sync killed while
        // staging left is cleared first: a release that does not read `untracked` would record it (a commit the
        // target never held) when it recovers this switch, and this one would union it into the next plan.
        if let restored { try state.saveIntent(restored) } else { try state.clearIntent(target: target) }
        let outcome = Outcome(
            from: current?.commit, to: generation.state?.commit, carried: carried, repaired: repaired,
            kept: local.keeper.kept)
        func failure(_ step: AfterSwitchStep, _ cause: any Error) -> FailedAfterSwitch<Outcome> {
            let error = FailedAfterSwitch<Outcome>.smartSyncError(cause)
            let message = FailedAfterSwitch<Outcome>.message(
                target: target, to: outcome.to?.hex ?? "the tree found before the first sync",
                from: outcome.from?.hex ?? "an untracked tree", step: step, cause: error, generation: nil)
            return FailedAfterSwitch(
                outcome: outcome, step: step, error: SmartSyncError(error.code, message, cause: error))
        }
        do {
            // The versions were saved before; their records go in the journal (a run killed after the exchange leaves
            // them to the recovery) and into the log once the switch that takes them out has happened.
            try local.keeper.syncStore()
            try switcher.exchange(
                incoming: generation.tree, sequence: try generations.nextSequence(), outgoingState: current,
                consumed: generation.sequence, untracked: restored == nil, pending: local.keeper.kept,
                checkpoint: checkpoint,
                exchanged: {
                    try local.keeper.record(storeSynced: true)
                    for warning in local.warnings { events(.warning(warning)) }
                    if let restored {
                        // The intent saved above is that state: renamed over the state file, as a sync records one.
                        try SwitchRecord(state: state, target: target, applied: { restored }).save()
                        try state.resetStatCache(target: target)
                    } else {
                        try state.forget(target: target)
                    }
                })
        } catch let failed as TreeSwitch.AfterExchange {
            throw failure(failed.step, failed.cause)
        } catch let unsupported as TreeSwitch.ExchangeUnsupported {
            if restored != nil { try? state.clearIntent(target: target) }
            throw SmartSyncError(
                .io,
                "the file system of '\(target)' cannot swap directories atomically (renameat2 "
                    + "RENAME_EXCHANGE: errno \(unsupported.errno))",
                hint: "roll back with `smart-sync sync --ref \(generation.state?.commit.hex ?? "COMMIT")` instead"
            )
        } catch {
            // Nothing was exchanged: the generation's state is no intent any more.
            if restored != nil { try? state.clearIntent(target: target) }
            throw error
        }
        do { try state.clearIntent(target: target) } catch { throw failure(.clearIntent, error) }
        do { try generations.prune(keep: keepGenerations) } catch { throw failure(.prune, error) }
        return outcome
    }
}
