import SmartSyncCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension ObjectStore {
    /// Removes files in `tmp/` older than `age` seconds: what a killed run left behind. A run in progress
    /// writes its temporaries fresh, so with the default age a concurrent run is never disturbed.
    /// Returns how many were removed. Best effort: errors are ignored.
    @discardableResult
    public func removeStaleTemporaries(olderThan age: Int = 24 * 3600) -> Int {
        guard let dir = opendir(temporaryDirectory) else { return 0 }
        defer { closedir(dir) }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var removed = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != "." && name != ".." else { continue }
            let path = temporaryDirectory + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
            if Int(now.tv_sec) - Int(st.st_mtim.tv_sec) > age, unlink(path) == 0 { removed += 1 }
        }
        return removed
    }
}
