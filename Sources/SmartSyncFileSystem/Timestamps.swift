import Glibc

/// Conversions of `stat` times to nanoseconds since the epoch.
public enum Timestamps {
    @inline(__always)
    public static func mtimeNs(_ st: stat) -> Int64 {
        return Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }

    @inline(__always)
    public static func ctimeNs(_ st: stat) -> Int64 {
        return Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
    }

    /// Now, as the kernel stamps files (`CLOCK_REALTIME_COARSE`, ns since the epoch): a file written after this
    /// reading gets an mtime and ctime no earlier, before the file system's truncation to its own granularity (a
    /// finer clock can be up to a tick ahead of the stamps of files written after it was read).
    public static func nowFileClockNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
