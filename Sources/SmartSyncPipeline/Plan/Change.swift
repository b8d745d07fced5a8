import SmartSyncGitObjects

/// One line of a ``Plan``: what happens (or deliberately does not happen) at one path.
public struct Change: Sendable, Hashable, Codable {
    /// What the change does.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable, CodingKeyRepresentable {
        /// The path is absent locally; a file is created.
        case add
        /// A file whose content differs is replaced.
        case modify
        /// A file the previous sync put there, unchanged since, is gone from the new tree: removed.
        case delete
        /// Same content, but the execute bit, the other permission bits or the owner differ from how the tree installs
        /// the file (`0444`, executables `0555`, owned by the user smart-sync runs as): installed anew.
        case mode
        /// A symlink is created or retargeted.
        case symlink
        /// The kind changes (file ↔ symlink, or a directory that is wholly ours is replaced by a file or
        /// symlink). ``Change/localKind`` says what is replaced.
        case typeChange = "type-change"
        /// Already as the tree wants it.
        case unchanged
        /// On disk, never put there by a sync, not in the new tree: left alone.
        case untracked
        /// A gitlink (submodule) in the tree: reported, never fetched, nothing written.
        case submodule
        /// A file a previous sync put there and that was edited since, now gone from the tree: kept, not deleted.
        case conflict
        /// A path of the new tree that cannot be written because something that is not ours is in the way
        /// (an untracked or edited file where a directory is needed, a directory holding files that are not
        /// ours, a FIFO or device). ``Change/note`` names the obstacle. The target will not match the commit.
        case blocked
        /// Matches an exclusion: never touched.
        case excluded

        /// True for kinds the applier writes (a file or symlink is materialized at the change's path).
        public var writes: Bool {
            switch self {
            case .add, .modify, .mode, .symlink, .typeChange: return true
            default: return false
            }
        }
    }

    public var kind: Kind
    /// Relative, `/`-separated path.
    public var path: TreePath
    /// The mode the path has after the change (nil when the sync removes it or leaves it alone).
    public var mode: FileMode?
    /// The blob (commit, for submodules) the path holds after the change.
    public var id: ObjectID?
    /// What is on disk now, if anything.
    public var localKind: LocalKind?
    /// The id of what is on disk now (files and symlinks).
    public var localID: ObjectID?
    /// The permission bits and ownership of what is on disk now (files and symlinks).
    public var localMetadata: FileMetadata?
    /// A human explanation for conflicts, blocked paths and local edits.
    public var note: String?

    public init(
        kind: Kind, path: TreePath, mode: FileMode? = nil, id: ObjectID? = nil, localKind: LocalKind? = nil,
        localID: ObjectID? = nil, localMetadata: FileMetadata? = nil, note: String? = nil
    ) {
        self.kind = kind
        self.path = path
        self.mode = mode
        self.id = id
        self.localKind = localKind
        self.localID = localID
        self.localMetadata = localMetadata
        self.note = note
    }

    /// True for kinds the applier writes (a file or symlink is materialized at ``path``).
    public var writes: Bool { kind.writes }
}

/// A blob the store must hold before the plan can be applied.
public struct NeededBlob: Sendable, Hashable, Codable {
    public var id: ObjectID
    /// One path of the tree holding this blob (what a raw-content URL needs).
    public var path: TreePath
    /// Size from the tree listing, when the source reported it.
    public var size: Int?
    /// A path in the target whose current content already is this blob (a move, a mode change, a copy):
    /// the store can be fed from it with ``ObjectStore/insertFile(atPath:expecting:)`` instead of a download.
    public var localPath: TreePath?

    public init(id: ObjectID, path: TreePath, size: Int? = nil, localPath: TreePath? = nil) {
        self.id = id
        self.path = path
        self.size = size
        self.localPath = localPath
    }
}

extension Sequence<NeededBlob> {
    /// The sum of the known sizes, saturating at `Int.max`: a size is the source's word, bounded where it is
    /// decoded (``TreeEntry/sizeLimit``), and the sum must not trap on a listing that got past that.
    public var knownBytes: Int {
        reduce(0) { total, blob in
            let (sum, overflow) = total.addingReportingOverflow(blob.size ?? 0)
            return overflow ? Int.max : sum
        }
    }
}
