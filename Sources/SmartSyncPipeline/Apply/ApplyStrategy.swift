import SmartSyncGitObjects
import SmartSyncObjectStore

/// Turns a ``Plan`` into files in a target. The seam between in-place updates (``InPlaceApplier``) and a
/// staged whole-tree switch (a later strategy using `renameat2(RENAME_EXCHANGE)`).
///
/// Every blob of ``Plan/blobsNeeded`` must be in `store` before `apply` is called.
public protocol ApplyStrategy: Sendable {
    /// Applies `plan` (made from `listing`) to the directory `target`, creating it when missing.
    func apply(_ plan: Plan, listing: TreeListing, store: ObjectStore, target: String) throws -> ApplyReport
}

/// What an apply did.
public struct ApplyReport: Sendable, Hashable, Codable {
    /// Changes carried out (or, for kinds that write nothing, reported) per kind.
    public var counts: [Change.Kind: Int] = [:]
    /// Files hard-linked to their store object.
    public var filesLinked = 0
    /// Files reflinked (`FICLONE`) from the store.
    public var filesReflinked = 0
    /// Files copied byte by byte.
    public var filesCopied = 0
    public var bytesLinked: Int64 = 0
    public var bytesReflinked: Int64 = 0
    public var bytesCopied: Int64 = 0
    /// Directories created / removed because they became empty or were replaced.
    public var directoriesCreated = 0
    public var directoriesRemoved = 0
    /// Conflicts and blocked paths from the plan, plus any found while applying.
    public var conflicts: [Change] = []
    /// The generation the outgoing tree was kept as (a staged switch's exchange); nil when none was made.
    public var generation: Int?
    /// True when the spare tree became the stage (``StageRecycler``); false when the stage was built from scratch.
    public var recycled = false
    /// Stat data of the files a recycled stage kept as they were: they are the target's now, so the stat cache takes
    /// them from here instead of looking again.
    public var unchangedStats: PathTable<StatData> = [:]

    public init() {}

    /// The number of changes of `kind` carried out.
    public func count(_ kind: Change.Kind) -> Int { counts[kind] ?? 0 }
}
