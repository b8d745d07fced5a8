import CLinuxShims
import Glibc
import SmartSyncCore

/// Everything about a directory that is not its content: owner, group, mode (setuid, setgid and sticky bits
/// included), POSIX ACLs and extended attributes. A staged switch builds new directories; this carries the operator's
/// metadata from the directory they replace, so the switch is invisible to everything that is not the tree's content.
enum DirectoryMetadata {
    /// The mode a directory the tree adds gets (whatever the umask): `rwxr-xr-x`, owned by the user smart-sync runs
    /// as; its group and ACLs are the file system's choice (the parent's group under a setgid parent, which also
    /// passes the setgid bit down; the parent's default ACL): ``makeDirectory(_:in:)``.
    static let newDirectoryMode: mode_t = 0o755

    /// Gives the directory open on `destination` the owner, group, extended attributes (ACLs among them) and mode of
    /// the one open on `source`. Attributes the destination has and the source has not are removed.
    ///
    /// The owner goes first (a `chown` clears setuid and setgid bits), then the attributes (an access ACL sets the
    /// group bits to its mask), then the mode. Only what differs is written: a destination that already has the
    /// source's metadata is only read (its ctime does not move), as a recycled stage's directories mostly are.
    /// Returns the source's `fstat`.
    @discardableResult
    static func copy(from source: Int32, to destination: Int32, display: @autoclosure () -> String) throws -> stat {
        var src = stat()
        var dst = stat()
        guard fstat(source, &src) == 0, fstat(destination, &dst) == 0 else {
            throw failure("fstat", display)
        }
        var wrote = false
        if src.st_uid != dst.st_uid || src.st_gid != dst.st_gid {
            guard fchown(destination, src.st_uid, src.st_gid) == 0 else {
                throw failure("fchown", display)
            }
            wrote = true
        }
        let wanted = try attributes(of: source, display: display())
        let present = try attributes(of: destination, display: display())
        for (name, value) in wanted where present[name] != value {
            wrote = true
            let set = withName(name) { n in
                value.withUnsafeBytes { ss_fsetxattr(destination, n, $0.baseAddress, UInt($0.count)) }
            }
            guard set == 0 else {
                throw failure(
                    "fsetxattr \(text(name))", display,
                    hint: "the directory's extended attributes could not be carried over; nothing was switched")
            }
        }
        for name in present.keys where wanted[name] == nil {
            wrote = true
            guard withName(name, { ss_fremovexattr(destination, $0) }) == 0 || errno == ENODATA else {
                throw failure("fremovexattr \(text(name))", display)
            }
        }
        // After a write above the mode may have moved (setgid cleared, group bits set to an ACL's mask): set it again.
        if wrote || src.st_mode & 0o7777 != dst.st_mode & 0o7777 {
            guard fchmod(destination, src.st_mode & 0o7777) == 0 else {
                throw failure("fchmod", display)
            }
        }
        return src
    }

    /// Makes the directory `name` in the directory open on `parent` as every apply makes one, in place or in a stage:
    /// `mkdir` (the file system gives the group, a setgid parent's with the bit, and a default ACL the parent has, as
    /// default and access ACL), then ``newDirectoryMode`` whatever the umask, keeping a setgid bit the parent passed
    /// down. Returns the new directory open (never through a symlink), or -1 with `errno` set; `EEXIST` when the name
    /// is taken (then nothing is changed).
    static func makeDirectory(_ name: UnsafePointer<CChar>, in parent: Int32) -> Int32 {
        guard mkdirat(parent, name, newDirectoryMode) == 0 else { return -1 }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        var st = stat()
        if fd >= 0, fstat(fd, &st) == 0 { fchmod(fd, newDirectoryMode | (st.st_mode & S_ISGID)) }
        return fd
    }

    /// Gives the directory open on `fd` the metadata a directory the tree adds gets when it is made now in its parent
    /// (``makeDirectory(_:in:)``): a directory of that kind is made beside it, its metadata copied over (only what
    /// differs is written), and it is removed again. So the file system decides, as it does in place: owned by the
    /// effective user, the parent's group and setgid bit when the parent is setgid, the parent's default ACL (and the
    /// access ACL it makes), no other extended attribute. The parent must have its final metadata already.
    static func reset(_ fd: Int32, display: String) throws {
        let parent = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else { throw SmartSyncError.io("open ..", path: display) }
        defer { close(parent) }
        let probe = Materializer.temporaryName()
        let made = probe.withCString { makeDirectory($0, in: parent) }
        guard made >= 0 else { throw SmartSyncError.io("mkdir", path: display + "/../" + probe) }
        let copied = Result { try copy(from: made, to: fd, display: display) }
        close(made)
        try removeProbe(probe, in: parent, display: display + "/../" + probe)
        try copied.get()
    }

    /// Removes the empty directory `name` that ``reset(_:display:)`` made in `parent` to read a new directory's
    /// metadata from. A failure is thrown, naming it, not ignored: a directory of the temporary shape is not a killed
    /// run's leftover to the scan and the carrier (only files are: a directory so named is the operator's), so a probe
    /// left behind would go into the target with the stage and be carried from then on as the operator's. (Rejected:
    /// a probe name of its own that the scan and the carrier always drop: one more name to tell apart on every walk,
    /// for a failure `rmdir` of an empty directory it just made should not have.)
    static func removeProbe(_ name: String, in parent: Int32, display: @autoclosure () -> String) throws {
        guard unlinkat(parent, name, AT_REMOVEDIR) == 0 else {
            throw SmartSyncError.io(
                "rmdir", path: display(),
                hint: "remove that directory: smart-sync made it to read a new directory's metadata")
        }
    }

    /// The extended attributes of an open file, by name (its bytes: a name need not be UTF-8), empty where the file
    /// system has none.
    static func attributes(of fd: Int32, display: @autoclosure () -> String) throws -> [[UInt8]: [UInt8]] {
        var size = ss_flistxattr(fd, nil, 0)
        if size < 0 {
            if errno == ENOTSUP || errno == EOPNOTSUPP { return [:] }
            throw failure("flistxattr", display)
        }
        guard size > 0 else { return [:] }
        var list = [CChar](repeating: 0, count: size)
        size = list.withUnsafeMutableBufferPointer { ss_flistxattr(fd, $0.baseAddress, UInt($0.count)) }
        guard size >= 0 else { throw failure("flistxattr", display) }
        var out: [[UInt8]: [UInt8]] = [:]
        for raw in list[0..<size].split(separator: 0) {
            let name = raw.map { UInt8(bitPattern: $0) }
            let length = withName(name) { ss_fgetxattr(fd, $0, nil, 0) }
            guard length >= 0 else {
                if errno == ENODATA { continue }
                throw failure("fgetxattr \(text(name))", display)
            }
            var value = [UInt8](repeating: 0, count: length)
            let read = withName(name) { n in
                value.withUnsafeMutableBytes { ss_fgetxattr(fd, n, $0.baseAddress, UInt($0.count)) }
            }
            guard read >= 0 else { throw failure("fgetxattr \(text(name))", display) }
            out[name] = Array(value[0..<read])
        }
        return out
    }

    /// The error of a system call that failed on a directory shown as `display` (made only now: a display path is built
    /// only for a message), with the `errno` it left.
    private static func failure(_ call: String, _ display: () -> String, hint: String? = nil) -> SmartSyncError {
        let err = errno
        return SmartSyncError.io(call, path: display(), errno: err, hint: hint)
    }

    /// Calls `body` with an attribute name as a NUL-terminated C string, its bytes as they are.
    private static func withName<R>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (name.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// An attribute name for a message (bytes that are not UTF-8 shown as U+FFFD).
    private static func text(_ name: [UInt8]) -> String { String(decoding: name, as: UTF8.self) }
}
