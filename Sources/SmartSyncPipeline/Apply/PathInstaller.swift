import SmartSyncGitObjects
import SmartSyncObjectStore

/// Puts single manifest entries into a directory tree from the store: `validate --fix` restoring a damaged file,
/// a rollback mending a generation. Each object is checked against its seal first (``FilePlacer``), the directory is
/// entered by descriptor (a planted symlink is refused), and the file is written under a temporary name and renamed
/// over the path, so a reader sees the old file or the new one.
public struct PathInstaller: Sendable {
    public let store: ObjectStore
    public let linkMode: LinkMode

    public init(store: ObjectStore, linkMode: LinkMode) {
        self.store = store
        self.linkMode = linkMode
    }

    /// Installs `entry` at `path` (relative) under `root`, creating missing directories. `shareable` false gives the
    /// file an inode of its own even with hard links (another path of the tree holds the same blob and mode).
    /// Returns how it was made.
    @discardableResult
    public func install(_ entry: Manifest.Entry, at path: TreePath, under root: String, shareable: Bool = true) throws
        -> String
    {
        try Materializer.replace(path, under: root) { dirFD, tmp, display in
            if entry.mode == .symlink {
                let bytes = try store.readVerifiedBlob(entry.id)
                try Materializer.symlink(bytes, dirFD: dirFD, tmp: tmp, display: display)
                return "symlink recreated from the store"
            }
            var placer = FilePlacer(store: store, mode: linkMode, syncEachFile: true)
            switch try placer.place(
                entry.id, executable: entry.mode == .executable, size: nil, shareable: shareable, dirFD: dirFD,
                tmp: tmp, display: display)
            {
            case .hardlink: return "linked from the store"
            case .reflink: return "reflinked from the store"
            case .copy: return "copied from the store"
            }
        }
    }
}
