import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

extension GenerationStore {
    /// Leaves a ``spare`` made of hard links to the files of a tree just built from the store and switched in (the
    /// first switch of a target: a cold sync), so that the next switch recycles it (``StageRecycler``) instead of
    /// building its stage from the store again. Returns the number of files linked; 0 when a spare is already there.
    ///
    /// Only the regular files and executables `plan` writes or leaves unchanged are linked, one `linkat` each between
    /// two directory cursors walking in the plan's path order, by descriptor, never through a symlink (no `stat`, no
    /// check: files placed from sealed objects moments ago); symlinks and anything else are left for the recycler to
    /// place. The spare shares its inodes with the target: the recycler keeps a file of it only on its usual terms (the
    /// inode this run's scan vouched for at that path, unchanged since, or the store's intact object), so a file of the
    /// target edited in place since is never trusted.
    ///
    /// Built under a `.removing-` name and renamed to `spare` when whole: a kill leaves a directory the next
    /// ``prune(keep:)`` removes, never a half-made spare. Call it before the runner records the stat cache of the
    /// new tree: each link changes the inode's ctime, and the cache must hold the ctime after it.
    func leaveSpare(linking tree: String, plan: Plan) throws -> Int {
        guard !TreeOps.isDirectory(spare) else { return 0 }
        try FileSystem.makePrivateDirectory(layout.generations, followingSymlink: false)
        let making = layout.generations + "/" + Self.removing + "spare-making-"
            + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        guard let from = try DirectoryCursor(existing: tree) else { return 0 }
        defer { from.finish() }
        do {
            let into = try DirectoryCursor(target: making + "/tree", syncChanges: false)
            defer { into.finish() }
            let linked = try Self.link(plan, from: from, into: into)
            guard rename(making, spare) == 0 else {
                let err = errno  // read before the message is built (it allocates)
                throw SmartSyncError.io("rename", path: spare, errno: err)
            }
            return linked
        } catch {
            try? TreeOps.removeTree(making)
            throw error
        }
    }

    /// Links each regular file and executable of `plan`'s new tree from `from` into `into`, making directories as
    /// needed; returns how many.
    private static func link(_ plan: Plan, from: DirectoryCursor, into: DirectoryCursor) throws -> Int {
        var linked = 0
        for c in plan.changes where StagedSwitchApplier.writesTreeFile(c.kind) {
            guard c.mode == .regular || c.mode == .executable,
                let (source, name) = try from.enterParent(of: c.path, create: false),
                let (destination, _) = try into.enterParent(of: c.path, create: true)
            else { continue }
            if name.withCString({ linkat(source, $0, destination, $0, 0) }) == 0 {
                linked += 1
            } else if errno != ENOENT && errno != EEXIST {
                let err = errno
                throw SmartSyncError.io("link", path: into.display(name), errno: err)
            }
        }
        return linked
    }
}
