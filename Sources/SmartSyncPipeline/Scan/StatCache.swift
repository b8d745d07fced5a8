import SmartSyncFileSystem
import SmartSyncGitObjects

/// A per-target cache of file ids keyed by `stat` data, like git's index, so an unchanged file is not re-hashed.
///
/// Racy-git, in two steps:
///
/// - A scan leaves out of the cache it makes every file modified (mtime or, with ``trustCtime``, ctime) at or after
///   the moment it started (``isRacy(_:since:)``, the clock read before its first `stat`): such a file could have
///   been written again, in the same tick, after it was hashed, with the same stat data. Its entry would vouch for
///   content it no longer holds; left out, it is hashed again by the next scan. The scan runs while the ref is
///   resolved and listed, so the cache file is written well after the scan read the files: the file's own time says
///   nothing of that window.
/// - An entry is only trusted when its mtime (and ctime) is strictly older than the moment the cache file was
///   written (``timestampNs``, the cache file's own mtime, so both sides come from the same clock and granularity):
///   that covers the entries an apply records for the files it placed (``record(_:target:known:)``), stat'd after
///   the scan started.
///
/// A file of format version 1 (written by releases whose scan did not leave racy files out) is read, but vouches for
/// nothing (``timestampNs`` nil): its first scan hashes every file once, and writes version 2.
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

    /// Whether a file stamped `timestampNs` (an mtime or a ctime) may have been written again, unseen, after a scan
    /// that started at `startNs` (``Timestamps/nowFileClockNs()``) hashed it: stamped in the same tick or later.
    ///
    /// The stamp is compared at the granularity it shows (its trailing decimal zeros: whole seconds on ext3, two
    /// seconds on FAT), the start truncated to it: a file system that truncates a write's time to its granularity can
    /// stamp a write made after the start with a time before it. A stamp of a finer file system that happens to end in
    /// zeros is compared more coarsely than it need be: a file hashed again, never one trusted.
    public static func isRacy(_ timestampNs: Int64, since startNs: Int64) -> Bool {
        // Two seconds before the start is before it at every granularity: most files, at no cost.
        if timestampNs < startNs - 2_000_000_000 { return false }
        var granularity: Int64 = 1
        while granularity < 1_000_000_000 && timestampNs % (granularity * 10) == 0 { granularity *= 10 }
        if granularity == 1_000_000_000 && timestampNs % 2_000_000_000 == 0 { granularity = 2_000_000_000 }
        return timestampNs >= startNs - ((startNs % granularity) + granularity) % granularity
    }

    /// Whether `stat` (a file a scan that started at `startNs` found) is racy for it (``isRacy(_:since:)``): left out
    /// of the cache the scan makes.
    public func isRacy(_ stat: StatData, since startNs: Int64) -> Bool {
        Self.isRacy(stat.mtimeNs, since: startNs) || (trustCtime && Self.isRacy(stat.ctimeNs, since: startNs))
    }

    static let magic: StaticString = "SSSC"
    /// 2: a scan's racy files are left out (see above). 1: they were not; read, trusted for nothing.
    static let version: UInt32 = 2
    /// The version the last release wrote (the format of its bytes is this one's).
    static let unscreenedVersion: UInt32 = 1

    /// The binary form of the cache (without the timestamp, which is the file's mtime).
    public func encoded() -> [UInt8] {
        var w = BinaryWriter(magic: Self.magic, version: Self.version)
        w.append(entries, fixedSize: 64) {
            $0.put($1.stat.device)
            $0.put($1.stat.inode)
            $0.put($1.stat.size)
            $0.put($1.stat.mtimeNs)
            $0.put($1.stat.ctimeNs)
            $0.put($1.stat.mode)
            $0.put($1.id)
        }
        return w.finish()
    }

    /// Parses ``encoded()`` output; nil when the bytes are not a valid cache. A path equal to one of `sharing` (sorted:
    /// a manifest's paths) is that path itself, with no storage of its own.
    public init?(encoded bytes: [UInt8], timestampNs: Int64?, trustCtime: Bool = true, sharing: [TreePath] = []) {
        let cache = bytes.withUnsafeBufferPointer {
            Self(encoded: $0, timestampNs: timestampNs, trustCtime: trustCtime, sharing: sharing)
        }
        guard let cache else { return nil }
        self = cache
    }

    /// ``init(encoded:timestampNs:trustCtime:sharing:)`` of bytes it does not own (valid while it runs).
    init?(encoded bytes: UnsafeBufferPointer<UInt8>, timestampNs: Int64?, trustCtime: Bool, sharing: [TreePath]) {
        guard var r = BinaryReader(bytes, magic: Self.magic, versions: Self.readable) else { return nil }
        self.init(reading: &r, timestampNs: timestampNs, trustCtime: trustCtime, sharing: sharing)
    }

    /// The versions read: this one, and the last release's (trusted for nothing).
    private static let readable = unscreenedVersion...version

    /// The cache `r` holds past its header (``init(encoded:timestampNs:trustCtime:sharing:)``); nil unless it ends at
    /// the end of `r`'s body (``BinaryReader/isAtEnd``).
    private init?(reading r: inout BinaryReader, timestampNs: Int64?, trustCtime: Bool, sharing: [TreePath]) {
        let trusted = r.version == Self.version
        guard let count = r.readUInt32() else { return nil }
        var paths: [TreePath] = []
        var values: [Entry] = []
        // An entry is at least 68 bytes (an empty path): a damaged count reserves no more than the file could hold.
        paths.reserveCapacity(r.reservation(count, each: 68))
        values.reserveCapacity(r.reservation(count, each: 68))
        var next = 0
        for _ in 0..<count {
            guard let path = r.readPath(sharing: sharing, from: &next), let dev = r.readUInt64(),
                let ino = r.readUInt64(), let size = r.readInt64(), let mtime = r.readInt64(),
                let ctime = r.readInt64(), let mode = r.readUInt32(), let id = r.readID()
            else { return nil }
            let st = StatData(device: dev, inode: ino, size: size, mtimeNs: mtime, ctimeNs: ctime, mode: mode)
            paths.append(path)
            values.append(Entry(stat: st, id: id))
        }
        guard r.isAtEnd else { return nil }
        // Written sorted since the sorted tables; an earlier version's file (hash order) is sorted here, once.
        let entries =
            r.pathsIncreasing
            ? PathTable(keysInOrder: paths, values: values) : PathTable(sorting: zip(paths, values))
        self.init(entries: entries, timestampNs: trusted ? timestampNs : nil, trustCtime: trustCtime)
    }

    /// Loads the cache at `path`, decoded as it is read (no array of the whole file:
    /// ``BinaryReader/decodeFile(_:magic:versions:regularOnly:bufferSize:_:)``); its timestamp is the file's mtime. A
    /// missing or damaged file gives an empty cache (it is only a cache). Paths equal to one of `sharing` (sorted)
    /// share its storage.
    public static func load(from path: String, trustCtime: Bool = true, sharing: [TreePath] = []) throws -> StatCache {
        try load(from: path, trustCtime: trustCtime, sharing: sharing, bufferSize: BinaryReader.bufferSize)
    }

    /// ``load(from:trustCtime:sharing:)`` through a buffer of `bufferSize` bytes at first.
    static func load(from path: String, trustCtime: Bool, sharing: [TreePath], bufferSize: Int) throws -> StatCache {
        // Read, not mapped: a file cut in place (an operator's restore, a failing disk) while mapped would kill the
        // run with SIGBUS, even where the cache is only tried (after the switch). ARCHITECTURE, "Read, not mapped".
        let loaded = try BinaryReader.decodeFile(
            path, magic: magic, versions: readable, bufferSize: bufferSize
        ) { r, mtimeNs in
            StatCache(reading: &r, timestampNs: mtimeNs, trustCtime: trustCtime, sharing: sharing)
        }
        return loaded ?? StatCache(trustCtime: trustCtime)
    }

    /// Writes the cache atomically (temp file, rename) and sets ``timestampNs`` to the file's mtime.
    ///
    /// Not fsynced (two fsyncs a save, three saves an update): a cache lost in a crash, or cut short (its trailing
    /// SHA-1 then fails and it reads as empty), only costs the next scan its hashing; one that survives vouches for a
    /// file only while its device, inode, size, mtime and ctime are still the same, whatever else was lost.
    public mutating func save(to path: String) throws {
        timestampNs = try FileSystem.writeFileAtomically(path, encoded(), durable: false)
    }
}
