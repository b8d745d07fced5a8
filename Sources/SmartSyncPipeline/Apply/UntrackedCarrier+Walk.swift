import Glibc
import SmartSyncCore
import SmartSyncGitObjects

extension UntrackedCarrier {
    /// One carry's walk: the cursor over ``rules`` and which ``unsettled`` directories got the source's metadata.
    struct Walk {
        let carrier: UntrackedCarrier
        let display: String
        var rules: PathTable<Rule>.Cursor
        /// ``unsettled``, sorted.
        let unsettled: PathTable<Void>
        /// Whether each of ``unsettled`` got the source's metadata: one array for every part of a split walk, each
        /// writing the indices of its own directories.
        let settled: Marks
        /// The directories holding a path to carry (``Rule/carry``, ``Rule/carryWhole``): listed whatever ``scanned``
        /// says. Empty without ``scanned``.
        let holdingCarried: Set<TreePath>
        /// An entry's path as bytes, before (and unless) it is built.
        var scratch: [UInt8] = []
        /// Directories both trees have at this depth (the root's children are at 1) are not walked but left in
        /// ``deferred``; nil: every one is walked; 0: decided when the root is listed (1 when it has ``shares``
        /// directories, else 2).
        var deferAt: Int?
        /// How many directories a split walk wants to hand out at the least.
        var shares = 0
        /// The directories left for workers, with their rules and their parents (indices into ``parents``).
        var deferred: [(path: TreePath, rule: Rule, parent: Int)] = []
        /// The deferred directories' parents in both trees, as the calling thread held them open (duplicated: its
        /// own are closed as its walk goes on); closed once the workers are done.
        var parents: [(prefix: TreePath, src: Int32, dst: Int32)] = []

        init(carrier: UntrackedCarrier, display: String) {
            self.carrier = carrier
            self.display = display
            rules = PathTable.Cursor(carrier.rules)
            unsettled = PathTable(sorting: carrier.unsettled.lazy.map { ($0, ()) })
            settled = Marks(count: unsettled.count)
            var holding = Set<TreePath>()
            if carrier.scanned != nil {
                let values = carrier.rules.values
                for (j, path) in carrier.rules.keys.enumerated() where values[j] == .carry || values[j] == .carryWhole {
                    holding.insert(path.parent)
                }
            }
            holdingCarried = holding
        }

        func shown(_ path: TreePath) -> String { path.isEmpty ? display : display + "/" + path.description }

        /// A walk of the deferred directory `path`: its own cursor from the first rule below it (``settled`` shared).
        func part(below path: TreePath) -> Walk {
            var part = self
            part.rules = PathTable.Cursor(carrier.rules, from: carrier.rules.descendants(of: path).lowerBound)
            part.deferAt = nil
            part.deferred = []
            part.parents = []
            return part
        }

        /// Carries the deferred directory `path` (``directory(_:_:_:_:_:retyped:)``) from its parents open on `src`
        /// and `dst` (not taken over), as the calling thread would have at its turn.
        mutating func carryDeferred(_ path: TreePath, _ rule: Rule, from src: Int32, into dst: Int32) throws -> Int {
            guard let name = path.components.last else { return 0 }
            return try directory(name, rule, src, dst, path.parent)
        }

        /// Whether the directory `name` below `prefix` (open on `src` and `dst`) is left to a worker (``deferred``),
        /// and if so notes it, with the parents duplicated once (``parents``), and moves the cursor past its paths.
        /// Only below directories the destination had (`mayDefer`): a directory made here is removed again when
        /// nothing was carried into it, which needs what is carried below it first.
        private mutating func deferring(
            _ name: TreePath, _ rule: Rule, _ prefix: TreePath, _ src: Int32, _ dst: Int32, mayDefer: Bool
        ) throws -> Bool {
            guard mayDefer, let deferAt, deferAt > 0, prefix.depth + 1 == deferAt else { return false }
            if parents.last?.prefix != prefix {
                let s = fcntl(src, F_DUPFD_CLOEXEC, 0)
                guard s >= 0 else {
                    let err = errno  // read before the message is built (it allocates)
                    throw SmartSyncError.io("fcntl", path: shown(prefix), errno: err)
                }
                let d = fcntl(dst, F_DUPFD_CLOEXEC, 0)
                guard d >= 0 else {
                    let err = errno
                    close(s)
                    throw SmartSyncError.io("fcntl", path: shown(prefix), errno: err)
                }
                parents.append((prefix, s, d))
            }
            let path = prefix.appending(name)
            deferred.append((path, rule, parents.count - 1))
            rules = PathTable.Cursor(carrier.rules, from: carrier.rules.descendants(of: path).upperBound)
            return true
        }

        /// Carries what the source directory open on `srcFD` (taken over) holds into the destination directory open
        /// on `dst`; `prefix` is their path. Returns how many entries were carried, and whether the source directory
        /// had any. `unchanged`: the source directory holds what the scan saw there, nothing to carry among it
        /// (``scanned``): not listed, only its subdirectories walked into.
        mutating func walk(
            _ srcFD: Int32, _ dst: Int32, _ prefix: TreePath, unchanged: Bool = false, mayDefer: Bool = true
        ) throws -> (carried: Int, hadEntries: Bool) {
            if unchanged, let scanned = carrier.scanned {
                defer { close(srcFD) }
                let names = scanned.children[prefix] ?? []
                if deferAt == 0 { deferAt = names.count >= shares ? 1 : 2 }
                return (try walkScanned(names, srcFD, dst, prefix), true)
            }
            let dir = try SortedDirectory.open(srcFD, display: shown(prefix))
            defer { closedir(dir) }
            let src = dirfd(dir)
            // Ordered as directories by `readdir`'s type; only an entry of unknown type is looked at here.
            var entries: [(name: TreePath, isDirectory: Bool)] = []
            for (name, type) in try directoryEntries(stream: dir, display: shown(prefix)) {
                guard type == DT_UNKNOWN else {
                    entries.append((name, type == DT_DIR))
                    continue
                }
                var st = stat()
                guard name.withCString({ fstatat(src, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }  // gone
                entries.append((name, (st.st_mode & S_IFMT) == S_IFDIR))
            }
            carrier.afterReading?(prefix)
            if let drops = carrier.dropGone { try dropGone(drops, dst, prefix, present: entries.lazy.map(\.name)) }
            if deferAt == 0 { deferAt = entries.lazy.filter(\.isDirectory).count >= shares ? 1 : 2 }
            let steps = SortedDirectory.steps(
                count: entries.count, name: { entries[$0].name }, descends: { entries[$0].isDirectory })
            // The rule of each directory, found at its visit, for its descent.
            var descents: [Rule?] = Array(repeating: nil, count: entries.count)
            var carried = 0
            for step in steps {
                let (name, isDirectory) = entries[step.index]
                if step.descends {
                    if let rule = descents[step.index],
                        try !deferring(name, rule, prefix, src, dst, mayDefer: mayDefer)
                    {
                        carried += try directory(name, rule, src, dst, prefix)
                    }
                    continue
                }
                // A killed run's temporary file, told by its exact shape (a directory of that shape is the
                // operator's, as the scan counts it); another name under its prefix is carried.
                if !isDirectory && name.withBytes({ RepoPath.isTemporaryName($0) }) { continue }
                scratch.setPath(prefix, name)
                let rule = scratch.withUnsafeBufferPointer { rules.seekIndex(bytes: $0) }.map { rules.table[$0].value }
                    ?? carrier.unlisted
                if rule == .carryWhole {
                    carried += try whole(name, src, dst, prefix)
                } else if isDirectory {
                    descents[step.index] = rule
                } else if rule != .treeFile {  // the new tree's own file: not looked at
                    carried += try other(name, rule, src, dst, prefix)
                }
            }
            return (carried, !entries.isEmpty)
        }

        /// ``walk(_:_:_:unchanged:)`` of a source directory as the scan saw it, whose subdirectories are `names`:
        /// each walked into, in the order and with the rule a listing would give it (the cursor over ``rules`` goes
        /// forward as in a listed directory's walk).
        private mutating func walkScanned(_ names: [TreePath], _ src: Int32, _ dst: Int32, _ prefix: TreePath)
            throws -> Int
        {
            let steps = SortedDirectory.steps(count: names.count, name: { names[$0] }, descends: { _ in true })
            var descents: [Rule?] = Array(repeating: nil, count: names.count)
            var carried = 0
            for step in steps {
                let name = names[step.index]
                if step.descends {
                    if let rule = descents[step.index], try !deferring(name, rule, prefix, src, dst, mayDefer: true) {
                        carried += try directory(name, rule, src, dst, prefix)
                    }
                    continue
                }
                scratch.setPath(prefix, name)
                let rule = scratch.withUnsafeBufferPointer { rules.seekIndex(bytes: $0) }.map { rules.table[$0].value }
                    ?? carrier.unlisted
                if rule == .carryWhole {
                    carried += try whole(name, src, dst, prefix)
                } else {
                    descents[step.index] = rule
                }
            }
            return carried
        }

        /// The directory `name` of the source: walked, made in the destination when it has none (then kept only when
        /// it is empty or something is carried inside: a directory holding only files the new tree deletes goes
        /// away, as an in-place apply would remove it), and given the source's metadata. Where it is no directory
        /// after all (`readdir`'s type gone stale), it is carried by `rule` (`retyped`: it was already found a
        /// directory where `readdir` said it was not: one that keeps changing type is passed over).
        private mutating func directory(
            _ name: TreePath, _ rule: Rule, _ src: Int32, _ dst: Int32, _ prefix: TreePath, retyped: Bool = false
        ) throws -> Int {
            let path = prefix.appending(name)
            let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
            let from = name.withCString { openat(src, $0, flags) }
            guard from >= 0 else {
                let err = errno  // read before the message is built (it allocates)
                if err == ENOTDIR || err == ELOOP { return retyped ? 0 : try other(name, rule, src, dst, prefix) }
                if err == ENOENT { return 0 }  // gone
                throw SmartSyncError.io("open", path: shown(path), errno: err)
            }
            var to = name.withCString { openat(dst, $0, flags) }
            let exists = to >= 0
            if !exists {
                let err = errno
                // The new tree has a file here: the planner made sure nothing of ours is inside.
                guard err == ENOENT else {
                    close(from)
                    if err == ENOTDIR || err == ELOOP {
                        // The operator's file carried before (its rule: not the new tree's) is a directory now.
                        if carrier.conflictOnRetype && rule == .carry { throw UntrackedCarrier.retyped(shown(path)) }
                        return 0
                    }
                    throw SmartSyncError.io("open", path: shown(path), errno: err)
                }
                to = UntrackedCarrier.makeDirectory(name, in: dst)
                guard to >= 0 else {
                    let err = errno  // before close and the message (ENOSPC, EDQUOT keep their hint)
                    close(from)
                    throw SmartSyncError.io("mkdir", path: shown(path), errno: err)
                }
            }
            defer { close(to) }
            let status: stat
            do {
                status = try DirectoryMetadata.copy(from: from, to: to, display: shown(path))
            } catch {
                close(from)
                throw error
            }
            if exists { settle(path) }
            let unchanged =
                exists && !holdingCarried.contains(path) && carrier.scanned?.isUnchanged(path, status) == true
            let (inside, hadEntries) = try walk(from, to, path, unchanged: unchanged, mayDefer: exists)
            if exists { return inside }
            if inside == 0 && hadEntries {
                _ = name.withCString { unlinkat(dst, $0, AT_REMOVEDIR) }
                return 0
            }
            return inside + 1
        }

        /// An entry that is not a directory by `readdir`'s type, carried by `rule`, after an `lstat`. One that has
        /// become a directory since is walked as one, on a copy of the cursor: its contents sort after siblings still
        /// to come.
        private mutating func other(_ name: TreePath, _ rule: Rule, _ src: Int32, _ dst: Int32, _ prefix: TreePath)
            throws -> Int
        {
            var st = stat()
            guard name.withCString({ fstatat(src, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { return 0 }  // gone
            if (st.st_mode & S_IFMT) == S_IFDIR {
                let kept = rules
                defer { rules = kept }
                return try directory(name, rule, src, dst, prefix, retyped: true)
            }
            guard rule == .carry else { return 0 }
            return try linkReplacing(name, st, src, dst, display: shown(prefix.appending(name)))
        }

        /// Links the file `name` (whose `lstat` is `st`) across; where the destination has one, only with
        /// ``replaceExisting`` and when it is another inode and no directory (the new tree's). Returns how many
        /// were carried.
        private func linkReplacing(_ name: TreePath, _ st: stat, _ src: Int32, _ dst: Int32, display: String)
            throws -> Int
        {
            var there = stat()
            if name.withCString({ fstatat(dst, $0, &there, AT_SYMLINK_NOFOLLOW) }) == 0 {
                if (there.st_mode & S_IFMT) == S_IFDIR {
                    // The new tree's, or the operator's carried before: a file now, either way lost if passed over.
                    if carrier.conflictOnRetype { throw UntrackedCarrier.retyped(display) }
                    return 0
                }
                guard carrier.replaceExisting else { return 0 }  // the new tree's
                if there.st_ino == st.st_ino && there.st_dev == st.st_dev { return 0 }  // already the same file
                guard name.withCString({ unlinkat(dst, $0, 0) }) == 0 else {
                    let err = errno
                    throw SmartSyncError.io("unlink", path: display, errno: err)
                }
            }
            try UntrackedCarrier.link(src, dst, name, display: display)
            carrier.dropGone?.carried(st)
            return 1
        }

        /// The path `name` carried whole (an excluded file or subtree).
        private mutating func whole(_ name: TreePath, _ src: Int32, _ dst: Int32, _ prefix: TreePath) throws -> Int {
            var st = stat()
            guard name.withCString({ fstatat(src, $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { return 0 }  // gone
            var there = stat()
            let exists = name.withCString { fstatat(dst, $0, &there, AT_SYMLINK_NOFOLLOW) } == 0
            return try copyTree(src, dst, name, prefix.appending(name), st, exists: exists)
        }

        /// Recreates a subtree with hard links (directories made with their metadata, everything else linked).
        private mutating func copyTree(
            _ src: Int32, _ dst: Int32, _ name: TreePath, _ path: TreePath, _ st: stat, exists: Bool
        ) throws -> Int {
            guard (st.st_mode & S_IFMT) == S_IFDIR else {
                if exists {
                    return carrier.replaceExisting ? try linkReplacing(name, st, src, dst, display: shown(path)) : 0
                }
                try UntrackedCarrier.link(src, dst, name, display: shown(path))
                carrier.dropGone?.carried(st)
                return 1
            }
            var there = stat()
            let isDirectory =
                name.withCString { fstatat(dst, $0, &there, AT_SYMLINK_NOFOLLOW) } == 0
                && (there.st_mode & S_IFMT) == S_IFDIR
            let flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
            let from = name.withCString { openat(src, $0, flags) }
            guard from >= 0 else {
                let err = errno  // read before the message is built (it allocates)
                throw SmartSyncError.io("open", path: shown(path), errno: err)
            }
            defer { close(from) }
            let to =
                isDirectory
                ? name.withCString { openat(dst, $0, flags) } : UntrackedCarrier.makeDirectory(name, in: dst)
            guard to >= 0 else {
                let err = errno
                throw SmartSyncError.io(isDirectory ? "open" : "mkdir", path: shown(path), errno: err)
            }
            defer { close(to) }
            try DirectoryMetadata.copy(from: from, to: to, display: shown(path))
            if isDirectory { settle(path) }
            var count = 1
            let children = try directoryNames(from, display: shown(path))
            if isDirectory, let drops = carrier.dropGone { try dropGone(drops, to, path, present: children) }
            for child in children {
                var cst = stat()
                guard child.withCString({ fstatat(from, $0, &cst, AT_SYMLINK_NOFOLLOW) }) == 0 else { continue }
                var cthere = stat()
                let childExists = child.withCString { fstatat(to, $0, &cthere, AT_SYMLINK_NOFOLLOW) } == 0
                count += try copyTree(from, to, child, path.appending(child), cst, exists: childExists)
            }
            return count
        }

        /// Notes that the destination's directory `path` has the source's metadata now.
        private func settle(_ path: TreePath) {
            if !unsettled.isEmpty, let i = unsettled.index(of: path) { settled.set(i) }
        }

        /// Gives the ``unsettled`` directories the source does not have a new directory's metadata, parents first
        /// (byte order puts a directory before what is inside it), so each takes a setgid parent's group as `mkdir`
        /// would.
        func resetUnsettled(in destination: String) throws {
            guard settled.count < unsettled.count, let cursor = try DirectoryCursor(existing: destination) else {
                return
            }
            for (i, path) in unsettled.keys.enumerated() where !settled[i] {
                // not there (any more)
                guard try cursor.enter(path.components[...], create: false, blockedIsMissing: true) else { continue }
                try DirectoryMetadata.reset(cursor.currentFD, display: shown(path))
            }
        }
    }

    /// A byte per ``unsettled`` directory, set by the part of the walk that gave it the source's metadata: the parts'
    /// indices never meet (each directory is one part's), and the array is read only once they are all done.
    final class Marks: @unchecked Sendable {
        private let marks: UnsafeMutableBufferPointer<Bool>

        init(count: Int) { marks = .allocate(capacity: count); marks.initialize(repeating: false) }
        deinit { marks.deallocate() }

        func set(_ i: Int) { marks[i] = true }
        subscript(i: Int) -> Bool { marks[i] }
        /// How many are set.
        var count: Int { marks.reduce(0) { $0 + ($1 ? 1 : 0) } }
    }
}
