import ObjectStore
import SmartSyncCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Hardlinks what is not smart-sync's from one tree into another before they are exchanged, so a switch
/// never takes an operator's files away: untracked files, kept local edits, excluded paths (whole
/// subtrees), and directories the new tree does not have (empty ones included).
///
/// Both trees share the inodes afterwards; nothing is copied, and the kept generation still has them too.
struct UntrackedCarrier {
    /// Decides for each non-directory path of the source tree whether it is carried.
    let shouldCarry: (String) -> Bool
    /// Paths (files or directories) carried whole, without looking inside (excluded subtrees).
    let carryWhole: (String) -> Bool
    /// Whether a carried file replaces a non-directory already at its path in the destination (rollback: the
    /// operator's current version wins over the one the generation kept).
    var replaceExisting = false

    /// Links the carried entries of `source` into `destination`. Returns how many entries were carried.
    @discardableResult
    func carry(from source: String, into destination: String) throws -> Int {
        try walk(source, destination, relative: "")
    }

    private func walk(_ source: String, _ destination: String, relative: String) throws -> Int {
        var carried = 0
        for name in try FileSystem.names(in: source + (relative.isEmpty ? "" : "/" + relative)) {
            if name.hasPrefix(Materializer.temporaryPrefix) { continue }  // a killed run's leftover
            let path = relative.isEmpty ? name : relative + "/" + name
            let from = source + "/" + path
            let to = destination + "/" + path
            var st = stat()
            guard lstat(from, &st) == 0 else { continue }
            let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
            if carryWhole(path) {
                carried += try copyTree(from, to, mode: st.st_mode)
            } else if isDirectory {
                var dst = stat()
                if lstat(to, &dst) == 0 {
                    // The new tree has this directory (or a file here: then the planner made sure nothing of
                    // ours is inside).
                    if (dst.st_mode & S_IFMT) == S_IFDIR { carried += try walk(source, destination, relative: path) }
                    continue
                }
                // Not in the new tree: keep it if it is empty (an operator's), or for what is carried inside;
                // a directory holding only files the new tree deletes goes away, as an in-place apply would.
                guard mkdir(to, st.st_mode & 0o7777) == 0 else { throw SmartSyncError.io("mkdir", path: to) }
                chmod(to, st.st_mode & 0o7777)
                let inside = try walk(source, destination, relative: path)
                if try inside == 0 && !FileSystem.names(in: from).isEmpty {
                    rmdir(to)
                } else {
                    carried += inside + 1
                }
            } else if shouldCarry(path) {
                var dst = stat()
                if lstat(to, &dst) == 0 {
                    guard replaceExisting, (dst.st_mode & S_IFMT) != S_IFDIR else { continue }  // the new tree's path
                    if dst.st_ino == st.st_ino && dst.st_dev == st.st_dev { continue }  // already the same file
                    guard unlink(to) == 0 else { throw SmartSyncError.io("unlink", path: to) }
                }
                guard linkat(AT_FDCWD, from, AT_FDCWD, to, 0) == 0 else { throw SmartSyncError.io("link", path: to) }
                carried += 1
            }
        }
        return carried
    }

    /// Recreates a subtree with hardlinks (directories made, everything else linked).
    private func copyTree(_ from: String, _ to: String, mode: mode_t) throws -> Int {
        guard (mode & S_IFMT) == S_IFDIR else {
            var dst = stat()
            if lstat(to, &dst) == 0 { return 0 }
            guard linkat(AT_FDCWD, from, AT_FDCWD, to, 0) == 0 else { throw SmartSyncError.io("link", path: to) }
            return 1
        }
        if !TreeOps.isDirectory(to) {
            guard mkdir(to, mode & 0o7777) == 0 else { throw SmartSyncError.io("mkdir", path: to) }
            chmod(to, mode & 0o7777)
        }
        var count = 1
        for name in try FileSystem.names(in: from) {
            var st = stat()
            guard lstat(from + "/" + name, &st) == 0 else { continue }
            count += try copyTree(from + "/" + name, to + "/" + name, mode: st.st_mode)
        }
        return count
    }
}
