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
}
