import Logging
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncObjectStore

/// `smart-sync gc`: mark from every root, sweep the rest, clean leftovers, forget targets that are gone.
///
/// Runs under the store lock held exclusively (waiting for running syncs up to ``Options/lockWait``; a sync that
/// starts meanwhile waits for gc in turn). Roots: see ``StoreRoots`` and ``StoreMark``; objects younger than the
/// grace period are kept whatever the roots say.
public struct StoreGC: Sendable {
    /// Ages and switches.
    public struct Options: Sendable {
        /// Objects and leftovers whose `ctime` is younger than this are kept (seconds).
        public var grace: Int64 = 3600
        /// Kept local versions older than this are no root, and drop out of their log (seconds).
        public var keepLocalAge: Int64 = 90 * 86400
        /// Kept partial downloads not resumed for this long are removed (seconds).
        public var partialAge: Int64 = 7 * 86400
        /// Quarantined objects are removed after this long (seconds).
        public var quarantineAge: Int64 = 30 * 86400
        /// List what would go; remove nothing, forget nothing.
        public var dryRun = false
        /// How long to wait for running syncs before giving up (`.locked`).
        public var lockWait: Duration = .seconds(600)
        /// Where gc logs, at `.debug`, each phase's time (`lock`, `mark`, `sweep`, `leftovers`) and what it decided:
        /// the state directories read, the roots by kind, what was kept and freed. Default: no log.
        public var logger: Logger = .disabled

        public init() {}
    }

    /// Something gc removed (or would remove), reported as it goes.
    public enum Removal: Sendable {
        case object(SweptObject)
        case leftover(Leftover)
        /// A target's state directory, forgotten (`reason` says why).
        case target(key: String, target: String?, reason: String)
        /// Records of a target's kept-version log older than the keep-local age.
        case keptVersions(target: String, count: Int)
        /// A recorded state directory that no longer exists.
        case stateDirectory(String)
    }

    /// What a gc did.
    public struct Report: Sendable {
        public var dryRun = false
        /// Roots by kind.
        public var roots: [StoreRoot.Kind: Int] = [:]
        /// The state directories whose targets were roots.
        public var stateDirectories: [String] = []
        /// Ids marked (root blobs, commits, trees, their entries).
        public var marked = 0
        public var sweep = SweepReport()
        /// Leftovers removed, by kind: count and disk space.
        public var leftovers: [Leftover.Kind: (count: Int, bytes: Int)] = [:]
        /// Target state directories forgotten.
        public var forgottenTargets = 0
        /// Kept-version records dropped from their logs.
        public var expiredKeptVersions = 0
        /// The store's own disk usage after the run (before, for a dry run).
        public var usage = 0
        /// Disk space given back: swept objects and leftovers.
        public var freedBytes: Int { sweep.freedBytes + leftovers.values.reduce(0) { $0 + $1.bytes } }
    }

    public let store: ObjectStore
    /// The state directory gc was given: the one whose vanished targets it forgets.
    public let state: StateStore

    public init(store: ObjectStore, state: StateStore) {
        self.store = store
        self.state = state
    }

    /// Runs gc. `onWait` hears once that the lock is busy; `visit` sees every removal.
    public func run(
        _ options: Options, onWait: @Sendable (String) -> Void = { _ in },
        visit: (Removal) -> Void = { _ in }
    ) async throws -> Report {
        let logger = options.logger
        let lock = try await logger.timed("lock") {
            try await store.lock(shared: false, waitingUpTo: options.lockWait, onWait: onWait)
        }
        defer { lock.release() }
        let now = Timestamps.nowNs()
        let seconds: Int64 = 1_000_000_000
        var report = Report()
        report.dryRun = options.dryRun

        // The state directories: the one given, then every other one recorded as using this store.
        var states = [state]
        let users = StoreUsers(store: store)
        for (root, record) in users.list() where StateStore.normalize(root) != StateStore.normalize(state.root) {
            if FileSystem.exists(root + "/targets") {
                states.append(try StateStore(root: root))
            } else {
                visit(.stateDirectory(root))
                if !options.dryRun { users.unregister(record: record) }
            }
        }
        report.stateDirectories = states.map(\.root)

        logger.debug(
            "gc: roots from \(states.count) state director\(states.count == 1 ? "y" : "ies")",
            metadata: ["stateDirectories": "\(states.map(\.root))", "dryRun": "\(options.dryRun)"])
        let keptSince = now - options.keepLocalAge * seconds
        let forgetter = TargetForgetter(state: state, keptSinceNs: keptSince, dryRun: options.dryRun)
        var mark = StoreMark()
        let marking = ContinuousClock.now
        try StoreRoots(store: store, states: states, keptSinceNs: keptSince).forEach(
            admit: { index, record in
                // Only the given state directory is cleaned; the others are read for their roots.
                guard index == 0 else { return true }
                if let reason = forgetter.reasonToForget(record), forgetter.forget(record) {
                    report.forgottenTargets += 1
                    visit(.target(key: record.key, target: record.target, reason: reason))
                    return false
                }
                let expired = forgetter.expireKeptVersions(record)
                if expired > 0, let target = record.target {
                    report.expiredKeptVersions += expired
                    visit(.keptVersions(target: target, count: expired))
                }
                return true
            },
            { mark.add($0) })
        mark.markCommits(in: store)
        report.roots = mark.roots
        report.marked = mark.marked.count
        logger.debug(
            "gc: \(report.marked) ids marked from \(report.roots.values.reduce(0, +)) roots",
            metadata: [
                "roots": "\(report.roots.sorted { "\($0.key)" < "\($1.key)" }.map { "\($0.key)=\($0.value)" })",
                "forgottenTargets": "\(report.forgottenTargets)", "ms": Logger.milliseconds(marking.duration(to: .now)),
            ])

        report.sweep = try logger.timed("sweep") {
            try store.sweep(
                keeping: mark.marked, graceNs: options.grace * seconds, nowNs: now, dryRun: options.dryRun
            ) { visit(.object($0)) }
        }
        logger.debug(
            "gc: sweep \(options.dryRun ? "would free" : "freed") \(report.sweep.freedBytes) bytes",
            metadata: [
                "removed": "\(report.sweep.removed)", "keptMarked": "\(report.sweep.keptMarked)",
                "keptYoung": "\(report.sweep.keptYoung)", "keptLinked": "\(report.sweep.keptLinked)",
                "graceSeconds": "\(options.grace)",
            ])
        let cleaning = ContinuousClock.now
        StoreLeftovers(
            store: store, nowNs: now, graceNs: options.grace * seconds, partialAgeNs: options.partialAge * seconds,
            quarantineAgeNs: options.quarantineAge * seconds, dryRun: options.dryRun
        ).clean { leftover in
            report.leftovers[leftover.kind, default: (0, 0)].count += 1
            report.leftovers[leftover.kind, default: (0, 0)].bytes += leftover.bytes
            visit(.leftover(leftover))
        }
        logger.debug(
            "gc: leftovers \(report.leftovers.values.reduce(0) { $0 + $1.count })",
            metadata: [
                "bytes": "\(report.leftovers.values.reduce(0) { $0 + $1.bytes })",
                "ms": Logger.milliseconds(cleaning.duration(to: .now)),
            ])
        // What the store holds of its own now: kept objects only it links (a dry run's would-be removals too), plus
        // what is left in partials/, tmp/ and quarantine/.
        report.usage = report.sweep.keptOwnBytes + (options.dryRun ? report.sweep.freedBytes : 0)
        for dir in [store.partialsDirectory, store.temporaryDirectory, store.quarantineDirectory] {
            report.usage += FileSystem.diskUsage(of: dir)
        }
        return report
    }
}

/// The rule for forgetting a target's state, and the kept-version expiry.
///
/// A target's state directory is removed when (a) its state or intent names a target whose directory and sidecar
/// (`.NAME.smart-sync`, the generations) are both gone, and its kept log has no record younger than the keep-local
/// age; or (b) it remembers nothing (no state, intent or kept file at all: only a lock, a stat cache or an excludes
/// file). Each under the target's lock, skipped when a run holds it. Forgetting is not destructive: a later sync of
/// that path treats what it finds there as the operator's (keeping whatever differs from the tree).
struct TargetForgetter {
    let state: StateStore
    let keptSinceNs: Int64
    let dryRun: Bool

    func reasonToForget(_ record: TargetRecord) -> String? {
        guard let target = record.target else {
            // A damaged state or log is left for the operator to look at.
            return record.remembersAnything ? nil : "it records no target, no commit and no kept version"
        }
        guard !FileSystem.exists(target), !FileSystem.exists(SwitchLayout(target: target).sidecar) else { return nil }
        guard !record.kept.contains(where: { $0.timeNs >= keptSinceNs }) else { return nil }
        return "the target and its generations are gone"
    }

    /// Removes the record's directory under its lock; true when it went (or would, in a dry run).
    func forget(_ record: TargetRecord) -> Bool {
        if dryRun { return true }
        guard let lock = try? state.lock(key: record.key) else { return false }
        defer { lock.release() }
        return (try? state.removeTargetDirectory(key: record.key)) != nil
    }

    /// Drops the records older than the keep-local age from the record's log (under its lock); returns how many.
    func expireKeptVersions(_ record: TargetRecord) -> Int {
        let expired = record.kept.filter { $0.timeNs < keptSinceNs }.count
        guard expired > 0 else { return 0 }
        if dryRun { return expired }
        guard let lock = try? state.lock(key: record.key) else { return 0 }
        defer { lock.release() }
        return (try? KeptVersionLog(path: record.directory + "/kept").expire(before: keptSinceNs)) ?? 0
    }
}
