import Glibc
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// The state directories that have used a store, so gc finds the targets of all of them, not only those of the
/// `--state-dir` it was given: `<store>/state-dirs/<SHA-1 of the path>`, each file holding the path.
///
/// Written (once; a `stat` afterwards) by every command that syncs, warms or repairs through the store.
public struct StoreUsers: Sendable {
    /// `<store>/state-dirs`.
    public let directory: String

    public init(store: ObjectStore) {
        directory = store.root + "/state-dirs"
    }

    /// Records that `state` uses the store (a no-op when it is recorded already). Best effort: a store that cannot
    /// record it still works, and gc still sees the state directory it is given.
    public func register(_ state: StateStore) {
        let root = StateStore.normalize(state.root)
        let path = directory + "/" + ObjectID.hash(.blob, Array(root.utf8)).hex
        guard !FileSystem.exists(path) else { return }
        try? FileSystem.makeDirectories(directory)
        _ = try? FileSystem.writeFileAtomically(path, Array((root + "\n").utf8))
    }

    /// The recorded state directories, each with the file recording it.
    public func list() -> [(root: String, record: String)] {
        var out: [(String, String)] = []
        for name in (try? FileSystem.names(in: directory)) ?? [] where ObjectID(hex: name) != nil {
            let record = directory + "/" + name
            guard let bytes = try? FileSystem.readFile(record) else { continue }
            let root = String(decoding: bytes, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
            if root.hasPrefix("/") { out.append((root, record)) }
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// Forgets a recorded state directory (one that no longer exists).
    public func unregister(record: String) {
        unlink(record)
    }
}
