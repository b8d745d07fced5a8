import Foundation
import Glibc
import SmartSyncCore
import SmartSyncGitObjects

/// Walks a target directory and identifies every file by its git blob id.
///
/// - Never follows symlinks: a symlink is recorded with the id of its target string, and a symlink to a
///   directory is not descended into.
/// - One `fstatat` per entry; regular files whose stat data matches a trusted ``StatCache`` entry are not read.
/// - What the walk finds is sorted by path bytes once and joined with the (sorted) stat cache in one pass: no
///   per-path lookup, no hash table.
/// - Names in ``ignoredNames`` (at any depth) and paths matching ``excludes`` are skipped, not descended, and
///   listed in ``LocalTree/excluded``.
/// - A target that does not exist yet scans as an empty tree.
public struct TargetScanner: Sendable {
    /// Entry names skipped at any depth (exact match). Empty by default.
    public var ignoredNames: Set<TreePath>
    /// Globs of paths skipped (see ``ExcludeSet``).
    public var excludes: ExcludeSet

    public init(ignoredNames: Set<TreePath> = [], excludes: ExcludeSet = ExcludeSet()) {
        self.ignoredNames = ignoredNames
        self.excludes = excludes
    }

    /// The outcome of a scan.
    public struct Result: Sendable {
        public var tree: LocalTree
        /// A cache holding exactly the regular files just seen, ready to be saved.
        public var cache: StatCache
        public var statistics: ScanStatistics
    }

    /// Scans `target`, using `cache` to skip hashing unchanged files.
    public func scan(target: String, cache: StatCache = StatCache()) throws -> Result {
        var walker = Walker(
            target: target, old: cache, ignoredNames: ignoredNames, excludes: excludes,
            newCache: StatCache(trustCtime: cache.trustCtime))
        let rootFD = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if rootFD < 0 {
            if errno == ENOENT {
                return Result(tree: LocalTree(), cache: walker.newCache, statistics: ScanStatistics())
            }
            throw SmartSyncError.io("open", path: target, hint: "the target must be a directory smart-sync can read")
        }
        walker.entries.reserveCapacity(cache.entries.count + 16)
        try walker.walk(dirFD: rootFD, prefix: .root)
        walker.sortAndJoinCache()
        try walker.hashPending()
        walker.finishCache()
        return Result(
            tree: LocalTree(entries: walker.table(), excluded: walker.excluded), cache: walker.newCache,
            statistics: walker.stats)
    }
}

private struct Walker {
    let target: String
    let old: StatCache
    let ignoredNames: Set<TreePath>
    let excludes: ExcludeSet
    var newCache: StatCache
    /// What the walk found, in walk order until ``sortAndJoinCache()`` sorts it by path.
    var entries: [LocalEntry] = []
    var excluded: Set<TreePath> = []
    var stats = ScanStatistics()
    /// Regular files the cache could not vouch for (indices into the sorted ``entries``), hashed after the walk.
    var pending: [Int] = []
    /// Where ``joined(_:_:)`` puts a path's bytes together.
    var scratch: [UInt8] = []

    init(target: String, old: StatCache, ignoredNames: Set<TreePath>, excludes: ExcludeSet, newCache: StatCache) {
        self.target = target
        self.old = old
        self.ignoredNames = ignoredNames
        self.excludes = excludes
        self.newCache = newCache
    }

    private func display(_ path: TreePath) -> String { path.isEmpty ? target : target + "/" + path.description }

    /// Walks the directory open on `dirFD` (taking ownership of it), whose path is `prefix` (``TreePath/root`` for
    /// the target itself).
    mutating func walk(dirFD: Int32, prefix: TreePath) throws {
        guard let dir = fdopendir(dirFD) else {
            let err = errno
            close(dirFD)
            throw SmartSyncError.io("fdopendir", path: display(prefix), errno: err)
        }
        defer { closedir(dir) }
        let fd = dirfd(dir)
        var subdirectories: [(name: TreePath, path: TreePath)] = []
        var st = stat()
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                if errno != 0 { throw SmartSyncError.io("readdir", path: display(prefix)) }
                break
            }
            // The name's bytes, exactly (no decoding: a name need not be UTF-8).
            guard let name = entryName(ent) else { continue }
            let path = joined(prefix, name)
            if !ignoredNames.isEmpty && ignoredNames.contains(name) || excludes.matchesLast(path: path, name: name) {
                excluded.insert(path)
                continue
            }
            if name.withCString({ fstatat(fd, $0, &st, AT_SYMLINK_NOFOLLOW) }) != 0 {
                if errno == ENOENT { continue }  // vanished while we looked
                throw SmartSyncError.io("fstatat", path: display(path))
            }
            stats.entries += 1
            let data = StatData(st)
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                // Its id comes from the stat cache or from hashing, after the walk (``sortAndJoinCache()``).
                let kind: LocalKind = (st.st_mode & S_IXUSR) != 0 ? .executable : .regular
                entries.append(
                    LocalEntry(path: path, kind: kind, id: nil, size: data.size, stat: data, metadata: FileMetadata(st)))
            case S_IFLNK:
                let id = try hashLink(dirFD: fd, name: name, path: path, size: Int(st.st_size))
                entries.append(
                    LocalEntry(path: path, kind: .symlink, id: id, size: data.size, stat: data, metadata: FileMetadata(st)))
            case S_IFDIR:
                entries.append(
                    LocalEntry(path: path, kind: .directory, id: nil, size: data.size, stat: data, metadata: FileMetadata(st)))
                subdirectories.append((name, path))
            default:
                entries.append(
                    LocalEntry(path: path, kind: .other, id: nil, size: data.size, stat: data, metadata: FileMetadata(st)))
            }
        }
        for (name, path) in subdirectories {
            let sub = name.withCString { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            if sub < 0 {
                if errno == ENOENT { continue }
                throw SmartSyncError.io("open", path: display(path))
            }
            try walk(dirFD: sub, prefix: path)
        }
    }

    /// `prefix/name`: the old cache's own path when it holds that one (found by a binary search over its sorted paths;
    /// no new storage, and the scan, the cache and the manifest it was loaded against share one path), else a new one.
    mutating func joined(_ prefix: TreePath, _ name: TreePath) -> TreePath {
        let keys = old.entries.keys
        guard !keys.isEmpty else { return prefix.appending(name) }
        scratch.removeAll(keepingCapacity: true)
        prefix.withBytes { scratch.append(contentsOf: $0) }
        if !prefix.isEmpty { scratch.append(0x2F) }
        name.withBytes { scratch.append(contentsOf: $0) }
        let found = scratch.withUnsafeBufferPointer { raw -> Int? in
            var low = 0
            var high = keys.count
            while low < high {
                let mid = (low + high) >> 1
                if byteOrder(keys[mid], raw) < 0 { low = mid + 1 } else { high = mid }
            }
            return low < keys.count && byteOrder(keys[low], raw) == 0 ? low : nil
        }
        return found.map { keys[$0] } ?? prefix.appending(name)
    }

    /// Sorts what the walk found by path bytes and joins it with the old cache in one pass: a regular file the cache
    /// vouches for gets its id; any other is pending, hashed next.
    mutating func sortAndJoinCache() {
        // Through indices: an entry is large, and moving it around is most of a sort's cost. A walk in directory order
        // is nearly sorted already.
        let order = entries.indices.sorted { entries[$0].path.compare(entries[$1].path) < 0 }
        entries = order.map { entries[$0] }
        let cached = old.entries
        var j = 0
        for i in entries.indices where entries[i].kind == .regular || entries[i].kind == .executable {
            let path = entries[i].path
            while j < cached.keys.count, cached.keys[j].compare(path) < 0 { j += 1 }
            if j < cached.keys.count, cached.keys[j] == path, let id = old.trustedID(of: cached.values[j], stat: entries[i].stat) {
                stats.cacheHits += 1
                entries[i].id = id
            } else {
                pending.append(i)
            }
        }
    }

    /// The entries as a table (sorted by ``sortAndJoinCache()``; a file that vanished while being hashed is dropped).
    func table() -> PathTable<LocalEntry> {
        let kept = entries.filter { $0.kind != .regular && $0.kind != .executable || $0.id != nil }
        return PathTable(sortedKeys: kept.map { $0.path }, values: kept)!
    }

    /// The new cache: the old one as it is when it vouched for every file it held and nothing was hashed (no copy, no
    /// per-path work), else every regular file with its id, in path order.
    mutating func finishCache() {
        if stats.filesHashed == 0 && stats.cacheHits == old.entries.count {
            let timestamp = newCache.timestampNs
            newCache = old
            newCache.timestampNs = timestamp
            return
        }
        var table = PathTable<StatCache.Entry>()
        table.reserveCapacity(entries.count)
        for e in entries where e.kind == .regular || e.kind == .executable {
            if let id = e.id { table.append(e.path, StatCache.Entry(stat: e.stat, id: id)) }
        }
        newCache.entries = table
    }

    /// Hashes the regular files the stat cache could not vouch for, and gives their entries their ids: on every core
    /// when there is enough to share (a cold scan: a first sync over an existing tree, or after a rollback), each
    /// worker opening its files by descriptor from the root, in path order.
    mutating func hashPending() throws {
        guard !pending.isEmpty else { return }
        let bytes = pending.reduce(0) { $0 + Int(entries[$1].size) }
        let workers = bytes < 1 << 20 || pending.count < 32 ? 1 : min(ProcessInfo.processInfo.activeProcessorCount, 8)
        let hashed = try ParallelHasher(root: target, files: pending.map { (entries[$0].path, Int(entries[$0].size)) })
            .hash(workers: workers)
        for (i, result) in zip(pending, hashed) {
            guard let (id, st) = result else {
                entries[i].id = nil  // gone (or no longer a regular file) since the walk looked: dropped by table()
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

    private func hashLink(dirFD: Int32, name: TreePath, path: TreePath, size: Int) throws -> ObjectID {
        var capacity = max(size, 255) + 1
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let n = buffer.withUnsafeMutableBufferPointer { b in
                b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: capacity) { buffer in
                    name.withCString { readlinkat(dirFD, $0, buffer, capacity) }
                }
            }
            if n < 0 { throw SmartSyncError.io("readlink", path: display(path)) }
            if n < capacity { return ObjectID.blob(buffer[0..<n]) }
            capacity *= 2
        }
    }
}
