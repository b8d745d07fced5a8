import Glibc
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Decides, without reading it, whether a regular file of a kept tree (a generation, the spare) still holds a given
/// blob. A file's seal alone does not say which blob it holds (a tree of another commit is sealed too) nor that no one
/// wrote to it and put its time back; what does:
///
/// - it is the store's own object for that blob (its hard link: same device and inode), and the store's check before
///   linking passes for it; or
/// - it is exactly as the scan saw it when its tree was the target (device, inode, size, mtime, ctime, mode, in the
///   generation's stat cache, not racy), and that scan hashed it to that blob. No one can set a ctime, so a write since
///   (even one that puts the sealed time back) shows.
///
/// Either way its seal must hold and its inode must not be one the store quarantined. Anything else is not vouched for:
/// the caller reads it, or replaces it from the store.
///
/// A trust made with ``init(store:storeFirst:reading:)`` reads the stat cache only when a file needs it: the first
/// `storeFirst` files it is asked about are checked against the store first, and the cache is read for the first of
/// them the store does not vouch for (a copy, a reflink) or once they are used up. A recycled stage asks about the few
/// files its scan did not vouch for (``StageRecycler/Scanned``), which are the store's own objects where the trees are
/// hard links: for them an `lstat` or two each is cheaper than decoding a table of every path of the tree (and holding
/// it through the pass).
struct GenerationTrust {
    let store: ObjectStore
    /// The generation's stat cache (``Generation/statCache()``), once read (empty before).
    private(set) var cache: StatCache
    /// Reads ``cache`` when it has not been read yet.
    private var reading: (() -> StatCache)?
    /// How many more files are checked against the store alone before ``cache`` is read.
    private var storeFirst = 0
    let quarantined: Set<FileIdentity>
    /// The cache read forward while the paths asked about come in increasing order (a walk's, a manifest's), and the
    /// furthest path it was asked for; a path at or before that one is looked up by binary search.
    private var cached: PathTable<StatCache.Entry>.Cursor
    private var furthest: TreePath?

    init(store: ObjectStore, cache: StatCache) throws {
        self.store = store
        self.cache = cache
        quarantined = try store.quarantinedIdentities()
        cached = PathTable.Cursor(cache.entries)
    }

    /// A trust that reads the generation's stat cache with `reading` only when a file needs it: one the store does
    /// not vouch for, or any past the first `storeFirst` asked about (those are checked against the store first).
    init(store: ObjectStore, storeFirst: Int, reading: @escaping () -> StatCache) throws {
        try self.init(store: store, cache: StatCache())
        self.reading = reading
        self.storeFirst = storeFirst
    }

    /// Whether the stat cache was read (always for a trust made with one).
    var readCache: Bool { reading == nil }

    /// Whether the regular file at `path` (with `st`) holds `id` with `mode`'s permissions, by the rules above.
    mutating func vouches(for path: TreePath, id: ObjectID, mode: FileMode, size: Int?, st: stat) throws -> Bool {
        let executable = mode == .executable
        guard mode != .symlink, Seal.breach(of: st, executable: executable, size: size) == nil,
            !quarantined.contains(FileIdentity(st))
        else { return false }
        var askedStore = false
        if let read = reading {
            if storeFirst > 0 {
                storeFirst -= 1
                if try object(id, executable: executable) == FileIdentity(st) { return true }
                askedStore = true
            }
            // Past the first ones, or one the store does not vouch for (a copy, a reflink): the cache is read.
            cache = read()
            cached = PathTable.Cursor(cache.entries)
            reading = nil
        }
        if let entry = cacheEntry(path), cache.trustedID(of: entry, stat: StatData(st)) == id { return true }
        return try !askedStore && object(id, executable: executable) == FileIdentity(st)
    }

    /// The cache's entry for `path` (``cached``).
    private mutating func cacheEntry(_ path: TreePath) -> StatCache.Entry? {
        if let furthest, furthest.compare(path) >= 0 { return cache.entries[path] }
        furthest = path
        return cached.seek(path)
    }

    /// The identity of the intact store object (or `0555` twin) for `id`; nil when the store has no intact one.
    ///
    /// Asked anew for each file, not remembered per blob: a table of every blob of the tree was the largest single
    /// structure of an update's peak (12.6 MB at 100,000 files), and it only saved the look of a blob met a second
    /// time (a repaired or quarantined object is sealed or missing when asked again: no second repair).
    private func object(_ id: ObjectID, executable: Bool) throws -> FileIdentity? {
        // Sealed as they are (the object, and the twin for an executable): one look at each, the common case.
        if let sealed = store.sealedIdentity(of: id, executable: executable),
            !executable || store.sealedIdentity(of: id, executable: false) != nil
        {
            return sealed
        }
        guard try store.holds(id, size: nil, repair: true) else { return nil }
        var st = stat()
        let path = store.path(for: id) + (executable ? ".x" : "")
        guard lstat(path, &st) == 0, Seal.breach(of: st, executable: executable, size: nil) == nil else { return nil }
        return FileIdentity(st)
    }
}
