import Glibc
import SmartSyncCore
import SmartSyncGitObjects

extension UntrackedCarrier.Walk {
    /// ``dropGone``: removes from the destination directory open on `dst` (left open), at `prefix`, each entry that
    /// the carry before put there and the source directory, whose names are `present`, no longer has; in a
    /// directory of the new tree the source lost whole, what was carried inside it. A file with another link
    /// (unless ``outgoingKept``), and a directory, are held for after the walk (``Drops``).
    func dropGone(_ drops: UntrackedCarrier.Drops, _ dst: Int32, _ prefix: TreePath, present: some Sequence<TreePath>)
        throws
    {
        let names = Set(present)
        for name in try directoryNames(dst, display: shown(prefix)) where !names.contains(name) {
            let path = prefix.appending(name)
            var st = stat()
            guard name.withCString({ fstatat(dst, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
            let carried = UntrackedCarrier.carriedBefore(path, carrier.rules)
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                guard carried else { continue }  // a file of the new tree
                if st.st_nlink == 1 || carrier.outgoingKept {
                    try TreeOps.removeEntry(name, in: dst, display: shown(path))
                } else {
                    drops.hold(file: path, st)
                }
                continue
            }
            let sub = name.withCString { openat(dst, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard sub >= 0 else { continue }
            defer { close(sub) }
            try dropGone(drops, sub, path, present: [])
            if carried { drops.hold(directory: path) }
        }
    }
}
