import FoundationEssentials
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncPipeline

extension UpdateWorkflow {
    /// Steps 3 and 4: rebuild, post-validate; on a failure of either, roll back and rebuild the old tree.
    func afterSwitch(_ options: Options, target: String, baseline: Set<String>, report: inout UpdateReport)
        async throws
    {
        var rebuilt = false
        if let rebuild = options.rebuild {
            if report.switched || report.resumed || options.rebuildAlways {
                let commandLine = rebuild.commandLine(target: target)
                let start = ContinuousClock.now
                let result = try await runRebuild(
                    rebuild, .rebuild, target: target, commit: report.commitResolved, rollback: false, options)
                rebuilt = true
                let failed = !result.succeeded
                let message = "`\(commandLine)` \(failed ? result.description : "succeeded")"
                finish(
                    &report,
                    StepRecord(
                        step: .rebuild, status: failed ? .failed : .ok, seconds: Self.seconds(since: start),
                        message: message))
                if failed {
                    var reason = "the rebuild `\(commandLine)` \(result.description)"
                    if let last = result.tail.last(where: { !$0.isEmpty }) { reason += " (last output: \(last))" }
                    try await recover(
                        options, target: target, step: .rebuild, reason: reason, code: .commandFailed, rebuilt: true,
                        &report)
                    return
                }
            } else {
                finish(
                    &report,
                    StepRecord(
                        step: .rebuild, status: .skipped,
                        message: "the tree did not change (--rebuild-always rebuilds anyway)"))
            }
        } else {
            finish(&report, StepRecord(step: .rebuild, status: .skipped, message: "--skip-rebuild"))
        }

        let start = ContinuousClock.now
        events(.started(.postValidate, detail: target))
        let pass = ValidationPass.run(
            options.checks, directory: target, store: runner.store, state: runner.state, quick: false,
            baseline: baseline
        ) { events(.check(.postValidate, $0)) }
        let record = pass.record(.postValidate, seconds: Self.seconds(since: start))
        finish(&report, record)
        if record.status == .failed {
            let n = pass.newFailures.count
            let reason = "\(n) check\(n == 1 ? "" : "s") failed after the update: \(pass.failureList)"
            try await recover(
                options, target: target, step: .postValidate, reason: reason, code: .checksFailed, rebuilt: rebuilt,
                &report)
        }
    }

    /// Rolls the target back to the tree this run replaced (or, finishing an interrupted update, to the last tree
    /// an update confirmed) and, when the failed rebuild could have changed the running system, rebuilds that tree;
    /// then fails with a message saying all of it, with `code`.
    func recover(
        _ options: Options, target: String, step: UpdateStep, reason: String, code: SmartSyncError.Code,
        rebuilt: Bool, _ report: inout UpdateReport
    ) async throws {
        var message = "update failed at \(step.rawValue): \(reason)"
        guard report.switched || report.resumed else {
            message += "; this run did not change the target (it was already at "
            message += "\(report.commitAfter?.abbreviated() ?? "its commit")), so there is nothing to roll back"
            throw SmartSyncError(code, message)
        }
        guard let generation = report.rollbackGeneration else {
            if report.resumed && report.commitAfter == report.pendingRebuild?.confirmed {
                message += "; the target is at \(report.commitAfter?.hex ?? "the tree found before the first sync"), "
                message += "the tree the last finished update left, so there is nothing to roll back to"
                throw SmartSyncError(code, message, hint: "fix the cause and run update again")
            }
            message += "; the target cannot be rolled back automatically: no previous tree was kept (a first sync, "
            message += "a target updated in place, or --keep-generations 0)"
            throw SmartSyncError(code, message, hint: "bring it back with `smart-sync sync --ref COMMIT`")
        }
        let start = ContinuousClock.now
        events(.started(.rollback, detail: target))
        do {
            // A gc that started since the sync is waited for here; the rollback's own lock does not wait.
            let storeLock = try await runner.lockStore()
            defer { storeLock.release() }
            let outcome: Rollback.Outcome
            var afterSwitch: FailedAfterSwitch<Rollback.Outcome>?
            do {
                outcome = try Rollback.run(
                    target: target, to: String(generation), state: runner.state, store: runner.store,
                    keepGenerations: runner.keepGenerations, linkMode: runner.linkMode, lock: runner.targetLock,
                    events: runner.events)
            } catch let failed as FailedAfterSwitch<Rollback.Outcome> {
                // Rolled back; a step after its exchange failed.
                outcome = failed.outcome
                afterSwitch = failed
            }
            report.rolledBack = true
            report.commitAfter = outcome.to
            let to = outcome.to?.abbreviated() ?? "the tree found before the first sync"
            var detail = "back to \(to)"
            if let afterSwitch { detail += "; then \(afterSwitch.step.rawValue) failed: \(afterSwitch.reason)" }
            finish(
                &report,
                StepRecord(
                    step: .rollback, status: afterSwitch == nil ? .ok : .warn, seconds: Self.seconds(since: start),
                    message: detail))
            message += "; the target was rolled back to \(outcome.to?.hex ?? "the tree found before the first sync")"
            if let afterSwitch { message += " (then \(afterSwitch.step.rawValue) failed: \(afterSwitch.reason))" }
        } catch let error as SmartSyncError {
            finish(
                &report,
                StepRecord(
                    step: .rollback, status: .failed, seconds: Self.seconds(since: start), message: error.text))
            message += "; rolling back failed too: \(error.text)"
            throw SmartSyncError(
                .io, message, hint: "run `smart-sync rollback --target \(target)`", cause: error)
        }

        if let rebuild = options.rebuild, rebuilt {
            guard rebuild.changesRunningSystem else {
                message += " (the rebuild's action was build, which changed nothing running: not run again)"
                throw SmartSyncError(code, message)
            }
            let commandLine = rebuild.commandLine(target: target)
            let again = ContinuousClock.now
            let result = try await runRebuild(
                rebuild, .rebuildPrevious, target: target, commit: report.commitAfter, rollback: true, options)
            finish(
                &report,
                StepRecord(
                    step: .rebuildPrevious, status: result.succeeded ? .ok : .failed,
                    seconds: Self.seconds(since: again),
                    message: "`\(commandLine)` \(result.succeeded ? "succeeded" : result.description)"))
            if result.succeeded {
                message += ", and the rebuild ran again for it successfully"
            } else {
                message += ", but the rebuild for it \(result.description) too: the running system may match neither "
                message += "tree"
                throw SmartSyncError(code, message, hint: "run `\(commandLine)` by hand")
            }
        }
        throw SmartSyncError(code, message)
    }

    /// Runs the rebuild command for the tree now in `target`, with `SMART_SYNC_*` variables describing it.
    func runRebuild(
        _ rebuild: RebuildCommand, _ step: UpdateStep, target: String, commit: ObjectID?, rollback: Bool,
        _ options: Options
    ) async throws -> RebuildRun {
        let commandLine = rebuild.commandLine(target: target)
        events(.started(step, detail: commandLine))
        let environment = [
            "SMART_SYNC_TARGET": target, "SMART_SYNC_ACTION": rebuild.action.rawValue,
            "SMART_SYNC_COMMIT": commit?.hex ?? "", "SMART_SYNC_ROLLBACK": rollback ? "1" : "0",
        ]
        let events = self.events
        return try await RebuildRun.run(
            commandLine, environment: environment,
            output: options.captureOutput ? .lines { events(.output(step, $0)) } : .inheritToStderr)
    }
}
