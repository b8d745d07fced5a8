import SmartSyncCore

/// Thrown by ``StagedSwitchApplier`` when it finds a switch journal it did not write: the caller recovers before the
/// apply, under the target lock, so a journal still there is not this run's. The runner's failure path, which recovers
/// a switch the run's own journal records, leaves this one alone (the next run's recovery, under the lock, sees it)
/// and reports ``error``.
public struct PendingSwitchFound: Error, Sendable, CustomStringConvertible {
    /// The refusal, naming the journal.
    public var error: SmartSyncError

    public init(error: SmartSyncError) { self.error = error }

    public var description: String { error.description }
}
