import SmartSyncCore
import SmartSyncFetch
import SmartSyncGitObjects

/// The new state of a target, saved once it holds the new tree: by the staged switch right after its exchange
/// (before it files the outgoing tree and prunes), or by the runner after an in-place apply.
///
/// The intent saved before the apply (``StateStore/saveIntent(_:)``) holds that very state (the same commit, ref,
/// manifest and kept versions), stamped when the apply began: it is renamed over the state file
/// (``StateStore/recordIntent(target:)``), which records the state and drops the intent in one step, where encoding
/// the manifest again, writing it and syncing it cost an update of 12 files in 20,000 a few milliseconds. Where the
/// intent is gone, the state is saved: made (``applied``) and stamped now, or, when the intent was just rewritten
/// (not ``renamable``), the state already made for that rewrite.
struct SwitchRecord: Sendable {
    let state: StateStore
    /// The target (normalized) whose intent and state these are.
    let target: String
    /// Makes the state to record (the intent's): made only when the intent cannot be renamed, so that its manifest,
    /// one entry per file, is not held while the stage is made.
    let applied: @Sendable () throws -> TargetState
    /// Whether the intent may be renamed into the state as it is: not when it holds pending deletes
    /// (``TargetState/pendingDeletes``), which a state must not claim; the intent is then made again without them,
    /// saved, and renamed.
    let renamable: Bool
    private let done = Locked(false)

    init(
        state: StateStore, target: String, renamable: Bool = true,
        applied: @escaping @Sendable () throws -> TargetState
    ) {
        self.state = state
        self.target = target
        self.renamable = renamable
        self.applied = applied
    }

    /// True once ``save()`` succeeded.
    var isDone: Bool { done.withLock { $0 } }

    /// Records the state: the intent renamed, or, where it is gone, the state saved: made and stamped now, or the one
    /// already made when the intent was rewritten (not made twice). An intent that is not
    /// renamable is first rewritten durably without its pending deletes (the deletes are done) and then renamed, so the
    /// record is still one step: a kill between a separate state save and the intent's removal would leave an intent
    /// whose pending deletes claim paths already deleted (a file the operator then puts there read as ours).
    func save() throws {
        func stamped() throws -> TargetState {
            var now = try applied()
            now.appliedAtNs = SyncRunner.nowNs()
            now.pendingDeletes = Manifest()
            return now
        }
        // Made at most once (a whole manifest): the intent rewritten is the state saved should the rename fail.
        let made = renamable ? nil : try stamped()
        if let made { _ = try state.saveIntent(made) }
        if try !state.recordIntent(target: target) { try state.save(made ?? stamped()) }
        done.withLock { $0 = true }
    }
}

extension SyncRunner {
    /// The bookkeeping once the target holds the new tree: the state (unless the switch recorded it already), the
    /// stat cache, the intent. A failure of any of them, or `failed` (a step inside the switch), is thrown as a
    /// ``FailedAfterSwitch`` whose message says that the switch happened and what to do.
    ///
    /// After a failure to record the state the intent stays: the next run records the tree from it
    /// (``StateStore/recoverSwitch(target:store:looks:warn:)``, or a plan against it after an in-place apply).
    func finishSwitch(
        _ outcome: Outcome, failed: FailedAfterSwitch<ApplyReport>?, record: SwitchRecord, cache: inout StatCache,
        target: String
    ) throws {
        var failure = failed.map { (step: $0.step, error: $0.error) }
        func attempt(_ step: AfterSwitchStep, _ body: () throws -> Void) {
            do {
                try body()
            } catch {
                failure = failure ?? (step, FailedAfterSwitch<Outcome>.smartSyncError(error))
            }
        }
        if failure?.step != .record && !record.isDone { attempt(.record, record.save) }
        if failure?.step != .record {
            attempt(.statCache) { try state.saveStatCache(&cache, target: target) }
            attempt(.clearIntent) { try state.clearIntent(target: target) }
        }
        let commit = outcome.resolved.commit
        events(.applied(target: target, commit: commit))
        guard let failure else { return }
        let message = FailedAfterSwitch<Outcome>.message(
            target: target, to: commit.hex, from: outcome.previousCommit?.hex ?? "no recorded commit",
            step: failure.step, cause: failure.error, generation: outcome.applied?.generation)
        throw FailedAfterSwitch(
            outcome: outcome, step: failure.step,
            error: SmartSyncError(failure.error.code, message, cause: failure.error))
    }
}
