import Glibc
import SmartSyncCore
import SmartSyncGitObjects

extension UntrackedCarrier {
    /// Carries, just before the exchange, what the source holds that the carry before may have missed: what the
    /// operator made in the target while the stage was synced and validated (`update`'s checks: possibly minutes).
    /// Given the scan's directories (``scanned``), nothing more is done unless a directory changed since the scan
    /// started (``changedSinceScan(_:source:)``: nothing the scan saw is listed); then, and without them, the carry
    /// runs again: a path carried before is passed over (the same inode), the operator's newer version of one (another
    /// inode) replaces it, one the source no longer has (deleted or renamed since) is removed (``dropGone``; one moved
    /// where the walk had looked already stays: ``Drops``), one that changed type is a `.conflict`
    /// (``conflictOnRetype``), and the ``unsettled`` directories, settled by the carry before, are left as they are.
    /// Returns how many entries were carried (a directory carried whole counts however little is new in it); nil when
    /// nothing changed since the scan and no carry ran. A carry that ran may have changed the destination (a
    /// directory's metadata copied: an operator's `chmod`) even when it counts none: the caller syncs then.
    @discardableResult
    func carryChanges(from source: String, into destination: String) throws -> Int? {
        if let scanned, !changedSinceScan(scanned, source: source) { return nil }
        var again = self
        again.replaceExisting = true
        again.conflictOnRetype = true
        let drops = Drops()
        again.dropGone = drops
        again.unsettled = []
        let carried = try again.carry(from: source, into: destination)
        try drops.apply(in: destination)
        return carried
    }

    /// Whether the source may hold an entry the scan did not see: a directory the scan saw whose `lstat` is not the
    /// scan's any more, or was stamped in or after the tick the scan started in
    /// (``ScannedDirectories/isUnchanged(_:_:)``; the root, which the scan does not record, by its stamps alone), or is
    /// gone; or a directory inside an excluded one (carried whole, not scanned: walked here) stamped since the scan
    /// started. An entry made, removed or renamed
    /// stamps its directory with the file clock's now; a file rewritten in place is carried as the inode it is.
    ///
    /// By directory descriptor with `O_NOFOLLOW`, stopping at the first found. A directory the scan saw is not listed:
    /// one it found no directory inside costs one `fstatat`, any other an `openat` and an `fstat`. An excluded one is
    /// listed (as the carry before walked it whole). A submodule's checkout is never taken as unchanged (the scan
    /// passes over it): a plan with one carries again every time.
    func changedSinceScan(_ scanned: ScannedDirectories, source: String) -> Bool {
        let root = open(source, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard root >= 0 else { return true }
        defer { close(root) }
        var st = stat()
        guard fstat(root, &st) == 0, scanned.stampedBeforeScan(StatData(st)) else { return true }
        var excluded: [TreePath: [TreePath]] = [:]
        let values = rules.values
        for (j, path) in rules.keys.enumerated() where values[j] == .carryWhole {
            excluded[path.parent, default: []].append(path.lastComponent)
        }
        return Self.changed(below: root, .root, scanned, excluded: excluded)
    }

    /// ``changedSinceScan(_:source:)`` below the directory `prefix`, open on `fd` (left open).
    private static func changed(
        below fd: Int32, _ prefix: TreePath, _ scanned: ScannedDirectories, excluded: [TreePath: [TreePath]]
    ) -> Bool {
        for name in scanned.children[prefix] ?? [] {
            let path = prefix.appending(name)
            var st = stat()
            guard scanned.children[path]?.isEmpty == false || excluded[path] != nil else {
                guard name.withCString({ fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0,
                    scanned.isUnchanged(path, st)
                else { return true }
                continue
            }
            let sub = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard sub >= 0 else { return true }
            defer { close(sub) }
            guard fstat(sub, &st) == 0, scanned.isUnchanged(path, st),
                !changed(below: sub, path, scanned, excluded: excluded)
            else { return true }
        }
        for name in excluded[prefix] ?? [] {
            let sub = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard sub >= 0 else { continue }  // a file (replaced: its directory's stamp says so), or gone
            defer { close(sub) }
            if stampedSince(scanned, sub) { return true }
        }
        return false
    }

    /// Whether the directory open on `fd` (left open), or one inside it, was stamped since the scan started (or cannot
    /// be read).
    private static func stampedSince(_ scanned: ScannedDirectories, _ fd: Int32) -> Bool {
        var st = stat()
        guard fstat(fd, &st) == 0, scanned.stampedBeforeScan(StatData(st)),
            let entries = try? directoryEntries(fd, display: "")
        else { return true }
        for (name, type) in entries where type == DT_DIR || type == DT_UNKNOWN {
            let sub = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard sub >= 0 else { continue }  // not a directory (or gone)
            defer { close(sub) }
            if stampedSince(scanned, sub) { return true }
        }
        return false
    }

    /// The `.conflict` of ``conflictOnRetype``: `display` changed type while the stage was validated.
    static func retyped(_ display: String) -> SmartSyncError {
        SmartSyncError(
            .conflict,
            "'\(display)' changed type (a file became a directory, or a directory a file) while the new tree was "
                + "validated; the target was not changed",
            hint: "run again: the next run sees it as it is now")
    }
}
