import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Applies a plan directly in the target, file by file.
///
/// - Each new or changed path is created under a temporary name in its own directory and renamed over the
///   final name: readers see the old file or the new one, never a partial one.
/// - Regular files come from the store as ``linkMode`` says (``FilePlacer``): each object is checked against its
///   seal just before, so a damaged one is never placed. With hard links (executables link the object's `0555`
///   twin), no two target paths share an inode: a second path with the same blob and mode gets a reflink or copy.
/// - Deletes unlink, then directories left empty are removed. Untracked, excluded and conflicting paths are
///   never touched. Changed directories are fsynced at the end.
/// - Paths are walked with `openat(O_NOFOLLOW)`: a symlink standing in for a directory makes the apply fail
///   with `.unsafePath` before anything is written through it.
///
/// Not atomic as a whole: an interrupted apply leaves some paths old and some new (each one whole).
public struct InPlaceApplier: ApplyStrategy {
    /// How files get from the store into the target.
    public var linkMode: LinkMode
    /// The target is a stage (``StagedSwitchApplier``): private, seen by no one until it is exchanged, and holding
    /// nothing at the paths the plan writes. Nothing is fsynced (the caller syncs the stage's file system once before
    /// the exchange), and each file is made at its own name rather than under a temporary name renamed over it: no
    /// reader can see it half made, so the temporary name, the rename and the unlink after it would buy nothing
    /// (three system calls a file; a name that is not UTF-8 still goes the usual way). A name that is taken fails the
    /// apply (`EEXIST`) instead of being replaced.
    var intoStage = false
    /// The live target a stage is made for (``intoStage``): each directory made in the stage gets the target's
    /// directory's metadata at once, before anything is made inside it (``StageDirectories``), so a file made there
    /// inherits what it would in place. Nil: directories are left as made (in place, or a new target).
    var metadataSource: String?
    /// The executable twins a stage links (``intoStage``), published by the caller after its sync (``TwinBatch``).
    var twins: TwinBatch?

    public init(linkMode: LinkMode = .auto) {
        self.linkMode = linkMode
    }

    private struct LinkKey: Hashable {
        var id: ObjectID
        var executable: Bool
    }

    public func apply(_ plan: Plan, listing: TreeListing, store: ObjectStore, target: String) throws -> ApplyReport {
        guard plan.listsUnchanged else {
            throw SmartSyncError(.internal, "the plan to apply does not list its unchanged paths")
        }
        guard plan.commit == listing.commit else {
            throw SmartSyncError(
                .internal,
                "the plan is for commit \(plan.commit.abbreviated()) but the listing is for "
                    + "\(listing.commit.abbreviated())"
            )
        }
        let cursor = try DirectoryCursor(target: target, syncChanges: !intoStage)
        defer { cursor.finish() }
        if let source = metadataSource {
            let directories = try StageDirectories(target: source)
            cursor.created = { path, fd in
                try directories.created(
                    path, fd, display: target + "/" + path.reduce(TreePath.root) { $0.appending($1) }.description)
            }
        }
        var report = ApplyReport()
        report.conflicts = plan.conflicts
        var emptied: Set<TreePath> = []

        // 1. Deletes. The lookups here read a path below a file or a symlink as nothing there (`blockedIsMissing`):
        // a commit turning a synced file into a directory lists the new paths below it (removed, then made, in step
        // 3), and an operator's file or symlink in place of one of our directories is a path of its own, never
        // entered; a delete skipped under it was seen by the recheck. Step 3 creates, and so refuses one.
        for c in plan.changes where c.kind == .delete {
            guard let (fd, name) = try cursor.enterParent(of: c.path, create: false, blockedIsMissing: true) else {
                continue
            }
            if name.withCString({ unlinkat(fd, $0, 0) }) == 0 {
                cursor.markDirty()
                report.counts[.delete, default: 0] += 1
                emptied.insert(c.path.parent)
            } else if errno == EISDIR || errno == EPERM {
                var kept = c
                kept.kind = .conflict
                kept.note = "'\(c.path)' became a directory since the scan; kept"
                report.conflicts.append(kept)
            } else if errno != ENOENT {
                throw SmartSyncError.io("unlink", path: target + "/" + c.path.description)
            }
        }

        // 2. Directories replaced by a file or symlink: everything in them was ours and is deleted by now.
        var skipped: Set<TreePath> = []
        for c in plan.changes where c.kind == .typeChange && c.localKind == .directory {
            guard let (fd, name) = try cursor.enterParent(of: c.path, create: false, blockedIsMissing: true) else {
                continue
            }
            if let removed = try removeEmptyTree(parentFD: fd, name: name, display: target + "/" + c.path.description) {
                cursor.markDirty()
                report.directoriesRemoved += removed
            } else {
                skipped.insert(c.path)
                var blocked = c
                blocked.kind = .blocked
                blocked.note = "'\(c.path)' is a directory that still holds something not ours; it was left in place"
                report.conflicts.append(blocked)
            }
        }

        // 3. Writes. A (blob, mode) already present in the target must not be linked a second time. Only the blobs
        // written are ever looked up, so only theirs are held: a 12-file update of a large tree keeps a dozen entries,
        // not one per file of the tree (at 100,000 files that was 17 MB at the peak of an update).
        var written: Set<ObjectID> = []
        for c in plan.changes where c.writes && !skipped.contains(c.path) && c.mode != .symlink {
            if let id = c.id { written.insert(id) }
        }
        var linked: Set<LinkKey> = []
        for c in plan.changes where !c.writes && c.kind != .delete {
            if let id = c.localID, c.localKind == .regular || c.localKind == .executable, written.contains(id) {
                linked.insert(LinkKey(id: id, executable: c.localKind == .executable))
            }
        }
        var sizes: [ObjectID: Int] = [:]
        for e in listing.entries where e.mode.isBlob && written.contains(e.id) { sizes[e.id] = e.size }
        var placer = FilePlacer(store: store, mode: linkMode, syncEachFile: !intoStage, twins: twins)
        let createdBefore = cursor.createdDirectories
        for c in plan.changes where c.writes && !skipped.contains(c.path) {
            guard let mode = c.mode, let id = c.id else { continue }
            guard let (fd, name) = try cursor.enterParent(of: c.path, create: true) else { continue }
            let display = target + "/" + c.path.description
            let direct = intoStage ? name.string : nil
            let tmp = direct ?? Materializer.temporaryName()
            if mode == .symlink {
                try Materializer.symlink(try store.readVerifiedBlob(id), dirFD: fd, tmp: tmp, display: display)
            } else {
                let executable = mode == .executable
                let first = linked.insert(LinkKey(id: id, executable: executable)).inserted
                let method = try placer.place(
                    id, executable: executable, size: sizes[id], shareable: first, dirFD: fd, tmp: tmp,
                    display: display)
                let size = Int64(sizes[id] ?? store.size(of: id) ?? 0)
                switch method {
                case .hardlink:
                    report.filesLinked += 1
                    report.bytesLinked += size
                case .reflink:
                    report.filesReflinked += 1
                    report.bytesReflinked += size
                case .copy:
                    report.filesCopied += 1
                    report.bytesCopied += size
                }
            }
            if direct == nil { try Materializer.commit(dirFD: fd, tmp: tmp, name: name, display: display) }
            cursor.markDirty()
            report.counts[c.kind, default: 0] += 1
        }
        report.directoriesCreated = cursor.createdDirectories - createdBefore

        // 4. Remove directories the deletes left empty, deepest first, walking up while they empty out.
        report.directoriesRemoved += try removeEmptyDirectories(emptied, cursor: cursor)

        for c in plan.changes where !c.writes && c.kind != .delete {
            report.counts[c.kind, default: 0] += 1
        }
        cursor.finish()
        return report
    }

    private func removeEmptyDirectories(_ start: Set<TreePath>, cursor: DirectoryCursor) throws -> Int {
        var byDepth: [Int: Set<TreePath>] = [:]
        for d in start where !d.isEmpty { byDepth[d.depth, default: []].insert(d) }
        var removed = 0
        var level = byDepth.keys.max() ?? 0
        while level > 0 {
            for dir in (byDepth[level] ?? []).sorted() {
                guard let (fd, name) = try cursor.enterParent(of: dir, create: false, blockedIsMissing: true) else {
                    continue
                }
                if name.withCString({ unlinkat(fd, $0, AT_REMOVEDIR) }) == 0 {
                    cursor.markDirty()
                    removed += 1
                    let up = dir.parent
                    if !up.isEmpty { byDepth[level - 1, default: []].insert(up) }
                }
                // ENOTEMPTY, EEXIST, ENOENT, EBUSY: the directory stays, which is fine.
            }
            level -= 1
        }
        return removed
    }

    /// Removes `name` when it holds nothing but (recursively) empty directories. Returns the number of
    /// directories removed, or nil when something else is inside (nothing is removed then... except empty
    /// subdirectories already visited).
    private func removeEmptyTree(parentFD: Int32, name: TreePath, display: String) throws -> Int? {
        let fd = name.withCString { openat(parentFD, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        if fd < 0 {
            if errno == ENOENT { return 0 }
            if errno == ENOTDIR || errno == ELOOP { return nil }
            throw SmartSyncError.io("open", path: display)
        }
        guard let dir = fdopendir(fd) else {
            let err = errno  // before `close`, which may change it
            close(fd)
            throw SmartSyncError.io("fdopendir", path: display, errno: err)
        }
        defer { closedir(dir) }
        var subdirectories: [TreePath] = []
        var st = stat()
        while let ent = readdir(dir) {
            guard let child = entryName(ent) else { continue }
            guard child.withCString({ fstatat(dirfd(dir), $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { return nil }
            guard (st.st_mode & S_IFMT) == S_IFDIR else { return nil }
            subdirectories.append(child)
        }
        var removed = 0
        for child in subdirectories {
            guard
                let n = try removeEmptyTree(
                    parentFD: dirfd(dir), name: child, display: display + "/" + child.description)
            else {
                return nil
            }
            removed += n
        }
        guard name.withCString({ unlinkat(parentFD, $0, AT_REMOVEDIR) }) == 0 else {
            if errno == ENOTEMPTY || errno == EEXIST { return nil }
            throw SmartSyncError.io("rmdir", path: display)
        }
        return removed + 1
    }
}
