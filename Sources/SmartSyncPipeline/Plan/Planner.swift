import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Diffs a desired tree against what is on disk and what the previous sync put there.
///
/// Rules:
/// - Paths of the new tree are ours: they are added, modified, relinked (exec bit) or retargeted.
/// - A path missing from the new tree is deleted only when the previous manifest lists it and the file on
///   disk still equals what was put there; an edited one is kept (``Change/Kind/conflict``); one never ours is
///   left alone (``Change/Kind/untracked``).
/// - A directory standing where the tree wants a file is replaced only when everything in it is ours and is
///   being deleted; a file, symlink or FIFO standing where the tree needs a directory is replaced only when it
///   is ours and unchanged. Otherwise the tree path is ``Change/Kind/blocked``.
/// - Excluded paths (globs, or paths the scan skipped) are never touched; gitlinks are reported and skipped.
/// - With ``keepLocal``, a tree path whose local file or symlink differs from the tree and is not what the
///   previous sync put there is left in place as a ``Change/Kind/conflict``.
/// - A file with the tree's content but other permissions or another owner than smart-sync installs files with
///   (``FileMetadata/isInstalled(as:owner:)``: a `chmod` or `chown` since the sync) is a ``Change/Kind/mode``: it is
///   installed anew, and its metadata kept as a local version first. Such a file is never deleted either.
public struct Planner: Sendable {
    public var excludes: ExcludeSet
    /// The owner of the files smart-sync installs (the effective user).
    public var installedOwner: UInt32 = Seal.owner
    /// Leave local versions in place (`--keep-local`): a file or symlink at a tree path that differs from the
    /// tree and from what the previous manifest put there (an operator's edit, or a file never ours) becomes a
    /// ``Change/Kind/conflict``: nothing is fetched or written for it, and the manifest does not claim it.
    public var keepLocal: Bool

    public init(excludes: ExcludeSet = ExcludeSet(), keepLocal: Bool = false) {
        self.excludes = excludes
        self.keepLocal = keepLocal
    }

    /// Plans the sync of `local` to `listing` (verified by the caller), given the `previous` manifest.
    ///
    /// One merge join of three path-sorted inputs (the listing's files, the scan, the previous manifest): the changes
    /// come out in path order, with no per-path lookup or hash table.
    ///
    /// With `listUnchanged` false the ``Change/Kind/unchanged`` paths are counted (``Plan/count(_:)``) but not listed
    /// (``Plan/listsUnchanged``): every other change is the same, in the same order, and so are the blobs needed. A
    /// run whose target already has the commit asks so: a no-op's plan lists nothing, where it made a ``Change`` per
    /// path (measured at 20,000 files: the plan of another commit, listing them, took 650 page faults, 2.6 MB of
    /// fresh pages; the plan at the target's commit, counting them, 125: BENCHMARKS, "noop7"); an apply needs the full
    /// list.
    public func plan(listing: TreeListing, previous: Manifest, local: LocalTree, listUnchanged: Bool = true) -> Plan {
        // The listing's files and gitlinks in path order, as their indices in the listing: the entries themselves
        // are not copied (at 100,000 files a table of them was 5 MB more at the planner's peak).
        // Listings come sorted (a tree's walk, a manifest): the keys are taken as they are, sorted only when not.
        let entries = listing.entries
        var paths: [TreePath] = []
        var indices: [Int] = []
        paths.reserveCapacity(entries.count)
        indices.reserveCapacity(entries.count)
        for i in entries.indices where entries[i].mode.isBlob || entries[i].mode == .gitlink {
            paths.append(entries[i].path)
            indices.append(i)
        }
        // (A run at the target's commit plans the manifest where it lies, below: a listing is checked here.)
        let desired = PathTable(sortedKeys: paths, values: indices) ?? PathTable(sorting: zip(paths, indices))
        return plan(
            ListedEntries(entries: entries, table: desired), commit: listing.commit, previous: previous, local: local,
            listUnchanged: listUnchanged)
    }

    /// The plan of a run's listing: a ``TreeListing`` as above, the target's manifest (a run at its commit) read where
    /// it lies, its table the plan's own (its order proven when it was read), no ``TreeEntry`` made per path. The same
    /// plan as of ``CommitListing/treeListing``.
    public func plan(listing: CommitListing, previous: Manifest, local: LocalTree, listUnchanged: Bool = true) -> Plan
    {
        switch listing.entries {
        case .listed(let listed):
            return plan(listing: listed, previous: previous, local: local, listUnchanged: listUnchanged)
        case .manifest(let manifest):
            return plan(
                ManifestEntries(table: manifest.entries), commit: listing.commit, previous: previous, local: local,
                listUnchanged: listUnchanged)
        }
    }

    /// The plan of `wanted` (the commit's files, symlinks and gitlinks in path order): the merge join both public
    /// forms share.
    private func plan<Wanted: WantedEntries>(
        _ wanted: Wanted, commit: ObjectID, previous: Manifest, local: LocalTree, listUnchanged: Bool
    ) -> Plan {
        let desired = wanted.table
        var gitlinks: Set<TreePath> = []
        for i in desired.indices where wanted.mode(desired.values[i]) == .gitlink { gitlinks.insert(desired.keys[i]) }

        var changes: [Change] = []
        changes.reserveCapacity(listUnchanged ? desired.count + 16 : 16)
        var unlisted = 0  // unchanged paths counted, not listed (`listUnchanged` false)
        var deletable: Set<TreePath> = []
        var before = PathTable.Cursor(previous.entries)

        // What stands in the way of a directory, memoized per directory: most paths share their parents. An ancestor
        // sorts before its descendants, so whether it is deletable is known by the time it is asked.
        var blockers: [TreePath: TreePath?] = [:]
        func blocker(inside dir: TreePath) -> TreePath? {
            if dir.isEmpty { return nil }
            if let known = blockers[dir] { return known }
            var found = blocker(inside: dir.parent)
            if found == nil, let e = local.entries[dir], e.kind != .directory, !deletable.contains(dir) { found = dir }
            blockers[dir] = .some(found)
            return found
        }

        // A directory is ours when every file below it (contiguous in path order) would be deleted.
        func directoryIsOurs(_ dir: TreePath) -> Bool {
            var below = PathTable.Cursor(previous.entries)
            for j in local.entries.descendants(of: dir) where local.entries.values[j].kind != .directory {
                let e = local.entries.values[j]
                guard desired[e.path] == nil, !excludes.matches(e.path), let prev = below.seek(e.path),
                    e.kind.fileMode == prev.mode && e.id == prev.id
                        && e.metadata.isInstalled(as: prev.mode, owner: installedOwner)
                else { return false }
            }
            return !local.excluded.contains { dir.isAncestor(of: $0) }
        }

        // A change the plan lists, or (an unchanged path, `listUnchanged` false) counts.
        func keep(_ c: Change) {
            if listUnchanged || c.kind != .unchanged { changes.append(c) } else { unlisted += 1 }
        }

        // No exclusion anywhere: a path found as the tree wants it is answered by ``unchanged`` alone.
        let nothingExcluded = excludes.isEmpty && local.excluded.isEmpty
        for step in MergeJoin(desired.keys, local.entries.keys) {
            switch step {
            case .right(let j):
                // A local thing the new tree does not have.
                let e = local.entries.values[j]
                guard e.kind != .directory else { continue }
                let path = e.path
                if !gitlinks.isEmpty && hasAncestor(path, in: gitlinks) { continue }  // inside a submodule checkout
                let here = Change(kind: .untracked, path: path, localKind: e.kind, localID: e.id)
                if excludes.matches(path) {
                    changes.append(with(here, .excluded))
                } else if let prev = before.seek(path) {
                    if e.kind.fileMode == prev.mode && e.id == prev.id
                        && e.metadata.isInstalled(as: prev.mode, owner: installedOwner)
                    {
                        deletable.insert(path)
                        changes.append(with(here, .delete))
                    } else {
                        var c = with(here, .conflict)
                        c.note = "'\(path)' was changed locally since the last sync and is no longer in the tree; kept"
                        changes.append(c)
                    }
                } else {
                    changes.append(here)
                }
            case .left(let i):
                let c = change(
                    wanted.entry(desired.values[i], at: desired.keys[i]), nil, previous: before.seek(desired.keys[i]),
                    local: local,
                    blocker: blocker(inside:), directoryIsOurs: directoryIsOurs)
                keep(c)
            case .both(let i, let j):
                if nothingExcluded, isUnchanged(wanted, i, local.entries.values, j) {
                    // (the cursor on the previous manifest skips its path on its next look)
                    if listUnchanged {
                        changes.append(unchanged(wanted, i, local.entries.values, j))
                    } else {
                        unlisted += 1
                    }
                    continue
                }
                let c = change(
                    wanted.entry(desired.values[i], at: desired.keys[i]), local.entries.values[j],
                    previous: before.seek(desired.keys[i]), local: local, blocker: blocker(inside:),
                    directoryIsOurs: directoryIsOurs)
                keep(c)
            }
        }

        // Directories the scan did not enter because they are excluded: left alone, reported (in path order).
        let skipped = local.excluded.filter { desired[$0] == nil }
        if !skipped.isEmpty {
            changes += skipped.map { Change(kind: .excluded, path: $0) }
            let order = changes.indices.sorted { changes[$0].path < changes[$1].path }
            changes = order.map { changes[$0] }
        }

        // Blobs to provide: each id once, with a tree path and, when possible, a local file holding it.
        var needed: [ObjectID: NeededBlob] = [:]
        // By index, the kind read in place: a `for c in changes` copied every change out (its path and note retained
        // and released), 20,000 times on a no-op of a 20,000-file tree.
        for k in changes.indices where changes[k].writes {
            let c = changes[k]
            guard let id = c.id, needed[id] == nil else { continue }
            needed[id] = NeededBlob(id: id, path: c.path, size: desired[c.path].flatMap(wanted.size))
        }
        if !needed.isEmpty {
            for e in local.entries.values where e.kind == .regular || e.kind == .executable {
                if let id = e.id, needed[id] != nil, needed[id]!.localPath == nil,
                    needed[id]!.size.map({ Int64($0) == e.size }) ?? true
                {
                    needed[id]!.localPath = e.path
                }
            }
        }
        // Symlink blobs cannot be fed from a local file (the file would be followed); leave those to the source.
        for (id, blob) in needed where blob.localPath != nil && desired[blob.path].map(wanted.mode) == .symlink {
            needed[id]!.localPath = nil
        }
        let blobs = needed.values.sorted { $0.id < $1.id }
        return Plan(commit: commit, changes: changes, blobsNeeded: blobs, unlistedUnchanged: unlisted)
    }

    /// Whether the scan's `locals[j]` is what the wanted entry `i` (of `wanted.table`) at its path wants (same kind,
    /// content, and the metadata smart-sync installs): ``Change/Kind/unchanged``, as ``change`` would decide when
    /// nothing is excluded; false otherwise (``change`` decides). Both entries are read where they lie: ``change``
    /// takes a copy of each (their paths retained and released), for every path of a no-op.
    private func isUnchanged<Wanted: WantedEntries>(_ wanted: Wanted, _ i: Int, _ locals: [LocalEntry], _ j: Int)
        -> Bool
    {
        let slot = wanted.table.values[i]
        let mode = wanted.mode(slot)
        guard mode != .gitlink, let localMode = locals[j].kind.fileMode, localMode == mode,
            locals[j].id == wanted.id(slot)
        else { return false }
        return locals[j].metadata.isInstalled(as: mode, owner: installedOwner)
    }

    /// The ``Change/Kind/unchanged`` change at the path of the wanted entry `i`, found there as `locals[j]`
    /// (``isUnchanged(_:_:_:_:)``).
    private func unchanged<Wanted: WantedEntries>(_ wanted: Wanted, _ i: Int, _ locals: [LocalEntry], _ j: Int)
        -> Change
    {
        let slot = wanted.table.values[i]
        return Change(
            kind: .unchanged, path: wanted.table.keys[i], mode: wanted.mode(slot), id: wanted.id(slot),
            localKind: locals[j].kind, localID: locals[j].id, localMetadata: locals[j].metadata)
    }

    /// The change at a path of the new tree (`entry`), with what is on disk there (`l`) and what the previous sync put
    /// there (`prev`).
    private func change(
        _ entry: TreeEntry, _ l: LocalEntry?, previous prev: Manifest.Entry?, local: LocalTree,
        blocker: (TreePath) -> TreePath?, directoryIsOurs: (TreePath) -> Bool
    ) -> Change {
        let path = entry.path
        var c = Change(
            kind: .unchanged, path: path, mode: entry.mode, id: entry.id, localKind: l?.kind, localID: l?.id,
            localMetadata: l?.metadata)
        if excludes.matches(path) || (!local.excluded.isEmpty && isOrHasAncestor(path, in: local.excluded)) {
            c.kind = .excluded
        } else if entry.mode == .gitlink {
            c.kind = .submodule
        } else if l == nil, let obstacle = blocker(path.parent) {
            // (Something at the path itself means the scan reached it through real directories: nothing in the way.)
            c.kind = .blocked
            let what = local.entries[obstacle].map { describe($0.kind) } ?? "something"
            c.note = "'\(obstacle)' is \(what) that is not ours (or was changed) where the tree needs a directory"
        } else if let l {
            switch (l.kind, entry.mode) {
            case (.directory, _):
                if directoryIsOurs(path) {
                    c.kind = .typeChange
                } else {
                    c.kind = .blocked
                    c.note = "'\(path)' is a directory holding files that are not ours (or were changed)"
                }
            case (.other, _):
                c.kind = .blocked
                c.note = "'\(path)' is a special file (FIFO, socket or device); smart-sync will not replace it"
            case (.symlink, .symlink):
                c.kind = l.id == entry.id ? .unchanged : .symlink
            case (.symlink, _), (.regular, .symlink), (.executable, .symlink):
                c.kind = .typeChange
            default:
                if l.id != entry.id {
                    c.kind = .modify
                } else if l.kind.fileMode != entry.mode
                    || !l.metadata.isInstalled(as: entry.mode, owner: installedOwner)
                {
                    c.kind = .mode
                }
            }
        } else {
            c.kind = entry.mode == .symlink ? .symlink : .add
        }
        if c.writes, let l, let localMode = l.kind.fileMode, let prev, prev.mode == entry.mode && prev.id == entry.id {
            // The tree did not change this path since the last sync: the operator did.
            c.note = "'\(path)' was changed locally since the last sync "
                + "(\(Self.edit(l, localMode, prev, installedOwner)))"
        }
        if keepLocal, c.writes, let l, let localMode = l.kind.fileMode,
            prev.map({
                $0.mode != localMode || $0.id != l.id || !l.metadata.isInstalled(as: localMode, owner: installedOwner)
            }) ?? true
        {
            c.kind = .conflict
            c.note =
                "'\(path)' differs from the tree and from what the last sync put there; "
                    + "kept local version (--keep-local)"
        }
        return c
    }

    /// The manifest to record once `plan` has been applied: every path written or found unchanged, plus the
    /// previous entries of excluded paths (so that un-excluding them later still knows they were ours). `plan` must
    /// list its unchanged paths (``Plan/listsUnchanged``): a manifest without them would disown them, so such a plan
    /// is refused with an `internal` error, as the appliers refuse it.
    public func manifest(after plan: Plan, previous: Manifest) throws -> Manifest {
        guard plan.listsUnchanged else {
            throw SmartSyncError(.internal, "the manifest after a plan that does not list its unchanged paths")
        }
        var out = Manifest()
        out.entries.reserveCapacity(plan.changes.count)
        for c in plan.changes {  // in path order: each entry is appended
            switch c.kind {
            case .add, .modify, .mode, .symlink, .typeChange, .unchanged:
                if let mode = c.mode, let id = c.id { out.entries.append(c.path, Manifest.Entry(mode: mode, id: id)) }
            default:
                break
            }
        }
        let outside = carriedOver(from: previous)
        if !outside.isEmpty { out.entries = out.entries.merging(outside.entries) { $1 } }
        return out
    }

    /// What ``manifest(after:previous:)`` takes from `previous`: the entries of excluded paths (none without
    /// exclusions). `manifest(after: plan, previous: carriedOver(from: previous))` is the same manifest, so a caller
    /// can make it again later holding only these.
    public func carriedOver(from previous: Manifest) -> Manifest {
        guard !excludes.isEmpty else { return Manifest() }
        return Manifest(entries: previous.entries.filterTable { path, _ in excludes.matches(path) })
    }

    /// The tree entries `plan` leaves out because ``keepLocal`` kept a local version there (recorded with the
    /// state, so that the commit's listing can be rebuilt from state without the manifest claiming them).
    public func keptLocal(in plan: Plan) -> Manifest {
        var out = Manifest()
        for c in plan.changes where c.kind == .conflict {
            if let mode = c.mode, let id = c.id, mode.isBlob { out[c.path] = Manifest.Entry(mode: mode, id: id) }
        }
        return out
    }

    /// What changed in a local edit of a synced path: content, kind, permissions or owner.
    private static func edit(_ l: LocalEntry, _ localMode: FileMode, _ prev: Manifest.Entry, _ owner: UInt32) -> String
    {
        if localMode != prev.mode { return localMode == .symlink || prev.mode == .symlink ? "kind" : "execute bit" }
        if l.id != prev.id { return "content" }
        if l.metadata.owner != owner && localMode != .symlink { return "owner" }
        return "permissions " + String(l.metadata.permissions, radix: 8)
    }

    /// Paths of the new tree that the operator changed since the last sync (content, kind, permissions or owner).
    public func localEdits(in plan: Plan, previous: Manifest) -> [TreePath] {
        guard plan.hasWork else { return [] }  // (a no-op: no pass over its changes)
        return plan.changes.compactMap { c in
            guard c.writes, let mode = c.mode, let id = c.id, previous[c.path] == Manifest.Entry(mode: mode, id: id),
                c.localKind != nil
            else { return nil }
            return c.path
        }
    }

    private func with(_ c: Change, _ kind: Change.Kind) -> Change {
        var c = c
        c.kind = kind
        return c
    }

    private func describe(_ kind: LocalKind) -> String {
        switch kind {
        case .regular, .executable: return "a file"
        case .symlink: return "a symlink"
        case .directory: return "a directory"
        case .other: return "a special file"
        }
    }
}
