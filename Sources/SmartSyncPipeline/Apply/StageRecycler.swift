import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Turns the oldest kept generation into the next stage, so an update does work in proportion to what changed rather
/// than to the size of the tree: the generation's tree already holds almost everything the new tree needs.
///
/// One pass over the recycled tree, by directory descriptor, decides for each entry:
/// - a file or symlink the new tree has that still holds the new tree's blob with its mode stays (a regular file when
///   ``GenerationTrust`` vouches for it — the store's own intact object, or exactly as the scan that hashed it saw it
///   — and no other kept path shares its inode; a symlink by reading it);
/// - everything else goes: files the new tree changes or lacks, the operator's files of that time (today's are
///   carried anew), and directories the new tree does not have.
///
/// The directories it keeps are left as they are, their metadata that of the tree's previous life. Those new paths
/// are made in get their final metadata first (``StageDirectories``: the target's, or a new directory's), so what is
/// made in them inherits as in place; the carrier settles the others (``Outcome/directories``,
/// ``UntrackedCarrier/unsettled``), writing nothing where the metadata is the same, as it mostly is.
///
/// Then every path the new tree needs and the tree lacks is placed from the store (``InPlaceApplier``, whose checks
/// before each link apply as for any stage; a directory it makes takes the target's metadata at once). Nothing is
/// fsynced here: the caller syncs the file system once.
struct StageRecycler {
    let store: ObjectStore
    let linkMode: LinkMode
    /// The executable twins the stage links (``InPlaceApplier/twins``).
    var twins: TwinBatch?
    /// How the pass over the recycled tree is shared out over threads (``Split``).
    var split: Split = .automatic

    /// What the recycling did.
    struct Outcome {
        /// The apply of the paths that were placed.
        var report: ApplyReport
        /// Stat data of the regular files kept as they were, for the stat cache (they are the target's after the
        /// switch, with no write since the pass that looked at them).
        var kept: PathTable<StatData>
        /// Of those, the files kept on the scan's word, with no look at the store (``Scanned``).
        var keptByInode: Int
        /// Entries removed from the recycled tree.
        var removed: Int
        /// Whether the kept tree's stat cache was read (a file the scan did not vouch for needed it).
        var readCache: Bool
        /// The directories kept (the stage's root aside) and not settled before placing, in path order, with the
        /// metadata they had: for the carrier to settle (``UntrackedCarrier/unsettled``).
        var directories: [TreePath]
    }

    /// Brings a kept tree, renamed to `stage`, to the tree files of `plan` (the paths it writes or leaves as they are:
    /// excluded paths and local versions kept with `--keep-local` are the carrier's, from the target), for the live
    /// `target`, whose directories' metadata the stage's take. `cache` reads the kept tree's stat cache
    /// (``Generation/statCache()``), only when a file the scan did not vouch for needs it
    /// (``GenerationTrust/init(store:storeFirst:reading:)``, ``storeFirst``); `scanned` reads the target's, as this
    /// run's scan left it (``Scanned``).
    /// `beforePlacing` is called with the paths about to be placed from the store, once the pass knows them.
    func recycle(
        stage: String, target: String, cache: @escaping () -> StatCache, scanned: () -> StatCache?,
        listing: TreeListing, plan: Plan,
        beforePlacing: (Set<TreePath>) throws -> Void
    ) throws -> Outcome {
        let desired = Self.desired(plan, listing: listing)
        // The walk's own state (the inodes kept, a set as large as the tree, and the scanned stats) goes when it ends,
        // before the placing.
        let (kept, keptIndices, keptByInode, removed, directories, readCache):
            (PathTable<StatData>, [Int], Int, Int, [TreePath], Bool) = try {
            let root = open(stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard root >= 0 else { throw SmartSyncError.io("open", path: stage) }
            var rootStat = stat()
            guard fstat(root, &rootStat) == 0 else {
                let err = errno  // before `close`, which may change it
                close(root)
                throw SmartSyncError.io("fstat", path: stage, errno: err)
            }
            let trust: GenerationTrust
            do { trust = try GenerationTrust(store: store, storeFirst: Self.storeFirst, reading: cache) } catch {
                close(root)
                throw error
            }
            let quarantined = trust.quarantined
            let shared = SharedTrust(trust)
            let pass = Pass(
                desired: PathTable.Cursor(desired), trust: shared,
                scanned: Scanned(
                    desired: desired, plan: plan, cache: scanned(), device: UInt64(rootStat.st_dev),
                    quarantined: quarantined),
                display: stage)
            let walked = try Self.walk(root, pass, workers: split.workers(files: desired.count), shares: split.shares)
            return (
                walked.kept, walked.keptIndices, walked.keptByInode, walked.removed, walked.directories,
                shared.readCache
            )
        }()

        // Place what the recycled tree lacks; what it kept tells the applier which blobs are linked already.
        // The blobs of the paths to place: a kept file of one of them must be known to the applier (that path then gets
        // an inode of its own); the others are left out of its plan, not given a `Change` each (a table as large as the
        // tree, held through the placing: 11 MB at 100,000 files).
        // Told apart by the kept files' indices in `desired` (increasing): no path compared, none copied.
        var addedBlobs = Set<ObjectID>()
        Self.forEachIndex(desired.values.count, kept: keptIndices) { j, wasKept in
            if !wasKept { addedBlobs.insert(desired.values[j].id) }
        }
        var changes: [Change] = []  // in path order, as `desired` is
        Self.forEachIndex(desired.values.count, kept: keptIndices) { j, wasKept in
            guard !wasKept || addedBlobs.contains(desired.values[j].id) else { return }
            let (path, e) = (desired.keys[j], desired.values[j])
            if wasKept {
                let kind: LocalKind = e.mode == .symlink ? .symlink : e.mode == .executable ? .executable : .regular
                changes.append(
                    Change(kind: .unchanged, path: path, mode: e.mode, id: e.id, localKind: kind, localID: e.id))
            } else {
                changes.append(Change(kind: .add, path: path, mode: e.mode, id: e.id))
            }
        }
        let adds = changes.lazy.filter { $0.kind == .add }.map(\.path)
        let keptDirectories = PathTable(sorting: directories.lazy.map { ($0, ()) })  // entered in tree order
        let settled = try settleBeforePlacing(stage: stage, target: target, placing: adds, kept: keptDirectories)
        try beforePlacing(Set(adds))
        var applier = InPlaceApplier(linkMode: linkMode)
        applier.intoStage = true
        applier.metadataSource = target
        applier.twins = twins
        let report = try applier.apply(
            Plan(commit: plan.commit, changes: changes, blobsNeeded: []), listing: listing, store: store, target: stage)
        return Outcome(
            report: report, kept: kept, keptByInode: keptByInode, removed: removed, readCache: readCache,
            directories: keptDirectories.keys.filter { !settled.contains($0) })
    }

    /// Calls `body` with each index below `count`, in order, and whether it is one of `keptIndices` (increasing): the
    /// merge of the kept files' indices into `desired`'s.
    private static func forEachIndex(
        _ count: Int, kept keptIndices: [Int], _ body: (_ j: Int, _ wasKept: Bool) -> Void
    ) {
        var nextKept = 0
        for j in 0..<count {
            let wasKept = nextKept < keptIndices.count && keptIndices[nextKept] == j
            if wasKept { nextKept += 1 }
            body(j, wasKept)
        }
    }

    /// How many files the scan did not vouch for are checked against the store first (an `lstat`, two for an
    /// executable) before the kept tree's stat cache is read, unless one of them is not the store's object (then it is
    /// read at once): an update's changed files, mostly. 256 such checks cost under a millisecond; the read decodes
    /// every path of the tree (1-2 ms at 20,000 files, its table held through the pass).
    static let storeFirst = 256

    /// Gives the directories the paths `placing` are made in (each one's nearest kept directory, the stage's root
    /// included) and their ancestors their final metadata before anything is placed (``StageDirectories``): the
    /// target's, or a new directory's where the target has none, parents first. What is made in them then inherits
    /// what it would in place (a setgid directory's group and bit, a default ACL), and nothing of the tree's past.
    /// Returns the directories settled. Most have the target's metadata already and are only read.
    private func settleBeforePlacing(
        stage: String, target: String, placing: some Sequence<TreePath>, kept: PathTable<Void>
    ) throws -> Set<TreePath> {
        var settled = Set<TreePath>()
        for path in placing {
            var parent = path.parent
            while !parent.isEmpty && kept.index(of: parent) == nil { parent = parent.parent }
            while settled.insert(parent).inserted && !parent.isEmpty { parent = parent.parent }
        }
        guard !settled.isEmpty, let cursor = try DirectoryCursor(existing: stage) else { return [] }
        let directories = try StageDirectories(target: target)
        for path in settled.sorted() {  // byte order: a directory before what is inside it
            let shown = path.isEmpty ? stage : stage + "/" + path.description
            guard try cursor.enter(path.components[...], create: false, blockedIsMissing: true) else { continue }
            try directories.settleKept(path.components[...], cursor.currentFD, display: shown)
        }
        return settled
    }

    /// What this run's scan saw of the target's files the plan leaves unchanged, by the new tree's files' indices in
    /// path order: a file of the recycled tree that is the same inode (`readdir`'s `d_ino`) and, by its `lstat`, still
    /// exactly as the scan saw it (device, inode, size, mtime, ctime, mode: no write or chmod since) is kept on the
    /// scan's word, since an inode's content and metadata are the same through any of its names. The scan saw it then:
    /// not racy, its id the blob the new tree wants (hashed or vouched for by the stat cache), sealed (`0444`/`0555`,
    /// the sealed mtime, the listing's size), its owner and mode as installed (else the plan would not leave the path
    /// unchanged), its inode not quarantined. The files of a spare and the target are the same inode wherever both
    /// hold the store object for the path (hard links), most paths of a tree.
    struct Scanned {
        /// The scan's stat data, or an inode of 0 where it does not vouch.
        private var known: [StatData] = []

        init(
            desired: PathTable<TreeEntry>, plan: Plan, cache: StatCache?, device: UInt64,
            quarantined: Set<FileIdentity>
        ) {
            guard let cache, !cache.entries.isEmpty else { return }
            let none = StatData(device: 0, inode: 0, size: 0, mtimeNs: 0, ctimeNs: 0, mode: 0)
            let sealedNs = Int64(Seal.modificationTime.tv_sec) * 1_000_000_000 + Int64(Seal.modificationTime.tv_nsec)
            var entries = PathTable.Cursor(cache.entries)
            var wanted = PathTable.Cursor(desired)
            known.reserveCapacity(desired.count)
            // Fields read in place, not each `Change` and `TreeEntry` copied (their strings retained and released).
            let changes = plan.changes
            for i in changes.indices where changes[i].kind == .unchanged {
                let path = changes[i].path
                guard let j = path.withBytes({ wanted.seekIndex(bytes: $0) }) else { continue }
                let (mode, size) = (desired.values[j].mode, desired.values[j].size)
                while known.count < j { known.append(none) }
                guard mode != .symlink, let e = entries.seek(path),
                    cache.trustedID(of: e, stat: e.stat) == desired.values[j].id,
                    e.stat.device == device,
                    e.stat.mode == UInt32(S_IFREG) | UInt32(Seal.permissions(executable: mode == .executable)),
                    e.stat.mtimeNs == sealedNs, size.map({ Int64($0) == e.stat.size }) ?? true,
                    !quarantined.contains(FileIdentity(device: e.stat.device, inode: e.stat.inode))
                else { continue }
                known.append(e.stat)
            }
        }

        /// The scan's stat data for the new tree's `index`th file when the recycled tree's entry is its inode.
        func vouched(_ index: Int, inode: UInt64) -> StatData? {
            guard index < known.count, inode != 0, known[index].inode == inode else { return nil }
            return known[index]
        }
    }

    /// How the pass over the recycled tree is shared out: its `lstat` of each file (the check that the file is still
    /// what the scan saw) is most of an update's own work after the plan, and the directories of a tree are
    /// independent of each other. The calling thread walks the top of the tree down to ``Pass/deferAt`` and hands the
    /// directories there to workers (``ParallelWork``), each walking its subtree whole with a ``Pass`` of its own; the
    /// parts are put back in path order (``walk(_:_:workers:shares:)``). The checks are the same on every thread.
    struct Split: Sendable, Hashable {
        /// Threads walking (the calling thread among them); 1: one thread.
        var workers: Int
        /// Below this many files of the new tree the pass stays on one thread (as ``WalkSplit/minimumFiles``).
        var minimumFiles: Int
        /// The root's directories to walk at the least for them to be handed out; else those one level down are.
        var shares: Int

        init(workers: Int, minimumFiles: Int = WalkSplit.minimumFiles, shares: Int? = nil) {
            self.workers = max(1, workers)
            self.minimumFiles = minimumFiles
            self.shares = shares ?? 4 * self.workers
        }

        /// One worker per core (``ParallelWork/cores``) from 2,000 files on.
        static var automatic: Split { Split(workers: ParallelWork.cores) }

        /// The workers for a new tree of `files` files.
        func workers(files: Int) -> Int { files >= minimumFiles ? workers : 1 }
    }

    /// What a walk found, its parts put together (``walk(_:_:workers:shares:)``).
    private struct Walked {
        var kept: PathTable<StatData>
        /// The kept files' indices in the new tree's table, increasing (beside ``kept``'s keys).
        var keptIndices: [Int]
        var keptByInode: Int
        var removed: Int
        var directories: [TreePath]
    }

    /// The kept files' stat data, by their index in the new tree's table: each part of a walk writes the indices of
    /// its own paths (disjoint), so the parts need no table of their own and none is copied to put them together.
    /// Points into arrays that ``walk(_:_:workers:shares:)`` holds while the walk runs.
    final class KeptSlots: @unchecked Sendable {
        let values: UnsafeMutableBufferPointer<StatData>
        /// 0: not kept; 1: kept; 2: kept on the scan's word (``Scanned``).
        let marks: UnsafeMutableBufferPointer<UInt8>

        init(values: UnsafeMutableBufferPointer<StatData>, marks: UnsafeMutableBufferPointer<UInt8>) {
            self.values = values
            self.marks = marks
        }

        /// Notes the `index`th file kept, with `st` (its slot is uninitialised until then, and written once).
        func keep(_ index: Int, _ st: StatData, byInode: Bool) {
            values.initializeElement(at: index, to: st)
            marks[index] = byInode ? 2 : 1
        }
    }

    /// Walks the recycled tree open on `root` (taken over) with `pass`, on `workers` threads (``Split``), then drops
    /// from the stage a second path kept on an inode already kept (an operator's hard link carried in at the time), so
    /// no two paths of the new tree share an inode: the first in path order keeps it, as one thread would. The kept
    /// files' stat data are written where they go in the kept table (``KeptSlots``) and compacted in place.
    private static func walk(_ root: Int32, _ pass: Pass, workers: Int, shares: Int) throws -> Walked {
        let table = pass.desired.table
        var marks = [UInt8](repeating: 0, count: table.count)
        var again: [TreePath] = []  // second paths on an inode: removed below
        var keys: [TreePath] = []
        var keptIndices: [Int] = []
        var keptByInode = 0
        var removed = 0
        var directories: [TreePath] = []
        let values = try [StatData](unsafeUninitializedCapacity: table.count) { values, initialized in
            initialized = 0
            try marks.withUnsafeMutableBufferPointer { marks in
                let slots = KeptSlots(values: values, marks: marks)
                var pass = pass
                pass.slots = slots
                if workers > 1 {
                    let parts = try walkSplit(root, pass, workers: workers, shares: shares)
                    removed = parts.reduce(0) { $0 + $1.removed }
                    directories = parts.flatMap(\.directories)
                } else {
                    try pass.walk(root, .root, depth: 0)
                    removed = pass.removed
                    directories = pass.directories
                }
                // In path order: the first path on an inode keeps it.
                keys.reserveCapacity(marks.reduce(0) { $0 + ($1 == 0 ? 0 : 1) })
                keptIndices.reserveCapacity(keys.capacity)
                var identities = Set<FileIdentity>(minimumCapacity: keys.capacity)
                for j in marks.indices where marks[j] != 0 {
                    let st = values[j]
                    guard identities.insert(FileIdentity(device: st.device, inode: st.inode)).inserted else {
                        again.append(table.keys[j])
                        continue
                    }
                    // At or before `j`: compacted in place (a slot not kept was never initialised; `StatData` is
                    // trivial, so one kept is overwritten as well).
                    values.initializeElement(at: keys.count, to: st)
                    keys.append(table.keys[j])
                    keptIndices.append(j)
                    if marks[j] == 2 { keptByInode += 1 }
                }
                initialized = keys.count
            }
        }
        // Held through the placing, the carry and the exchange: an update that keeps few of the files (a checkout far
        // away) gives back the rest of the table-sized capacity, at the cost of a copy of what it keeps.
        let trimmed = values.count < values.capacity / 2 ? values.withUnsafeBufferPointer { Array($0) } : values
        var walked = Walked(
            kept: PathTable(keysInOrder: keys, values: trimmed), keptIndices: keptIndices, keptByInode: keptByInode,
            removed: removed,
            directories: directories)
        guard !again.isEmpty, let cursor = try DirectoryCursor(existing: pass.display) else { return walked }
        for path in again {
            guard let (fd, name) = try cursor.enterParent(of: path, create: false, blockedIsMissing: true) else {
                continue
            }
            try TreeOps.removeEntry(name, in: fd, display: pass.display + "/" + path.description)
            walked.removed += 1
        }
        return walked
    }

    /// The walk of ``walk(_:_:workers:shares:)`` shared out: the top of the tree here, the deferred directories by the
    /// workers, from their parents as this thread held them open (``Pass/parents``). Returns every part, this
    /// thread's first. The error thrown is the first in path order, as one thread's: a worker's before this thread's
    /// own (everything it handed out comes before where it stopped).
    private static func walkSplit(_ root: Int32, _ pass: Pass, workers: Int, shares: Int) throws -> [Pass] {
        var pass = pass
        pass.deferAt = 0  // decided once the root is listed
        pass.shares = shares
        defer { for parent in pass.parents { close(parent.fd) } }
        let top = Result { try pass.walk(root, .root, depth: 0) }
        let (deferred, parents) = (pass.deferred, pass.parents)
        let (table, trust, scanned) = (pass.desired.table, pass.trust, pass.scanned)
        let (display, slots) = (pass.display, pass.slots)
        let parts = ParallelWork.map(count: deferred.count, workers: workers) { k -> Result<Pass, any Error> in
            Result {
                let (path, parent) = deferred[k]
                var part = Pass(
                    desired: PathTable.Cursor(table, from: table.descendants(of: path).lowerBound), trust: trust,
                    scanned: scanned, display: display)
                part.slots = slots
                try part.walkDeferred(path, in: parents[parent].fd)
                return part
            }
        }
        var walked: [Pass] = []
        for part in parts { walked.append(try part.get()) }
        try top.get()
        return [pass] + walked
    }
}

extension StatData {
    /// The fields of a `stat` result the stat cache compares.
    init(_ st: stat) {
        self.init(
            device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
            mtimeNs: Timestamps.mtimeNs(st), ctimeNs: Timestamps.ctimeNs(st), mode: UInt32(st.st_mode))
    }
}
