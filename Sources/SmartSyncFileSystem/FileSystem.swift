import CLinuxShims
import Glibc
import SmartSyncCore

/// Small POSIX helpers shared by the store and its callers.
public enum FileSystem {
    /// `mkdir -p`, mode 0755.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        if mkdir(path, mode) == 0 { return }
        let err = errno
        if err == EEXIST {
            var st = stat()
            if stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { return }
            throw SmartSyncError.io("mkdir", path: path, errno: ENOTDIR)
        }
        guard err == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw SmartSyncError.io("mkdir", path: path, errno: err)
        }
        try makeDirectories(String(path[..<slash]), mode: mode)
        if mkdir(path, mode) != 0 && errno != EEXIST { throw SmartSyncError.io("mkdir", path: path) }
    }

    /// Creates `path` (and missing parents, 0755) as a directory only its owner can enter (0700). An existing one
    /// keeps its owner and group bits but loses any access for others: a store, a state directory or a switch's
    /// sidecar holds copies of the operator's files, secrets included, so "0700, or 0750 with a group" is the rule.
    ///
    /// The existing directory is opened once and checked and changed through that descriptor, so what is checked is
    /// what is changed. With `followingSymlink` false (a sidecar beside the target, in a directory others may write)
    /// a symlink at `path` is refused instead of followed; a store or state root may be a symlink the operator made.
    public static func makePrivateDirectory(_ path: String, followingSymlink: Bool = true) throws {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectories(String(path[..<slash]))
        }
        if mkdir(path, 0o700) == 0 { return }
        guard errno == EEXIST else { throw SmartSyncError.io("mkdir", path: path) }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (followingSymlink ? 0 : O_NOFOLLOW))
        guard fd >= 0 else {
            let err = errno == ELOOP ? ENOTDIR : errno
            throw SmartSyncError.io("open", path: path, errno: err)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SmartSyncError.io("fstat", path: path) }
        if st.st_mode & 0o007 != 0, fchmod(fd, st.st_mode & 0o7770) != 0 {
            throw SmartSyncError.io("chmod", path: path, hint: "it must not be readable by other users")
        }
    }

    /// Reads a whole file.
    public static func readFile(_ path: String) throws -> [UInt8] {
        guard let (bytes, _) = try readFileIfPresent(path) else {
            throw SmartSyncError.io("open", path: path, errno: ENOENT)
        }
        return bytes
    }

    /// Reads a whole file, or nil when it does not exist; also its modification time (ns since the epoch).
    public static func readFileIfPresent(_ path: String) throws -> (bytes: [UInt8], mtimeNs: Int64)? {
        try withOpenFileIfPresent(path) { fd, st in try readWhole(fd, st, path: path) }
    }

    /// Calls `body` with a descriptor open for reading on `path`, at its start (closed when `body` returns), and its
    /// `fstat`; nil when nothing is at `path`. Opened as ``readFileIfPresent(_:)`` opens it, or with `regularOnly` as
    /// ``readRegularFileIfPresent(_:)`` does (a symlink, a FIFO or any other file that is not regular is none: not
    /// followed, not blocked on), for a reader that decodes the bytes as it reads them instead of taking them as one
    /// array (the state files' reader).
    public static func withFileIfPresent<R>(
        _ path: String, regularOnly: Bool = false, _ body: (Int32, stat) throws -> R
    ) throws -> R? {
        try withOpenFileIfPresent(path, regularOnly: regularOnly, body)
    }

    /// Reads a whole regular file, or nil when there is none at `path`: absent, or a symlink (not followed), a
    /// directory or any other kind of file there, as an `lstat` for `S_IFREG` would tell, without that call (one open).
    public static func readRegularFileIfPresent(_ path: String) throws -> (bytes: [UInt8], mtimeNs: Int64)? {
        try withOpenFileIfPresent(path, regularOnly: true) { fd, st in try readWhole(fd, st, path: path) }
    }

    /// Reads a whole regular file, or nil when nothing is at `path`. Anything else there is refused unread, as
    /// ``readRegularFileIfPresent(_:)`` opens it: a symlink is not followed, a FIFO does not block, a directory or a
    /// device is not read.
    ///
    /// - Throws: `SmartSyncError` (`.unsafePath`) naming `path` and what is there (`what` says what the file is for),
    ///   with `hint`.
    public static func readRegularFileRefusingOthers(
        _ path: String, what: String, hint: String
    ) throws -> (bytes: [UInt8], mtimeNs: Int64)? {
        do {
            return try withOpenFileIfPresent(path, regularOnly: true, refusing: true) { fd, st in
                try readWhole(fd, st, path: path)
            }
        } catch let refused as NotRegular {
            throw SmartSyncError(
                .unsafePath, "'\(path)', \(what), is \(refused.kind), not a regular file; refusing to read it",
                hint: hint)
        }
    }

    /// What ``withOpenFileIfPresent(_:regularOnly:refusing:_:)`` found at a path instead of a regular file.
    private struct NotRegular: Error {
        var kind: String

        init(mode: mode_t) {
            switch mode & S_IFMT {
            case S_IFLNK: kind = "a symlink"
            case S_IFIFO: kind = "a FIFO"
            case S_IFDIR: kind = "a directory"
            case S_IFSOCK: kind = "a socket"
            case S_IFCHR, S_IFBLK: kind = "a device"
            default: kind = "of an unknown kind"
            }
        }
    }

    /// Calls `body` with a descriptor open for reading on `path` (closed when it returns) and its `fstat`; nil when
    /// there is no such file, or with `regularOnly` when it is no regular file: a symlink is not followed (`ELOOP`)
    /// and a FIFO does not block the open (`O_NONBLOCK`, cleared once `fstat` shows a regular file, before `body`
    /// reads: a file system may honour it for regular files too, FUSE for one, and a read would fail `EAGAIN`). With
    /// `refusing` too, a file that is not regular throws ``NotRegular`` rather than reading as none.
    private static func withOpenFileIfPresent<R>(
        _ path: String, regularOnly: Bool = false, refusing: Bool = false, _ body: (Int32, stat) throws -> R
    ) throws -> R? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (regularOnly ? O_NOFOLLOW | O_NONBLOCK : 0))
        if fd < 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            if regularOnly && errno == ELOOP {
                if refusing { throw NotRegular(mode: S_IFLNK) }
                return nil
            }
            throw SmartSyncError.io("open", path: path)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SmartSyncError.io("fstat", path: path) }
        if regularOnly {
            guard (st.st_mode & S_IFMT) == S_IFREG else {
                if refusing { throw NotRegular(mode: st.st_mode) }
                return nil
            }
            let flags = fcntl(fd, F_GETFL)
            guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else {
                throw SmartSyncError.io("fcntl", path: path)
            }
        }
        return try body(fd, st)
    }

    /// The rest of the file open on `fd` (at its start, `st` its `fstat`), and its modification time.
    private static func readWhole(_ fd: Int32, _ st: stat, path: String) throws -> (bytes: [UInt8], mtimeNs: Int64) {
        // Read straight into the array, sized by the `fstat`: no 256 KiB buffer between, no second copy.
        let size = max(0, Int(st.st_size))
        var out = try [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            guard let base = buffer.baseAddress else { return }
            while count < size {
                let n = read(fd, base + count, size - count)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SmartSyncError.io("read", path: path)
                }
                if n == 0 { break }  // shorter than it was
                count += n
            }
        }
        if out.count == size {  // longer than it was: the rest as it comes
            try readChunks(fd: fd, path: path) { out.append(contentsOf: $0) }
        }
        return (out, Timestamps.mtimeNs(st))
    }

    /// Replaces `path` with `bytes` atomically: a temporary file beside it, fsync, rename, fsync of the
    /// directory. Returns the new file's modification time (ns since the epoch). `mode` is filtered by the umask
    /// unless `ignoringUmask` (a file other users must read whatever the service's umask, such as the metrics file).
    /// Not `durable`: no fsync (a reader still sees the old file or the new one whole, never a part; a power cut may
    /// lose the write), for files whose loss costs only time or a report: a cache that checks itself as it is read
    /// (the stat cache, with its trailing SHA-1) and records of runs (counters, metrics). Each fsync waits for the
    /// journal, tens of milliseconds on a busy disk, more than a whole no-op sync's work.
    @discardableResult
    public static func writeFileAtomically(
        _ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, ignoringUmask: Bool = false, durable: Bool = true
    ) throws -> Int64 {
        let tmp = temporaryName(path + ".tmp-\(getpid())-")
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: tmp, hint: "Check that the directory is writable") }
        var st = stat()
        do {
            try bytes.withUnsafeBytes { try writeAll(fd: fd, $0, path: tmp) }
            if ignoringUmask, fchmod(fd, mode) != 0 { throw SmartSyncError.io("chmod", path: tmp) }
            guard !durable || fsync(fd) == 0 else { throw SmartSyncError.io("fsync", path: tmp) }
            guard fstat(fd, &st) == 0 else { throw SmartSyncError.io("fstat", path: tmp) }
            close(fd)
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        try moveIntoPlace(tmp, path, durable: durable)
        return Timestamps.mtimeNs(st)
    }

    /// A fresh name for a temporary file or directory: `prefix` followed by 64 random bits in lower-case hex (at most
    /// 16 digits). Every temporary is named so, its prefix saying what it is. No cleanup reads the random part: the
    /// store's `tmp/` is cleaned by age alone, the target's and the publish directory's leftovers by their prefix, so
    /// names written by an earlier release (8 hex digits or base 36 there) are cleaned alike.
    ///
    /// The name fits `NAME_MAX` (255 bytes) whatever the prefix's last component: one too long for the random part
    /// (a sibling of a final name near 255 bytes, `writeFileAtomically`'s `<name>.tmp-<pid>-`) loses bytes from its
    /// middle, at a code point (Unicode scalar) boundary, so its start and its end (the marker saying what the
    /// temporary is) stay. The bytes stay valid UTF-8; a combining mark may be parted from its letter.
    public static func temporaryName(_ prefix: String) -> String {
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let room = Int(NAME_MAX) - 16
        let start =
            prefix.utf8.lastIndex(of: UInt8(ascii: "/")).map { prefix.utf8.index(after: $0) } ?? prefix.startIndex
        let component = prefix[start...]
        guard component.utf8.count > room else { return prefix + random }
        let scalars = Array(component.unicodeScalars)
        var head = 0
        var bytes = 0
        while head < scalars.count, bytes + UTF8.width(scalars[head]) <= room / 2 {
            bytes += UTF8.width(scalars[head])
            head += 1
        }
        var tail = scalars.count
        while tail > head, bytes + UTF8.width(scalars[tail - 1]) <= room {
            bytes += UTF8.width(scalars[tail - 1])
            tail -= 1
        }
        var name = String(prefix[..<start])
        name.unicodeScalars.append(contentsOf: scalars[..<head])
        name.unicodeScalars.append(contentsOf: scalars[tail...])
        return name + random
    }

    /// Renames `tmp` over `path` (removing `tmp` when that fails); `durable` fsyncs the directory after, so the
    /// rename itself survives a crash. The name appears over `tmp`'s bytes as they are: a caller that promises a name
    /// only ever stands over bytes on disk syncs `tmp` (or its file system) first.
    public static func moveIntoPlace(_ tmp: String, _ path: String, durable: Bool) throws {
        guard rename(tmp, path) == 0 else {
            let err = errno
            unlink(tmp)
            throw SmartSyncError.io("rename", path: path, errno: err)
        }
        if durable { syncDirectory(containing: path) }
    }

    /// `fsync`s the directory holding `path`.
    private static func syncDirectory(containing path: String) {
        guard let slash = path.lastIndex(of: "/") else { return }
        syncDirectory(slash == path.startIndex ? "/" : String(path[..<slash]))
    }

    /// The names in a directory, without `.` and `..`.
    public static func names(in directory: String) throws -> [String] {
        guard let dir = opendir(directory) else { throw SmartSyncError.io("opendir", path: directory) }
        return names(readingAndClosing: dir)
    }

    /// Nanoseconds from the last change of `path`'s inode (its ctime; not following a symlink) to `nowNs` (ns since
    /// the epoch), or nil when nothing is there, or with `regularFile` something other than a regular file. The ctime,
    /// not the mtime: a file stamped with an old mtime (a sealed object's copy: 1970) is not old, and no one can set a
    /// ctime back. What every cleanup of leftovers ages them by.
    public static func inodeAgeNs(_ path: String, at nowNs: Int64, regularFile: Bool = false) -> Int64? {
        var st = stat()
        guard lstat(path, &st) == 0, !regularFile || (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return nowNs - Timestamps.ctimeNs(st)
    }

    /// Whether `path` names a directory, following symbolic links (`stat`), as `FileManager.fileExists(atPath:
    /// isDirectory:)` answers: for paths a user gives (a source repository, a checks directory).
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Writes the whole buffer at `offset` (`pwrite`), retrying short writes and `EINTR`.
    public static func pwriteAll(fd: Int32, _ buffer: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        var done = 0
        while done < buffer.count {
            let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SmartSyncError.io("write", path: path)
            }
            done += n
        }
    }

    /// Writes the whole buffer, retrying short writes and `EINTR`.
    public static func writeAll(fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < buffer.count {
            let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw SmartSyncError.io("write", path: path)
            }
            offset += n
        }
    }

    /// Copies a file to a new path with `mode`, fsyncing the copy unless `sync` is false (a caller that makes many
    /// copies durable with one file-system sync). `beforeSync` runs on the copy's descriptor after its bytes and mode
    /// are written (the object store seals its copies there).
    public static func copyFile(
        from source: String, to destination: String, mode: mode_t, sync: Bool = true,
        beforeSync: (_ fd: Int32) throws -> Void = { _ in }
    ) throws {
        let src = open(source, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { throw SmartSyncError.io("open", path: source) }
        defer { close(src) }
        let dst = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard dst >= 0 else { throw SmartSyncError.io("open", path: destination) }
        do {
            try readChunks(fd: src, path: source) { try writeAll(fd: dst, $0, path: destination) }
            guard fchmod(dst, mode) == 0 else { throw SmartSyncError.io("fchmod", path: destination) }
            try beforeSync(dst)
            guard !sync || fsync(dst) == 0 else { throw SmartSyncError.io("fsync", path: destination) }
            close(dst)
        } catch {
            close(dst)
            unlink(destination)
            throw error
        }
    }

    /// Makes `destination` hold the file at `source`: a hard link, or where the link fails (another file system, the
    /// link count at its limit, a file at `destination` already) a copy with the source's mode and modification time
    /// (``copyFile(from:to:mode:beforeSync:)``, fsynced), made beside `destination` and renamed over it, so a reader or
    /// a crash sees the whole file or none. For a file no one writes in place: a link shares its inode. `durable` also
    /// fsyncs the directory. Returns true when it linked.
    @discardableResult
    public static func linkOrCopy(from source: String, to destination: String, durable: Bool = true) throws -> Bool {
        if link(source, destination) == 0 {
            if durable { syncDirectory(containing: destination) }
            return true
        }
        var st = stat()
        guard stat(source, &st) == 0 else { throw SmartSyncError.io("stat", path: source) }
        let tmp = temporaryName(destination + ".tmp-\(getpid())-")
        try copyFile(from: source, to: tmp, mode: st.st_mode & 0o7777, sync: durable) { fd in
            // The modification time is the file's timestamp for some (a stat cache's): kept.
            let times = [st.st_atim, st.st_mtim]
            guard futimens(fd, times) == 0 else { throw SmartSyncError.io("futimens", path: tmp) }
        }
        try moveIntoPlace(tmp, destination, durable: durable)
        return false
    }

    /// A symlink's target, as bytes (a symlink blob's content).
    public static func readLink(_ path: String) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count)
        guard n >= 0 else { throw SmartSyncError.io("readlink", path: path) }
        return Array(buffer[0..<n])
    }

    /// `syncfs(2)` of the file system holding `path`: everything written there so far becomes durable at once.
    public static func syncFileSystem(containing path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        defer { close(fd) }
        guard ss_syncfs(fd) == 0 else { throw SmartSyncError.io("syncfs", path: path) }
    }

    /// fsyncs the file at `path` (a symlink not followed) through a descriptor opened for it, throwing its error: a
    /// write-back error in its pages that no descriptor has reported yet is reported here, whoever wrote them.
    public static func syncFile(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SmartSyncError.io("fsync", path: path) }
    }

    /// Whether `a` and `b` are on one file system (the same `st_dev`, symlinks followed); false when either cannot
    /// be read.
    public static func sameFileSystem(_ a: String, _ b: String) -> Bool {
        var sa = stat()
        var sb = stat()
        return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev
    }

    /// fsyncs a directory so a rename or link in it is durable. Best effort.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
