import FoundationEssentials
import Glibc
import SmartSyncFileSystem
import SmartSyncObjectStore

/// The disk usage of a store, for `status` and the metrics file, without a walk of every object on every run.
///
/// Objects are written under a temporary name and renamed into their fan-out directory (`objects/ab/`), and removed
/// by unlinking: either changes the directory's mtime and ctime. So the bytes of one fan-out directory's files are
/// kept in `<state>/aux/store-usage` with the directory's inode, mtime and ctime, and a later measurement re-reads
/// only the directories whose stamps moved: 256 `lstat`s instead of one per object. Everything outside `objects/`
/// (partial downloads that grow in place, quarantine, temporaries) is walked every time; it is small.
///
/// Racy stamps: a directory changed within two seconds (``defaultRacyWindow``) of the measurement is not cached, since
/// a change in the same timestamp tick would not move its mtime. A file changed in place without a rename (an object
/// edited through a hardlink) keeps its old size here until its directory changes; `gc` and `fsck` measure for
/// themselves.
public struct StoreUsage: Sendable {
    /// How recent a directory's change may be, by default, for its bytes to be cached.
    public static let defaultRacyWindow: Duration = .seconds(2)

    let state: StateStore
    let racyWindow: Int64

    /// - Parameter racyWindow: a fan-out directory changed less than this before a measurement is measured again
    ///   next time.
    public init(state: StateStore, racyWindow: Duration = Self.defaultRacyWindow) {
        self.state = state
        self.racyWindow =
            racyWindow.components.seconds * 1_000_000_000 + racyWindow.components.attoseconds / 1_000_000_000
    }

    /// The disk usage of the files under the store directory `root` (their allocated blocks, as
    /// ``FileSystem/diskUsage(of:onlyUnlinked:)`` counts them: directories themselves count nothing), or nil when there
    /// is none. With `saving`, what was measured anew is kept for the next measurement (a cache that cannot be saved
    /// costs a walk, nothing else); without, the cache is only read (`status` writes nothing).
    public func measure(_ root: String, saving: Bool = true) -> Int? {
        guard TreeOps.isDirectory(root) else { return nil }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let started = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        var cache = load(root)
        var fresh: [String: Cached] = [:]
        var st = stat()
        var total = 0
        for name in ((try? FileSystem.names(in: root)) ?? []) where name != "objects" {
            total += FileSystem.diskUsage(of: root + "/" + name)
        }
        let objects = root + "/objects"
        if lstat(objects, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? FileSystem.names(in: objects)) ?? [] {
                let path = objects + "/" + name
                guard lstat(path, &st) == 0 else { continue }
                guard (st.st_mode & S_IFMT) == S_IFDIR else {
                    total += Int(st.st_blocks) * 512
                    continue
                }
                let stamp = Cached(st, bytes: 0)
                if let known = cache.removeValue(forKey: name), known.sameStamp(as: stamp) {
                    total += known.bytes
                    fresh[name] = known
                    continue
                }
                let bytes = FileSystem.diskUsage(of: path)
                total += bytes
                if max(stamp.mtime, stamp.ctime) < started - racyWindow { fresh[name] = Cached(st, bytes: bytes) }
            }
        }
        if saving { save(root, fresh) }
        return total
    }

    // MARK: - The cache

    /// One fan-out directory: its stamps when measured, and the bytes of its files.
    struct Cached: Codable, Hashable {
        var inode: UInt64
        var mtime: Int64
        var ctime: Int64
        var bytes: Int

        init(_ st: stat, bytes: Int) {
            inode = UInt64(st.st_ino)
            mtime = Timestamps.mtimeNs(st)
            ctime = Timestamps.ctimeNs(st)
            self.bytes = bytes
        }

        func sameStamp(as other: Cached) -> Bool {
            inode == other.inode && mtime == other.mtime && ctime == other.ctime
        }
    }

    /// The file (`<state>/aux/store-usage`, a ``JSONRecord``): the fan-out directories of each store measured.
    struct File: JSONRecord {
        static let format = "smart-sync-store-usage"
        static let version = 1
        var stores: [String: [String: Cached]] = [:]
    }

    private var path: String { state.root + "/aux/store-usage" }

    private func loadFile() -> File { ((try? File.read(at: path)) ?? nil)?.record ?? File() }

    private func load(_ root: String) -> [String: Cached] { loadFile().stores[root] ?? [:] }

    private func save(_ root: String, _ fanouts: [String: Cached]) {
        var file = loadFile()
        guard file.stores[root] != fanouts else { return }
        file.stores[root] = fanouts
        try? FileSystem.makeDirectories(state.root + "/aux")
        try? file.write(to: path, mode: 0o600)
    }
}
