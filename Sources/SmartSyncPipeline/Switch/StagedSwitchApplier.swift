import CLinuxShims
import Glibc
import Logging
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Applies a plan by building the whole new tree beside the target and swapping the two directories with
/// `renameat2(RENAME_EXCHANGE)`: any reader sees the old tree or the new one, never a mix.
///
/// 1. Recover: finish or undo a switch a killed run left, and record it
///    (``StateStore/recoverSwitch(target:store:looks:warn:)``): the caller's, under the target lock before it scans the
///    target; an apply that finds a journal refuses.
/// 2. Stage `P/.N.smart-sync/stage`: every tree file from the store (``InPlaceApplier`` into an empty
///    directory: hardlinks, executable twins, one inode per path), then the operator's files carried over with
///    hardlinks (``UntrackedCarrier``): untracked files, kept local edits, excluded paths, extra directories. Once the
///    stage is synced and validated, what the operator made in the target meanwhile is carried too
///    (``UntrackedCarrier/carryChanges(from:into:)``).
/// 3. Exchange stage and target, journaled (``SwitchJournal``); the new state is recorded (``recordSwitch``); the
///    outgoing tree becomes a generation with its commit and manifest, for `rollback`. The oldest generations beyond
///    ``keepGenerations`` are removed. A failure after the exchange throws ``FailedAfterSwitch``.
///
/// Where the file system refuses the exchange (or the target is a symlink), the plan is applied in place.
public struct StagedSwitchApplier: ApplyStrategy {
    /// Generations kept for rollback.
    public var keepGenerations: Int
    /// How files get from the store into the stage (and into the target when applying in place).
    public var linkMode: LinkMode = .auto
    /// Called with the complete stage directory after it is built and before the journal and the exchange. A throw
    /// removes the stage and is rethrown: the target is left untouched (`smart-sync update` validates the new tree
    /// here).
    public var validateStage: (@Sendable (_ stage: String) throws -> Void)?
    /// Looks again, just before the exchange, at the target's paths the plan writes or deletes
    /// (``SyncRunner/recheck(_:target:)``); a throw (`.conflict`: one changed since the scan, an edit the keep
    /// before did not see) fails the run, the target untouched.
    var recheck: (@Sendable () throws -> Void)?
    /// Called as soon as the target holds the new tree, before the outgoing tree is kept as a generation and old ones
    /// are pruned: the runner records the new state here, so no later failure leaves the target recorded at its old
    /// commit. A throw keeps the switch journal (the next run finishes the switch) and becomes a
    /// ``FailedAfterSwitch`` at ``AfterSwitchStep/record``.
    public var recordSwitch: (@Sendable () throws -> Void)?
    /// Called with the outgoing tree's directory when the prune is about to remove it (``keepGenerations`` 0), before
    /// the prune: keeps what the operator changed there since the scan that nothing else kept (an edit of a tracked
    /// file the plan leaves unchanged, made while the stage was validated: ``SyncRunner/keepWindowEdits(_:tree:target:
    /// cache:owner:kept:)``). A throw leaves the generation in place (nothing lost), marked for the next run to look
    /// (``PendingLook``, written before the exchange and removed once this succeeded), and fails at
    /// ``AfterSwitchStep/keepEdits``.
    var keepOutgoing: (@Sendable (_ tree: String) throws -> Void)?
    /// When the run started, before it kept anything (ns since the epoch): written in the look's mark
    /// (``PendingLook/sinceNs``).
    var startedNs: Int64?
    /// Reads the target's stat cache as the scan left it, to keep with the outgoing generation when it is filed
    /// (`stat-cache`): so that when the tree is recycled or rolled back to, files still as the scan saw them need no
    /// reading (``GenerationTrust``). Nil (or nil read): the generation is filed without one.
    var readOutgoingCache: (@Sendable () -> StatCache?)?
    /// A file holding that stat cache as it was saved (the target's, saved before the stage): hard-linked into the
    /// outgoing generation, in place of reading it back and writing it again (a decode, an encode and a write of every
    /// path of the tree). Where the link fails (another file system) it is copied, its mtime kept
    /// (``FileSystem/linkOrCopy(from:to:durable:)``); where that fails too, ``readOutgoingCache`` is used.
    var outgoingCacheFile: String?
    /// Reads the target's state before this apply when the outgoing tree is filed (recorded with the outgoing
    /// generation): read back then (the runner's, from the state file, which only the switch's record changes), so
    /// that its manifest is not held through the making of the stage. Nil: the generation is filed with no state.
    var readPrevious: (@Sendable () throws -> TargetState?)?
    /// The file holding the target's state before this apply (durable, replaced only by a rename, unchanged under the
    /// target lock until the switch records the new state): filed with the outgoing generation as it is
    /// (``GenerationStore/prepare(_:state:file:durable:)``), in place of ``readPrevious``. Set only when that
    /// file was read as a valid state.
    var previousFile: String?
    /// The runner's intent for this apply, written without an fsync (``StateStore/saveIntent(_:durable:)``): made
    /// durable before anything changes the target, by the stage's `syncfs` where it shares the stage's file system,
    /// else fsynced (with its directory) on its own; on the in-place paths, fsynced before the first change.
    var unsyncedIntent: String?
    /// The target's directories as this run's scan saw them: the carrier lists only those changed since, or holding
    /// something to carry (``UntrackedCarrier/scanned``). Nil: it lists every one.
    var scannedDirectories: ScannedDirectories?
    /// Where the switch logs, at `.debug`, how the stage was made (the spare tree recycled, or why not) and the time of
    /// each step (`stage`, `carry`, `sync`, `validate-stage`, `carry-changes`, `exchange`, `keep-outgoing`, `prune`,
    /// `spare`).
    public var logger: Logger = .disabled
    /// How the recycler's pass over the spare tree, and the carrier's over both trees, are shared out over threads
    /// (tests force a split of a small tree).
    var recycleSplit: StageRecycler.Split = .automatic
    /// Told, for the operator, why a target is applied in place when it could not be switched (a mount point).
    public var notice: (@Sendable (String) -> Void)?
    /// Called at named points of the switch; throwing there stands in for a crash or a failure (tests).
    var checkpoint: @Sendable (String) throws -> Void = { _ in }

    public init(keepGenerations: Int = 3) {
        self.keepGenerations = keepGenerations
    }

    /// How the last apply went in (for reports).
    public enum Method: String, Sendable {
        case exchanged, created, inPlace = "in-place"
    }

    public func apply(_ plan: Plan, listing: TreeListing, store: ObjectStore, target: String) throws -> ApplyReport {
        try applyReporting(plan, listing: listing, store: store, target: target).report
    }

    /// ``apply(_:listing:store:target:)``, also saying how the tree went in.
    public func applyReporting(_ plan: Plan, listing: TreeListing, store: ObjectStore, target: String) throws
        -> (report: ApplyReport, method: Method)
    {
        // A stage made from a plan that leaves out its unchanged paths would lack those files.
        guard plan.listsUnchanged else {
            throw SmartSyncError(.internal, "the plan to apply does not list its unchanged paths")
        }
        let layout = SwitchLayout(target: target)
        let switcher = TreeSwitch(layout: layout)
        // Recovered by the caller, once, under the target lock before the scan (step 1): a journal still here would be
        // replaced by this switch's, and a switch it records lost unfinished. Not this run's: a dedicated error, so the
        // runner's failure path does not act on it.
        var journal = stat()
        guard lstat(layout.journal, &journal) != 0 else {
            throw PendingSwitchFound(
                error: SmartSyncError(
                    .internal,
                    "a switch of \(target) is pending (\(layout.journal)): it must be recovered before an apply",
                    hint: "This is a bug in smart-sync; please report it"))
        }
        var st = stat()
        let exists = lstat(target, &st) == 0
        switch exists ? inPlaceTarget(target, lstat: st) : nil {
        case .notADirectory:
            // A symlinked (or non-directory) target: swapping it would replace the link, not the tree.
            logger.debug("apply: in place, the target is not a directory (a symlink?): an exchange would replace it")
            try refuseUncheckedInPlace(target: target, .notADirectory)
            try syncIntent(coveredBy: nil)
            return (try inPlace.apply(plan, listing: listing, store: store, target: target), .inPlace)
        case .mounted(let mount):
            // Decided before staging: the carry's links into the stage would fail across file systems (EXDEV), and
            // renaming a mount point fails (EBUSY) whatever the stage holds.
            try refuseUncheckedInPlace(target: target, .mounted(notice: mount))
            try layout.checkSidecar()  // as the staged path does: a symlinked sidecar's spares are not ours
            notice?(mount)
            logger.debug("apply: in place, \(mount)")
            GenerationStore(layout: layout).dropSpares()
            try syncIntent(coveredBy: nil)
            return (try inPlace.apply(plan, listing: listing, store: store, target: target), .inPlace)
        case nil:
            break
        }

        // 2. Stage the complete new tree: the spare tree (`generations/spare`, left by the last prune) brought up to
        // date when it can be trusted (work in proportion to the change), else a tree built from the store.
        // Private: generations hold the operator's old files, secrets included.
        try layout.checkSidecar()
        try FileSystem.makePrivateDirectory(layout.sidecar, followingSymlink: false)
        let current = try TreeReader(root: target, blockedIsMissing: true)
        let generations = GenerationStore(layout: layout)
        var unsettled: [TreePath] = []  // a recycled stage's directories, for the carrier to settle
        let twins = TwinBatch(store: store)  // published after the stage's sync, before anything can see the stage
        var report = try logger.timed("stage") { () throws -> ApplyReport in
            if exists,
                let recycled = try recycle(
                    plan, listing: listing, store: store, twins: twins, current: current, layout: layout)
            {
                unsettled = recycled.directories
                return recycled.report
            }
            if !exists { logger.debug("apply: a new target, its tree built from the store") }
            return try build(
                plan, listing: listing, store: store, twins: twins, current: current, layout: layout, exists: exists)
        }
        report.counts = plan.counts
        report.conflicts = plan.conflicts
        var carrier: UntrackedCarrier?  // kept for the second look, just before the exchange
        if exists {
            // The plan's changes are in path order: the carrier's rules as a table with no sort and no hashing (made
            // only now, not held through the stage's making, the peak of an update's memory).
            // A path the plan does not name is carried as the operator's: it must name every tree path, the unchanged
            // ones too (a plan counting them is made again listing them before an apply: SyncRunner).
            precondition(plan.listsUnchanged, "the staged switch needs a plan listing its unchanged paths")
            let rules = PathTable(sorting: plan.changes.lazy.map { ($0.path, UntrackedCarrier.Rule($0.kind)) })
            var first = UntrackedCarrier(rules: rules, unsettled: unsettled)
            first.scanned = scannedDirectories
            first.split = recycleSplit
            first.outgoingKept = keepGenerations > 0
            try logger.timed("carry") { try first.carry(from: target, into: layout.stage) }
            carrier = first
        }
        // The exchange made ready before the stage's sync, so that one sync makes it durable with the stage: the
        // outgoing generation's directory and state, and the journal, all in the sidecar (the stage's file system).
        // Until the exchange the journal names an inode the target does not have: a kill leaves what the next run's
        // recovery removes, as it removes the stage (ARCHITECTURE, "One sync before the exchange").
        var prepared: TreeSwitch.Prepared?
        var lookMark: String?
        if exists {
            let sequence = try generations.nextSequence()
            // The outgoing generation's state: the target's state file as it is (linked, not read) when there is one.
            let outgoing = previousFile != nil ? nil : try readPrevious?()
            prepared = try switcher.prepare(
                incoming: layout.stage, sequence: sequence, outgoingState: outgoing, outgoingStateFile: previousFile,
                consumed: nil, durable: false)
            // The prune will remove the outgoing tree: the look at it is marked as due, durable with the journal, so
            // a run that fails to keep or is killed before the look leaves it to the next run (``PendingLook``).
            if keepGenerations == 0, keepOutgoing != nil {
                let mark = PendingLook.path(layout, sequence)
                try PendingLook(replacedBy: plan.commit, sinceNs: startedNs).write(to: mark, durable: false)
                lookMark = mark
            }
            try checkpoint("prepared")
        }
        try logger.timed("sync") {
            do {
                try FileSystem.syncFileSystem(containing: layout.stage)
                // The twins' copies were made before that sync: where the store shares the stage's file system,
                // durable.
                try twins.publish(synced: FileSystem.sameFileSystem(layout.stage, store.root))
                // The intent and the journal fsynced on their own as well (their bytes written back by now: cheap): the
                // `syncfs` may have missed a write-back error in them (``TreeSwitch/confirmJournal(_:)``).
                try syncIntent(coveredBy: layout.stage)
                // `confirmJournal` leaves the undo to its caller: this catch is the one undo of the prepare.
                if let prepared { try switcher.confirmJournal(prepared) }
                // The look's mark likewise: a write-back error the `syncfs` missed would lose it, and with it the
                // next run's look and the prune's respect of the generation.
                if let lookMark { try FileSystem.syncFile(lookMark) }
            } catch {
                if let prepared { switcher.abandon(prepared) }
                throw error
            }
        }
        // The first switch (no generation yet) leaves a spare once its tree stands: made now, a stage the validator
        // rejects or the exchange refuses would leave a spare of files the target never had.
        let firstSwitch =
            !report.recycled && keepGenerations > 0 && (try? generations.completeSequences())?.isEmpty == true
        // From the stage's sync to the exchange, a failure undoes the prepare (its journal and generation) and removes
        // the stage now, as the runner's recovery would: the target is untouched, and what the stage holds of the
        // operator's is hard links of files the target keeps.
        func undoingTheStage(_ step: () throws -> Void) throws {
            do { try step() } catch {
                if let prepared { switcher.abandon(prepared) }
                try? TreeOps.removeTree(layout.stage)
                throw error
            }
        }
        try undoingTheStage { try checkpoint("staged") }
        if let validateStage {
            try undoingTheStage { try logger.timed("validate-stage") { try validateStage(layout.stage) } }
        }

        // What the operator made in the target since the carry (while the stage was synced and validated: `update`'s
        // checks may take minutes) follows it in, looked for again now (nothing is listed unless a directory changed
        // since the scan): else it would stay in the outgoing tree, and go with it under --keep-generations 0.
        if let carrier {
            try undoingTheStage {
                let carried = try logger.timed("carry-changes") {
                    try carrier.carryChanges(from: target, into: layout.stage)
                }
                // Whatever the carry changed (a file carried, or only a directory's metadata) is made durable before
                // the exchange.
                if carried != nil { try FileSystem.syncFileSystem(containing: layout.stage) }
            }
        }
        // The tracked paths the plan writes or deletes: an edit made since the first look (while the stage was made,
        // synced and validated) was not kept, and would go with the outgoing tree.
        if exists, let recheck {
            try undoingTheStage { try logger.timed("recheck-before-exchange") { try recheck() } }
        }

        // 3. Put it in place.
        guard exists, let prepared else {
            try FileSystem.makeDirectories(parent(of: target))
            guard rename(layout.stage, target) == 0 else { throw SmartSyncError.io("rename", path: target) }
            FileSystem.syncDirectory(parent(of: target))
            // Where the exchange is refused every update applies in place: a spare would only be dropped.
            if firstSwitch && switcher.exchangeWorks(checkpoint: checkpoint) {
                leaveSpare(plan, generations: generations, tree: target)
            } else if firstSwitch {
                logger.debug("apply: no spare tree: the file system refuses renameat2(RENAME_EXCHANGE)")
            }
            return (report, .created)
        }
        let sequence = prepared.journal.sequence
        do {
            try logger.timed("exchange") {
                try switcher.exchange(prepared, checkpoint: checkpoint, exchanged: { try recordSwitch?() })
            }
        } catch is TreeSwitch.ExchangeUnsupported {
            logger.debug("apply: in place, the file system refused renameat2(RENAME_EXCHANGE)")
            try TreeOps.removeTree(layout.stage)
            // No spare tree can be used where every switch applies in place: those a cold sync left go.
            generations.dropSpares()
            return (try inPlace.apply(plan, listing: listing, store: store, target: target), .inPlace)
        } catch let failed as TreeSwitch.AfterExchange {
            report.generation = sequence
            throw FailedAfterSwitch(
                outcome: report, step: failed.step, error: FailedAfterSwitch<ApplyReport>.smartSyncError(failed.cause))
        }
        // The switch stands from here on: a failure is reported as one after it.
        report.generation = sequence
        // Only an accelerator: without it, the tree's files are vouched for by the store or replaced. The link (or the
        // copy, on another file system) keeps the saved file's mtime, the cache's timestamp (taken after the scan: what
        // is racy stays racy).
        let filedCache = layout.generation(sequence) + "/stat-cache"
        if let file = outgoingCacheFile, (try? FileSystem.linkOrCopy(from: file, to: filedCache, durable: false)) != nil
        {
        } else if var cache = readOutgoingCache?() {
            try? cache.save(to: filedCache)
        }
        var step = AfterSwitchStep.prune
        do {
            try checkpoint("filed")
            if keepGenerations == 0, let keepOutgoing {
                step = .keepEdits
                try checkpoint("keep-edits")
                try logger.timed("keep-outgoing") { try keepOutgoing(layout.generation(sequence) + "/tree") }
                try PendingLook.clear(layout, sequence)
                step = .prune
            }
            try logger.timed("prune") { try generations.prune(keep: keepGenerations) }
        } catch {
            throw FailedAfterSwitch(
                outcome: report, step: step, error: FailedAfterSwitch<ApplyReport>.smartSyncError(error))
        }
        if firstSwitch { leaveSpare(plan, generations: generations, tree: target) }
        return (report, .exchanged)
    }

    /// Makes ``unsyncedIntent`` durable: fsynced, with its directory unless `stage`'s file system, just synced, holds
    /// it too (its rename is durable then; its fsync still reports a write-back error the `syncfs` may have missed).
    private func syncIntent(coveredBy stage: String?) throws {
        guard let intent = unsyncedIntent else { return }
        try FileSystem.syncFile(intent)
        if let stage, FileSystem.sameFileSystem(intent, stage) { return }
        FileSystem.syncDirectory(parent(of: intent))
    }

    /// Whether a path of this plan kind holds a file of the new tree (written or left as it is).
    static func writesTreeFile(_ kind: Change.Kind) -> Bool { kind.writes || kind == .unchanged }

    /// The in-place applier this switch stages with (and falls back to).
    var inPlace: InPlaceApplier { InPlaceApplier(linkMode: linkMode) }

    func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
