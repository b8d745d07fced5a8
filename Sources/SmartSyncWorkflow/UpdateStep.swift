import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncPipeline
import SmartSyncValidation

/// The steps of `smart-sync update`, in the order they can run.
public enum UpdateStep: String, Sendable, Codable, CaseIterable {
    /// The checks on the current target and host, before anything changes (`--quick` checks).
    case preValidate = "pre-validate"
    /// `--check-only`: what a sync would change, changing nothing.
    case plan
    /// Resolve, plan, fetch and stage the new tree (the stage is validated inside it).
    case sync
    /// The checks on the staged tree, before it is swapped in.
    case validateStage = "validate-stage"
    /// The rebuild command for the new tree.
    case rebuild
    /// The full checks on the switched target and host.
    case postValidate = "post-validate"
    /// The previous tree swapped back in after a failure.
    case rollback
    /// The rebuild command again, for the rolled-back tree (only when the failed one could have changed the
    /// running system: `test`, `switch`).
    case rebuildPrevious = "rebuild-previous"
}

/// How a step ended.
public enum StepStatus: String, Sendable, Codable {
    case ok
    /// Passed with warnings (validation steps).
    case warn
    case failed
    /// Not run, with the reason in the record's message.
    case skipped
}

/// One step's line in the report and the summary.
public struct StepRecord: Sendable, Equatable {
    public var step: UpdateStep
    public var status: StepStatus
    public var seconds: Double
    /// One line: counts of a validation, the command and its exit status, why a step was skipped.
    public var message: String

    public init(step: UpdateStep, status: StepStatus, seconds: Double = 0, message: String) {
        self.step = step
        self.status = status
        self.seconds = seconds
        self.message = message
    }
}

/// What an update reports as it goes.
public enum UpdateEvent: Sendable {
    /// A step begins (`detail`: the command line of a rebuild, the directory validated).
    case started(UpdateStep, detail: String)
    /// One check's report within a validation step.
    case check(UpdateStep, CheckReport)
    /// A line of the rebuild command's output, when output is captured.
    case output(UpdateStep, String)
    /// A step ended.
    case finished(StepRecord)
}

/// Everything an update did: what the summary prints and what decides the exit code.
public struct UpdateReport: Sendable {
    public var steps: [StepRecord] = []
    /// The commit the target was at before (nil when it had never been synced).
    public var commitBefore: ObjectID?
    /// The commit the ref resolved to (nil when the run stopped before resolving it).
    public var commitResolved: ObjectID?
    /// The commit the target is at now (after a rollback: the old one again).
    public var commitAfter: ObjectID?
    /// The ref as resolved.
    public var ref: String?
    /// True when this run swapped a new tree in (whether or not it was rolled back later).
    public var switched = false
    /// The generation holding the tree this run replaced (what a rollback restores); nil when it kept none.
    public var rollbackGeneration: Int?
    /// True when the target was rolled back after a failure.
    public var rolledBack = false
    /// True when this run rebuilt and checked a tree an earlier update switched in and did not confirm (it was
    /// killed, or failed after its switch), although its own sync changed nothing.
    public var resumed = false
    /// The pending-rebuild mark an earlier update left (nil: none).
    public var pendingRebuild: PendingRebuild?
    /// The mark this run made before its sync (nil when it kept an earlier one).
    var markedPendingRebuild: PendingRebuild?
    /// `--check-only`: true when a sync would change the target.
    public var changesPending = false
    /// The sync step's outcome, when it ran.
    public var sync: SyncRunner.Outcome?
    /// Why the update failed; nil on success.
    public var failure: SmartSyncError?

    public init() {}

    /// The record of `step`, when it ran.
    public func record(_ step: UpdateStep) -> StepRecord? { steps.first { $0.step == step } }
}
