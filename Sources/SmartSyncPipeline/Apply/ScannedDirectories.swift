import Glibc
import SmartSyncGitObjects

/// The target's directories as a scan saw them (their `lstat`, and the names of the directories inside each), and
/// when that scan started: what lets ``UntrackedCarrier`` pass over the listing of a directory that has not changed
/// since, taking its entries from the scan's result instead (``UntrackedCarrier/scanned``).
///
/// A directory's entries are as the scan saw them while its `lstat` is still what the scan recorded (device, inode,
/// size, mtime, ctime, mode) and that mtime and ctime are older than the tick the scan started in
/// (``StatCache/isRacy(_:since:)``): creating, removing or renaming an entry moves the directory's mtime and ctime
/// to the file clock's now, which is at or after the scan's start, so a directory stamped before it has had no entry
/// made or removed since. (The same rule as the stat cache's for files, on the same clock.)
///
/// The plan names every entry the scan saw but the contents of a submodule's checkout, which the planner passes over:
/// a directory at or below a submodule's path is never taken as unchanged, so what is there is listed and carried.
struct ScannedDirectories: Sendable {
    /// What the scan's `lstat` of each directory gave, by path.
    let stats: PathTable<StatData>
    /// The names of the directories inside each directory the scan saw (the target's root at ``TreePath/root``),
    /// in path order.
    let children: PathTable<[TreePath]>
    /// When the scan started (``Timestamps/nowFileClockNs()``, read before its first `stat`).
    let startedAtNs: Int64
    /// The submodules' paths of the plan the directories serve (their checkouts are not in it).
    let submodules: [TreePath]

    /// The directories of `tree` (a scan's), which started at `startedAtNs`, for `plan`.
    init(_ tree: LocalTree, startedAtNs: Int64, plan: Plan) {
        var stats = PathTable<StatData>()
        var children: [TreePath: [TreePath]] = [:]
        let values = tree.entries.values
        for (j, path) in tree.entries.keys.enumerated() where values[j].kind == .directory {
            stats.append(path, values[j].stat)  // in path order: appended
            children[path.parent, default: []].append(path.lastComponent)
        }
        self.stats = stats
        self.children = PathTable(sorting: children.lazy.map { ($0.key, $0.value) })
        self.startedAtNs = startedAtNs
        submodules = plan.count(.submodule) == 0 ? [] : plan.changes.filter { $0.kind == .submodule }.map(\.path)
    }

    /// Whether the directory at `path`, now `st`, holds the entries the scan saw there: its `lstat` is the scan's and
    /// was not stamped in or after the tick the scan started in.
    func isUnchanged(_ path: TreePath, _ st: stat) -> Bool {
        guard let seen = stats[path], seen == StatData(st),
            !submodules.contains(where: { $0 == path || $0.isAncestor(of: path) })
        else { return false }
        return stampedBeforeScan(seen)
    }

    /// Whether a directory whose `lstat` is `data` had its entries and metadata last changed before the tick the scan
    /// started in (``StatCache/isRacy(_:since:)`` of its mtime and ctime).
    func stampedBeforeScan(_ data: StatData) -> Bool {
        !StatCache.isRacy(data.mtimeNs, since: startedAtNs) && !StatCache.isRacy(data.ctimeNs, since: startedAtNs)
    }
}
