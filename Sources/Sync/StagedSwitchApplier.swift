import GitObjects
import ObjectStore
import SmartSyncCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Applies a plan by building the whole new tree beside the target and swapping the two directories with
/// `renameat2(RENAME_EXCHANGE)`: any reader sees the old tree or the new one, never a mix.
///
/// 1. Recover: finish or undo a switch a killed run left (``TreeSwitch/recover()``).
/// 2. Stage `P/.N.smart-sync/stage`: every tree file from the store (``InPlaceApplier`` into an empty
///    directory: hardlinks, executable twins, one inode per path), then the operator's files carried over with
///    hardlinks (``UntrackedCarrier``): untracked files, kept local edits, excluded paths, extra directories.
/// 3. Exchange stage and target, journaled (``SwitchJournal``); the outgoing tree becomes a generation with
///    its commit and manifest, for `rollback`. The oldest generations beyond ``keepGenerations`` are removed.
///
/// Where the file system refuses the exchange (or the target is a symlink), the plan is applied in place.
public struct StagedSwitchApplier: ApplyStrategy {
    /// The target's state before this apply (recorded with the outgoing generation).
    public var previous: TargetState?
    /// Generations kept for rollback.
    public var keepGenerations: Int
    /// How files get from the store into the stage (and into the target when applying in place).
    public var linkMode: LinkMode = .auto
    /// Called with the complete stage directory after it is built and before the journal and the exchange. A throw
    /// removes the stage and is rethrown: the target is left untouched (`smart-sync update` validates the new tree
    /// here).
    public var validateStage: (@Sendable (_ stage: String) throws -> Void)?
    /// Called at named points of the switch; throwing there stands in for a crash (tests).
    var checkpoint: @Sendable (String) throws -> Void = { _ in }

    public init(previous: TargetState?, keepGenerations: Int = 3) {
        self.previous = previous
        self.keepGenerations = keepGenerations
    }

    /// How the last apply went in (for reports).
    public enum Method: String, Sendable {
        case exchanged, created, inPlace = "in-place"
    }

    /// Finishes or undoes an interrupted switch of `target`. Call under the target lock before scanning it.
    public func recover(target: String) throws {
        try TreeSwitch(layout: SwitchLayout(target: target)).recover()
    }

    public func apply(_ plan: Plan, listing: TreeListing, store: ObjectStore, target: String) throws -> ApplyReport {
        try applyReporting(plan, listing: listing, store: store, target: target).report
    }

    /// ``apply(_:listing:store:target:)``, also saying how the tree went in.
    public func applyReporting(_ plan: Plan, listing: TreeListing, store: ObjectStore, target: String) throws
        -> (report: ApplyReport, method: Method)
    {
        let layout = SwitchLayout(target: target)
        let switcher = TreeSwitch(layout: layout)
        try switcher.recover()
        var st = stat()
        let exists = lstat(target, &st) == 0
        if exists && (st.st_mode & S_IFMT) != S_IFDIR {
            // A symlinked (or non-directory) target: swapping it would replace the link, not the tree.
            return (try inPlace.apply(plan, listing: listing, store: store, target: target), .inPlace)
        }

        // 2. Stage the complete new tree.
        // Private: generations hold the operator's old files, secrets included.
        try FileSystem.makePrivateDirectory(layout.sidecar)
        // Private until the carrier gives it the target's metadata (a new target: the documented default).
        guard mkdir(layout.stage, 0o700) == 0 else {
            throw SmartSyncError.io("mkdir", path: layout.stage, hint: "Check that \(layout.sidecar) is writable")
        }
        if !exists { chmod(layout.stage, DirectoryMetadata.newDirectoryMode) }
        var kinds: [TreePath: Change.Kind] = [:]
        for c in plan.changes { kinds[c.path] = c.kind }
        // Unchanged paths are staged from the store too; one it lacks (a new or cleaned store) is taken from the
        // target, verified by its id on the way in.
        let current = try TreeReader(root: target)
        for c in plan.changes where c.kind == .unchanged {
            guard let id = c.id, let mode = c.mode, try !store.holds(id, size: nil, repair: true) else { continue }
            try current.insert(c.path, mode: mode, into: store, expecting: id)
        }
        let staged = plan.changes.compactMap { c -> Change? in
            guard let mode = c.mode, let id = c.id, mode.isBlob else { return nil }
            switch c.kind {
            case .add, .modify, .mode, .symlink, .typeChange, .unchanged:
                return Change(kind: .add, path: c.path, mode: mode, id: id)
            default:
                return nil
            }
        }
        // Nothing in the stage is visible until the exchange: one sync of its file system below stands for an fsync
        // per file and directory.
        var stager = inPlace
        stager.syncEachChange = false
        var report = try stager.apply(
            Plan(commit: plan.commit, changes: staged, blobsNeeded: []), listing: listing, store: store,
            target: layout.stage)
        report.counts = plan.counts
        report.conflicts = plan.conflicts
        if exists {
            let carrier = UntrackedCarrier(
                shouldCarry: { [.untracked, .conflict, .excluded].contains(kinds[$0]) },
                carryWhole: { kinds[$0] == .excluded })
            try carrier.carry(from: target, into: layout.stage)
        }
        try FileSystem.syncFileSystem(containing: layout.stage)
        try checkpoint("staged")
        if let validateStage {
            do {
                try validateStage(layout.stage)
            } catch {
                try? TreeOps.removeTree(layout.stage)
                throw error
            }
        }

        // 3. Put it in place.
        guard exists else {
            try FileSystem.makeDirectories(parent(of: target))
            guard rename(layout.stage, target) == 0 else { throw SmartSyncError.io("rename", path: target) }
            FileSystem.syncDirectory(parent(of: target))
            return (report, .created)
        }
        let generations = GenerationStore(layout: layout)
        do {
            try switcher.exchange(
                incoming: layout.stage, sequence: try generations.nextSequence(), outgoingState: previous,
                consumed: nil,
                checkpoint: checkpoint)
        } catch is TreeSwitch.ExchangeUnsupported {
            try TreeOps.removeTree(layout.stage)
            return (try inPlace.apply(plan, listing: listing, store: store, target: target), .inPlace)
        }
        try generations.prune(keep: keepGenerations)
        return (report, .exchanged)
    }

    /// The in-place applier this switch stages with (and falls back to).
    private var inPlace: InPlaceApplier { InPlaceApplier(linkMode: linkMode) }

    private func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
