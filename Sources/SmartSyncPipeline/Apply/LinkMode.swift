/// How a tree's files get from the store into a target (`--link-mode`, or `link_mode` in the config).
public enum LinkMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// A reflink where the target's file system shares extents between files (XFS, btrfs, bcachefs, …), else a
    /// hard link. The default.
    case auto
    /// A hard link of the store object: no data copied, but the target file and the store share one inode, so an
    /// in-place write reaches the store (where the check before each link finds it; see ``Seal``). A second path
    /// with the same blob, or a file system that refuses the link, gets a reflink or a copy.
    case hardlink
    /// A reflink (`FICLONE`): an inode of its own sharing the object's data extents. Fails where the file system
    /// cannot (ext4, tmpfs, or store and target on different file systems).
    case reflink
    /// A byte copy: an inode and data of its own.
    case copy
}
