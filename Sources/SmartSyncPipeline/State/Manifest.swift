import SmartSyncGitObjects

/// What a sync put into a target: path → (mode, blob id). The planner deletes only paths listed here.
public struct Manifest: Sendable, Hashable, Codable {
    /// One file or symlink the sync wrote.
    public struct Entry: Sendable, Hashable, Codable {
        public var mode: FileMode
        public var id: ObjectID

        public init(mode: FileMode, id: ObjectID) {
            self.mode = mode
            self.id = id
        }
    }

    public var entries: [TreePath: Entry]

    public init(entries: [TreePath: Entry] = [:]) {
        self.entries = entries
    }

    /// The files and symlinks of a listing (gitlinks and trees left out).
    public init(listing: TreeListing) {
        var entries: [TreePath: Entry] = [:]
        entries.reserveCapacity(listing.entries.count)
        for e in listing.entries where e.mode.isBlob {
            entries[e.path] = Entry(mode: e.mode, id: e.id)
        }
        self.init(entries: entries)
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

    func write(to w: inout BinaryWriter) {
        w.append(UInt32(entries.count))
        for (path, e) in entries {
            w.append(path)
            w.append(e.mode.rawValue)
            w.append(e.id)
        }
    }

    init?(reading r: inout BinaryReader) {
        guard let count = r.readUInt32() else { return nil }
        var entries: [TreePath: Entry] = [:]
        entries.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let path = r.readPath(), let raw = r.readUInt32(), let mode = FileMode(rawValue: raw),
                let id = r.readID()
            else { return nil }
            entries[path] = Entry(mode: mode, id: id)
        }
        self.init(entries: entries)
    }
}
