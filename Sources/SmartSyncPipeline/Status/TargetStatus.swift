import FoundationEssentials
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// What `status` shows and the metrics file renders for one target: its deployed commit, its last runs, what is
/// kept for it and what is pending in it. Read without a lock and without the network.
public struct TargetStatus: Sendable {
    /// One kept generation.
    public struct GenerationInfo: Sendable, Hashable, Codable {
        public var sequence: Int
        /// nil: the tree smart-sync found before its first switch.
        public var commit: String?
        public var ref: String?
        /// When the generation was marked for a look at its tree that is still to be done (``PendingLook``: a keep
        /// that failed, a run killed before it), ns since the epoch; nil: none pending.
        public var lookPendingSinceNs: Int64?
        /// The mark's path, when a look is pending: removing it gives the look up.
        public var lookMark: String?
    }

    /// The target directory (absolute).
    public var target: String
    /// Its key in the state directory (`targets/<key>`).
    public var key: String
    /// True when the target directory exists.
    public var exists: Bool
    /// The last applied state (commit, ref, time, manifest), if any.
    public var state: TargetState?
    /// The run counters (the last attempt, its result and error, totals).
    public var counters: TargetCounters
    /// Kept generations, the most recent first.
    public var generations: [GenerationInfo]
    /// Kept local versions recorded for the target.
    public var keptVersions: Int
    /// Paths whose content differs from what the last sync put there (``LocalEditScan``).
    public var pendingEdits: [TreePath]
    /// The store's disk usage (every file under it, each counted once), when a store was given.
    public var storeBytes: Int?

    /// The status of `target` (a path, normalized here) as `state` remembers it. `storeBytes` is the store's size
    /// (``StoreUsage/measure(_:)``), measured once by the caller for every target that shares the store.
    public static func gather(target: String, state: StateStore, storeBytes: Int?) throws -> TargetStatus {
        let target = StateStore.normalize(target)
        let applied = try state.load(target: target)
        var edits: [TreePath] = []
        if let applied {
            let cache = try state.loadStatCache(target: target)
            edits = LocalEditScan(target: target).editedPaths(state: applied, cache: cache)
        }
        let layout = SwitchLayout(target: target)
        let store = GenerationStore(layout: layout)
        let generations = try store.list().map { g in
            let since = store.lookMarkedNs(g.sequence)
            return GenerationInfo(
                sequence: g.sequence, commit: g.state?.commit.hex, ref: g.state?.ref, lookPendingSinceNs: since,
                lookMark: since.map { _ in PendingLook.path(layout, g.sequence) })
        }
        return TargetStatus(
            target: target, key: StateStore.key(for: target), exists: TreeOps.isDirectory(target), state: applied,
            counters: state.loadCounters(target: target), generations: generations,
            keptVersions: try KeptVersionLog(state: state, target: target).load().count, pendingEdits: edits,
            storeBytes: storeBytes)
    }

    /// Every target the state directory knows by path (its state, an interrupted apply's intent, or its counters),
    /// sorted by path.
    public static func knownTargets(in state: StateStore) throws -> [String] {
        var targets: Set<String> = []
        for key in try state.targetKeys() {
            let record = try state.record(key: key)
            if let target = record.target {
                targets.insert(target)
            } else if let counters = try? FileSystem.readFileIfPresent(record.directory + "/counters.json"),
                let decoded = try? JSONDecoder.records.decode(TargetCounters.self, from: Data(counters.bytes))
            {
                targets.insert(decoded.target)
            }
        }
        return targets.sorted()
    }
}
