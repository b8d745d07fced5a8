import SmartSyncCore

/// A step that runs after the target already holds the new tree (the directory exchange, or the last file of an
/// in-place apply). When one fails, the switch stands: the run reports it with ``FailedAfterSwitch``.
public enum AfterSwitchStep: String, Sendable, Codable {
    /// Saving the target's new state (commit, manifest). Runs first, so no later failure leaves the target recorded
    /// at its old commit.
    case record = "recording the new state"
    /// Moving the outgoing tree into its generation and removing the switch journal.
    case fileOutgoing = "keeping the previous tree as a generation"
    /// With `--keep-generations 0`, keeping as local versions the edits the outgoing tree holds before the prune
    /// removes it (``StagedSwitchApplier/keepOutgoing``); the generation stays, for the next run to look at
    /// (``PendingLook``).
    case keepEdits = "keeping the edits of the replaced tree"
    /// Removing generations beyond `--keep-generations`.
    case prune = "removing old generations"
    /// Saving the stat cache.
    case statCache = "saving the stat cache"
    /// Removing the apply intent.
    case clearIntent = "removing the apply intent"
}

/// Thrown when a step after the switch failed: the target already holds the new tree, and unless ``step`` is
/// ``AfterSwitchStep/record`` its state records it too.
///
/// `sync` and `rollback` exit with code 8 for it; `update` treats the target as switched (rollback, and a rebuild
/// of the old tree when one ran). `outcome` is what the run did up to the failure.
public struct FailedAfterSwitch<Outcome: Sendable>: Error, Sendable, CustomStringConvertible {
    /// What the run did (the switch included).
    public var outcome: Outcome
    /// The step that failed.
    public var step: AfterSwitchStep
    /// The failure. From the runner and `Rollback`, its message says that the switch happened and what to do.
    public var error: SmartSyncError

    public init(outcome: Outcome, step: AfterSwitchStep, error: SmartSyncError) {
        self.outcome = outcome
        self.step = step
        self.error = error
    }

    /// The same failure with another outcome (a caller's, wrapping its callee's).
    func with<Other: Sendable>(outcome other: Other, error: SmartSyncError? = nil) -> FailedAfterSwitch<Other> {
        FailedAfterSwitch<Other>(outcome: other, step: step, error: error ?? self.error)
    }

    public var description: String { error.description }

    /// What failed, without the account of the switch that ``error``'s message adds.
    public var reason: String { (error.cause as? SmartSyncError)?.text ?? error.text }

    /// `error` as a ``SmartSyncError`` (a test's stand-in failure becomes an `.internal` one).
    static func smartSyncError(_ error: any Error) -> SmartSyncError {
        if let error = error as? SmartSyncError { return error }
        if let failed = error as? FailedAfterSwitch<ApplyReport> { return failed.error }
        return SmartSyncError(.internal, String(describing: error))
    }

    /// The operator's message for a failure at `step` after `target` was switched to `to` (`from` before), the
    /// replaced tree filed as `generation`.
    static func message(
        target: String, to: String, from: String, step: AfterSwitchStep, cause: SmartSyncError, generation: Int?
    ) -> String {
        var text = "'\(target)' was switched to \(to) (from \(from)), but \(step.rawValue) failed afterwards: "
        text += cause.text + ". "
        switch step {
        case .record:
            text += "The state still names \(from); once that is fixed, the next run of smart-sync on this target "
            text += "finishes the switch and records \(to)"
        case .fileOutgoing:
            text += "The target and its state are at \(to); once that is fixed, the next run of smart-sync on this "
            text += "target keeps the previous tree as a generation"
        case .keepEdits:
            let n = generation.map(String.init) ?? "N"
            text += "The target and its state are at \(to); the replaced tree stays as generation \(n), with the edits "
            let tree = generation.map { SwitchLayout(target: target).generation($0) } ?? "generations/N"
            text += "made in it since the scan (in '\(tree)/tree'); the next run "
            text += "keeps them as local versions before anything removes it"
        case .prune:
            text += "The target and its state are at \(to); once that is fixed, the next switch removes them"
        case .statCache, .clearIntent:
            text += "The target and its state are at \(to); the next run re-checks the files"
        }
        return text
    }
}
