import Glibc
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import TestSupport

@testable import SmartSyncPipeline

func mtimeNs(_ path: String) -> Int64 { Timestamps.mtimeNs(TestFiles.lstat(path)!) }

func blob(_ s: String) -> ObjectID { ObjectID.blob(Array(s.utf8)) }

/// Edits a file keeping its size, then restores its mtime: as a write in the same clock tick as the last one looks.
func sneakyEdit(_ path: String, _ content: String) throws {
    let before = mtimeNs(path)
    try TestFiles.overwriteInPlace(path, content)
    try TestFiles.setMtime(path, ns: before)
}

extension SyncRunner {
    /// A runner syncing from the local repository `repo`, its store and state in `dir`, applying by `mode`.
    static func local(_ repo: GitFixture, in dir: TemporaryDirectory, mode: ApplyMode) async throws -> SyncRunner {
        var runner = SyncRunner(
            source: try await LocalGitSource(path: repo.path), store: try ObjectStore(root: dir["store"]),
            state: try StateStore(root: dir["state"]))
        runner.applyMode = mode
        return runner
    }
}

/// Builds a listing (blobs and gitlinks only; the planner ignores trees) and fills a store with the blobs.
struct FixtureTree {
    var files: [(path: String, mode: FileMode, content: String)] = []
    var gitlinks: [String] = []

    var listing: TreeListing {
        var entries = files.map {
            TreeEntry(path: TreePath($0.path), mode: $0.mode, id: blob($0.content), size: $0.content.utf8.count)
        }
        entries += gitlinks.map { TreeEntry(path: TreePath($0), mode: .gitlink, id: blob("commit " + $0)) }
        return TreeListing(commit: blob("commit"), rootTree: ObjectID.emptyTree, entries: entries)
    }

    func fill(_ store: ObjectStore) throws {
        for f in files { _ = try store.insert(Array(f.content.utf8), expecting: blob(f.content)) }
    }

    /// Fills `store` with the blobs and plans a first sync of `target` (scanned now; no manifest before) to the tree.
    func firstSyncPlan(of target: String, store: ObjectStore) throws -> Plan {
        try fill(store)
        let local = try TargetScanner().scan(target: target).tree
        return Planner().plan(listing: listing, previous: Manifest(), local: local)
    }
}

extension Plan {
    func change(_ path: TreePath) -> Change? { changes.first { $0.path == path } }
    func kind(_ path: TreePath) -> Change.Kind? { change(path)?.kind }
}
