import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Keeps the local versions a switch is about to take out of a target (a sync replacing them, a rollback bringing a
/// generation's tree back): each one that is not what the last sync put there (a user's edit of a synced file —
/// content, kind, permissions or owner — or a file that was never ours) is saved into the store and recorded, with
/// its permissions and owner, in the target's ``KeptVersionLog``, with a warning for the operator, so nothing is lost
/// and `smart-sync restore` can bring it back. What the last sync put there is only saved when the store lost it, and
/// not recorded.
struct LocalVersionKeeper {
    let store: ObjectStore
    let log: KeptVersionLog
    /// The commit whose tree replaces them (nil: the tree found before the first sync).
    let replacedBy: ObjectID?
    /// The generation a rollback brings back in their place (nil: a sync replaces them).
    let rollbackTo: Int?
    /// The owner a file smart-sync installed has (``FileMetadata/isInstalled(as:owner:)``).
    let owner: UInt32
    /// When they are kept (ns since the epoch).
    let timeNs: Int64
    /// The records made so far, for ``record()``.
    private(set) var kept: [KeptVersion] = []
    /// Records the log holds already, their times zeroed (``timeless(_:)``): a version that would repeat one is saved
    /// but not recorded again, nor announced (a look done again after one that failed: ``PendingLook``).
    var recorded: Set<KeptVersion> = []

    init(
        store: ObjectStore, log: KeptVersionLog, replacedBy: ObjectID?, rollbackTo: Int? = nil, owner: UInt32,
        timeNs: Int64
    ) {
        self.store = store
        self.log = log
        self.replacedBy = replacedBy
        self.rollbackTo = rollbackTo
        self.owner = owner
        self.timeNs = timeNs
    }

    /// Keeps the file or symlink at `path` of `tree`, of `mode` and `metadata`, whose blob id is `id` (nil: not known,
    /// hashed as it is saved). `previous`: what the last sync put at `path` (nil: nothing); `replacement`: what takes
    /// its place, when known (the same content and mode lose nothing: not recorded, unless the permissions or owner
    /// are not an installed file's, which a rollback's generation file would revert). Returns the warning for the
    /// operator when it was recorded.
    mutating func keep(
        _ path: TreePath, in tree: TreeReader, mode: FileMode, id: ObjectID?, metadata: FileMetadata?,
        previous: Manifest.Entry?, replacement: Manifest.Entry? = nil
    ) throws -> String? {
        let installed = metadata?.isInstalled(as: mode, owner: owner) ?? true
        // What the previous sync put there is only saved when the store lost it, and not recorded.
        if let id, installed, previous == Manifest.Entry(mode: mode, id: id),
            try store.holds(id, size: nil, repair: true)
        {
            return nil
        }
        let saved = try LocalVersionSaver(store: store).save(path, in: tree, mode: mode, id: id)
        let entry = Manifest.Entry(mode: mode, id: saved)
        // The same content and mode in its place lose nothing unless the operator's permissions or owner differ from
        // an installed file's (a rollback's generation file is installed): then the record keeps them.
        let sameInPlace = previous == entry || replacement == entry
        if installed && sameInPlace { return nil }
        let version = KeptVersion(
            timeNs: timeNs, mode: mode, id: saved, replacedBy: replacedBy, path: path, metadata: metadata,
            rollbackTo: rollbackTo)
        if !recorded.isEmpty, recorded.contains(Self.timeless(version)) { return nil }
        kept.append(version)
        let what =
            sameInPlace
            ? "permissions \(String(metadata?.permissions ?? 0, radix: 8)) and owner \(metadata?.owner ?? 0)"
            : "local content \(saved.abbreviated())"
        return "'\(path)' had \(what); kept before replacing it (smart-sync restore '\(path)' brings it back)"
    }

    /// `version` with its time zeroed: what ``recorded`` holds, to tell a record made again from a new one.
    static func timeless(_ version: KeptVersion) -> KeptVersion {
        var version = version
        version.timeNs = 0
        return version
    }

    /// How many directory levels below the directory it keeps ``keepInside(_:in:skip:warnings:)`` walks: deeper is
    /// refused (`.limitExceeded`). The walk holds one descriptor per level (``DirectoryCursor``), so the cap bounds
    /// them too.
    static let maxDepth = 256

    /// Keeps every file and symlink inside `directory` of `tree` (and inside its subdirectories), none of them what a
    /// sync put there: a directory standing where a tree has a file, which goes with a tree about to be taken out of
    /// the target. Walked by directory descriptor (``TreeReader``: `O_NOFOLLOW` all the way), so a symlink inside is
    /// kept as the link it is and never entered; a FIFO, socket or device is never read (nothing to keep). `skip`:
    /// paths the caller looks at itself. One warning for the directory is appended to `warnings` when versions were
    /// recorded (a walk that throws as well: the caller records what was saved before the failure), naming it, how
    /// many, the first few, and how to restore them: a file stands at the directory's path once the tree is replaced,
    /// so `restore` of a path inside needs it moved away first (``keptInside(_:paths:)``).
    ///
    /// Walked with a stack of its own (no recursion: a directory nested tens of thousands of levels deep overflowed
    /// the thread's stack), at most ``maxDepth`` levels below `directory`: a directory deeper throws `.limitExceeded`
    /// (what was kept before it stays saved; the caller records it), so the descriptors open stay bounded as well.
    mutating func keepInside(
        _ directory: TreePath, in tree: TreeReader, skip: (TreePath) -> Bool = { _ in false },
        warnings: inout [String]
    ) throws {
        let base = directory.components.count
        var keptPaths: [TreePath] = []
        defer { if !keptPaths.isEmpty { warnings.append(Self.keptInside(directory, paths: keptPaths)) } }
        var pending = [directory]
        while let current = pending.popLast() {
            var below: [TreePath] = []
            for name in try tree.names(inDirectory: current) ?? [] {
                let path = current.appending(name)
                guard !skip(path), let st = try tree.status(path) else { continue }
                if let mode = FileMode(blobOf: st) {
                    if try keep(path, in: tree, mode: mode, id: nil, metadata: FileMetadata(st), previous: nil) != nil {
                        keptPaths.append(path)
                    }
                } else if st.st_mode & S_IFMT == S_IFDIR {
                    guard path.components.count - base <= Self.maxDepth else {
                        throw Self.tooDeep(path, below: directory, in: tree)
                    }
                    below.append(path)
                }
            }
            pending += below.reversed()  // in name order, depth first
        }
    }

    /// The warning for the versions `paths` kept from inside `directory` (``keepInside(_:in:skip:warnings:)``).
    static func keptInside(_ directory: TreePath, paths: [TreePath]) -> String {
        let count = paths.count == 1 ? "1 file" : "\(paths.count) files"
        let some = paths.prefix(3).map { "'\(shortened($0.description))'" }.joined(separator: ", ")
        let more = paths.count > 3 ? ", …" : ""
        let name = shortened(directory.description)
        return "'\(name)' was a directory where the tree has a file: \(count) in it kept before replacing it "
            + "(\(some)\(more)); to bring them back, move the file '\(name)' away first, then "
            + "`smart-sync restore PATH` each (`smart-sync restore --list PATH` shows a path's versions)"
    }

    /// The error for a directory past ``maxDepth`` levels below `directory` (the path shortened in the message).
    static func tooDeep(_ path: TreePath, below directory: TreePath, in tree: TreeReader) -> SmartSyncError {
        SmartSyncError(
            .limitExceeded,
            "'\(shortened(tree.display(path)))' lies more than \(maxDepth) directory levels below '\(directory)', "
                + "which stands where the tree has a file; smart-sync keeps no files that deep",
            hint: "copy what you need from '\(shortened(tree.display(directory)))' and remove that directory "
                + "(or move its deep part up), then run again")
    }

    /// `text` cut in the middle to at most about `limit` characters, for a path in a message.
    static func shortened(_ text: String, limit: Int = 160) -> String {
        guard text.count > limit else { return text }
        return String(text.prefix(limit / 2)) + "…" + String(text.suffix(limit / 2))
    }

    /// Takes `versions` (a rollback's repair of its generation, saved into the store) as records of its own, first,
    /// dropping its records of the same versions but for their time (the same path, blob and metadata: a generation
    /// file that shared the target file's inode, a `chmod` reached both): one record each.
    mutating func adopt(_ versions: [KeptVersion]) {
        guard !versions.isEmpty else { return }
        let same = { (a: KeptVersion, b: KeptVersion) in a.path == b.path && a.id == b.id && a.metadata == b.metadata }
        kept.removeAll { k in versions.contains { same($0, k) } }
        kept.insert(contentsOf: versions, at: 0)
    }

    /// Appends the records to the log, the store synced first when there are any (unless `storeSynced`: the caller
    /// synced it since the versions were saved, ``syncStore()``).
    func record(storeSynced: Bool = false) throws {
        if !storeSynced { try syncStore() }
        try log.append(kept)
    }

    /// Makes the saved versions durable in the store (one `syncfs`; nothing when there are none).
    func syncStore() throws {
        // A record trusts the store to hold its version (`restore` reads it there), and one the store already held
        // was not saved now: its name may be one this run's pack published unsynced (``ObjectBatch``), which the
        // stage's sync makes durable only where the store shares the target's file system. Rare (a local edit).
        if !kept.isEmpty { try FileSystem.syncFileSystem(containing: store.root) }
    }
}
