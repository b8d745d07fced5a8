#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
import SmartSyncCore

/// Small POSIX helpers shared by the state files: whole-file reads and atomic replacement.
enum FileIO {
    /// Reads a whole file. Returns nil when it does not exist; throws on other failures.
    /// Also returns the file's modification time in nanoseconds since the epoch.
    static func readIfPresent(_ path: String) throws -> (bytes: [UInt8], mtimeNs: Int64)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw SmartSyncError.io("open", path: path)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SmartSyncError.io("fstat", path: path) }
        let size = Int(st.st_size)
        var readError: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            while count < size {
                let n = read(fd, buffer.baseAddress! + count, size - count)
                if n < 0 {
                    if errno == EINTR { continue }
                    readError = errno
                    return
                }
                if n == 0 { break }
                count += n
            }
        }
        if readError != 0 { throw SmartSyncError.io("read", path: path, errno: readError) }
        return (bytes, Timestamps.mtimeNs(st))
    }

    /// Replaces `path` with `bytes` atomically: a temporary file in the same directory, `fsync`, `rename`,
    /// then an `fsync` of the directory. Returns the new file's modification time (ns since the epoch).
    @discardableResult
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws -> Int64 {
        let dir = parentDirectory(of: path)
        let tmp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw SmartSyncError.io("open", path: tmp, hint: "check that the state directory is writable")
        }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            defer { close(fd) }
            try writeAll(fd: fd, bytes, path: tmp)
            guard fsync(fd) == 0 else { throw SmartSyncError.io("fsync", path: tmp) }
        }
        var st = stat()
        guard stat(tmp, &st) == 0 else { throw SmartSyncError.io("stat", path: tmp) }
        guard rename(tmp, path) == 0 else { throw SmartSyncError.io("rename", path: path) }
        ok = true
        fsyncDirectory(dir)
        return Timestamps.mtimeNs(st)
    }

    static func writeAll(fd: Int32, _ bytes: [UInt8], path: String) throws {
        try bytes.withUnsafeBytes { try writeAll(fd: fd, $0, path: path) }
    }

    static func writeAll(fd: Int32, _ raw: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw SmartSyncError.io("write", path: path)
            }
            offset += n
        }
    }

    /// Best-effort `fsync` of a directory (makes a rename durable).
    static func fsyncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
    }

    /// Creates `path` and its missing parents with mode 0755.
    static func makeDirectories(_ path: String) throws {
        if path.isEmpty { return }
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { return }
            throw SmartSyncError(.io, "'\(path)' exists and is not a directory; move it away or choose another path")
        }
        let parent = parentDirectory(of: path)
        if parent != path && !parent.isEmpty { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw SmartSyncError.io("mkdir", path: path)
        }
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }
}

/// Conversions of `stat` times to nanoseconds.
enum Timestamps {
    @inline(__always)
    static func mtimeNs(_ st: stat) -> Int64 {
        #if canImport(Darwin)
            return Int64(st.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(st.st_mtimespec.tv_nsec)
        #else
            return Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        #endif
    }

    @inline(__always)
    static func ctimeNs(_ st: stat) -> Int64 {
        #if canImport(Darwin)
            return Int64(st.st_ctimespec.tv_sec) * 1_000_000_000 + Int64(st.st_ctimespec.tv_nsec)
        #else
            return Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
        #endif
    }
}
