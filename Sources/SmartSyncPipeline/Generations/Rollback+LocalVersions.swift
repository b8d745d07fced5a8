import Glibc
import SmartSyncGitObjects
import SmartSyncObjectStore

extension Rollback {
    /// Keeps, before the exchange, the operator's versions a rollback takes out of `target` (``LocalVersionKeeper``,
    /// as a sync keeps those it replaces): at each path of the generation's tree (`then`, whose file takes its place),
    /// and at each path of the current sync's (`current`) the generation does not have, a file or symlink that is not
    /// what the current sync put there (an edit, a file made at that path since, the operator's version `--keep-local`
    /// left; every one when the target has no sync state). Looked at by directory descriptor, one `fstatat` a path;
    /// a version is read only when the stat cache and the seal do not vouch for it (``LocalEditScan``'s rules). What
    /// neither tree has is the carrier's, but inside a directory standing where the generation has a file (which the
    /// carrier does not enter: it goes with the outgoing tree) every file and symlink is kept. Returns the keeper,
    /// its versions saved but not recorded (``LocalVersionKeeper/record()``, once the exchange is done: a rollback
    /// that fails before leaves no record of a switch that never happened), and a warning for each.
    static func keepLocalVersions(
        target: String, current: TargetState?, then: PathTable<Manifest.Entry>, replacedBy: ObjectID?,
        generation: Int, state: StateStore, store: ObjectStore
    ) throws -> (keeper: LocalVersionKeeper, warnings: [String]) {
        let now = current?.manifest.entries ?? PathTable()
        let keptLocal = current?.keptLocal.entries ?? PathTable()
        let cache = current == nil ? StatCache() : (try? state.loadStatCache(target: target)) ?? StatCache()
        var keeper = LocalVersionKeeper(
            store: store, log: KeptVersionLog(state: state, target: target), replacedBy: replacedBy,
            rollbackTo: generation, owner: Seal.owner, timeNs: SyncRunner.nowNs())
        let tree = try TreeReader(root: target, blockedIsMissing: true)
        var paths = Set(now.keys)
        paths.formUnion(then.keys)
        paths.formUnion(keptLocal.keys)
        var warnings: [String] = []
        func keep(_ path: TreePath, _ st: stat, mode: FileMode, previous: Manifest.Entry?) throws {
            if let warning = try keeper.keep(
                path, in: tree, mode: mode, id: nil, metadata: FileMetadata(st), previous: previous,
                replacement: then[path])
            {
                warnings.append(warning)
            }
        }
        // A directory where the generation has a file goes with the outgoing tree, and the carrier does not enter it
        // (its rule is the generation's file): every file or symlink of the operator's inside it is kept. Those of
        // the current sync's and --keep-local's (`now`, `keptLocal`) are looked at by the loop below.
        func keepInside(_ directory: TreePath) throws {
            try keeper.keepInside(
                directory, in: tree, skip: { now[$0] != nil || keptLocal[$0] != nil }, warnings: &warnings)
        }
        for path in paths.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) {
            let previous = now[path]
            guard then[path] != nil || previous != nil, let st = try tree.status(path) else { continue }
            guard let mode = FileMode(blobOf: st) else {
                if st.st_mode & S_IFMT == S_IFDIR, then[path] != nil { try keepInside(path) }
                continue  // a directory else walked by the carrier; a FIFO or device is never read
            }
            if let previous, previous.mode.isBlob,
                try !LocalEditScan.differs(st, previous, cached: cache.entries[path], link: { try tree.readLink(path) })
            {
                continue
            }
            try keep(path, st, mode: mode, previous: previous)
        }
        return (keeper, warnings)
    }
}
