import Glibc
import SmartSyncFileSystem

extension ObjectStore {
    /// Removes files in `tmp/` whose inode has not changed for `age` seconds (ctime, as of `now`, seconds since the
    /// epoch, nil: the clock): what a killed run left behind. A run in progress makes its temporaries fresh, so with
    /// the default age a concurrent run is never disturbed, even where a temporary carries a sealed object's 1970
    /// mtime (a ``TwinBatch``'s copies wait there through a stage). Returns how many were removed. Best effort:
    /// errors are ignored.
    @discardableResult
    public func removeStaleTemporaries(olderThan age: Int = 24 * 3600, now: Int? = nil) -> Int {
        let nowNs = now.map { Int64($0) * 1_000_000_000 } ?? Timestamps.nowNs()
        var removed = 0
        for name in (try? FileSystem.names(in: temporaryDirectory)) ?? [] {
            let path = temporaryDirectory + "/" + name
            guard let ageNs = FileSystem.inodeAgeNs(path, at: nowNs, regularFile: true) else { continue }
            if ageNs > Int64(age) * 1_000_000_000, unlink(path) == 0 { removed += 1 }
        }
        return removed
    }
}
