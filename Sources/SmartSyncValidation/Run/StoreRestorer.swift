import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore
import SmartSyncPipeline

/// Puts target files back as the last sync left them, from store objects, without the network.
///
/// Only an object that is intact (right bytes, read-only mode) is linked; a file whose object is damaged or gone
/// needs `smart-sync verify --repair`, which fetches it again.
struct StoreRestorer {
    let context: ValidationContext
    let store: ObjectStore
    let stateStore: StateStore
    let last: TargetState

    /// Nil when the context has no store or state, or the target has never been synced.
    init?(_ context: ValidationContext) throws {
        guard let store = context.store, let state = context.state,
            let last = try state.load(target: context.target)
        else { return nil }
        self.context = context
        self.store = store
        self.stateStore = state
        self.last = last
    }

    /// A target-relative path for a config path, when it lies inside the target.
    func relative(_ configPath: String) -> TreePath? {
        let full = context.resolve(configPath)
        guard full.hasPrefix(context.target + "/") else { return nil }
        return TreePath(String(full.dropFirst(context.target.count + 1)))
    }

    /// True when `rel` is in the last manifest, differs from it on disk, and its store object is intact.
    func canRestore(_ rel: TreePath) -> Bool {
        guard let entry = last.manifest[rel], objectIsIntact(entry) else { return false }
        if let st = try? TreeReader(root: context.target).status(rel), FileInfo.isDirectory(st) { return false }
        return differs(rel)
    }

    /// True when `rel` is missing or not what the manifest says.
    func differs(_ rel: TreePath) -> Bool {
        guard let entry = last.manifest[rel] else { return false }
        let single = Manifest(entries: [rel: entry])
        guard let report = try? TargetVerifier().verify(target: context.target, manifest: single, store: store)
        else { return true }
        return !report.findings.isEmpty
    }

    /// The object is in the store with its content intact (its seal holds, or it re-hashes to its id).
    func objectIsIntact(_ entry: Manifest.Entry) -> Bool {
        (try? store.holds(entry.id, size: nil, repair: true)) ?? false
    }

    /// Runs `body` holding the store's lock shared and the target's lock (a sync may not run meanwhile).
    func locked<T>(_ body: () throws -> T) throws -> T {
        // The store shared too: its check before a link may mend it, which gc (holding it exclusively) must not race.
        let storeLock = try store.lock(shared: true)
        defer { storeLock.release() }
        let lock = try stateStore.lock(target: context.target)
        defer { lock.release() }
        return try body()
    }

    /// Replaces `rel` by the manifest's version from the store (``PathInstaller``: checked object, by descriptor,
    /// atomic rename; an inode of its own when another manifest path uses the same object).
    func restore(_ rel: TreePath) throws -> String {
        guard let entry = last.manifest[rel] else {
            throw SmartSyncError(.notFound, "'\(rel)' is not in the last sync's manifest",
            hint: "sync the target again")
        }
        guard objectIsIntact(entry) else {
            throw SmartSyncError(
                .integrity, "the store object \(entry.id.abbreviated()) for '\(rel)' is damaged or gone",
                hint: "run `smart-sync verify OWNER/REPO --repair`")
        }
        let shared = last.manifest.entries.contains { $0.key != rel && $0.value == entry }
        let how = try PathInstaller(store: store, linkMode: context.linkMode).install(
            entry, at: rel, under: context.target, shareable: !shared)
        return "restored \(context.target + "/" + rel.description) (\(how), blob \(entry.id.abbreviated()))"
    }
}
