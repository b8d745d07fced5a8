import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// The mark of a generation whose tree still needs its look (``WindowLook``): `generations/<seq>/look`, a
/// ``JSONRecord`` (format `smart-sync-pending-look`, version 1).
///
/// A switch whose prune removes the outgoing tree (`--keep-generations 0`) writes it with that generation, before the
/// exchange (unsynced: the stage's sync makes it durable with the journal), and removes it once the look kept what the
/// operator changed there during the validation. A run whose keep failed (a full store: ``AfterSwitchStep/keepEdits``),
/// or that was killed between the exchange and the look, leaves it: the next run's recovery does the look
/// (``StateStore/keepPendingLooks(target:store:warn:)``), and until one succeeds no prune removes that generation or
/// makes it a spare (``GenerationStore/prune(keep:)``). A generation without it (every one an earlier release filed)
/// is pruned as before; an earlier release ignores it (and prunes the generation unlooked, as it always did).
struct PendingLook: JSONRecord, Equatable {
    static let format = "smart-sync-pending-look"
    static let version = 1

    /// The commit whose tree replaced the outgoing one: what the kept versions are recorded as replaced by.
    var replacedBy: ObjectID
    /// When the run that marked it started (ns since the epoch), before it kept anything: a kept-version record older
    /// than that is not one of this look's (an earlier run's keep of the same edit), and does not stop the look from
    /// recording its own. Nil (a mark without it): every record counts.
    var sinceNs: Int64?

    /// Where generation `sequence`'s mark is.
    static func path(_ layout: SwitchLayout, _ sequence: Int) -> String { layout.generation(sequence) + "/look" }

    /// Removes generation `sequence`'s mark (none is fine).
    static func clear(_ layout: SwitchLayout, _ sequence: Int) throws {
        let path = path(layout, sequence)
        if unlink(path) != 0 && errno != ENOENT { throw SmartSyncError.io("unlink", path: path) }
    }
}

extension GenerationStore {
    /// Whether generation `seq` waits for its look (``PendingLook``): one `lstat`.
    func awaitsLook(_ seq: Int) -> Bool { lookMarkModifiedNs(seq) != nil }

    /// Since when generation `seq` waits for its look (ns since the epoch): the mark's ``PendingLook/sinceNs``, when
    /// the run that marked it started; the mark's mtime when it has none or cannot be read (it is there all the
    /// same: no prune removes the generation). Nil: not marked.
    func lookMarkedNs(_ seq: Int) -> Int64? {
        guard let modified = lookMarkModifiedNs(seq) else { return nil }
        let mark = try? PendingLook.read(at: PendingLook.path(layout, seq))
        return mark?.record.sinceNs ?? modified
    }

    /// The mtime of generation `seq`'s mark (ns since the epoch), by `lstat`; nil: not marked.
    private func lookMarkModifiedNs(_ seq: Int) -> Int64? {
        var st = stat()
        guard lstat(PendingLook.path(layout, seq), &st) == 0 else { return nil }
        return Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }
}

extension StateStore {
    /// Does the looks that earlier runs left to do (``PendingLook``): for each complete generation of `target` with a
    /// mark, what the operator changed in its tree while the stage that replaced it was validated is kept as local
    /// versions (a warning for each; one already recorded, by a look that failed half done, is not recorded again),
    /// and the mark removed. A look that fails (the store still full) is named in a warning and its mark stays: the
    /// generation with it, which no prune removes, and the next run looks again. Called by
    /// ``recoverSwitch(target:store:looks:warn:)``, after a switch a killed run left is finished.
    ///
    /// The paths looked at are the window look's (``WindowLook``), found again without the plan: those the recorded
    /// state (the mark's commit, as the recovery recorded it) has as the scan found them in the target, by the stat
    /// cache filed with the generation (the same blob), or, where none was filed (a kill before it), as the outgoing
    /// tree's state has them (the same entry). A path the plan wrote was looked at before the exchange (its edit
    /// kept before the stage was made; one since failed the run); a path `--keep-local` left (the current state's or
    /// the generation's `keptLocal`) is not the plan's either. When neither state can be trusted (the target's state
    /// of another commit than the mark's, the generation without one) nothing is looked at: the look fails, its mark
    /// stays, with the warning. (Rejected: the plan's unchanged paths written into the mark, a list as long as the
    /// tree for every keep-0 switch.)
    func keepPendingLooks(target: String, store: ObjectStore, warn: (String) -> Void) throws {
        let layout = SwitchLayout(target: target)
        let generations = GenerationStore(layout: layout)
        for seq in try generations.completeSequences() where generations.awaitsLook(seq) {
            do {
                try keepPendingLook(seq, layout: layout, store: store, warn: warn)
            } catch {
                let cause = FailedAfterSwitch<ApplyReport>.smartSyncError(error)
                warn(
                    "the edits made in generation \(seq)'s tree while the stage that replaced it was validated could "
                        + "not be kept as local versions: \(cause.text); generation \(seq) stays, with them, and the "
                        + "next run looks again (`smart-sync status` shows since when); to give up the look, copy what "
                        + "you need from '\(layout.generation(seq))/tree' and remove "
                        + "'\(PendingLook.path(layout, seq))' (or the generation)")
            }
        }
    }

    /// The look at generation `seq` (``keepPendingLooks(target:store:warn:)``), its mark removed once it succeeded.
    private func keepPendingLook(_ seq: Int, layout: SwitchLayout, store: ObjectStore, warn: (String) -> Void) throws {
        guard let look = try PendingLook.read(at: PendingLook.path(layout, seq))?.record else { return }
        let generation = Generation(
            sequence: seq, state: try TargetState.read(from: layout.generation(seq) + "/state"),
            tree: layout.generation(seq) + "/tree")
        let current = try load(target: layout.target)
        let outgoing = generation.state?.manifest
        guard let manifest = (current?.commit == look.replacedBy ? current?.manifest : nil) ?? outgoing else {
            throw SmartSyncError(
                .notFound,
                "no recorded state names the paths to look at: the target's state is of "
                    + "\(current?.commit.abbreviated() ?? "no commit"), not the mark's "
                    + "\(look.replacedBy.abbreviated()), and generation \(seq) has no state")
        }
        let cache = generation.statCache()
        // The paths --keep-local left (the current state's, the generation's) are not the plan's unchanged ones.
        let keptLocal = [current?.keptLocal, generation.state?.keptLocal].compactMap { $0 }.filter { !$0.isEmpty }
        let paths = manifest.entries.lazy.compactMap { (path, entry) -> (path: TreePath, entry: Manifest.Entry)? in
            guard entry.mode.isBlob, !keptLocal.contains(where: { $0[path] != nil }) else { return nil }
            let unchanged = cache.entries[path].map { $0.id == entry.id } ?? (outgoing?[path] == entry)
            return unchanged ? (path, entry) : nil
        }
        let log = KeptVersionLog(state: self, target: layout.target)
        var keeper = LocalVersionKeeper(
            store: store, log: log, replacedBy: look.replacedBy, owner: Seal.owner, timeNs: SyncRunner.nowNs())
        let since = look.sinceNs ?? .min
        keeper.recorded = Set(
            try log.load().filter { $0.replacedBy == look.replacedBy && $0.rollbackTo == nil && $0.timeNs >= since }
                .map { LocalVersionKeeper.timeless($0) })
        var kept: [KeptVersion] = []
        try WindowLook.keep(paths, in: generation.tree, cache: cache, keeper: keeper, warn: warn, kept: &kept)
        try PendingLook.clear(layout, seq)
    }
}
