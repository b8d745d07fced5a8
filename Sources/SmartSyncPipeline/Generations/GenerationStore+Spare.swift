import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

extension GenerationStore {
    /// Leaves ``spare`` and `reserves` more spare trees (``reserve(_:)``), each made of hard links to the files of a
    /// tree just built from the store and switched in (the first switch of a target: a cold sync), so that the next
    /// switches recycle them (``StageRecycler``) instead of building their stage from the store again: one a switch
    /// until ``prune(keep:)`` has a generation beyond `--keep-generations` to make the spare (the `keep` + 1th
    /// update on), hence `keep` reserves. Returns the number of files linked into each tree; 0 when a spare is already
    /// there.
    ///
    /// Only the regular files and executables `plan` writes or leaves unchanged are linked, one `linkat` a file and a
    /// tree, the trees made side by side in one walk: directory cursors walking in the plan's path order, by
    /// descriptor, never through a symlink (no `stat`, no check: files placed from sealed objects moments ago);
    /// symlinks and anything else are left for the recycler to place. The trees share their inodes with the target:
    /// the recycler keeps a file of them only on its usual terms (the inode this run's scan vouched for at that path,
    /// unchanged since, or the store's intact object), so a file of the target edited in place since is never trusted.
    ///
    /// Each is built under a `.removing-` name and renamed into place when whole: a kill leaves directories the next
    /// ``prune(keep:)`` removes, never a half-made spare. Call it before the runner records the stat cache of the
    /// new tree: each link changes the inode's ctime, and the cache must hold the ctime after it.
    func leaveSpare(linking tree: String, plan: Plan, reserves: Int = 0) throws -> Int {
        guard !TreeOps.isDirectory(spare) else { return 0 }
        try FileSystem.makePrivateDirectory(layout.generations, followingSymlink: false)
        let final = [spare] + (0..<max(0, reserves)).map { reserve($0 + 1) }.filter { !TreeOps.isDirectory($0) }
        let prefix = layout.generations + "/" + Self.removing + "spare-making-"
        let making = final.map { _ in FileSystem.temporaryName(prefix) }
        guard let from = try DirectoryCursor(existing: tree) else { return 0 }
        defer { from.finish() }
        var into: [DirectoryCursor] = []
        defer { for cursor in into { cursor.finish() } }
        do {
            for dir in making { into.append(try DirectoryCursor(target: dir + "/tree", syncChanges: false)) }
            let linked = try Self.link(plan, from: from, into: into)
            for (dir, name) in zip(making, final) where rename(dir, name) != 0 {
                let err = errno  // read before the message is built (it allocates)
                throw SmartSyncError.io("rename", path: name, errno: err)
            }
            return linked
        } catch {
            for dir in making { try? TreeOps.removeTree(dir) }
            throw error
        }
    }

    /// Links each regular file and executable of `plan`'s new tree from `from` into each of `into`, making
    /// directories as needed; returns how many files each got.
    private static func link(_ plan: Plan, from: DirectoryCursor, into: [DirectoryCursor]) throws -> Int {
        var linked = 0
        for c in plan.changes where StagedSwitchApplier.writesTreeFile(c.kind) {
            guard c.mode == .regular || c.mode == .executable,
                let (source, name) = try from.enterParent(of: c.path, create: false)
            else { continue }
            var all = true
            for cursor in into {
                guard let (destination, _) = try cursor.enterParent(of: c.path, create: true) else {
                    all = false
                    continue
                }
                if name.withCString({ linkat(source, $0, destination, $0, 0) }) != 0 {
                    all = false
                    guard errno == ENOENT || errno == EEXIST else {
                        let err = errno
                        throw SmartSyncError.io("link", path: cursor.display(name), errno: err)
                    }
                }
            }
            if all { linked += 1 }
        }
        return linked
    }
}
