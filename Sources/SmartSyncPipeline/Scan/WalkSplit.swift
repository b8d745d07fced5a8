import Glibc
import SmartSyncCore
import SmartSyncGitObjects

/// How a scan's walk is shared out over threads (``ScanWalker/walkSplit(rootFD:split:)``): the calling thread lists
/// the tree level by level until it has enough directories to share, then workers walk those subtrees whole.
struct WalkSplit: Sendable, Hashable {
    /// Threads walking (the calling thread among them).
    var workers: Int
    /// Directories to hand out at the least: the split lists one more level while it has fewer.
    var shares: Int
    /// The deepest level a directory handed out may be at (the root's children are at 1).
    var depth: Int

    init(workers: Int, shares: Int? = nil, depth: Int = 3) {
        self.workers = max(1, workers)
        self.shares = shares ?? 4 * self.workers
        self.depth = max(1, depth)
    }

    /// Below this many files (by the stat cache) the walk stays on one thread: it takes a few milliseconds, no more
    /// than waking the workers would save. A scan with no cache (the first, or after a rollback) stays on one thread
    /// too: it knows nothing of the tree's size, and hashing every file (``ParallelHasher``, on every core) is most of
    /// its time.
    static let minimumFiles = 2_000

    /// The split for a tree whose stat cache holds `files` files: one worker per core (``ParallelWork/cores``), or
    /// nil (one thread) on one core or for a small tree.
    static func automatic(files: Int) -> WalkSplit? {
        let workers = ParallelWork.cores
        guard workers > 1, files >= minimumFiles else { return nil }
        return WalkSplit(workers: workers)
    }
}

extension ScanWalker {
    /// Walks the tree whose root is open on `rootFD` (taken over) as ``walk(dirFD:prefix:)`` does, with the same
    /// result (entries and their order, the cache join, statistics, exclusions, the first error in path order), on
    /// `split.workers` threads:
    ///
    /// 1. The root is listed here; then, while fewer than `split.shares` subdirectories have been found and the next
    ///    level is above `split.depth`, that level's directories are listed, on the workers (a level can hold wide
    ///    directories of files). Each stays open, its entries not recorded yet.
    /// 2. The subdirectories of the last level listed are walked whole on the workers, the biggest first (by the stat
    ///    cache's count of their files), each with a walker of its own whose cache cursor starts at its first path
    ///    (one binary search per subtree).
    /// 3. Back here, the listed directories' entries are recorded in path order and each subtree's result put in its
    ///    place: the concatenation is in path order, the cursor moves past what a subtree joined, and a failure (a
    ///    directory that cannot be opened or listed, a symlink that cannot be read) is thrown where the one-thread walk
    ///    would have met it first. A directory gone before it was opened is skipped, as there.
    mutating func walkSplit(rootFD: Int32, split: WalkSplit) throws {
        var listed: [Listed] = []
        defer { for directory in listed { closedir(directory.stream) } }
        let (stream, listing) = try list(rootFD, prefix: .root)
        listed.append(Listed(stream: stream, prefix: .root, listing: listing))
        var level = [0]
        var depth = 0
        var found: [Subtree] = []
        while true {
            found = level.flatMap { i in listed[i].subdirectories(parent: i) }
            depth += 1
            guard !found.isEmpty, found.count < split.shares, depth < split.depth else { break }
            let (toList, scanner, target, old) = (found, scanner, target, old)
            let outcomes = ParallelWork.map(count: found.count, workers: split.workers) { k in
                var walker = ScanWalker(scanner, target: target, old: old)
                return Result { () throws -> Listed? in
                    let subtree = toList[k]
                    guard let fd = try walker.openDirectory(subtree.name, in: subtree.parentFD, path: subtree.path)
                    else {
                        return nil
                    }
                    let (stream, listing) = try walker.list(fd, prefix: subtree.path)
                    return Listed(stream: stream, prefix: subtree.path, listing: listing, excluded: walker.excluded)
                }
            }
            level = []
            for (subtree, outcome) in zip(found, outcomes) {
                let descent: Descent
                switch outcome {
                case .success(let directory?):
                    excluded.formUnion(directory.excluded)
                    listed.append(directory)
                    level.append(listed.count - 1)
                    descent = .listed(listed.count - 1)
                case .success(nil): descent = .gone
                case .failure(let error): descent = .failed(error)
                }
                listed[subtree.parent].descents[subtree.child] = descent
            }
        }
        for (k, subtree) in found.enumerated() { listed[subtree.parent].descents[subtree.child] = .subtree(k) }
        let parts = walkWhole(found, workers: split.workers)
        try emit(0, listed: listed, parts: parts)
    }

    /// A directory the split listed, its stream open until its entries are recorded.
    struct Listed {
        let stream: OpaquePointer
        let prefix: TreePath
        let listing: SortedDirectory
        /// What the listing left out (its own walker's).
        var excluded: Set<TreePath> = []
        /// What became of each subdirectory, by child index.
        var descents: [Int: Descent] = [:]

        /// Its subdirectories, in path order; it is `listed[parent]`.
        func subdirectories(parent: Int) -> [Subtree] {
            let fd = dirfd(stream)
            return listing.steps.filter(\.descends).map { step in
                let name = listing.children[step.index].name
                return Subtree(
                    parent: parent, child: step.index, parentFD: fd, name: name, path: prefix.appending(name))
            }
        }
    }

    /// A subdirectory found by the split: listed in turn, or walked whole by a worker.
    struct Subtree: Sendable {
        /// Its parent, `listed[parent]`, and its index among the parent's children.
        let parent: Int
        let child: Int
        let parentFD: Int32
        let name: TreePath
        let path: TreePath
    }

    /// What became of a subdirectory of a listed directory.
    enum Descent {
        /// Listed by the split (an index into its listed directories).
        case listed(Int)
        /// Walked whole by a worker (an index into the parts).
        case subtree(Int)
        /// Gone before it was opened.
        case gone
        /// Could not be opened or listed.
        case failed(any Error)
    }

    /// What a worker found in one subtree, to be put in its place.
    struct Part: Sendable {
        var entries: [LocalEntry]
        /// Indices into ``entries``.
        var pending: [Int]
        var excluded: Set<TreePath>
        var stats: ScanStatistics
        /// Where its cache cursor stopped.
        var cacheEnd: Int
    }

    /// Walks each subtree whole on the workers, the biggest (by the stat cache) first.
    private func walkWhole(_ subtrees: [Subtree], workers: Int) -> [Result<Part, any Error>] {
        let (scanner, target, old) = (scanner, target, old)
        let ranges = subtrees.map { old.entries.descendants(of: $0.path) }
        let order = ranges.indices.sorted { ranges[$0].count > ranges[$1].count }
        return ParallelWork.map(count: subtrees.count, workers: workers, order: order) { k in
            let subtree = subtrees[k]
            var walker = ScanWalker(scanner, target: target, old: old, cacheFrom: ranges[k].lowerBound)
            walker.entries.reserveCapacity(ranges[k].count + 16)
            return Result {
                if let fd = try walker.openDirectory(subtree.name, in: subtree.parentFD, path: subtree.path) {
                    try walker.walk(dirFD: fd, prefix: subtree.path)
                }
                return Part(
                    entries: walker.entries, pending: walker.pending, excluded: walker.excluded, stats: walker.stats,
                    cacheEnd: walker.cached.position)
            }
        }
    }

    /// Records `listed[index]`'s entries in path order, with what became of its subdirectories in their places.
    private mutating func emit(_ index: Int, listed: [Listed], parts: [Result<Part, any Error>]) throws {
        let directory = listed[index]
        let fd = dirfd(directory.stream)
        for step in directory.listing.steps {
            let child = directory.listing.children[step.index]
            guard step.descends else {
                try record(child, in: fd, prefix: directory.prefix)
                continue
            }
            switch directory.descents[step.index] {
            case .listed(let next)?: try emit(next, listed: listed, parts: parts)
            case .subtree(let k)?: append(try parts[k].get())
            case .failed(let error)?: throw error
            case .gone?, nil: continue
            }
        }
    }

    /// Appends a worker's part, as if this walker had walked its subtree.
    private mutating func append(_ part: Part) {
        let base = entries.count
        entries += part.entries
        pending += part.pending.lazy.map { $0 + base }
        excluded.formUnion(part.excluded)
        stats.entries += part.stats.entries
        stats.cacheHits += part.stats.cacheHits
        if part.cacheEnd > cached.position { cached = PathTable.Cursor(old.entries, from: part.cacheEnd) }
    }
}
