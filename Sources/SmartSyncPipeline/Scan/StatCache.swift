import SmartSyncFileSystem
import SmartSyncGitObjects

/// A per-target cache of file ids keyed by `stat` data, like git's index, so an unchanged file is not re-hashed.
///
/// Racy-git: an entry is only trusted when its mtime (and, with ``trustCtime``, its ctime) is strictly older
/// than the moment the cache file was written (``timestampNs``, the cache file's own mtime, so both sides come
/// from the same clock and granularity). A file modified in the same tick as the cache write could change again
/// without its stat changing, so such entries are re-hashed.
///
/// Stored as a compact binary file (see ``BinaryWriter``), sorted by path bytes and held as a ``PathTable``: a load is
/// two arrays and no hashing, and the scan joins it with what it found in one pass. A file written by an earlier
/// version (in hash order) is sorted once as it is read.
public struct StatCache: Sendable, Hashable {
    /// One cached file.
    public struct Entry: Sendable, Hashable {
        public var stat: StatData
        public var id: ObjectID

        public init(stat: StatData, id: ObjectID) {
            self.stat = stat
            self.id = id
        }
    }

    /// Cached entries by relative path.
    public var entries: PathTable<Entry>
    /// When the loaded cache file was written (its mtime, ns since the epoch); nil for a cache never saved,
    /// whose entries are never trusted.
    public var timestampNs: Int64?
    /// Compare ctime too (git's `core.trustctime`). On by default; turn off on file systems where ctime
    /// changes behind your back.
    public var trustCtime: Bool

    public init(entries: PathTable<Entry> = [:], timestampNs: Int64? = nil, trustCtime: Bool = true) {
        self.entries = entries
        self.timestampNs = timestampNs
        self.trustCtime = trustCtime
    }

    /// The cached id for `path` when `stat` matches and the entry is not racy; nil means "hash it".
    @inline(__always)
    public func trustedID(for path: TreePath, stat: StatData) -> ObjectID? {
        guard let e = entries[path] else { return nil }
        return trustedID(of: e, stat: stat)
    }

    /// `entry`'s id when `stat` matches it and it is not racy (``trustedID(for:stat:)`` with the entry at hand).
    @inline(__always)
    public func trustedID(of e: Entry, stat: StatData) -> ObjectID? {
        guard let ts = timestampNs else { return nil }
        let s = e.stat
        guard s.inode == stat.inode, s.size == stat.size, s.mtimeNs == stat.mtimeNs, s.device == stat.device,
            s.mode == stat.mode
        else { return nil }
        if trustCtime && s.ctimeNs != stat.ctimeNs { return nil }
        // Racy: modified in the same tick as (or after) the cache write. Never trust it.
        if s.mtimeNs >= ts || (trustCtime && s.ctimeNs >= ts) { return nil }
        return e.id
    }

    static let magic: StaticString = "SSSC"
    static let version: UInt32 = 1

    /// The binary form of the cache (without the timestamp, which is the file's mtime).
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(magic: Self.magic, version: Self.version, reserve: entries.count * 96)
        w.append(UInt32(entries.count))
        for (path, e) in entries {
            w.append(path)
            w.append(e.stat.device)
            w.append(e.stat.inode)
            w.append(e.stat.size)
            w.append(e.stat.mtimeNs)
            w.append(e.stat.ctimeNs)
            w.append(e.stat.mode)
            w.append(e.id)
        }
        return w.finish()
    }

    /// Parses ``encoded()`` output; nil when the bytes are not a valid cache. A path equal to one of `sharing` (sorted:
    /// a manifest's paths) is that path itself, with no storage of its own.
    public init?(encoded bytes: [UInt8], timestampNs: Int64?, trustCtime: Bool = true, sharing: [TreePath] = []) {
        guard var r = BinaryReader(bytes, magic: Self.magic, version: Self.version),
            let count = r.readUInt32()
        else { return nil }
        var paths: [TreePath] = []
        var values: [Entry] = []
        paths.reserveCapacity(Int(count))
        values.reserveCapacity(Int(count))
        var next = 0
        for _ in 0..<count {
            guard let path = r.readPath(sharing: sharing, from: &next), let dev = r.readUInt64(), let ino = r.readUInt64(),
                let size = r.readInt64(), let mtime = r.readInt64(), let ctime = r.readInt64(),
                let mode = r.readUInt32(), let id = r.readID()
            else { return nil }
            let st = StatData(device: dev, inode: ino, size: size, mtimeNs: mtime, ctimeNs: ctime, mode: mode)
            paths.append(path)
            values.append(Entry(stat: st, id: id))
        }
        guard r.isAtEnd else { return nil }
        // Written sorted since the sorted tables; an earlier version's file (hash order) is sorted here, once.
        let entries = PathTable(sortedKeys: paths, values: values) ?? PathTable(sorting: zip(paths, values))
        self.init(entries: entries, timestampNs: timestampNs, trustCtime: trustCtime)
    }

    /// Loads the cache at `path`. A missing or damaged file gives an empty cache (it is only a cache). Paths equal to
    /// one of `sharing` (sorted) share its storage.
    public static func load(from path: String, trustCtime: Bool = true, sharing: [TreePath] = []) throws -> StatCache {
        guard let (bytes, mtime) = try FileSystem.readFileIfPresent(path) else {
            return StatCache(trustCtime: trustCtime)
        }
        return StatCache(encoded: bytes, timestampNs: mtime, trustCtime: trustCtime, sharing: sharing)
            ?? StatCache(trustCtime: trustCtime)
    }

    /// Writes the cache atomically (temp file, fsync unless not `durable`, rename) and sets ``timestampNs`` to the
    /// file's mtime.
    public mutating func save(to path: String, durable: Bool = true) throws {
        timestampNs = try FileSystem.writeFileAtomically(path, encoded(), durable: durable)
    }
}
