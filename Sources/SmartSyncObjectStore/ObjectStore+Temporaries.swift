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
        var removed = 0
        for name in (try? FileSystem.names(in: temporaryDirectory)) ?? [] {
            let path = temporaryDirectory + "/" + name
            if let seconds = FileSystem.ageOfRegularFile(path, now: now), seconds > age, unlink(path) == 0 { removed += 1 }
        }
        return removed
    }
}
