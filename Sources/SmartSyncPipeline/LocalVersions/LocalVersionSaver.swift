import Glibc
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Copies a target's file or symlink into the store before it is replaced, verified against its id.
struct LocalVersionSaver {
    let store: ObjectStore

    /// Saves the file or symlink at `path` of `tree` (of `mode`) unless the store already holds `id`; returns its id.
    @discardableResult
    func save(_ path: TreePath, in tree: TreeReader, mode: FileMode, id: ObjectID?) throws -> ObjectID {
        if let id, try store.holds(id, size: nil, repair: true) { return id }
        return try tree.insert(path, mode: mode, into: store, expecting: id)
    }
}
