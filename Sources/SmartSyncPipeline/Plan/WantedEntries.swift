import SmartSyncGitObjects

/// The tree a plan brings a target to, read where it lies: its files, symlinks and gitlinks in path order (``table``:
/// each path, and the slot its entry is read from).
protocol WantedEntries {
    associatedtype Slot
    var table: PathTable<Slot> { get }
    /// The entry at `path`, read from `slot`.
    func entry(_ slot: Slot, at path: TreePath) -> TreeEntry
    func mode(_ slot: Slot) -> FileMode
    func id(_ slot: Slot) -> ObjectID
    /// The blob's size when the source said it.
    func size(_ slot: Slot) -> Int?
}

/// A listing's entries, by their indices in it (none copied).
struct ListedEntries: WantedEntries {
    let entries: [TreeEntry]
    let table: PathTable<Int>
    func entry(_ slot: Int, at _: TreePath) -> TreeEntry { entries[slot] }
    func mode(_ slot: Int) -> FileMode { entries[slot].mode }
    func id(_ slot: Int) -> ObjectID { entries[slot].id }
    func size(_ slot: Int) -> Int? { entries[slot].size }
}

/// A manifest's entries (the target's own, standing for its commit's listing): files and symlinks, no sizes.
struct ManifestEntries: WantedEntries {
    let table: PathTable<Manifest.Entry>
    func entry(_ slot: Manifest.Entry, at path: TreePath) -> TreeEntry {
        TreeEntry(path: path, mode: slot.mode, id: slot.id)
    }
    func mode(_ slot: Manifest.Entry) -> FileMode { slot.mode }
    func id(_ slot: Manifest.Entry) -> ObjectID { slot.id }
    func size(_: Manifest.Entry) -> Int? { nil }
}

/// Whether a strict ancestor directory of `path` is in `set`.
func hasAncestor(_ path: TreePath, in set: Set<TreePath>) -> Bool {
    path.ancestors.contains { set.contains($0) }
}

/// Whether `path` or one of its ancestors is in `set`.
func isOrHasAncestor(_ path: TreePath, in set: Set<TreePath>) -> Bool {
    set.contains(path) || hasAncestor(path, in: set)
}
