import FoundationEssentials
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// Walks a target directory and identifies every file by its git blob id.
///
/// - Never follows symlinks: a symlink is recorded with the id of its target string, and a symlink to a
///   directory is not descended into.
/// - One `fstatat` per entry; regular files whose stat data matches a trusted ``StatCache`` entry are not read.
/// - The walk yields its entries in path byte order (``SortedDirectory``: each directory's entries sorted, a
///   directory's contents at `name/`), so it joins them with the (sorted) stat cache as it goes, with one forward
///   cursor: no sort, no per-path lookup, no hash table.
/// - Names in ``ignoredNames`` (at any depth) and paths matching ``excludes`` are skipped, not descended, and
///   listed in ``LocalTree/excluded``.
/// - A big tree (by its stat cache) is walked on every core (``WalkSplit``), with the same result as one thread's walk.
/// - A target that does not exist yet scans as an empty tree.
/// - A scan given a ``cancellation`` flag stops at the next directory, or the next file it hashes, once it is set.
public struct TargetScanner: Sendable {
    /// Entry names skipped at any depth (exact match). Empty by default.
    public var ignoredNames: Set<TreePath>
    /// Globs of paths skipped (see ``ExcludeSet``).
    public var excludes: ExcludeSet
    /// How the walk is shared out over threads (``Threads``); the tests force either way.
    var threads = Threads.automatic
    /// Called with a path just before the walk opens it (a directory) or reads it (a symlink): the tests remove or
    /// replace things there while the scan runs. From any of the walk's threads.
    var beforeOpening: (@Sendable (TreePath) -> Void)?
    /// Checked before each directory is listed and before the files are hashed: once set, the scan stops there and
    /// throws `CancellationError` (the run it serves has failed, or was cancelled). Nil: the scan runs to its end.
    public var cancellation: CancellationFlag?

    public init(ignoredNames: Set<TreePath> = [], excludes: ExcludeSet = ExcludeSet()) {
        self.ignoredNames = ignoredNames
        self.excludes = excludes
    }

    /// Who walks the tree.
    enum Threads: Sendable, Hashable {
        /// Split when the stat cache says the tree is big enough (``WalkSplit/automatic(files:)``), else one thread.
        case automatic
        /// The calling thread alone.
        case one
        /// Split so, whatever the tree's size.
        case split(WalkSplit)
    }

    /// The outcome of a scan.
    public struct Result: Sendable {
        public var tree: LocalTree
        /// A cache holding exactly the regular files just seen, ready to be saved.
        public var cache: StatCache
        public var statistics: ScanStatistics
        /// When the scan started (``Timestamps/nowFileClockNs()``, read before its first `stat`).
        public var startedAtNs: Int64 = 0
        /// Whether a split walk's parts were written where they lie in the table (true), or copied there because one
        /// outgrew its room (false); nil for one thread's walk. For the tests.
        var splitInPlace: Bool?
    }

    /// Scans `target`, using `cache` to skip hashing unchanged files.
    public func scan(target: String, cache: StatCache = StatCache()) throws -> Result {
        // Before the first `stat`: a file stamped at or after this may have changed again after it was hashed.
        let startNs = Timestamps.nowFileClockNs()
        var walker = ScanWalker(self, target: target, old: cache)
        let rootFD = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if rootFD < 0 {
            if errno == ENOENT {
                return Result(
                    tree: LocalTree(), cache: walker.newCache, statistics: ScanStatistics(), startedAtNs: startNs)
            }
            throw SmartSyncError.io("open", path: target, hint: "the target must be a directory smart-sync can read")
        }
        let split: WalkSplit? =
            switch threads {
            case .automatic: WalkSplit.automatic(files: cache.entries.count)
            case .one: nil
            case .split(let split): split
            }
        if let split {
            try walker.walkSplit(rootFD: rootFD, split: split)
        } else {
            walker.entries.reserveCapacity(cache.entries.count + 16)
            try walker.walk(dirFD: rootFD, prefix: .root)
        }
        try cancellation?.check()
        try walker.hashPending()
        walker.finishCache(startedAt: startNs)
        return Result(
            tree: LocalTree(entries: walker.table(), excluded: walker.excluded), cache: walker.newCache,
            statistics: walker.stats, startedAtNs: startNs, splitInPlace: walker.splitInPlace)
    }
}

/// One scan's walk, or one part of a split walk (``walkSplit(rootFD:split:)``): what it found, in path order.
struct ScanWalker {
    let scanner: TargetScanner
    let target: String
    let old: StatCache
    var newCache: StatCache
    /// What the walk found, in path byte order (the walk's own order): all of it, or (a split walk's part, or the
    /// walk joining the parts) what came after ``slot``'s.
    var entries: [LocalEntry] = []
    /// Where the walk's first entries are written in place (``Slot``): a split walk's part writes its share of the
    /// table there, and the walk joining them the table itself; nil: everything goes to ``entries``.
    var slot: Slot?
    /// Whether the split walk put its parts in place (``walkSplit(rootFD:split:)``); nil: not split.
    var splitInPlace: Bool?
    var excluded: Set<TreePath> = []
    var stats = ScanStatistics()
    /// Regular files the cache could not vouch for (indices into ``entries``, in path order), hashed after the walk.
    var pending: [Int] = []
    /// The old cache, read forward as the walk goes (both in path order).
    var cached: PathTable<StatCache.Entry>.Cursor
    /// Regular files gone since the walk saw them (found by ``hashPending()``).
    var vanished = 0
    /// Where an entry's path is put together as bytes (`prefix/name`) before it is built, if it is built at all.
    var scratch: [UInt8] = []
    /// The bytes of the last path recorded (the buffer ``scratch`` was, swapped with it), and whether every path so
    /// far came after the one before: checked on the bytes at hand as each is recorded, so ``table()`` needs no pass
    /// of its own (``PathTable/isStrictlyIncreasing(_:)`` over the finished table retained and released every path's
    /// storage, 1 % of a no-op's CPU at 20,000 files).
    var previous: [UInt8] = []
    var inOrder = true

    /// A walker for `scanner`'s scan of `target` joining `old`, whose cursor over it starts at `start` (a part of a
    /// split walk starts at its subtree's first path).
    init(_ scanner: TargetScanner, target: String, old: StatCache, cacheFrom start: Int = 0) {
        self.scanner = scanner
        self.target = target
        self.old = old
        newCache = StatCache(trustCtime: old.trustCtime)
        cached = PathTable.Cursor(old.entries, from: start)
    }

    func display(_ path: TreePath) -> String { path.isEmpty ? target : target + "/" + path.description }

    /// Whether entry `index` of `listing` is a killed run's temporary file (the exact shape the tool makes,
    /// ``RepoPath/isTemporaryName(_:)``): not the operator's, and not carried by a switch (``UntrackedCarrier``), so
    /// not scanned either, by any walk (one thread's, or the split's levels and root): the plan must not count as kept
    /// what the switch drops. A directory of that shape is the operator's (carried, so scanned); a tracked path of that
    /// shape is refused with its listing (``RepoPath/check(_:)``). The name's first byte ('.', the top of the step's
    /// ``SortedDirectory/Step/head``) rules out nearly every name at once (the full check of every name, through the
    /// prefix's string, cost a no-op of 20,000 files several milliseconds).
    static func isLeftoverTemporary(_ step: SortedDirectory.Step, of listing: SortedDirectory) -> Bool {
        step.head >> 56 == 0x2E && !listing.children[step.index].isDirectory
            && listing.withName(step.index, { RepoPath.isTemporaryName($0) })
    }

    /// Walks the directory open on `fd` (taking ownership of it), whose path is `prefix` (``TreePath/root`` for the
    /// target itself), appending what it finds to ``entries`` in path order.
    mutating func walk(dirFD fd: Int32, prefix: TreePath) throws {
        let listing = try list(fd, prefix: prefix)
        defer { close(fd) }
        for step in listing.steps {
            if Self.isLeftoverTemporary(step, of: listing) { continue }
            guard step.descends else {
                try record(step.index, of: listing, in: fd, prefix: prefix)
                continue
            }
            let name = listing.name(step.index)
            let path = prefix.appending(name)
            if let sub = try openDirectory(name, in: fd, path: path) { try walk(dirFD: sub, prefix: path) }
        }
    }

    /// Lists the directory open on `fd` (taking ownership of it: it stays open, for the walk to go on with and close,
    /// or is closed here when the listing fails), whose path is `prefix`, leaving out what ``included(_:_:)``
    /// refuses.
    mutating func list(_ fd: Int32, prefix: TreePath) throws -> SortedDirectory {
        do {
            try scanner.cancellation?.check()
            // Without exclusions (the usual scan) no entry is asked about.
            guard !scanner.ignoredNames.isEmpty || !scanner.excludes.isEmpty else {
                return try SortedDirectory(listing: fd, display: display(prefix))
            }
            return try SortedDirectory(listing: fd, display: display(prefix)) { name in included(prefix, name) }
        } catch {
            close(fd)
            throw error
        }
    }

    /// A descriptor on the subdirectory `name` (whose path is `path`) of the directory open on `fd`, by descriptor and
    /// never through a symlink (`O_NOFOLLOW`); nil when it is gone since its parent was listed.
    func openDirectory(_ name: TreePath, in fd: Int32, path: TreePath) throws -> Int32? {
        scanner.beforeOpening?(path)
        let sub = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        if sub < 0 {
            let err = errno  // read before the message is built (it allocates)
            if err == ENOENT { return nil }
            throw SmartSyncError.io("open", path: display(path), errno: err)
        }
        return sub
    }

    /// False (and the path listed in ``excluded``) for an ignored name or an excluded path: never `lstat`ed, never
    /// descended.
    private mutating func included(_ prefix: TreePath, _ name: UnsafeBufferPointer<UInt8>) -> Bool {
        if !scanner.ignoredNames.isEmpty {
            let name = TreePath(bytes: name)
            if scanner.ignoredNames.contains(name) {
                excluded.insert(prefix.appending(name))
                return false
            }
        }
        guard !scanner.excludes.isEmpty else { return true }
        scratch.setPath(prefix, name)
        guard scratch.withUnsafeBufferPointer({ scanner.excludes.matchesLast(path: $0, nameCount: name.count) }) else {
            return true
        }
        excluded.insert(TreePath(bytes: scratch))
        return false
    }

    /// Records `listing.children[index]`, of the directory open on `fd`: a regular file gets its id from the old cache
    /// when it vouches for it, else is pending (hashed after the walk); a symlink is read and hashed now.
    mutating func record(_ index: Int, of listing: SortedDirectory, in fd: Int32, prefix: TreePath) throws {
        let child = listing.children[index]
        let data = child.stat
        let (path, cachedIndex) = listing.withName(index) { joined(prefix, $0) }
        stats.entries += 1
        var kind: LocalKind
        var id: ObjectID?
        switch mode_t(data.mode) & S_IFMT {
        case S_IFREG:
            kind = (mode_t(data.mode) & S_IXUSR) != 0 ? .executable : .regular
            if let j = cachedIndex, let trusted = old.trustedID(of: old.entries.values[j], stat: data) {
                stats.cacheHits += 1
                id = trusted
            } else {
                pending.append(recordedCount)
            }
        case S_IFLNK:
            kind = .symlink
            scanner.beforeOpening?(path)
            id = try listing.withCName(index) { try hashLink(dirFD: fd, name: $0, path: path, size: Int(data.size)) }
        case S_IFDIR:
            kind = .directory
        default:
            kind = .other
        }
        put(LocalEntry(path: path, kind: kind, id: id, size: data.size, stat: data, metadata: child.metadata))
    }

    /// How many entries the walk recorded (its slot's, then ``entries``).
    var recordedCount: Int { (slot?.count ?? 0) + entries.count }

    /// Records `entry` after the last one: in the slot while it has room, else in ``entries``. Taken, not copied: no
    /// retain of its path here and release by the caller, per entry.
    mutating func put(_ entry: consuming LocalEntry) {
        if let slot, slot.count < slot.capacity {
            (slot.table + slot.start + slot.count).initialize(to: entry)
            self.slot!.count += 1
        } else {
            entries.append(entry)
        }
    }

    /// `prefix/name`, with the index of the old cache's entry for it: the cache's own path when it holds that one
    /// (found by the forward cursor, the walk being in path order; no new storage, and the scan, the cache and the
    /// manifest it was loaded against share one path), else a new one.
    private mutating func joined(_ prefix: TreePath, _ name: UnsafeBufferPointer<UInt8>) -> (TreePath, Int?) {
        scratch.setPath(prefix, name)
        if inOrder && !Self.precedes(previous, scratch) { inOrder = false }
        defer { swap(&previous, &scratch) }
        guard !old.entries.isEmpty, let j = scratch.withUnsafeBufferPointer({ cached.seekIndex(bytes: $0) }) else {
            return (TreePath(bytes: scratch), nil)
        }
        return (old.entries.keys[j], j)
    }

    /// The entries as a table (in the walk's order; a file that vanished while being hashed is dropped).
    func table() -> PathTable<LocalEntry> {
        let kept =
            vanished == 0 ? entries : entries.filter { $0.kind != .regular && $0.kind != .executable || $0.id != nil }
        // Each path read where it lies (through `pointee`): `map(\.path)`, and `kept[i].path` too, copied out every
        // whole entry through its value witness first, ~1 % of a no-op's instructions at 20,000 files.
        let keys = [TreePath](unsafeUninitializedCapacity: kept.count) { keys, initialized in
            kept.withUnsafeBufferPointer { kept in
                for i in kept.indices { (keys.baseAddress! + i).initialize(to: (kept.baseAddress! + i).pointee.path) }
            }
            initialized = kept.count
        }
        // In order by construction (``SortedDirectory``), and checked as each path was recorded (``inOrder``; a
        // subsequence of an increasing one stays increasing): a debug build (the tests) stops here if not, and
        // `init(keysInOrder:)` checks the whole table again there; a release one sorts, the safety net, never the plan.
        if inOrder { return PathTable(keysInOrder: keys, values: kept) }
        assertionFailure("the walk is not in path order")
        return PathTable(sorting: zip(keys, kept))
    }

    /// Whether the path `a` sorts strictly before the path `b` (bytes, as ``TreePath/compare(_:)``).
    static func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in SortedDirectory.precedes(x, slash: false, y, slash: false) }
        }
    }

    /// Notes `path` as the next one in the walk's order, joined from elsewhere (a part's first path, a listed
    /// directory's own entry recorded on a worker): ``inOrder`` stays true only when it comes after ``previous``.
    mutating func follow(_ path: TreePath) {
        scratch.setPath(.root, path)
        if inOrder && !Self.precedes(previous, scratch) { inOrder = false }
        swap(&previous, &scratch)
    }

    /// The new cache: the old one as it is when it vouched for every file it held and nothing was hashed (no copy, no
    /// per-path work), else every regular file with its id, in path order, but those stamped at or after the scan's
    /// start, `startNs` (``StatCache/isRacy(_:since:)``): hashed again by the next scan.
    mutating func finishCache(startedAt startNs: Int64) {
        if stats.filesHashed == 0 && stats.cacheHits == old.entries.count {
            let timestamp = newCache.timestampNs
            newCache = old
            newCache.timestampNs = timestamp
            return
        }
        var table = PathTable<StatCache.Entry>()
        table.reserveCapacity(entries.count)
        for e in entries where e.kind == .regular || e.kind == .executable {
            if let id = e.id, !newCache.isRacy(e.stat, since: startNs) {
                table.append(e.path, StatCache.Entry(stat: e.stat, id: id))
            }
        }
        newCache.entries = table
    }

    /// Hashes the regular files the stat cache could not vouch for, and gives their entries their ids: on every core
    /// when there is enough to share (a cold scan: a first sync over an existing tree, or after a rollback), each
    /// worker opening its files by descriptor from the root, in path order.
    mutating func hashPending() throws {
        guard !pending.isEmpty else { return }
        let bytes = pending.reduce(0) { $0 + Int(entries[$1].size) }
        let workers = bytes < 1 << 20 || pending.count < 32 ? 1 : ParallelWork.cores
        var hasher = ParallelHasher(root: target, files: pending.map { (entries[$0].path, Int(entries[$0].size)) })
        hasher.cancellation = scanner.cancellation
        let hashed = try hasher.hash(workers: workers)
        for (i, result) in zip(pending, hashed) {
            guard let (id, st) = result else {
                entries[i].id = nil  // gone (or no longer a regular file) since the walk looked: dropped by table()
                vanished += 1
                continue
            }
            // What was hashed is what the descriptor showed; if that is not what the walk saw (replaced since), its
            // own stat goes into the entry and the cache, so the cache never pairs one file's stat with another's id.
            let seen = StatData(st)
            entries[i].id = id
            if seen != entries[i].stat {
                entries[i].stat = seen
                entries[i].size = seen.size
                entries[i].metadata = FileMetadata(st)
                entries[i].kind = (st.st_mode & S_IXUSR) != 0 ? .executable : .regular
            }
        }
        stats.filesHashed += pending.count
        stats.bytesHashed += Int64(bytes)
        pending = []
    }

    private func hashLink(dirFD: Int32, name: UnsafePointer<CChar>, path: TreePath, size: Int) throws -> ObjectID {
        var capacity = max(size, 255) + 1
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let n = buffer.withUnsafeMutableBufferPointer { b in
                b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: capacity) { buffer in
                    readlinkat(dirFD, name, buffer, capacity)
                }
            }
            if n < 0 {
                let err = errno  // read before the message is built (it allocates)
                throw SmartSyncError.io("readlink", path: display(path), errno: err)
            }
            if n < capacity { return ObjectID.blob(buffer[0..<n]) }
            capacity *= 2
        }
    }
}
