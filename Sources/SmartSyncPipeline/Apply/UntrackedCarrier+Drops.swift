import Glibc
import SmartSyncCore
import SmartSyncGitObjects

extension UntrackedCarrier {
    /// What ``carryChanges(from:into:)`` drops from the destination (``dropGone``): entries the carry before put
    /// there that the source no longer has. With ``outgoingKept`` a file goes at once (the generation keeps the source
    /// as it is); without, only one whose last link that is (`st_nlink` 1: the operator deleted it). One linked
    /// elsewhere too (by another tree, or by the source at another path) may have been moved by the operator rather
    /// than deleted, perhaps into a directory the walk listed already, where its new path is carried nowhere:
    /// dropping the old one would lose it once the prune removes the outgoing tree. It is held until the walk is done
    /// and dropped only when the walk carried its inode to another path (a rename or move it saw) or it is the last
    /// link by then; otherwise it stays where it was (the move comes back as a copy: nothing lost). A dropped
    /// directory goes once nothing is left in it.
    final class Drops: Sendable {
        struct Inode: Hashable {
            let device: UInt64
            let number: UInt64
            init(_ st: stat) { (device, number) = (UInt64(st.st_dev), UInt64(st.st_ino)) }
        }

        /// Files held for after the walk, then directories to remove when empty (deepest first: each is held after
        /// what it holds).
        private let held = Locked<(files: [(TreePath, Inode)], directories: [TreePath])>(([], []))
        /// The inodes the walk linked into the destination.
        private let linked = Locked<Set<Inode>>([])

        /// Notes that the walk linked the file whose `lstat` is `st` into the destination.
        func carried(_ st: stat) { _ = linked.withLock { $0.insert(Inode(st)) } }

        /// Holds the file at `path` (its `lstat` `st`) for ``apply(in:)``.
        func hold(file path: TreePath, _ st: stat) { held.withLock { $0.files.append((path, Inode(st))) } }

        /// Holds the directory at `path` for ``apply(in:)``.
        func hold(directory path: TreePath) { held.withLock { $0.directories.append(path) } }

        /// After the walk: drops the held files that the walk carried to another path or that have no other link
        /// now, then the held directories left empty. Each is reached by directory descriptor from `destination`,
        /// never through a symlink; one not found as held (the same inode) is passed over.
        func apply(in destination: String) throws {
            let (files, directories) = held.withLock { ($0.files, $0.directories) }
            guard !files.isEmpty || !directories.isEmpty else { return }
            let linked = linked.withLock { $0 }
            let root = try UntrackedCarrier.openRoot(destination)
            defer { close(root) }
            for (path, inode) in files {
                guard let dir = Self.openParent(of: path, in: root) else { continue }
                defer { if dir != root { close(dir) } }
                var st = stat()
                let name = path.lastComponent
                guard name.withCString({ fstatat(dir, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0, Inode(st) == inode,
                    st.st_nlink == 1 || linked.contains(inode)
                else { continue }
                guard name.withCString({ unlinkat(dir, $0, 0) }) == 0 || errno == ENOENT else {
                    throw SmartSyncError.io("unlink", path: destination + "/" + path.description)
                }
            }
            for path in directories {
                guard let dir = Self.openParent(of: path, in: root) else { continue }
                defer { if dir != root { close(dir) } }
                _ = path.lastComponent.withCString { unlinkat(dir, $0, AT_REMOVEDIR) }  // not empty: it stays
            }
        }

        /// The directory holding `path`, opened from `root` component by component without following a symlink
        /// (`root` itself for a name at the top); nil when one is missing or no directory.
        private static func openParent(of path: TreePath, in root: Int32) -> Int32? {
            var dir = root
            for component in path.parent.components {
                let next = component.withCString { openat(dir, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                if dir != root { close(dir) }
                guard next >= 0 else { return nil }
                dir = next
            }
            return dir
        }
    }
}
