import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

extension GenerationStore {
    /// Leaves ``spare`` and `reserves` more spare trees (``reserve(_:)``), each made of hard links to the files of a
    /// tree just built from the store and switched in (the first switch of a target: a cold sync), so that the next
    /// switches recycle them (``StageRecycler``) instead of building their stage from the store again: one a switch
    /// until ``prune(keep:)`` has a generation beyond `--keep-generations` to make the spare (the `keep` + 1th
    /// update on), hence `keep` reserves. Returns the number of files linked into the spare and the number of
    /// reserves left; (0, 0) when a spare is already there.
    ///
    /// Only the regular files and executables `plan` writes or leaves unchanged are linked, one `linkat` a file and a
    /// tree, the trees made side by side in one walk: directory cursors walking in the plan's path order, by
    /// descriptor, never through a symlink (no `stat`, no check: files placed from sealed objects moments ago);
    /// symlinks and anything else are left for the recycler to place. The trees share their inodes with the target:
    /// the recycler keeps a file of them only on its usual terms (the inode this run's scan vouched for at that path,
    /// unchanged since, or the store's intact object), so a file of the target edited in place since is never trusted.
    ///
    /// An inode at the file system's link limit (`EMLINK`: ext4's 65,000, reached by an object many targets share)
    /// costs only the reserves: one refused a link is dropped (its links freed) and the walk goes on without it; the
    /// spare just lacks that file, which the recycler places. Any other failure leaves no tree.
    ///
    /// Each is built under a `.removing-` name and renamed into place when whole: a kill leaves directories the next
    /// ``prune(keep:)`` removes, never a half-made spare. Call it before the runner records the stat cache of the
    /// new tree: each link changes the inode's ctime, and the cache must hold the ctime after it.
    func leaveSpare(linking tree: String, plan: Plan, reserves: Int = 0) throws -> (files: Int, reserves: Int) {
        guard !TreeOps.isDirectory(spare) else { return (0, 0) }
        try FileSystem.makePrivateDirectory(layout.generations, followingSymlink: false)
        let final = [spare] + (0..<max(0, reserves)).map { reserve($0 + 1) }.filter { !TreeOps.isDirectory($0) }
        let prefix = layout.generations + "/" + Self.removing + "spare-making-"
        let making = final.map { _ in FileSystem.temporaryName(prefix) }
        guard let from = try DirectoryCursor(existing: tree) else { return (0, 0) }
        defer { from.finish() }
        var into: [DirectoryCursor] = []
        defer { for cursor in into { cursor.finish() } }
        do {
            for dir in making { into.append(try DirectoryCursor(target: dir + "/tree", syncChanges: false)) }
            var dropped: Set<Int> = []
            let linked = try Self.link(plan, from: from, into: into, dropped: &dropped)
            for (i, (dir, name)) in zip(making, final).enumerated() {
                if dropped.contains(i) {
                    try? TreeOps.removeTree(dir)
                } else if rename(dir, name) != 0 {
                    let err = errno  // read before the message is built (it allocates)
                    throw SmartSyncError.io("rename", path: name, errno: err)
                }
            }
            return (linked, final.count - 1 - dropped.count)
        } catch {
            for dir in making { try? TreeOps.removeTree(dir) }
            throw error
        }
    }

    /// Links each regular file and executable of `plan`'s new tree from `from` into each of `into` (the spare first,
    /// then the reserves) but those `dropped`, making directories as needed; returns how many files the spare got. A
    /// reserve refused a link for too many links (`EMLINK`) joins `dropped`; the spare goes without that file.
    private static func link(
        _ plan: Plan, from: DirectoryCursor, into: [DirectoryCursor], dropped: inout Set<Int>
    ) throws -> Int {
        var linked = 0
        for c in plan.changes where StagedSwitchApplier.writesTreeFile(c.kind) {
            guard c.mode == .regular || c.mode == .executable,
                let (source, name) = try from.enterParent(of: c.path, create: false, blockedIsMissing: true)
            else { continue }
            for (i, cursor) in into.enumerated() where !dropped.contains(i) {
                guard let (destination, _) = try cursor.enterParent(of: c.path, create: true) else { continue }
                if name.withCString({ linkat(source, $0, destination, $0, 0) }) == 0 {
                    if i == 0 { linked += 1 }
                    continue
                }
                let err = errno
                if err == EMLINK && i > 0 {
                    dropped.insert(i)
                } else if err != ENOENT && err != EEXIST && err != EMLINK {
                    throw SmartSyncError.io("link", path: cursor.display(name), errno: err)
                }
            }
        }
        return linked
    }
}
