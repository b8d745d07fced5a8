import Glibc
import SmartSyncCore

/// The metadata smart-sync gives every regular file it publishes or installs, so that a later `lstat` tells
/// whether anything wrote to it since, without reading it.
///
/// A sealed file is a regular file owned by the effective user, with exactly the permissions of its git mode
/// (`0444`, executables `0555`) and the modification time ``modificationTime`` (1 s after the epoch, as in
/// `/nix/store`). Any write through any hard link (`cp` over it, an editor saving in place, `>>`, `truncate`) sets
/// the modification time to now, and `chmod`/`chown` change the permissions or the owner: the seal is broken. What
/// it cannot see is a write that puts the sealed time back (`cp --preserve=timestamps` from another sealed file,
/// `touch -d @1`) and keeps the size; the scan catches those in a target through the ctime, which no one can set
/// (see `docs/ARCHITECTURE.md`, "Store integrity").
public enum Seal {
    /// The modification time of every sealed file: 1970-01-01 00:00:01 UTC.
    public static let modificationTime = timespec(tv_sec: 1, tv_nsec: 0)

    /// `UTIME_OMIT` (a macro Swift does not import): leave that time as it is.
    private static let omit = timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2)

    /// The effective user, the owner of every sealed file: read once per process (smart-sync never changes it), not
    /// once per file looked at (20,000 `geteuid` system calls in an update of 20,000 files).
    public static let owner: uid_t = geteuid()

    /// The permission bits of a sealed file of this kind.
    @inline(__always)
    public static func permissions(executable: Bool) -> mode_t { executable ? 0o555 : 0o444 }

    /// Stamps the sealed modification time on an open file (its permissions are the caller's: set at creation).
    public static func apply(fd: Int32, path: String) throws {
        var times = [omit, modificationTime]
        guard futimens(fd, &times) == 0 else { throw SmartSyncError.io("futimens", path: path) }
    }

    /// Stamps the sealed modification time on the file at `name` in `dirFD` (never following a symlink).
    public static func apply(dirFD: Int32, name: String, display: String) throws {
        var times = [omit, modificationTime]
        guard utimensat(dirFD, name, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw SmartSyncError.io("utimensat", path: display)
        }
    }

    /// Why `st` is not a sealed file of this kind and size (nil when it is).
    ///
    /// - Parameters:
    ///   - size: the content size when known (from a listing or the store); nil skips that comparison.
    ///   - group: the group it must have (a store object's: see ``ObjectStore``); nil skips that comparison.
    public static func breach(of st: stat, executable: Bool, size: Int?, group: gid_t? = nil) -> Breach? {
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .notAFile }
        if st.st_mode & 0o7777 != permissions(executable: executable) { return .permissions(st.st_mode & 0o7777) }
        if st.st_uid != owner { return .owner(st.st_uid) }
        if let group, st.st_gid != group { return .group(st.st_gid) }
        if st.st_mtim.tv_sec != modificationTime.tv_sec || st.st_mtim.tv_nsec != modificationTime.tv_nsec {
            return .written
        }
        if let size, Int(st.st_size) != size { return .size(Int(st.st_size)) }
        return nil
    }

    /// How a file's metadata differs from its seal.
    public enum Breach: Sendable, Equatable, CustomStringConvertible {
        /// Not a regular file (replaced by a directory, symlink or special file).
        case notAFile
        /// Its permissions were changed (`chmod`, an ACL's mask).
        case permissions(mode_t)
        /// Its owner was changed (`chown`).
        case owner(uid_t)
        /// Its group was changed (`chgrp`).
        case group(gid_t)
        /// It has extended attributes (file capabilities, an ACL, a `user.` attribute): a published object has none.
        case attributes
        /// Its modification time moved: something wrote to it (or an earlier release published it unsealed).
        case written
        /// Its size is not the content's.
        case size(Int)

        /// True when only the content can be wrong: the permissions and owner are still the sealed ones.
        public var keepsPermissionsAndOwner: Bool {
            switch self {
            case .written, .size: return true
            case .notAFile, .permissions, .owner, .group, .attributes: return false
            }
        }

        public var description: String {
            switch self {
            case .notAFile: return "not a regular file"
            case .permissions(let mode): return "permissions changed to " + String(mode, radix: 8)
            case .owner(let uid): return "owner changed to uid \(uid)"
            case .group(let gid): return "group changed to gid \(gid)"
            case .attributes: return "extended attributes added"
            case .written: return "written since it was sealed"
            case .size(let size): return "size changed to \(size) bytes"
            }
        }
    }
}
