import Glibc
import SmartSyncCore
import SmartSyncGitObjects

/// Carries what is not smart-sync's from one tree into another before they are exchanged, so a switch never takes an
/// operator's files, or their directories' metadata, away:
///
/// - untracked files, kept local edits and excluded paths (whole subtrees) are hard-linked across (the inodes are
///   shared; nothing is copied, and the kept generation still has them too);
/// - a directory the new tree does not have is recreated around what is carried inside it (an empty one is the
///   operator's and is kept);
/// - every directory both trees have, the root included, gets the source directory's owner, group, mode, ACLs and
///   extended attributes (``DirectoryMetadata``), as does every directory recreated.
///
/// Both trees are walked by directory descriptor with `O_NOFOLLOW` (a symlink planted in place of a directory is
/// carried as the symlink it is, never followed), and names are bytes.
struct UntrackedCarrier {
    /// Decides for each non-directory path of the source tree whether it is carried.
    let shouldCarry: (TreePath) -> Bool
    /// Paths (files or directories) carried whole, without looking inside (excluded subtrees).
    let carryWhole: (TreePath) -> Bool
    /// Paths that hold a file of the destination's own tree: skipped without a look (no `stat`), when the directory
    /// entry says it is not a directory.
    var isTreeFile: (TreePath) -> Bool = { _ in false }
    /// Whether a carried file replaces a non-directory already at its path in the destination (rollback: the
    /// operator's current version wins over the one the generation kept).
    var replaceExisting = false

    /// Carries from the tree at `source` into the one at `destination`. Returns how many entries were carried.
    @discardableResult
    func carry(from source: String, into destination: String) throws -> Int {
        let src = try Self.openRoot(source)
        defer { close(src) }
        let dst = try Self.openRoot(destination)
        defer { close(dst) }
        try DirectoryMetadata.copy(from: src, to: dst, display: destination)
        return try walk(src, dst, relative: .root, display: destination)
    }

    private func walk(_ src: Int32, _ dst: Int32, relative: TreePath, display: String) throws -> Int {
        var carried = 0
        for (name, type) in try directoryEntries(src, display: display) {
            if name.withBytes({ $0.starts(with: Materializer.temporaryPrefix.utf8) }) { continue }  // a killed run's
            let path = relative.appending(name)
            if type != DT_DIR && type != DT_UNKNOWN && isTreeFile(path) { continue }
            let shown = display + "/" + name.description
            var st = stat()
            guard name.withCString({ fstatat(src, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
            let isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
            var there = stat()
            let exists = name.withCString { fstatat(dst, $0, &there, AT_SYMLINK_NOFOLLOW) } == 0
            if carryWhole(path) {
                carried += try copyTree(src, dst, name, st, exists: exists, display: shown)
            } else if isDirectory {
                if exists {
                    // The new tree has this directory: it keeps the operator's metadata, and what is carried inside.
                    // (A file here instead: the planner made sure nothing of ours is inside.)
                    guard (there.st_mode & S_IFMT) == S_IFDIR else { continue }
                    carried += try Self.withDirectory(name, from: src, to: dst, create: false, display: shown) {
                        try walk($0, $1, relative: path, display: shown)
                    }
                    continue
                }
                // Not in the new tree: keep it if it is empty (an operator's), or for what is carried inside; a
                // directory holding only files the new tree deletes goes away, as an in-place apply would.
                let (inside, hadEntries) = try Self.withDirectory(name, from: src, to: dst, create: true, display: shown) {
                    (try walk($0, $1, relative: path, display: shown), try !directoryNames($0, display: shown).isEmpty)
                }
                if inside == 0 && hadEntries {
                    _ = name.withCString { unlinkat(dst, $0, AT_REMOVEDIR) }
                } else {
                    carried += inside + 1
                }
            } else if shouldCarry(path) {
                if exists {
                    guard replaceExisting, (there.st_mode & S_IFMT) != S_IFDIR else { continue }  // the new tree's
                    if there.st_ino == st.st_ino && there.st_dev == st.st_dev { continue }  // already the same file
                    guard name.withCString({ unlinkat(dst, $0, 0) }) == 0 else {
                        throw SmartSyncError.io("unlink", path: shown)
                    }
                }
                try Self.link(src, dst, name, display: shown)
                carried += 1
            }
        }
        return carried
    }

    /// Recreates a subtree with hard links (directories made with their metadata, everything else linked).
    private func copyTree(_ src: Int32, _ dst: Int32, _ name: TreePath, _ st: stat, exists: Bool, display: String)
        throws -> Int
    {
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            if exists { return 0 }
            try Self.link(src, dst, name, display: display)
            return 1
        }
        var there = stat()
        let isDirectory =
            name.withCString { fstatat(dst, $0, &there, AT_SYMLINK_NOFOLLOW) } == 0 && (there.st_mode & S_IFMT) == S_IFDIR
        return try Self.withDirectory(name, from: src, to: dst, create: !isDirectory, display: display) { from, to in
            var count = 1
            for child in try directoryNames(from, display: display) {
                var cst = stat()
                guard child.withCString({ fstatat(from, $0, &cst, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
                var cthere = stat()
                let childExists = child.withCString { fstatat(to, $0, &cthere, AT_SYMLINK_NOFOLLOW) } == 0
                count += try copyTree(
                    from, to, child, cst, exists: childExists, display: display + "/" + child.description)
            }
            return count
        }
    }

    // MARK: - Descriptor helpers

    private static func openRoot(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        return fd
    }

    /// Runs `body` with the directory `name` open in both trees (never through a symlink), after making it in the
    /// destination when `create` is set, and giving it the source's metadata.
    private static func withDirectory<R>(
        _ name: TreePath, from src: Int32, to dst: Int32, create: Bool, display: String,
        _ body: (_ from: Int32, _ to: Int32) throws -> R
    ) throws -> R {
        if create, name.withCString({ mkdirat(dst, $0, 0o700) }) != 0 { throw SmartSyncError.io("mkdir", path: display) }
        let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
        let from = name.withCString { openat(src, $0, flags) }
        guard from >= 0 else { throw SmartSyncError.io("open", path: display) }
        defer { close(from) }
        let to = name.withCString { openat(dst, $0, flags) }
        guard to >= 0 else { throw SmartSyncError.io("open", path: display) }
        defer { close(to) }
        try DirectoryMetadata.copy(from: from, to: to, display: display)
        return try body(from, to)
    }

    /// A hard link of `name` (a symlink itself, never its target) from one tree into the other.
    private static func link(_ src: Int32, _ dst: Int32, _ name: TreePath, display: String) throws {
        guard name.withCString({ linkat(src, $0, dst, $0, 0) }) == 0 else {
            throw SmartSyncError.io("link", path: display)
        }
    }
}
