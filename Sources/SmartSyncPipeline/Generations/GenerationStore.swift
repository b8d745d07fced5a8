import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// A previous tree of a target, kept for rollback.
public struct Generation: Sendable {
    /// Increases with each switch; the largest is the most recent.
    public var sequence: Int
    /// The commit and manifest it held; nil for the tree smart-sync found before its first switch.
    public var state: TargetState?
    /// The kept tree.
    public var tree: String

    /// The stat cache of the tree as the last scan saw it when it was the target (`stat-cache` beside `tree`): which
    /// of its files still hold what was hashed then (``GenerationTrust``). Empty when none was kept.
    func statCache(sharing: [TreePath] = []) -> StatCache {
        let dir = String(tree.dropLast("/tree".count))
        return (try? StatCache.load(from: dir + "/stat-cache", sharing: sharing)) ?? StatCache()
    }
}

/// The generations kept in a target's sidecar (see ``SwitchLayout``).
public struct GenerationStore: Sendable {
    public let layout: SwitchLayout

    public init(layout: SwitchLayout) { self.layout = layout }

    /// All kept generations, the most recent first. Incomplete ones (no `tree`) are skipped.
    public func list() throws -> [Generation] {
        try completeSequences().map { seq in
            let dir = layout.generation(seq)
            let state = try TargetState.read(from: dir + "/state")
            return Generation(sequence: seq, state: state, tree: dir + "/tree")
        }
    }

    /// The sequences of the complete generations (with a `tree`), the most recent first, without reading their states
    /// (a manifest each, as large as the tree).
    func completeSequences() throws -> [Int] {
        guard TreeOps.isDirectory(layout.generations) else { return [] }
        return try FileSystem.names(in: layout.generations).compactMap { name in
            guard let seq = Int(name), TreeOps.isDirectory(layout.generation(seq) + "/tree") else { return nil }
            return seq
        }.sorted(by: >)
    }

    /// `generations/spare`: one tree beyond the kept ones, held back from pruning so the next switch can make it its
    /// stage (``StageRecycler``), or the links a target's first switch leaves (``leaveSpare(linking:plan:)``). Not
    /// listed, so not offered for rollback; a failed switch that used it costs nothing else.
    var spare: String { layout.generations + "/spare" }

    /// `generations/spare-<n>` (n from 1): a further spare tree a target's first switch leaves
    /// (``leaveSpare(linking:plan:reserves:)``), moved to ``spare`` by ``prune(keep:)`` when that has no generation
    /// beyond `keep` to make it: so each of the first `keep` + 1 switches after it recycles, not only the first. Not
    /// listed either.
    func reserve(_ n: Int) -> String { layout.generations + "/spare-\(n)" }

    /// The numbers of the reserves present (``reserve(_:)``), the smallest first.
    func reserveNumbers() throws -> [Int] {
        guard TreeOps.isDirectory(layout.generations) else { return [] }
        return try FileSystem.names(in: layout.generations).compactMap { name in
            name.hasPrefix("spare-") ? Int(name.dropFirst("spare-".count)) : nil
        }.sorted()
    }

    /// The spare tree, when there is one; its state is not read (recycling needs only the tree and its stat cache).
    func takeSpare() -> Generation? {
        guard TreeOps.isDirectory(spare + "/tree") else { return nil }
        return Generation(sequence: 0, state: nil, tree: spare + "/tree")
    }

    /// Moves `path` (a tree given up on) among the generations being removed, for ``prune(keep:)`` to remove.
    func discard(_ path: String) throws {
        try FileSystem.makeDirectories(layout.generations)
        let trash = FileSystem.temporaryName(layout.generations + "/" + Self.removing + "discarded-")
        guard rename(path, trash) == 0 else {
            let err = errno  // read before the message is built (it allocates)
            throw SmartSyncError.io("rename", path: path, errno: err)
        }
    }

    /// One more than the largest sequence in use.
    func nextSequence() throws -> Int {
        guard TreeOps.isDirectory(layout.generations) else { return 1 }
        return (try FileSystem.names(in: layout.generations).compactMap(Int.init).max() ?? 0) + 1
    }

    /// Creates generation `seq`'s directory with its state (written before its tree arrives, so a crash
    /// between the two leaves a complete record once the tree is moved in). Returns where the tree goes.
    ///
    /// With `file` (a state file, durable, that no one writes in place: the target's, replaced only by a rename) the
    /// state is that file, hard-linked (its bytes copied where the link fails, on another file system:
    /// ``FileSystem/linkOrCopy(from:to:durable:)``): the state is not decoded and encoded again, a manifest of every
    /// path of the tree. With `durable` false nothing is fsynced (the caller syncs the file system before anything
    /// depends on it:
    /// ``TreeSwitch/prepare(incoming:sequence:outgoingState:outgoingStateFile:consumed:untracked:pending:durable:)``).
    func prepare(_ seq: Int, state: TargetState?, file: String? = nil, durable: Bool = true) throws -> String {
        let dir = layout.generation(seq)
        try FileSystem.makeDirectories(dir)
        if let file {
            try FileSystem.linkOrCopy(from: file, to: dir + "/state", durable: durable)
        } else if let state {
            try FileSystem.writeFileAtomically(dir + "/state", state.encoded(), durable: durable)
        }
        return dir + "/tree"
    }

    /// Removes the generation directory `seq` entirely.
    func remove(_ seq: Int) throws {
        try TreeOps.removeTree(layout.generation(seq))
    }

    /// Keeps the `keep` most recent generations and removes the rest (and any incomplete leftovers), except that the
    /// newest one beyond `keep` becomes the ``spare`` when there is none, or, with none beyond `keep`, the next
    /// reserve (``reserve(_:)``) does; reserves past `keep` less the generations listed go. With `keep` 0 the spare
    /// and the reserves go too: nothing beyond the target is kept.
    ///
    /// A generation whose tree waits for its look (``PendingLook``: a run that failed to keep, or was killed before
    /// it kept, what the operator changed there while the stage was validated) stays, whatever `keep`, and is not made
    /// the spare (a recycled spare's files are rewritten): the recovery's look removes the mark first.
    ///
    /// Each goes in one rename first (to `.removing-<seq>-<random>`, which ``list()`` ignores), so one that cannot be
    /// removed wholly is never listed half removed (say, without its `state`, as the tree found before the first sync).
    /// Every removal is tried; the first failure is thrown.
    func prune(keep: Int) throws {
        guard TreeOps.isDirectory(layout.generations) else { return }
        let listed = try completeSequences()
        let awaiting = listed.filter(awaitsLook)
        let complete = Set(listed.prefix(max(0, keep))).union(awaiting)
        var failure: (any Error)?
        if TreeOps.isDirectory(spare), keep == 0 || !TreeOps.isDirectory(spare + "/tree") {
            let trash = FileSystem.temporaryName(Self.removing + "spare-")
            if rename(spare, layout.generations + "/" + trash) != 0 {
                let err = errno
                failure = SmartSyncError.io("rename", path: spare, errno: err)
            }
        }
        if keep > 0, listed.count > keep, !TreeOps.isDirectory(spare) {
            // The newest beyond `keep`: the closest to the trees to come, so recycling it changes the least.
            let next = listed[keep]
            if !awaiting.contains(next), rename(layout.generation(next), spare) != 0 {
                let err = errno
                failure = SmartSyncError.io("rename", path: spare, errno: err)
            }
        }
        // Reserves: the next one becomes the spare when there is none; those past what the switches until a
        // generation falls beyond `keep` can use (`keep` less the generations kept) go, as do incomplete ones.
        var reserves = try reserveNumbers()
        if keep > 0, !TreeOps.isDirectory(spare), let first = reserves.first {
            reserves.removeFirst()
            if !TreeOps.isDirectory(reserve(first) + "/tree") {
                reserves.insert(first, at: 0)  // incomplete: goes below
            } else if rename(reserve(first), spare) != 0 {
                let err = errno
                failure = failure ?? SmartSyncError.io("rename", path: spare, errno: err)
            }
        }
        var room = max(0, keep - listed.count)
        for n in reserves {
            if room > 0, TreeOps.isDirectory(reserve(n) + "/tree") {
                room -= 1
                continue
            }
            let trash = FileSystem.temporaryName(Self.removing + "spare-\(n)-")
            if rename(reserve(n), layout.generations + "/" + trash) != 0 {
                let err = errno
                failure = failure ?? SmartSyncError.io("rename", path: reserve(n), errno: err)
            }
        }
        for name in try FileSystem.names(in: layout.generations) {
            guard let seq = Int(name), !complete.contains(seq) else { continue }
            let from = layout.generation(seq)
            let trash = FileSystem.temporaryName(Self.removing + name + "-")
            if rename(from, layout.generations + "/" + trash) != 0 {
                let err = errno
                failure = failure ?? SmartSyncError.io("rename", path: from, errno: err)
            }
        }
        if let error = try removeDiscarded() { failure = failure ?? error }
        FileSystem.syncDirectory(layout.generations)
        if let failure { throw failure }
    }

    /// Removes every tree moved aside to be removed (`.removing-…`); returns the first failure.
    private func removeDiscarded() throws -> (any Error)? {
        var failure: (any Error)?
        for name in try FileSystem.names(in: layout.generations) where name.hasPrefix(Self.removing) {
            do {
                try TreeOps.removeTree(layout.generations + "/" + name)
            } catch {
                failure = failure ?? error
            }
        }
        return failure
    }

    /// Removes the ``spare`` and every reserve (``reserve(_:)``). For a target whose file system refuses the exchange:
    /// every switch there applies in place, so no spare tree is ever used, and the prune that would remove them runs
    /// only after an exchange; the reserves a cold sync (a rename, which works there) left would stay for good,
    /// holding the cold tree's inodes (all its bytes, in copy mode). Best effort: a tree left goes at the next call.
    func dropSpares() {
        guard let names = try? FileSystem.names(in: layout.generations) else { return }
        let spares = names.filter { $0 == "spare" || $0.hasPrefix("spare-") }
        // The usual in-place update: nothing to drop or finish removing (a killed removal, a killed cold sync's
        // `.removing-spare-making-`: this is their only cleanup where no prune runs), nothing to sync.
        guard !spares.isEmpty || names.contains(where: { $0.hasPrefix(Self.removing) }) else { return }
        for name in spares { try? discard(layout.generations + "/" + name) }
        _ = try? removeDiscarded()
        FileSystem.syncDirectory(layout.generations)
    }

    /// The name prefix of a generation being removed.
    static let removing = ".removing-"
}
