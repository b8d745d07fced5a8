import SmartSyncGitObjects

/// The verified listing of the commit a run plans for: a ``TreeListing`` (from the source, checked, or a pin), or the
/// target's own manifest of that commit (verified when it was applied), which stands for the commit's files and
/// symlinks as it is.
///
/// The planner reads either where it lies (`Planner.plan(listing: CommitListing, …)`): a run at the target's commit
/// makes no ``TreeEntry`` per path (at 20,000 files that copy was ~275 page faults of a no-op, BENCHMARKS "noop7").
/// What needs a ``TreeListing`` (an apply) asks ``treeListing``, which makes it then.
public struct CommitListing: Sendable, Hashable {
    /// Where the commit's entries are.
    public enum Entries: Sendable, Hashable {
        /// A listing: files, symlinks, gitlinks and (usually) trees.
        case listed(TreeListing)
        /// The target's manifest of the commit: its files and symlinks, no sizes.
        case manifest(Manifest)
    }

    /// The commit listed.
    public let commit: ObjectID
    /// The commit's root tree (the empty tree's id for a manifest whose root tree the run did not learn).
    public let rootTree: ObjectID
    /// The commit's entries: the listing, or the manifest standing for it.
    public let entries: Entries

    /// A listing as it is.
    public init(_ listing: TreeListing) {
        commit = listing.commit
        rootTree = listing.rootTree
        entries = .listed(listing)
    }

    /// `manifest`, standing for the listing of `commit` (whose root tree is `rootTree`).
    public init(commit: ObjectID, rootTree: ObjectID, manifest: Manifest) {
        self.commit = commit
        self.rootTree = rootTree
        entries = .manifest(manifest)
    }

    /// The listing as a ``TreeListing``: the listing itself, or one made from the manifest (a ``TreeEntry`` per path,
    /// in its order, no size), the listing such a run made before this type.
    public var treeListing: TreeListing {
        switch entries {
        case .listed(let listing):
            return listing
        case .manifest(let manifest):
            let files = manifest.entries
            return TreeListing(
                commit: commit, rootTree: rootTree,
                entries: zip(files.keys, files.values).map { TreeEntry(path: $0, mode: $1.mode, id: $1.id) })
        }
    }

    /// How many files and symlinks it lists (no directories, no submodules).
    public var fileCount: Int {
        switch entries {
        case .listed(let listing): listing.entries.count { $0.mode.isBlob }
        case .manifest(let manifest): manifest.count
        }
    }
}
