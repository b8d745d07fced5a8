import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import Synchronization

extension StageRecycler {
    /// The one walk over the recycled tree, in path byte order (``SortedDirectory/steps(count:name:descends:)``), so
    /// the new tree's files are looked up with one forward cursor and the files kept come out as a table. Each
    /// directory is ordered by `readdir`'s type (an `lstat` only for `DT_UNKNOWN`). Each file the new tree has is
    /// `lstat`ed once: when it is the inode ``Scanned`` vouches for and still as the scan saw it, it is kept on the
    /// scan's word, with no look at the store (``GenerationTrust``). A part of a split walk (``Split``) is a pass of
    /// its own over one subtree; whether two kept paths share an inode is asked once the parts are together.
    struct Pass {
        /// The new tree's files, read forward as the walk goes. A directory the new tree has is one it holds a file
        /// below: asked of the same cursor when the walk reaches the directory's contents.
        var desired: PathTable<TreeEntry>.Cursor
        /// Shared by the parts of a split walk: it reads the generation's stat cache once, on need.
        let trust: SharedTrust
        let scanned: Scanned
        let display: String
        /// Where the files kept are noted, by their index in ``desired``'s table (set before the walk).
        var slots: KeptSlots?
        var removed = 0
        /// The directories kept below the root, in the order the walk entered them.
        var directories: [TreePath] = []
        /// Directories at this depth (the root's children are at 1) are not walked but left in ``deferred``; nil:
        /// every one is walked; 0: decided when the root is listed (1 when it has ``shares`` directories to walk,
        /// else 2).
        var deferAt: Int?
        /// How many directories a split walk wants to hand out at the least.
        var shares = 0
        /// The directories left for workers, in path order, with their parents (indices into ``parents``).
        var deferred: [(path: TreePath, parent: Int)] = []
        /// The deferred directories' parents as the walk held them open (duplicated: its own are closed as it goes
        /// on), so a worker meets its directory as the calling thread would have at its turn, never by its path again;
        /// closed once the workers are done.
        var parents: [(prefix: TreePath, fd: Int32)] = []
        /// An entry's path as bytes, before (and unless) it is built.
        var scratch: [UInt8] = []

        init(desired: PathTable<TreeEntry>.Cursor, trust: SharedTrust, scanned: Scanned, display: String) {
            self.desired = desired
            self.trust = trust
            self.scanned = scanned
            self.display = display
        }

        /// Opens the deferred directory `path` in its parent open on `parent` (not taken over) with `O_NOFOLLOW` and
        /// walks it; one that is no longer a directory (`d_type` gone stale) is removed, as in ``walk(_:_:depth:)``.
        mutating func walkDeferred(_ path: TreePath, in parent: Int32) throws {
            let last = path.components.last ?? path
            let sub = last.withCString { openat(parent, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard sub >= 0 else {
                guard errno == ENOTDIR || errno == ELOOP else {
                    throw SmartSyncError.io("open", path: display + "/" + path.description)
                }
                try TreeOps.removeEntry(last, in: parent, display: display + "/" + path.description)
                removed += 1
                return
            }
            try walk(sub, path, depth: path.components.count)
        }

        /// Walks the directory open on `dirFD` (taking it over), whose path is `prefix` (``TreePath/root`` for the
        /// stage itself) at `depth` (0 for the root).
        mutating func walk(_ dirFD: Int32, _ prefix: TreePath, depth: Int) throws {
            let shown = prefix.isEmpty ? display : display + "/" + prefix.description
            let dir = try SortedDirectory.open(dirFD, display: shown)
            defer { closedir(dir) }
            let fd = dirfd(dir)
            // A directory kept, its metadata of another time: the carrier's to settle (most already have the target's).
            if !prefix.isEmpty { directories.append(prefix) }
            var children = try directoryEntriesWithInodes(stream: dir, display: shown)
            var st = stat()
            for i in children.indices where children[i].type == DT_UNKNOWN {
                guard children[i].name.withCString({ fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR { children[i].type = UInt8(DT_DIR) }
            }
            if deferAt == 0 {
                deferAt = children.lazy.filter { $0.type == DT_DIR }.count >= shares ? 1 : 2
            }
            let steps = SortedDirectory.steps(
                count: children.count, name: { children[$0].name }, descends: { children[$0].type == DT_DIR })
            for step in steps {
                let (name, type, inode) = children[step.index]
                if !step.descends {
                    // A directory is kept or removed at its contents' turn (`name/`), where the cursor can tell.
                    if type == DT_DIR { continue }
                    scratch.setPath(prefix, name)
                    // The new tree's own path when it has this one (no new storage for a kept file).
                    if let j = scratch.withUnsafeBufferPointer({ desired.seekIndex(bytes: $0) }) {
                        // The table's path and entry are read only off the common case below (a file kept on the
                        // scan's word): a copy of each costs reference counting, 100,000 times an update.
                        guard name.withCString({ fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else {
                            if errno == ENOENT { continue }  // gone
                            // `io` reads `errno` before it builds the (lazy) path.
                            throw SmartSyncError.io("fstatat", path: display + "/" + desired.table.keys[j].description)
                        }
                        if type == DT_REG, let seen = scanned.vouched(j, inode: inode), StatData(st) == seen {
                            // The inode the scan vouched for, unchanged since (device, inode, size, mtime, ctime and
                            // mode as it saw them): an in-place write, a chmod or a file of another device is not.
                            slots?.keep(j, seen, byInode: true)
                            continue
                        } else if try holds(desired.table.values[j], desired.table.keys[j], st, fd, name) {
                            // A directory listed as something else (`d_type` gone stale) is not held: removed below.
                            slots?.keep(j, StatData(st), byInode: false)
                            continue
                        }
                    }
                }
                let path = prefix.appending(name)
                if step.descends, desired.hasDescendants(of: path) {
                    if depth + 1 == deferAt {
                        // A worker's (``walkDeferred(_:in:)``): this walk goes on past its paths.
                        if parents.last?.prefix != prefix {
                            let dup = fcntl(fd, F_DUPFD_CLOEXEC, 0)
                            guard dup >= 0 else { throw SmartSyncError.io("fcntl", path: shown) }
                            parents.append((prefix, dup))
                        }
                        deferred.append((path, parents.count - 1))
                        desired = PathTable.Cursor(desired.table, from: desired.table.descendants(of: path).upperBound)
                        continue
                    }
                    let sub = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                    if sub >= 0 {
                        try walk(sub, path, depth: depth + 1)
                        continue
                    }
                    // Listed as a directory and no longer one (`d_type` gone stale): removed below.
                    guard errno == ENOTDIR || errno == ELOOP else {
                        throw SmartSyncError.io("open", path: display + "/" + path.description)
                    }
                }
                try TreeOps.removeEntry(name, in: fd, display: display + "/" + path.description)
                removed += 1
            }
        }

        /// Whether the entry `name` (with `st`) still holds `want`'s blob with its mode (``GenerationTrust``; a
        /// symlink by reading it). Whether another kept path has its inode is asked later
        /// (``StageRecycler/walk(_:_:workers:shares:)``).
        private func holds(_ want: TreeEntry, _ path: TreePath, _ st: stat, _ fd: Int32, _ name: TreePath)
            throws -> Bool
        {
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                guard want.mode == .symlink else { return false }
                var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = buffer.withUnsafeMutableBufferPointer { b in
                    b.withMemoryRebound(to: CChar.self) { c in
                        name.withCString { readlinkat(fd, $0, c.baseAddress!, c.count) }
                    }
                }
                return n >= 0 && ObjectID.blob(buffer[0..<n]) == want.id
            case S_IFREG:
                return try trust.vouches(for: path, id: want.id, mode: want.mode, size: want.size, st: st)
            default:
                return false
            }
        }
    }
}

/// The trust of a recycled tree's files (``GenerationTrust``), shared by the parts of a split walk behind a lock: it
/// reads the generation's stat cache once, on need, for all of them.
final class SharedTrust: @unchecked Sendable {
    private var trust: GenerationTrust  // only under `mutex`
    private let mutex = Mutex(())

    init(_ trust: GenerationTrust) { self.trust = trust }

    /// ``GenerationTrust/vouches(for:id:mode:size:st:)``.
    func vouches(for path: TreePath, id: ObjectID, mode: FileMode, size: Int?, st: stat) throws -> Bool {
        try mutex.withLock { _ in try trust.vouches(for: path, id: id, mode: mode, size: size, st: st) }
    }

    /// ``GenerationTrust/readCache``.
    var readCache: Bool { mutex.withLock { _ in trust.readCache } }
}
