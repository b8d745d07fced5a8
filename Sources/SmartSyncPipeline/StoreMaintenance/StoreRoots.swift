import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// One thing that keeps store objects alive (a gc root), with a path for each blob where it can be found again.
public struct StoreRoot: Sendable {
    /// What kind of root.
    public enum Kind: String, Sendable, CaseIterable {
        /// A target's last applied state: its manifest and the `--keep-local` entries.
        case target
        /// What an interrupted apply meant to put in a target.
        case intent
        /// A kept generation's state (its tree is on disk for rollback; a sync back to it needs its blobs).
        case generation
        /// A kept local version younger than the keep-local age.
        case keptVersion = "kept-version"
        /// A commit pinned by `warm --pin`.
        case pin
    }

    public var kind: Kind
    /// The target it belongs to; nil for a pin.
    public var target: String?
    /// The commit whose blobs these are (and whose commit and tree objects are kept too when stored); nil for kept
    /// local versions, which are local content.
    public var commit: ObjectID?
    /// Its blobs, each with a path where it appears (in `commit`, or in the target for a kept version).
    public var blobs: [(path: TreePath, id: ObjectID)]
}

/// Finds every root of a store: the targets recorded in its state directories (each target's manifest, intent and
/// sidecar generations, kept local versions younger than a cutoff, and those pending in a killed rollback's switch
/// journal, ``SwitchJournal/pending``) and the store's pins. A sidecar that is not a real directory of this user, or
/// a damaged switch journal (or a newer release's), goes by the ``Policy``: gc stops with the error naming it rather
/// than sweep what it may protect; fsck warns and goes on.
///
/// Reads one state at a time: memory is one manifest plus what the caller keeps.
public struct StoreRoots: Sendable {
    /// What the walk does with a target's sidecar it refuses (``SwitchLayout/checkSidecar()``: a symlink, not a
    /// directory, another user's) or a switch journal it cannot use: in both, the roots there are unknown.
    public enum Policy: Sendable {
        /// Throws, naming it: gc, which must not sweep what the sidecar's generations or the journal's pending
        /// versions may protect (fail-safe).
        case stop
        /// Calls the closure with the target and a warning naming it (the error gc would stop with, its code kept,
        /// its text saying what is left out) and goes on without those roots: fsck, which has nothing to gain from
        /// them (a version pending in a journal is recorded by the recovery, not repaired by fsck) and exits 6 after
        /// its summary when it found nothing missing.
        case warn(@Sendable (_ target: String, _ warning: SmartSyncError) -> Void)
    }

    public let store: ObjectStore
    /// The state directories whose targets count, the primary (the one gc may clean) first.
    public let states: [StateStore]
    /// Kept local versions saved before this time (ns) are no root.
    public let keptSinceNs: Int64
    /// What an unusable sidecar or journal does.
    public let policy: Policy

    public init(store: ObjectStore, states: [StateStore], keptSinceNs: Int64, policy: Policy = .stop) {
        self.store = store
        self.states = states
        self.keptSinceNs = keptSinceNs
        self.policy = policy
    }

    /// Calls `visit` with every root. `admit` sees each target record of `states[index]` first and may drop it
    /// (return false), e.g. because gc forgets it.
    public func forEach(
        admit: (_ stateIndex: Int, _ record: TargetRecord) throws -> Bool = { _, _ in true },
        _ visit: (StoreRoot) throws -> Void
    ) throws {
        for (index, state) in states.enumerated() {
            for key in try state.targetKeys() {
                let record = try state.record(key: key)
                guard try admit(index, record) else { continue }
                try visitTarget(record, visit)
            }
        }
        for pin in try PinStore(store: store).list() {
            try visit(
                StoreRoot(
                    kind: .pin, target: nil, commit: pin.commit,
                    blobs: pin.listing.entries.filter(\.mode.isBlob).map { ($0.path, $0.id) }))
        }
    }

    private func visitTarget(_ record: TargetRecord, _ visit: (StoreRoot) throws -> Void) throws {
        for (kind, state) in [(StoreRoot.Kind.target, record.state), (.intent, record.intent)] {
            guard let state else { continue }
            try visit(Self.root(kind, state))
        }
        let young = record.kept.filter { $0.timeNs >= keptSinceNs }
        if !young.isEmpty {
            try visit(
                StoreRoot(
                    kind: .keptVersion, target: record.target, commit: nil, blobs: young.map { ($0.path, $0.id) }))
        }
        guard let target = record.target else { return }
        let layout = SwitchLayout(target: target)
        // A planted symlink would lead the reads below elsewhere: refused as the recovery refuses it.
        do { try layout.checkSidecar() } catch let error as SmartSyncError {
            try unusable(error, of: target)
            return
        }
        // Every generation with a state, complete or not (a killed switch's is finished or undone by the next run).
        // Regular files only: a symlink is not followed, a FIFO does not block.
        for name in (try? FileSystem.names(in: layout.generations)) ?? [] where Int(name) != nil {
            guard let state = try TargetState.read(from: layout.generations + "/" + name + "/state", regularOnly: true)
            else { continue }
            try visit(Self.root(.generation, state))
        }
        // A killed rollback's kept versions, recorded only in its journal until the next run recovers the switch: kept
        // whatever their age. The journal is read as the recovery reads it (``SwitchJournal/load(layout:)``): an
        // unwritten one (a power cut before its write reached the disk) is none, and is left for the recovery to
        // remove (gc holds no target lock); one that cannot be used (damaged, or no regular file: a symlink is not
        // followed, a FIFO does not block) goes by the policy, with the recovery's hint: what it protects is unknown.
        let journal: SwitchJournal?
        do {
            journal = try SwitchJournal.load(layout: layout)
        } catch let error as SmartSyncError {
            try unusable(
                SmartSyncError(
                    error.code, "\(error.message) (it may record kept versions of \(target))", hint: error.hint,
                    cause: error), of: target)
            return
        }
        if let journal, !journal.pending.isEmpty {
            try visit(
                StoreRoot(
                    kind: .keptVersion, target: target, commit: nil, blobs: journal.pending.map { ($0.path, $0.id) }))
        }
    }

    /// Throws `error` (``Policy/stop``) or warns with it (``Policy/warn(_:)``), naming `target`.
    private func unusable(_ error: SmartSyncError, of target: String) throws {
        switch policy {
        case .stop: throw error
        // The roots are kept only there (a generation's state is in the sidecar alone): an object only they need is
        // neither listed as missing nor repaired in this run (fsck still re-hashes every object in the store).
        case .warn(let warn):
            warn(
                target,
                SmartSyncError(
                    error.code, "\(error.text); its roots are not counted: an object only they need is not listed "
                        + "as missing or repaired now", cause: error))
        }
    }

    private static func root(_ kind: StoreRoot.Kind, _ state: TargetState) -> StoreRoot {
        var blobs = state.manifest.entries.map { ($0.key, $0.value.id) }
        blobs += state.keptLocal.entries.map { ($0.key, $0.value.id) }
        return StoreRoot(kind: kind, target: state.target, commit: state.commit, blobs: blobs)
    }
}

/// The mark phase of gc: the ids every root keeps.
public struct StoreMark: Sendable {
    /// Every id marked: root blobs, root commits and the trees and blobs below them that the store holds.
    public private(set) var marked = Set<ObjectID>()
    /// Roots seen, by kind.
    public private(set) var roots: [StoreRoot.Kind: Int] = [:]
    /// The distinct commits of the roots.
    public private(set) var commits = Set<ObjectID>()
    /// Commits whose commit object was in the store (their trees were walked).
    public private(set) var commitsInStore = 0

    public init() {}

    /// Marks a root's blobs and remembers its commit.
    public mutating func add(_ root: StoreRoot) {
        roots[root.kind, default: 0] += 1
        for blob in root.blobs { marked.insert(blob.id) }
        if let commit = root.commit { commits.insert(commit) }
    }

    /// Marks each root commit's commit object and, when it is stored, every tree and entry below its root tree
    /// that the store holds, so the pack transport can still say `have` for it and list it with no request.
    /// Trees already marked are not read again. Unreadable objects are skipped (fsck's business).
    public mutating func markCommits(in store: ObjectStore) {
        for commit in commits {
            guard let body = try? store.read(commit), let parsed = CommitObject.parse(body) else { continue }
            commitsInStore += 1
            marked.insert(commit)
            var trees = [parsed.tree]
            while let tree = trees.popLast() {
                guard marked.insert(tree).inserted, let body = try? store.read(tree),
                    let children = TreeObject.decode(body)
                else { continue }
                for child in children where child.mode != .gitlink {
                    if child.mode == .tree { trees.append(child.id) } else { marked.insert(child.id) }
                }
            }
        }
    }
}
