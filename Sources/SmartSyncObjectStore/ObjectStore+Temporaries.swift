import Glibc
import SmartSyncFileSystem

extension ObjectStore {
    /// Removes files in `tmp/` older than `age` seconds: what a killed run left behind. A run in progress
    /// writes its temporaries fresh, so with the default age a concurrent run is never disturbed.
    /// Returns how many were removed. Best effort: errors are ignored.
    @discardableResult
    public func removeStaleTemporaries(olderThan age: Int = 24 * 3600) -> Int {
        var removed = 0
        for name in (try? FileSystem.names(in: temporaryDirectory)) ?? [] {
            let path = temporaryDirectory + "/" + name
            if let seconds = FileSystem.ageOfRegularFile(path), seconds > age, unlink(path) == 0 { removed += 1 }
        }
        return removed
    }
}
