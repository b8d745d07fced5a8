import FoundationEssentials
import Logging
import SmartSyncCore
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Runs the pipeline: resolve → tree → verify (the target scanned meanwhile) → plan → fetch → keep local versions →
/// apply → state.
///
/// One runner per source; `sync`, `plan` and `warm` share it. Events go to `events` as the run proceeds.
public struct SyncRunner: Sendable {
    public let source: any SyncSource
    public let store: ObjectStore
    /// The state directory, set only in this file: by `init`, and by ``checkpoint``'s `didSet` handing the test seam
    /// to this copy (a value). Not a `let`: the seam would then be passed to every `save`/`saveIntent`.
    public private(set) var state: StateStore
    public let events: @Sendable (SyncEvent) -> Void
    /// How a plan is applied.
    public var applyMode: ApplyMode = .stagedSwitch
    /// Previous trees kept for `rollback` by the staged switch.
    public var keepGenerations: Int = 3
    /// How files get from the store into the target (`--link-mode`).
    public var linkMode: LinkMode = .auto
    /// Checks the staged tree before the exchange (``StagedSwitchApplier/validateStage``); a throw keeps the old.
    public var stageValidator: (@Sendable (_ stage: String) throws -> Void)?
    /// The target's lock when the caller holds it already (``StateStore/lock(target:)``): the run uses it instead
    /// of taking it, so the caller (`update`) keeps other runs out between its own steps. nil: the run takes the
    /// lock and releases it when it ends.
    public var targetLock: TargetLock?
    /// Passed to the staged switch and ``state``: a throw at a named point stands in for a crash or a failure (tests).
    var checkpoint: @Sendable (String) throws -> Void = { _ in } {
        didSet { state.checkpoint = checkpoint }
    }
    /// Passed to the staged switch: how the recycler's pass is shared out over threads (tests force a split).
    var recycleSplit: StageRecycler.Split = .automatic
    /// Called by the scan just before it opens a directory, with the flag that stops it (tests).
    var beforeScanOpening: (@Sendable (TreePath, CancellationFlag) -> Void)?
    /// How long a run waits for the store while maintenance (`gc`) holds it exclusively.
    public var storeLockWait: Duration = .seconds(600)
    /// Where the run logs, at `.debug`, each stage's time (`stage=`, `ms=`) and its decisions: the commit a ref
    /// resolved to, the plan, the transport the content took, how the tree went in. Default: no log.
    public var logger: Logger = .disabled
    /// What the commit a run moves a target to must be (``CommitChecks``): a descendant of the target's, signed.
    public var commitPolicy = CommitPolicy()

    /// How the target is changed.
    public enum ApplyMode: Sendable {
        /// Build the new tree beside the target and swap the directories atomically (``StagedSwitchApplier``).
        case stagedSwitch
        /// Replace changed files one by one, each atomically (``InPlaceApplier``).
        case inPlace
    }

    public init(
        source: any SyncSource, store: ObjectStore, state: StateStore,
        events: @escaping @Sendable (SyncEvent) -> Void = { _ in }
    ) {
        self.source = source
        self.store = store
        self.state = state
        self.events = events
    }

    /// Brings `request.target` to the commit `request.ref` resolves to.
    public func sync(_ request: Request) async throws -> Outcome {
        try await run(request, apply: !request.dryRun)
    }

    /// Computes what ``sync(_:)`` would do, touching nothing.
    public func plan(_ request: Request) async throws -> Outcome {
        try await run(request, apply: false)
    }

    private func run(_ request: Request, apply: Bool) async throws -> Outcome {
        let target = StateStore.normalize(request.target)
        let storeLock = try await logger.timed("lock") { try await lockStore() }
        defer { storeLock.release() }
        let targetLock = try state.lock(target: target, unlessHeld: self.targetLock)
        defer { targetLock?.release() }
        // The ref's request goes out now, under both locks (a run that cannot lock asks nothing), and its round trip
        // (a TLS handshake and one request on a no-op) overlaps every local step up to the plan: the store's
        // leftovers, the recovery of a half-done switch, the state, the stat cache and the scan. None of them
        // depends on where the ref points: the scan is of the target against its own manifest, what the plan needs
        // whatever the answer. When the answer fails, leaving this scope cancels the scan and the run ends having
        // written nothing a failed resolve did not write before (the store's leftovers removed, a half-done switch
        // finished). A full commit id is not asked ahead: the target's own commit or a pin needs no request.
        async let asked = resolveAhead(request.ref)
        store.removeStaleTemporaries()
        store.removeStalePartials()

        if applyMode == .stagedSwitch {
            // A switch a killed run left half done is finished (or undone) before the target is looked at; one that
            // happened but was not recorded is recorded from its intent.
            // A plan leaves the looks marked (``PendingLook``) to a run that applies: it writes nothing of its own.
            try logger.timed("recover") {
                try state.recoverSwitch(target: target, store: store, looks: apply) { events(.warning($0)) }
            }
        }
        var previous = try state.load(target: target)
        // The scan reads the target only: it runs on a thread of its own while the ref is resolved, checked and listed
        // (round trips, and on an update the pack), so a run costs the longer of the two, not their sum. A file
        // edited after it looked is caught as it is today when blobs are fetched after the scan: the outgoing tree,
        // edit included, is kept as a generation. When the run fails before it needs the scan (a ref that does not
        // resolve, a listing that fails), leaving this scope cancels the scan, which stops at its next directory: the
        // failure is reported then, not after a walk of the whole target.
        let excludes = ExcludeSet(request.excludes)
        // The manifest's paths, for the stat cache to share: handed over and dropped once the cache is loaded. A
        // capture would hold them (every path of the target) until the run ends, after the manifest is freed.
        let cachedPaths = Locked(previous?.manifest.entries.keys)
        // The result is handed over in a box emptied when it is taken: an `async let` keeps its value until the scope
        // ends, and the scan's table of every path (and the old stat cache it reuses) were held so through the stage's
        // making, the peak of an update's memory (over 20 MB at 100,000 files).
        async let scanned = DedicatedThread.run(name: "ss-scan") { [state, logger, beforeScanOpening] cancellation in
            try logger.timed("scan") {
                var scanner = TargetScanner(ignoredNames: [], excludes: excludes)
                scanner.cancellation = cancellation
                if let beforeScanOpening { scanner.beforeOpening = { beforeScanOpening($0, cancellation) } }
                let cache = try state.loadStatCache(
                    target: target, sharing: cachedPaths.withLock { $0.take() } ?? [])
                return Locked<TargetScanner.Result?>(try scanner.scan(target: target, cache: cache))
            }
        }
        let pins = await loadPins()
        // The stage's time is the wait for the answer from here (an `async let` cannot be awaited in a closure).
        let waiting = ContinuousClock.now
        let answer: ResolvedRef?
        do {
            answer = try await asked
        } catch {
            try logger.timed("resolve", since: waiting) { throw error }  // logged as the stage's failure
            throw error
        }
        let resolved = try await logger.timed("resolve", since: waiting) {
            try await resolve(request.ref, applied: previous, pins: pins, asked: answer)
        }
        events(.resolved(resolved))
        // The commit the target has is what a pack transport can say `have` for; a plan must not fetch content.
        let hints = ListingHints(haves: previous.map { [$0.commit] } ?? [], withBlobs: apply)
        // Told before the checks: `--transport pack` asks for the listing's pack in its ancestry question's request
        // (held out of the store until the checks pass) rather than in a request after it.
        source.listingAhead(resolved, hints: hints)
        // Before anything of the new commit reaches the store or the target is touched: the same rule for every
        // command.
        let checked: CommitCheckReport
        do {
            checked = try await logger.timed("checks") {
                try await CommitChecks(source: source, policy: commitPolicy, pins: pins, logger: logger)
                    .check(resolved.commit, current: previous?.commit, target: target)
            }
        } catch {
            source.withdrawListingAhead()  // a refused commit's held pack goes now, whichever check refused it
            throw error
        }
        // At the target's commit, the manifest itself (no copy per path): made a `TreeListing` only for an apply.
        var listing: CommitListing
        let listingIsPreviousManifest: Bool
        (listing, listingIsPreviousManifest) = try await logger.timed("listing") {
            try await verifiedListing(
                resolved, previous: previous, excludes: excludes.globs, hints: hints, pins: pins)
        }

        guard var scan = try await scanned.withLock({ handed in defer { handed = nil }; return handed }) else {
            throw SmartSyncError(.internal, "the scan's result was taken twice")
        }
        logScan(scan.statistics)
        events(
            .scanned(
                files: scan.statistics.entries, hashed: scan.statistics.filesHashed,
                cacheHits: scan.statistics.cacheHits))

        let planner = Planner(excludes: excludes, keepLocal: request.keepLocal)
        // What earlier runs put there: the last applied manifest, plus what an interrupted run meant to apply.
        // (An interrupted run's pending deletes too: paths an intent it replaced claimed, not deleted yet.)
        var previousManifest = previous?.manifest ?? Manifest()
        // (The intent itself is not kept: a local lives until the run ends, and its manifest is every path.)
        let interrupted = try state.loadIntent(target: target).map { $0.manifest.union($0.pendingDeletes) }
        if let interrupted { previousManifest = interrupted.union(previousManifest) }
        // A target that has the commit already: its unchanged paths are counted, not listed (a no-op's plan lists
        // nothing, where it made a change per path: at 20,000 files the listing plan takes 650 page faults, 2.6 MB of
        // fresh pages, the counting one 125; `perf record -e page-faults`, BENCHMARKS "noop7").
        // Only an apply needs them (the stage, the manifest): when there is one (a local edit to put right), the plan
        // is made again listing them. A plan of another commit lists them from the start.
        let atCommit = previous?.commit == resolved.commit
        let plan = logger.timed("plan") { () -> Plan in
            let plan = planner.plan(
                listing: listing, previous: previousManifest, local: scan.tree, listUnchanged: !atCommit)
            guard apply, !plan.listsUnchanged, plan.hasWork else { return plan }
            return planner.plan(listing: listing, previous: previousManifest, local: scan.tree)
        }
        let damaged = editedThrough(
            scan.tree, previous: previousManifest, plan: plan,
            listingIsPreviousManifest: listingIsPreviousManifest && interrupted == nil)
        // What the scan found is in the plan now; its cache (the stat data) is what is kept, for the stat cache and
        // the outgoing generation. Freed below (once its directories are taken for an apply), not when the run ends:
        // held through the stage's making, the scan's table of every path was the largest part of an update's peak
        // (17 MB at 100,000 files). A sync that applies nothing frees it with its other tables, off the run's path; a
        // dry run (`plan`) frees it right here.
        let hasWork = plan.hasWork
        let watched = try Self.watched(hasWork ? plan.changes : [], in: scan.tree)
        // Its directories, for the carrier to pass over those unchanged since (a few thousand at 100,000 files).
        let applies = apply && (hasWork || previous?.commit != resolved.commit)
        let directories = applies ? ScannedDirectories(scan.tree, startedAtNs: scan.startedAtNs, plan: plan) : nil
        if applies || !apply { scan.tree = LocalTree() }
        let missing = try plan.missingBlobs(
            in: store, repair: false, damaged: Set(damaged.filter { !$0.twin }.map(\.id)))
        let edits = planner.localEdits(in: plan, previous: previousManifest)
        let summary = Self.summarize(plan, missing: missing, localEdits: edits.map(\.description))
        logPlan(summary)
        events(.planned(summary))
        warnOfPlan(plan, localEdits: edits, apply: apply)

        var outcome = Outcome(
            resolved: resolved, previousCommit: previous?.commit, plan: plan, summary: summary, fetch: FetchReport(),
            kept: [], commitChecks: checked)
        guard apply else { return outcome }

        let blocked = plan.count(.blocked) == 0 ? [] : plan.changes.filter { $0.kind == .blocked }
        if !blocked.isEmpty {
            let list = blocked.prefix(5).map { "'\($0.path)'" + ($0.note.map { " (\($0))" } ?? "") }.joined(
                separator: ", ")
            throw SmartSyncError(
                .conflict,
                "\(blocked.count) tree path\(blocked.count == 1 ? "" : "s") cannot be written because local files that "
                    + "smart-sync did not put there are in the way: "
                    + "\(list)\(blocked.count > 5 ? ", …" : ""); the target was not changed",
                hint: "move them away or --exclude them")
        }

        if hasWork || previous?.commit != resolved.commit {
            // A target the switch must apply in place (a symlink, a mount point) has no stage for `update`'s checks:
            // refused now, before local versions are kept and the intent is written (nothing changed, nothing
            // recorded); with no checks set it is applied in place below, as `sync` does.
            if applyMode == .stagedSwitch {
                var precheck = StagedSwitchApplier()
                precheck.validateStage = stageValidator
                try precheck.refuseUncheckedInPlace(target: target)
            }
            for object in damaged {
                let moved = try store.quarantine(
                    object.id, reason: "a target file sharing its inode was written in place", twin: object.twin,
                    expecting: object.identity)
                guard moved != nil else { continue }
                events(
                    .warning(
                        object.twin
                            ? "the executable twin of store object \(object.id.abbreviated()) was written through a "
                                + "target's hard link; quarantined, made anew"
                            : "store object \(object.id.abbreviated()) was written through a target's hard "
                                + "link; quarantined, fetched anew"
                    ))
            }
            let toFetch = try plan.missingBlobs(in: store, repair: true)
            plan.seedStore(store, fromTarget: target)
            outcome.fetch = try await logger.timed("fetch") {
                try await fetch(toFetch.filter { !store.contains($0.id) }, of: resolved)
            }
            logFetch(outcome.fetch)
            try logger.timed("recheck") { try Self.recheck(watched, target: target) }
            let keptSinceNs = Self.nowNs()  // before the first keep: the look's mark (``PendingLook/sinceNs``)
            outcome.kept = try logger.timed("keep-local") {
                try keepLocalVersions(plan, target: target, previous: previousManifest, owner: planner.installedOwner)
            }
            // The intent, journaled before anything changes: if an in-place apply is interrupted, the next run (to
            // any ref) still knows every file this run may have put there, and removes what is no longer wanted
            // instead of leaving it behind as untracked.
            var applied = TargetState(
                target: target, commit: resolved.commit, ref: resolved.name, appliedAtNs: Self.nowNs(),
                manifest: try planner.manifest(after: plan, previous: previousManifest))
            applied.keptLocal = planner.keptLocal(in: plan)
            applied.excludes = excludes.globs
            // The interrupted run's paths not claimed by this intent or the state (what this apply deletes, but also
            // paths it keeps as conflicts and paths the killed run never wrote): still ours should this run be killed
            // before it is done.
            if let interrupted {
                applied.pendingDeletes = interrupted.unclaimed(
                    by: [applied.manifest, applied.keptLocal, previous?.manifest])
            }
            // The staged switch makes it durable with its stage's sync (before the target changes): no fsync here.
            let intentUnsynced = try state.saveIntent(applied, durable: applyMode != .stagedSwitch)
            // Nothing below needs the previous manifest, the new one or the scan's stat cache while the stage is made
            // (the peak of an update's memory; at 100,000 files they were 26 MB of it): the outgoing generation's
            // state is read back from the state file when it is filed (``StagedSwitchApplier/readPrevious``), the
            // state to record is made again from the plan once the target holds it, and the stat cache is saved now
            // (what the scan saw of the target as it is: the cache a run that changes nothing saves) and read back
            // for the outgoing generation and for the new tree's cache.
            applied.manifest = Manifest()
            let carried = planner.carriedOver(from: previousManifest)
            let record = SwitchRecord(state: state, target: target, renamable: applied.pendingDeletes.isEmpty) {
                [applied] in
                var recorded = applied
                recorded.manifest = try planner.manifest(after: plan, previous: carried)
                return recorded
            }
            let hadPrevious = previous != nil  // the state file read as a valid state at the start
            previous = nil
            previousManifest = Manifest()
            // What the appliers read: a listing from the manifest is made now, and held alone (the manifest freed).
            let treeListing = treeListing(of: listing)
            listing = CommitListing(treeListing)
            // Only a cache: when it cannot be saved now (a full disk the state must still be recorded on, or fail
            // to be, after the switch) it is held as before. The file is hard-linked into the outgoing generation.
            let readCache: @Sendable () -> StatCache
            var savedCache: String?  // the file it was saved to, for the outgoing generation
            if (try? state.saveStatCache(&scan.cache, target: target)) != nil {
                savedCache = state.statCachePath(for: target)
                scan.cache = StatCache()
                readCache = { [state] in
                    (try? state.loadStatCache(target: target, sharing: plan.changes.map(\.path))) ?? StatCache()
                }
            } else {
                readCache = { [cache = scan.cache] in cache }
            }
            // What those held was freed in blocks too small for a mapping of their own (the paths): given back now.
            LargeAllocations.releaseFreedPages()
            var failed: FailedAfterSwitch<ApplyReport>?
            // With --keep-generations 0: edits kept from the outgoing tree, and the stat cache read for that.
            var windowKept: Locked<(kept: [KeptVersion], cache: StatCache?)>?
            do {
                switch applyMode {
                case .stagedSwitch:
                    var applier = StagedSwitchApplier(keepGenerations: keepGenerations)
                    // Unchanged under the target lock until the switch is recorded, which happens after it is read.
                    applier.readPrevious = { [state] in try state.load(target: target) }
                    if hadPrevious { applier.previousFile = state.statePath(for: target) }
                    if intentUnsynced { applier.unsyncedIntent = state.intentPath(for: target) }
                    applier.validateStage = stageValidator
                    applier.startedNs = keptSinceNs
                    applier.recheck = { try Self.recheck(watched, target: target) }
                    applier.linkMode = linkMode
                    applier.readOutgoingCache = readCache
                    windowKept = keepWindowEdits(
                        &applier, plan: plan, target: target, cache: readCache, owner: planner.installedOwner)
                    applier.outgoingCacheFile = savedCache
                    applier.scannedDirectories = directories
                    applier.recordSwitch = record.save
                    applier.checkpoint = checkpoint
                    applier.recycleSplit = recycleSplit
                    applier.logger = logger
                    applier.notice = { [events] in events(.warning($0)) }
                    outcome.applied = try logger.timed("apply") {
                        try applier.apply(plan, listing: treeListing, store: store, target: target)
                    }
                case .inPlace:
                    logger.debug("apply: in place, file by file")
                    outcome.applied = try logger.timed("apply") {
                        try InPlaceApplier(linkMode: linkMode).apply(
                            plan, listing: treeListing, store: store, target: target)
                    }
                }
            } catch let error as FailedAfterSwitch<ApplyReport> {
                // The target holds the new tree: what failed after the switch is reported below, not undone.
                outcome.applied = error.outcome
                failed = error
            } catch let found as PendingSwitchFound {
                // A journal this run did not write: left to the next run's recovery, under the lock, not acted on here.
                throw found.error
            } catch {
                // A failed stage (a full disk, say) is removed now rather than by the next run, so its space is
                // free again; a switch whose journal was written is undone, or finished and recorded should its
                // exchange have happened (every failure after it is a `FailedAfterSwitch`): the recovery every run
                // starts with, so that what it does is done one way.
                if applyMode == .stagedSwitch {
                    try? state.recoverSwitch(target: target, store: store) { events(.warning($0)) }
                }
                throw error
            }
            outcome.switched = true
            outcome.kept += windowKept?.withLock { $0.kept } ?? []
            var cache = windowKept?.withLock { w in defer { w.cache = nil }; return w.cache } ?? readCache()
            cache.record(plan, target: target, known: outcome.applied?.unchangedStats ?? PathTable())
            try logger.timed("state") {
                try finishSwitch(outcome, failed: failed, record: record, cache: &cache, target: target)
            }
        } else {
            // Handed over, not copied: the no-op's end frees them off the run's path (``finishNoOp``).
            try finishNoOp(
                consume previous, previousManifest: consume previousManifest, listing: consume listing,
                scan: &scan, excludes: excludes, target: target)
        }
        return outcome
    }
}
