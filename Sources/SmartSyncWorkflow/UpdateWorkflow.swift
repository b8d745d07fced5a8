import FoundationEssentials
import SmartSyncCore
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncPipeline
import SmartSyncValidation

/// `smart-sync update`: pre-validate → sync (the staged tree validated before the switch) → rebuild →
/// post-validate, rolling back (and rebuilding the old tree) when the rebuild or the post-validation fails.
///
/// Checks that already failed before the update (and were passed with ``Options/force``) do not fail the later
/// steps: only what the update makes worse rolls it back.
public struct UpdateWorkflow: Sendable {
    /// What to update and how.
    public struct Options: Sendable {
        public var request: SyncRunner.Request
        public var checks: UpdateChecks
        /// Go on when the pre-validation fails.
        public var force = false
        /// Pre-validate and plan only.
        public var checkOnly = false
        /// The rebuild; nil for `--skip-rebuild`.
        public var rebuild: RebuildCommand?
        /// Rebuild even when the tree did not change.
        public var rebuildAlways = false
        /// Capture the rebuild's output into ``UpdateEvent/output(_:_:)`` events instead of passing it to stderr.
        public var captureOutput = false

        public init(request: SyncRunner.Request, checks: UpdateChecks, rebuild: RebuildCommand?) {
            self.request = request
            self.checks = checks
            self.rebuild = rebuild
        }
    }

    public var runner: SyncRunner
    public var events: @Sendable (UpdateEvent) -> Void

    public init(runner: SyncRunner, events: @escaping @Sendable (UpdateEvent) -> Void = { _ in }) {
        self.runner = runner
        self.events = events
    }

    /// Runs the update. Never throws: a failure is in ``UpdateReport/failure``, with what was done before it.
    ///
    /// The target's lock (and a shared lock on the store) is held from the first check to the last, rollback
    /// included: no other run changes the target, or collects the store, between the steps. The store lock is waited
    /// for while `gc` holds it, as a sync waits; the target's lock is not (another run of the target exits 7).
    public func run(_ options: Options) async -> UpdateReport {
        var report = UpdateReport()
        let target = StateStore.normalize(options.request.target)
        let storeLock: FileLock
        let targetLock: TargetLock
        do {
            storeLock = try await runner.lockStore()
        } catch {
            report.failure = Self.failure(error)
            return report
        }
        defer { storeLock.release() }
        do {
            targetLock = try runner.state.lock(target: target)
        } catch {
            report.failure = Self.failure(error)
            return report
        }
        defer { targetLock.release() }
        var workflow = self
        workflow.runner.targetLock = targetLock
        do {
            try await workflow.steps(options, target: target, report: &report)
        } catch {
            report.failure = Self.failure(error)
        }
        if !options.checkOnly { workflow.settlePendingRebuild(target: target, report: &report) }
        return report
    }

    private static func failure(_ error: any Error) -> SmartSyncError {
        error as? SmartSyncError ?? SmartSyncError(.internal, "update failed unexpectedly: \(error)", cause: nil)
    }

    /// The steps, under the locks ``run(_:)`` holds.
    private func steps(_ options: Options, target: String, report: inout UpdateReport) async throws {
        report.commitBefore = try runner.state.load(target: target)?.commit
        report.commitAfter = report.commitBefore
        // An earlier update's tree that never passed its rebuild and checks (killed, or failed after its switch).
        report.pendingRebuild = try runner.state.loadPendingRebuild(target: target)
        if let rebuild = options.rebuild, !options.checkOnly {
            try rebuild.checkAvailable(searchPath: options.checks.searchPath ?? ValidationContext.environmentPath())
        }
        let baseline = try preValidate(options, target: target, report: &report)
        if options.checkOnly {
            try await plan(options, report: &report)
            return
        }
        try await sync(options, target: target, baseline: baseline, report: &report)
        try await afterSwitch(options, target: target, baseline: baseline, report: &report)
    }

    // MARK: - Steps

    /// Step 1: the quick checks on the current target. Returns the ids of failing checks (tolerated later).
    private func preValidate(_ options: Options, target: String, report: inout UpdateReport) throws -> Set<String> {
        guard FileManager.default.fileExists(atPath: target) else {
            finish(&report, StepRecord(step: .preValidate, status: .skipped, message: "\(target) does not exist yet"))
            return []
        }
        let start = ContinuousClock.now
        events(.started(.preValidate, detail: target))
        let pass = ValidationPass.run(
            options.checks, directory: target, store: runner.store, state: runner.state, quick: true, baseline: []
        ) { events(.check(.preValidate, $0)) }
        let record = pass.record(.preValidate, seconds: Self.seconds(since: start))
        finish(&report, record)
        if record.status == .failed && !options.force {
            throw SmartSyncError(
                .checksFailed,
                "\(target) failed \(pass.newFailures.count) check\(pass.newFailures.count == 1 ? "" : "s") before the "
                    + "update: \(pass.failureList). Nothing was changed. Repair them (`smart-sync validate --fix` can "
                    + "fix some), or pass --force to update anyway (checks failing now are then "
                    + "not held against the new tree)"
            )
        }
        return Set(pass.newFailures.map(\.id))
    }

    /// The checks that do not run on the stage (`integrity` needs the tree's own sync record: after the switch).
    private static let notOnStage: Set<CheckKind> = [.integrity]

    /// Whether a check runs on the stage (then a target that can only be applied in place is refused).
    private static func hasStageChecks(_ options: Options) -> Bool {
        options.checks.checks.contains { !notOnStage.contains($0.kind) }
    }

    /// `--check-only`: what a sync would change, and whether the update itself would be refused for a target that can
    /// only be applied in place while checks run on the stage.
    private func plan(_ options: Options, report: inout UpdateReport) async throws {
        let start = ContinuousClock.now
        events(.started(.plan, detail: options.request.target))
        let outcome = try await runner.plan(options.request)
        report.sync = outcome
        report.ref = outcome.resolved.name
        report.commitResolved = outcome.resolved.commit
        report.changesPending = !outcome.summary.upToDate || report.pendingRebuild != nil
        var message =
            outcome.summary.upToDate
            ? "up to date at \(outcome.resolved.commit.abbreviated())"
            : "changes pending for \(outcome.resolved.commit.abbreviated()); nothing was changed (--check-only)"
        if outcome.summary.upToDate && report.pendingRebuild != nil {
            message += "; an earlier update did not finish its rebuild and checks: the next update runs them"
        }
        var status = StepStatus.ok
        if !outcome.summary.upToDate, Self.hasStageChecks(options),
            let refusal = StagedSwitchApplier.uncheckedInPlaceRefusal(
                target: StateStore.normalize(options.request.target))
        {
            message += "; the update would be refused: \(refusal.message)"
            status = .warn
        }
        finish(&report, StepRecord(step: .plan, status: status, seconds: Self.seconds(since: start), message: message))
    }

    /// Step 2: the sync, with the staged tree validated before the exchange.
    private func sync(_ options: Options, target: String, baseline: Set<String>, report: inout UpdateReport)
        async throws
    {
        let start = ContinuousClock.now
        events(.started(.sync, detail: target))
        try markPendingRebuild(target: target, report: &report)
        let stageRecord = Locked<StepRecord?>(nil)
        var runner = self.runner
        let events = self.events
        let store = runner.store
        // No stage validator when no check would run on the stage (integrity is checked after the switch): a target
        // that must be applied in place (a symlink, a mount point) then goes in as `sync` puts it, where a validator
        // would have it refused (there is no stage to check).
        let notOnStage = Self.notOnStage
        let stageChecks = Self.hasStageChecks(options)
        let validator: @Sendable (_ stage: String) throws -> Void = { stage in
            let stageStart = ContinuousClock.now
            events(.started(.validateStage, detail: stage))
            // The stage has no sync state of its own: integrity is checked after the switch.
            let pass = ValidationPass.run(
                options.checks, directory: stage, store: store, state: nil, quick: false, excluding: notOnStage,
                baseline: baseline
            ) { events(.check(.validateStage, $0)) }
            let record = pass.record(.validateStage, seconds: Self.seconds(since: stageStart))
            stageRecord.withLock { $0 = record }
            events(.finished(record))
            if record.status == .failed {
                throw SmartSyncError(
                    .checksFailed,
                    "the new tree failed \(pass.newFailures.count) check\(pass.newFailures.count == 1 ? "" : "s") "
                        + "before the switch: \(pass.failureList); the target was not changed",
                    hint: "fix the repository, or install the tree without checks with `smart-sync sync`"
                )
            }
        }
        runner.stageValidator = stageChecks ? validator : nil
        let outcome: SyncRunner.Outcome
        do {
            outcome = try await runner.sync(options.request)
        } catch let failed as FailedAfterSwitch<SyncRunner.Outcome> {
            // The target holds the new tree although a step after the switch failed: it is treated as switched.
            if let record = stageRecord.withLock({ $0 }) { report.steps.append(record) }
            record(failed.outcome, target: target, in: &report)
            let from = failed.outcome.previousCommit?.hex ?? "no recorded commit"
            let reason =
                "'\(target)' was switched to \(failed.outcome.resolved.commit.hex) (from \(from)), but "
                + "\(failed.step.rawValue) failed afterwards: \(failed.reason)"
            finish(
                &report,
                StepRecord(step: .sync, status: .failed, seconds: Self.seconds(since: start), message: reason))
            try await recover(
                options, target: target, step: .sync, reason: reason, code: failed.error.code, rebuilt: false, &report)
            return
        } catch let error as SmartSyncError {
            if let record = stageRecord.withLock({ $0 }) { report.steps.append(record) }
            finish(
                &report,
                StepRecord(step: .sync, status: .failed, seconds: Self.seconds(since: start), message: error.text))
            throw error
        }
        if let record = stageRecord.withLock({ $0 }) { report.steps.append(record) }
        record(outcome, target: target, in: &report)
        var message =
            outcome.switched
            ? "\(outcome.previousCommit?.abbreviated() ?? "(none)") → \(outcome.resolved.commit.abbreviated())"
            : "up to date at \(outcome.resolved.commit.abbreviated())"
        if !outcome.switched, let mark = report.pendingRebuild {
            try resume(mark, target: target, report: &report)
            message += "; an earlier update switched the target and did not finish: its rebuild and checks run now"
        }
        finish(&report, StepRecord(step: .sync, status: .ok, seconds: Self.seconds(since: start), message: message))
    }

    /// What the sync did, into the report.
    private func record(_ outcome: SyncRunner.Outcome, target: String, in report: inout UpdateReport) {
        report.sync = outcome
        report.ref = outcome.resolved.name
        report.commitResolved = outcome.resolved.commit
        report.commitAfter = outcome.resolved.commit
        report.switched = outcome.switched
        // The generation that keeps the tree this sync replaced, while it is on disk: none when the sync applied in
        // place or created the target, or when the prune removed it (--keep-generations 0); a step failing after the
        // switch before that prune (the record, the filing, the keep before the prune, the prune) leaves it.
        let generation = outcome.switched ? outcome.applied?.generation : nil
        report.rollbackGeneration = generation.flatMap { Rollback.keeps($0, target: target) ? $0 : nil }
    }

    /// Adds a step's record to the report and announces it.
    func finish(_ report: inout UpdateReport, _ record: StepRecord) {
        report.steps.append(record)
        events(.finished(record))
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = start.duration(to: .now)
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
