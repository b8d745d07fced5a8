import CLinuxShims
import Glibc
import Logging
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Building the stage: the spare tree recycled, or a stage built from the store, seeded with what the store lacks.
extension StagedSwitchApplier {
    /// Makes the spare tree (``GenerationStore/spare``), when there is one, the stage (``StageRecycler``) and returns
    /// what that did and the directories it kept; nil when there is none, or when recycling it failed on the file
    /// system (then it is left to ``GenerationStore/prune(keep:)`` and the stage is built from scratch: recycling only
    /// saves work). No listed generation is ever used, so a switch that fails afterwards costs rollback nothing.
    func recycle(
        _ plan: Plan, listing: TreeListing, store: ObjectStore, twins: TwinBatch, current: TreeReader,
        layout: SwitchLayout
    ) throws -> (report: ApplyReport, directories: [TreePath])? {
        let generations = GenerationStore(layout: layout)
        guard keepGenerations > 0 else {
            logger.debug("apply: stage built from the store: no spare tree is kept with --keep-generations 0")
            return nil
        }
        guard let spare = generations.takeSpare() else {
            logger.debug("apply: stage built from the store: no spare tree (the last prune left none)")
            return nil
        }
        // Read only if the recycler needs it; its paths then share the plan's storage (both sorted).
        let cache = { spare.statCache(sharing: plan.changes.map { $0.path }) }
        guard rename(spare.tree, layout.stage) == 0 else {
            let err = errno  // the message is built later, if at all
            logger.debug("apply: stage built from the store: the spare tree could not be moved (errno \(err))")
            return nil
        }
        // What is left of it (its stat cache, read while the stage is recycled if at all; its state) goes once the
        // recycling is done; one a kill leaves has no tree and is never taken (``GenerationStore/prune(keep:)``
        // removes it).
        defer { try? TreeOps.removeTree(generations.spare) }
        try checkpoint("recycled")
        do {
            // Unchanged paths the recycled tree lacks are placed from the store; one the store lacks is taken from the
            // target, verified by its id on the way in.
            let recycler = StageRecycler(store: store, linkMode: linkMode, twins: twins, split: recycleSplit)
            let outcome = try recycler.recycle(
                stage: layout.stage, target: current.root, cache: cache,
                scanned: { readOutgoingCache?() }, listing: listing, plan: plan,
                beforePlacing: { try seed($0, from: current, plan: plan, store: store) })
            var report = outcome.report
            report.recycled = true
            logger.debug(
                "apply: the spare tree recycled as the stage, \(outcome.kept.count) files kept as they were",
                metadata: [
                    "recycled": "true", "kept": "\(outcome.kept.count)", "keptByInode": "\(outcome.keptByInode)",
                    "readCache": "\(outcome.readCache)",
                ])
            report.unchangedStats = outcome.kept
            return (report, outcome.directories)
        } catch let error as SmartSyncError where error.code == .io {
            logger.debug("apply: the spare tree refused, building the stage from the store: \(error.message)")
            try generations.discard(layout.stage)
            return nil
        }
    }

    /// The first switch of a target (a cold sync: no generation yet) built its stage from the store; without a spare,
    /// the next switch would build its own from the store again, one link and its checks per file of the tree. A spare
    /// of hard links to the files of the tree just switched in (``GenerationStore/leaveSpare(linking:plan:)``: one
    /// `linkat` a file, no check, walked by descriptor) lets it recycle instead. Made only once the switch stands, from
    /// the target: a file edited in place since is the recycler's to refuse, as any spare's. Only an accelerator: a
    /// failure is logged and the run goes on.
    func leaveSpare(_ plan: Plan, generations: GenerationStore, tree: String) {
        do {
            // One tree a switch until a generation falls beyond `--keep-generations` (the prune then makes the spare).
            let reserves = max(0, keepGenerations - ((try? generations.completeSequences().count) ?? 0))
            let left = try logger.timed("spare") {
                try generations.leaveSpare(linking: tree, plan: plan, reserves: reserves)
            }
            let spare = "a spare tree of \(left.files) hard links to the new tree's files left for the next switch"
            logger.debug(
                "apply: \(spare), and \(left.reserves) reserves for the switches after it",
                metadata: ["reserves": "\(left.reserves)"])
        } catch {
            logger.debug("apply: no spare tree left for the next switch: \(error)")
        }
    }

    /// Builds the stage from the store: every file of the new tree linked (or copied) from its object.
    func build(
        _ plan: Plan, listing: TreeListing, store: ObjectStore, twins: TwinBatch, current: TreeReader,
        layout: SwitchLayout, exists: Bool
    ) throws -> ApplyReport {
        // Private until it has the target's metadata (a new target: the documented default), which it gets before
        // anything is made in it, as every directory made in it does (`metadataSource`): what is made there inherits
        // as it would in place (a setgid directory's group, a default ACL).
        guard mkdir(layout.stage, 0o700) == 0 else {
            throw SmartSyncError.io("mkdir", path: layout.stage, hint: "Check that \(layout.sidecar) is writable")
        }
        if exists {
            let stage = open(layout.stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard stage >= 0 else { throw SmartSyncError.io("open", path: layout.stage) }
            defer { close(stage) }
            _ = try StageDirectories(target: current.root).copyFromTarget([], to: stage, display: layout.stage)
        } else {
            chmod(layout.stage, DirectoryMetadata.newDirectoryMode)
        }
        try seed(Set(plan.changes.map(\.path)), from: current, plan: plan, store: store)
        let staged = plan.changes.compactMap { c -> Change? in
            guard let mode = c.mode, let id = c.id, mode.isBlob else { return nil }
            switch c.kind {
            case .add, .modify, .mode, .symlink, .typeChange, .unchanged:
                return Change(kind: .add, path: c.path, mode: mode, id: id)
            default:
                return nil
            }
        }
        // Nothing in the stage is visible until the exchange: one sync of its file system below stands for an fsync
        // per file and directory.
        var stager = inPlace
        stager.intoStage = true
        stager.twins = twins
        if exists { stager.metadataSource = current.root }
        return try stager.apply(
            Plan(commit: plan.commit, changes: staged, blobsNeeded: []), listing: listing, store: store,
            target: layout.stage)
    }

    /// Puts into the store the blobs of `paths` the plan leaves unchanged and the store lacks, from the target
    /// (verified by their id on the way in): the stage is made from the store alone.
    func seed(_ paths: Set<TreePath>, from current: TreeReader, plan: Plan, store: ObjectStore) throws {
        for c in plan.changes where c.kind == .unchanged && paths.contains(c.path) {
            guard let id = c.id, let mode = c.mode, try !store.holds(id, size: nil, repair: true) else { continue }
            try current.insert(c.path, mode: mode, into: store, expecting: id)
        }
    }
}
