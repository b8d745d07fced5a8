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

    /// Room in the scan's table for a subtree whose stat cache holds `files` files (its regular files only): those,
    /// and an eighth more for its directories and symlinks (a 20,000-file configuration tree has ~1,000 directories),
    /// and a few more for a small one. Room left over is a gap the join closes; a part that outgrows its room makes
    /// the join copy every part unless other parts' unused room makes up for it
    /// (``ScanWalker/walkSplit(rootFD:split:)``).
    static func room(files: Int) -> Int { files + files / 8 + 16 }
}

extension ScanWalker {
    /// Walks the tree whose root is open on `rootFD` (taken over) as ``walk(dirFD:prefix:)`` does, with the same
    /// result (entries and their order, the cache join, statistics, exclusions, the first error in path order), on
    /// `split.workers` threads:
    ///
    /// 1. The root is listed here; then, while fewer than `split.shares` subdirectories have been found and the next
    ///    level is above `split.depth`, that level's directories are listed and their own entries recorded, on the
    ///    workers (a level can hold wide directories of files). Each stays open until the end.
    /// 2. The subdirectories of the last level listed are walked whole on the workers, the biggest first (by the stat
    ///    cache's count of their files).
    /// 3. Back here, the root's entries are recorded and every part put in its place, in path order: the
    ///    concatenation is in path order, the cursor moves past what each part joined, and a failure (a directory that
    ///    cannot be opened or listed, a symlink that cannot be read) is thrown where the one-thread walk would have met
    ///    it first. A directory gone before it was opened is skipped, as there.
    ///
    /// Each part has a walker of its own, whose cache cursor starts at its directory's first path (one binary search
    /// per part).
    ///
    /// The parts are written in place: the table is allocated once, before step 2, with room for the listed
    /// directories' own entries (`own`: the root's steps and what the levels recorded, known by then) and, after it,
    /// each subtree's ``WalkSplit/room(files:)`` by the stat cache, in path order; each worker writes its subtree's
    /// entries at the start of its room (``Slot``). The join writes the root's and the levels' entries at the front
    /// and moves each part down to where the table has reached, closing the gaps: before part `k` it has written at
    /// most `own` entries of its own and the parts before `k`, each within its room, so it never reaches part `k`'s
    /// room. No part is copied again (the copy beside the parts was ~450 of a 20,000-file no-op's 4,900 page
    /// faults). A part that outgrows its room (more entries than the cache counts: new files, a cold scan) writes the
    /// rest to its own array, moved in after its slot's entries when the room other parts left unused makes up for
    /// it; else the join copies every part into a new table as one thread's walk appends.
    mutating func walkSplit(rootFD: Int32, split: WalkSplit) throws {
        var listed: [Listed] = []
        defer { for directory in listed { close(directory.fd) } }
        let listing = try list(rootFD, prefix: .root)
        listed.append(Listed(fd: rootFD, prefix: .root, listing: listing))
        var level = [0]
        var depth = 0
        var found: [Subtree] = []
        while true {
            found = level.flatMap { i in listed[i].subdirectories(parent: i) }
            depth += 1
            guard !found.isEmpty, found.count < split.shares, depth < split.depth else { break }
            let outcomes = listAndRecord(found, workers: split.workers)
            level = []
            for (subtree, outcome) in zip(found, outcomes) {
                let descent: Descent
                switch outcome {
                case .success(let directory?):
                    listed.append(directory)
                    level.append(listed.count - 1)
                    descent = .listed(listed.count - 1)
                case .success(nil): descent = .gone
                case .failure(let error): descent = .failed(error)
                }
                listed[subtree.parent].setDescent(descent, of: subtree.child)
            }
        }
        for (k, subtree) in found.enumerated() { listed[subtree.parent].setDescent(.subtree(k), of: subtree.child) }
        // The listed directories' own entries at most (the root's steps count its directories twice: a few spare).
        var own = listed[0].listing.steps.count
        for directory in listed { own += directory.recorded?.entries.count ?? 0 }
        let ranges = found.map { old.entries.descendants(of: $0.path) }
        let rooms = ranges.map { WalkSplit.room(files: $0.count) }
        let capacity = max(1, rooms.reduce(own, +))
        var inPlace = false
        let table = try [LocalEntry](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            var start = own
            var slots: [Slot] = []
            for room in rooms {
                slots.append(Slot(table: buffer.baseAddress!, start: start, capacity: room))
                start += room
            }
            var parts = walkWhole(found, ranges: ranges, slots: slots, workers: split.workers)
            let sizes = parts.map { part in (try? part.get()).map { $0.region.count + $0.entries.count } }
            inPlace = Self.fits(sizes, starts: slots.map(\.start), own: own, capacity: capacity)
            // In place: this walk's slot is the whole table. Else none (capacity 0): all is copied to `entries`.
            slot = Slot(table: buffer.baseAddress!, start: 0, capacity: inPlace ? capacity : 0)
            defer {
                initialized = slot!.count
                slot = nil
            }
            if !inPlace {
                var joined = own
                for case .success(let part) in parts { joined += part.region.count + part.entries.count }
                entries.reserveCapacity(joined)
            }
            do {
                try emit(0, listed: &listed, parts: &parts)
                precondition(!parts.contains(where: Self.unjoined), "a split walk's part not joined")
            } catch {
                // The parts not yet joined (their entries still in their slots) go with the table.
                for case .success(let part) in parts {
                    (buffer.baseAddress! + part.region.lowerBound).deinitialize(count: part.region.count)
                }
                throw error
            }
        }
        splitInPlace = inPlace
        if inPlace {
            // Every entry is in the table (``fits(_:starts:own:capacity:)``: ``put`` never spilled past its end).
            precondition(entries.isEmpty, "a split walk's entries past its table")
            entries = table
        }
    }

    /// Whether the join can put the parts in place, each `sizes[k]` entries (overflow included; nil: failed) in a
    /// slot starting at `starts[k]`: before each part it has written at most `own` entries and the parts before it (a
    /// part's overflow is moved in after its slot's entries), and that must not reach the part's slot, nor the
    /// table's end (`capacity`) after the last. Room another part left unused absorbs an overflow. The join throws
    /// at a failed part, so the parts after it are never joined, but it must not have reached the failed part's slot
    /// either: past it lie the next parts' entries, let go with the table when the join throws.
    static func fits(_ sizes: [Int?], starts: [Int], own: Int, capacity: Int) -> Bool {
        var reach = own
        for (size, start) in zip(sizes, starts) {
            guard let size else { return reach <= start }
            if reach > start { return false }
            reach += size
        }
        return reach <= capacity
    }

    /// What this walker found, as a part of a split walk.
    private var part: Part {
        Part(
            region: slot?.region ?? 0..<0, entries: entries, end: slot?.end ?? 0, pending: pending, excluded: excluded,
            stats: stats, cacheEnd: cached.position, previous: previous, inOrder: inOrder)
    }

    /// Lists each directory of `level` and records its own entries, on the workers; nil for one gone.
    private func listAndRecord(_ level: [Subtree], workers: Int) -> [Result<Listed?, any Error>] {
        let (scanner, target, old) = (scanner, target, old)
        return ParallelWork.map(count: level.count, workers: workers) { k in
            let subtree = level[k]
            let first = old.entries.descendants(of: subtree.path).lowerBound
            var walker = ScanWalker(scanner, target: target, old: old, cacheFrom: first)
            return Result {
                guard let fd = try walker.openDirectory(subtree.name, in: subtree.parentFD, path: subtree.path) else {
                    return nil
                }
                let listing = try walker.list(fd, prefix: subtree.path)
                var failure: (any Error)?
                do {
                    for step in listing.steps
                    where !step.descends && !ScanWalker.isLeftoverTemporary(step, of: listing) {
                        try walker.record(step.index, of: listing, in: fd, prefix: subtree.path)
                    }
                } catch {
                    failure = error
                }
                return Listed(
                    fd: fd, prefix: subtree.path, listing: listing, recorded: walker.part, recordFailure: failure)
            }
        }
    }

    /// Walks each subtree whole on the workers, the biggest (by the stat cache: `ranges`, its paths in the cache)
    /// first, each writing its entries in its slot of `slots`. A failed part's entries are dropped there.
    private func walkWhole(
        _ subtrees: [Subtree], ranges: [Range<Int>], slots: [Slot], workers: Int
    ) -> [Result<Part, any Error>] {
        let (scanner, target, old) = (scanner, target, old)
        let order = ranges.indices.sorted { ranges[$0].count > ranges[$1].count }
        return ParallelWork.map(count: subtrees.count, workers: workers, order: order) { k in
            let subtree = subtrees[k]
            var walker = ScanWalker(scanner, target: target, old: old, cacheFrom: ranges[k].lowerBound)
            walker.slot = slots[k]
            do {
                if let fd = try walker.openDirectory(subtree.name, in: subtree.parentFD, path: subtree.path) {
                    try walker.walk(dirFD: fd, prefix: subtree.path)
                }
                return .success(walker.part)
            } catch {
                if let slot = walker.slot { (slot.table + slot.start).deinitialize(count: slot.count) }
                return .failure(error)
            }
        }
    }

    /// Puts `listed[index]`'s entries in path order, with what became of its subdirectories in their places. A
    /// subtree's part is let go once it is in place (its overflow array); a listed directory's recorded entries are
    /// read until its last step, so they are held, as its listing is, until this call returns (the joins of the
    /// directories below it included). In place, the table is the only copy. Copied (a part outgrew its room): the
    /// table's pages its parts touched stay held, moved out of or not, until the join is done, beside the exact-sized
    /// copy: a peak of about twice the table, as every join by copy had (11 MB more at 100,000 files).
    private mutating func emit(_ index: Int, listed: inout [Listed], parts: inout [Result<Part, any Error>]) throws {
        let directory = listed[index]
        listed[index].recorded = nil
        let fd = directory.fd
        // Its own entries: recorded now (the root), or taken one by one from the part a worker recorded. Its arrays
        // are read from here: the part bound afresh at each entry was a copy of it (its arrays retained and released),
        // and of the entry, every time.
        let recorded = directory.recorded
        let (ownEntries, ownPending) = (recorded?.entries ?? [], recorded?.pending ?? [])
        var own = (next: 0, pending: 0)
        if let recorded { absorb(recorded) }
        for step in directory.listing.steps {
            // Passed over as one thread's walk does (and as the workers recorded this directory's own entries).
            if Self.isLeftoverTemporary(step, of: directory.listing) { continue }
            guard step.descends else {
                guard recorded != nil else {
                    try record(step.index, of: directory.listing, in: fd, prefix: directory.prefix)
                    continue
                }
                guard own.next < ownEntries.count else { throw directory.recordFailure ?? Self.lost }
                if own.pending < ownPending.count && ownPending[own.pending] == own.next {
                    pending.append(recordedCount)
                    own.pending += 1
                }
                follow(ownEntries[own.next].path)
                put(ownEntries[own.next])
                own.next += 1
                continue
            }
            switch directory.descent(of: step.index) {
            case .listed(let next)?: try emit(next, listed: &listed, parts: &parts)
            case .subtree(let k)?:
                // In strictly increasing order (``Slot``'s contract): none before `k` left.
                assert(!parts[..<k].contains(where: Self.unjoined), "a split walk's parts joined out of order")
                let part = try parts[k].get()
                parts[k] = .failure(Self.lost)  // taken
                append(part)
            case .failed(let error)?: throw error
            case .gone?, nil: continue
            }
        }
    }

    /// Whether `part` is still to be joined (taken, it is replaced by a failure).
    private static func unjoined(_ part: Result<Part, any Error>) -> Bool {
        if case .success = part { return true }
        return false
    }

    /// A part recorded fewer entries than its directory has, with no failure to say why (never: ``record`` appends
    /// one entry per call or throws).
    private static let lost = SmartSyncError(.internal, "a part of the split walk lost entries")

    /// Appends a worker's part, as if this walker had walked its subtree: in order when the part is (``absorb(_:)``)
    /// and its first path comes after this walker's last (one comparison a part, not one a path). In place (this
    /// walker's ``slot`` is the table): its entries moved down to where the table has reached, if not there already;
    /// else moved from the table's slot and copied from its own array to ``entries``.
    private mutating func append(_ part: Part) {
        let table = slot!.table
        if let first = part.region.isEmpty ? part.entries.first?.path : table[part.region.lowerBound].path {
            follow(first)
            previous = part.previous
        }
        let base = recordedCount
        if slot!.capacity > 0 {
            // Never past the part's own slot (``fits(_:starts:own:capacity:)``): moved down, its overflow after it.
            precondition(base <= part.region.lowerBound, "a split walk's part out of place")
            precondition(base + part.region.count + part.entries.count <= part.end, "a split walk's part past its slot")
            if base < part.region.lowerBound {
                (table + base).moveInitialize(from: table + part.region.lowerBound, count: part.region.count)
            }
            slot!.count += part.region.count
            for entry in part.entries { put(entry) }
        } else {
            for i in part.region { entries.append((table + i).move()) }
            entries += part.entries
        }
        pending += part.pending.lazy.map { $0 + base }
        absorb(part)
    }

    /// Takes a part's exclusions and statistics, and moves the cursor past what it joined.
    private mutating func absorb(_ part: Part) {
        if !part.inOrder { inOrder = false }
        excluded.formUnion(part.excluded)
        stats.entries += part.stats.entries
        stats.cacheHits += part.stats.cacheHits
        if part.cacheEnd > cached.position { cached = PathTable.Cursor(old.entries, from: part.cacheEnd) }
    }
}
