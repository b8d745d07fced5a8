import FoundationEssentials
import Logging
import SmartSyncCore
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// What a run is asked to do, and what it did.
extension SyncRunner {
    /// What to sync and how.
    public struct Request: Sendable {
        public var ref: String?
        public var target: String
        public var excludes: [String]
        /// Plan and report, change nothing (no blob is fetched either).
        public var dryRun: Bool
        /// Leave local versions of tree paths in place (`--keep-local`): see ``Planner/keepLocal``.
        public var keepLocal: Bool

        public init(
            ref: String?, target: String, excludes: [String] = [], dryRun: Bool = false, keepLocal: Bool = false
        ) {
            self.ref = ref
            self.target = target
            self.excludes = excludes
            self.dryRun = dryRun
            self.keepLocal = keepLocal
        }
    }

    /// The outcome of ``sync(_:)`` or ``plan(_:)``.
    public struct Outcome: Sendable {
        public var resolved: ResolvedRef
        public var previousCommit: ObjectID?
        /// The plan; where the target already had the commit and nothing was applied, it counts the unchanged paths
        /// without listing them (``Plan/listsUnchanged``).
        public var plan: Plan
        public var summary: PlanSummary
        public var fetch: FetchReport
        /// Local versions saved into the store before they were replaced.
        public var keptLocalVersions: Int { kept.count }
        /// Those versions, as recorded in the target's ``KeptVersionLog`` (restorable with `smart-sync restore`).
        public var kept: [KeptVersion]
        /// What the apply did, when there was one.
        public var applied: ApplyReport?
        /// True when the target was changed: it holds the new tree (even when a step after the switch failed).
        public var switched = false
        /// What the commit checks found (ancestry, signer).
        public var commitChecks: CommitCheckReport?
    }
}
