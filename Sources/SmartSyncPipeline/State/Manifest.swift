import SmartSyncGitObjects

/// What a sync put into a target: path → (mode, blob id). The planner deletes only paths listed here.
///
/// Held sorted by path bytes (a ``PathTable``) and written in that order, so a load is two arrays and no hashing, and
/// the planner joins it with the sorted scan in one pass. Files written by earlier versions (in hash order) are sorted
/// once as they are read.
public struct Manifest: Sendable, Hashable {
    /// One file or symlink the sync wrote.
    public struct Entry: Sendable, Hashable, Codable {
        public var mode: FileMode
        public var id: ObjectID

        public init(mode: FileMode, id: ObjectID) {
            self.mode = mode
            self.id = id
        }
    }

    public var entries: PathTable<Entry>

    public init(entries: PathTable<Entry> = [:]) {
        self.entries = entries
    }

    /// The files and symlinks of a listing (gitlinks and trees left out).
    public init(listing: TreeListing) {
        self.init(
            entries: PathTable(
                sorting: listing.entries.lazy.filter { $0.mode.isBlob }.map {
                    ($0.path, Entry(mode: $0.mode, id: $0.id))
                }))
    }

    public subscript(path: TreePath) -> Entry? {
        get { entries[path] }
        set { entries[path] = newValue }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// Both manifests' entries, `other` winning on a shared path. Useful to record before an apply that
    /// might be interrupted, so that paths either manifest put there are still recognised as ours.
    public func union(_ other: Manifest) -> Manifest {
        Manifest(entries: entries.merging(other.entries) { _, new in new })
    }

    /// The entries whose path none of `others` lists (a nil in `others` claims nothing).
    public func unclaimed(by others: [Manifest?]) -> Manifest {
        var paths: [TreePath] = []
        var values: [Entry] = []
        for (path, entry) in entries where !others.contains(where: { $0?[path] != nil }) {
            paths.append(path)
            values.append(entry)
        }
        return Manifest(entries: PathTable(keysInOrder: paths, values: values))
    }

    /// Whether the two hold the same entry, or none, at every path `excludes` does not match: an excluded path may be
    /// in either or both, with any entry. One pass over both (sorted).
    func equals(_ other: Manifest, outside excludes: ExcludeSet) -> Bool {
        for step in mergeJoin(entries, other.entries) {
            let path: TreePath
            switch step {
            case .both(let i, let j):
                if entries.values[i] == other.entries.values[j] { continue }
                path = entries.keys[i]
            case .left(let i): path = entries.keys[i]
            case .right(let j): path = other.entries.keys[j]
            }
            if !excludes.matches(path) { return false }
        }
        return true
    }

    func write(to w: inout BinaryWriter) {
        w.append(entries, fixedSize: 24) {
            $0.put($1.mode.rawValue)
            $0.put($1.id)
        }
    }

    init?(reading r: inout BinaryReader) {
        guard let count = r.readUInt32() else { return nil }
        r.startPaths()
        var paths: [TreePath] = []
        var values: [Entry] = []
        // An entry is at least 28 bytes (an empty path): a damaged count reserves no more than the file could hold.
        paths.reserveCapacity(r.reservation(count, each: 28))
        values.reserveCapacity(r.reservation(count, each: 28))
        for _ in 0..<count {
            guard let path = r.readPath(), let raw = r.readUInt32(), let mode = FileMode(rawValue: raw),
                let id = r.readID()
            else { return nil }
            paths.append(path)
            values.append(Entry(mode: mode, id: id))
        }
        // Written sorted since the sorted tables; an earlier version's file (hash order) is sorted here, once.
        // The order is the reader's finding (one `memcmp` a path where the bytes lie).
        self.init(
            entries: r.pathsIncreasing
                ? PathTable(keysInOrder: paths, values: values) : PathTable(sorting: zip(paths, values)))
    }
}
