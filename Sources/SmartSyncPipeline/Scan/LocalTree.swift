import Glibc
import SmartSyncGitObjects
import SmartSyncObjectStore

/// What kind of thing sits at a path in the target.
public enum LocalKind: String, Sendable, Hashable, Codable {
    /// A regular file without the owner's execute bit.
    case regular
    /// A regular file with the owner's execute bit (`100755` in git).
    case executable
    /// A symbolic link; its id is the blob id of the link's target string.
    case symlink
    /// A directory (recorded so the planner can see directories in the way of files).
    case directory
    /// Anything else (FIFO, socket, device): never hashed, never replaced.
    case other

    /// The git mode this kind corresponds to, if any.
    public var fileMode: FileMode? {
        switch self {
        case .regular: return .regular
        case .executable: return .executable
        case .symlink: return .symlink
        case .directory, .other: return nil
        }
    }
}

/// The `stat` fields the stat cache compares. Trivial (`BitwiseCopyable`): the recycler writes it into raw memory
/// (``StageRecycler``'s kept slots).
public struct StatData: Sendable, Hashable, Codable, BitwiseCopyable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    /// Modification time, nanoseconds since the epoch.
    public var mtimeNs: Int64
    /// Status change time, nanoseconds since the epoch.
    public var ctimeNs: Int64
    /// `st_mode` (type and permission bits).
    public var mode: UInt32

    public init(device: UInt64, inode: UInt64, size: Int64, mtimeNs: Int64, ctimeNs: Int64, mode: UInt32) {
        self.device = device
        self.inode = inode
        self.size = size
        self.mtimeNs = mtimeNs
        self.ctimeNs = ctimeNs
        self.mode = mode
    }
}

/// The permission bits and ownership of a file or symlink in a target: what a kept local version records, and what
/// `restore` brings back with its content.
public struct FileMetadata: Sendable, Hashable, Codable {
    /// `st_mode & 0o7777` (setuid, setgid and sticky included).
    public var permissions: UInt16
    public var owner: UInt32
    public var group: UInt32

    public init(permissions: UInt16, owner: UInt32, group: UInt32) {
        self.permissions = permissions
        self.owner = owner
        self.group = group
    }

    /// The metadata of a `stat` result.
    public init(_ st: stat) {
        self.init(permissions: UInt16(st.st_mode & 0o7777), owner: st.st_uid, group: st.st_gid)
    }

    /// True when a file of mode `mode` with this metadata is as smart-sync installs it: the ``Seal``'s permissions
    /// (`0444`, `0555` for executables) and owned by `owner`. Symlinks always are (their permissions mean nothing).
    public func isInstalled(as mode: FileMode, owner expected: UInt32) -> Bool {
        guard mode != .symlink else { return true }
        return mode_t(permissions) == Seal.permissions(executable: mode == .executable) && owner == expected
    }
}

/// One path found on disk in a target.
public struct LocalEntry: Sendable, Hashable, Codable {
    /// Relative, `/`-separated path from the target root.
    public var path: TreePath
    public var kind: LocalKind
    /// Blob id of the content (of the link target for symlinks); nil for directories and `.other`.
    public var id: ObjectID?
    /// Size in bytes (`st_size`).
    public var size: Int64
    public var stat: StatData
    /// Permission bits and ownership.
    public var metadata: FileMetadata

    public init(path: TreePath, kind: LocalKind, id: ObjectID?, size: Int64, stat: StatData, metadata: FileMetadata) {
        self.path = path
        self.kind = kind
        self.id = id
        self.size = size
        self.stat = stat
        self.metadata = metadata
    }
}

/// Everything a scan found under a target.
public struct LocalTree: Sendable, Hashable {
    /// Entries by relative path, sorted by path bytes: files, symlinks, directories and other things. The root itself
    /// is not listed.
    public var entries: PathTable<LocalEntry>
    /// Paths the scan did not look at or into because they matched an exclusion (name or glob).
    /// They count as "not ours": a directory holding one is never removed.
    public var excluded: Set<TreePath>

    public init(entries: PathTable<LocalEntry> = [:], excluded: Set<TreePath> = []) {
        self.entries = entries
        self.excluded = excluded
    }

    /// The entry at `path`, if any.
    public subscript(path: TreePath) -> LocalEntry? { entries[path] }

    /// True when the scan found nothing.
    public var isEmpty: Bool { entries.isEmpty && excluded.isEmpty }
}

/// What a scan did, for logs and benchmarks.
public struct ScanStatistics: Sendable, Hashable, Codable {
    /// Entries examined (all kinds).
    public var entries: Int = 0
    /// Regular files whose id came from the stat cache.
    public var cacheHits: Int = 0
    /// Regular files that were read and hashed.
    public var filesHashed: Int = 0
    /// Bytes read for hashing.
    public var bytesHashed: Int64 = 0

    public init() {}
}
