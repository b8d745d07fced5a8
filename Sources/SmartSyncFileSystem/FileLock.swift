import Glibc
import SmartSyncCore
import Synchronization

/// An exclusive advisory lock (`flock`) on a file, recording the holder's PID for error messages.
///
/// The kernel drops the lock when the process dies, so a crashed run never leaves a stale lock.
public final class FileLock: Sendable {
    /// The lock file's descriptor; -1 once released.
    private let fd: Mutex<Int32>
    /// The lock file.
    public let path: String

    private init(fd: Int32, path: String) {
        self.fd = Mutex(fd)
        self.path = path
    }

    /// Takes the lock without waiting. Throws `.locked` naming `what` and the holder's PID when taken.
    ///
    /// - Parameter shared: take a shared lock (many holders; excludes only exclusive holders).
    public static func acquire(path: String, what: String, shared: Bool = false) throws -> FileLock {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        if flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            let err = errno
            var holder = ""
            if !shared && flock(fd, LOCK_SH | LOCK_NB) == 0 {
                // Shared holders (syncs) write no PID: the file names an earlier exclusive holder.
                flock(fd, LOCK_UN)
                holder = " (by running syncs)"
            } else if let bytes = try? FileSystem.readFile(path),
                let pid = Int(String(decoding: bytes, as: UTF8.self).trimmingWhitespace())
            {
                holder = " (held by process \(pid))"
            }
            close(fd)
            if err == EWOULDBLOCK {
                throw SmartSyncError(
                    .locked,
                    "\(what) is in use by another smart-sync run\(holder)",
                    hint: "wait for it to finish (lock file: \(path))")
            }
            throw SmartSyncError.io("flock", path: path, errno: err)
        }
        if shared { return FileLock(fd: fd, path: path) }
        ftruncate(fd, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return FileLock(fd: fd, path: path)
    }

    /// Releases the lock. Idempotent.
    public func release() {
        fd.withLock { fd in
            guard fd >= 0 else { return }
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }

    deinit { release() }
}

extension String {
    func trimmingWhitespace() -> Substring {
        let ws: Set<Character> = [" ", "\n", "\t", "\r"]
        var s = self[...]
        while let f = s.first, ws.contains(f) { s = s.dropFirst() }
        while let l = s.last, ws.contains(l) { s = s.dropLast() }
        return s
    }
}
