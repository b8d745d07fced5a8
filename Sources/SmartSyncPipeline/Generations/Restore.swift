import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// `smart-sync restore`: brings back a local version of one target path, from the store (a kept version) or
/// from a kept generation's tree, with no network.
///
/// The restored file is a private copy, never a hardlink of a read-only store object: the operator will edit it. A
/// kept version comes back with the permissions and owner it had when it was kept (records of earlier releases, and
/// generation files, get 0644, or 0755 for executables, owned by the user running the restore). It is written under a
/// temporary name and renamed over the path, under the target lock. What it replaces is saved into the store and
/// recorded first (unless it is what the last sync put there), so a restore loses nothing either.
public enum Restore {
    /// One version of a path that can be restored.
    public struct Version: Sendable, Hashable {
        /// Where it is kept.
        public enum Origin: Sendable, Hashable {
            /// Saved into the store before a sync (or a restore) replaced it.
            case kept(KeptVersion)
            /// The file in kept generation `sequence`, whose sync state was `commit` (nil: the tree found before
            /// the first sync).
            case generation(sequence: Int, commit: ObjectID?)
        }

        public var origin: Origin
        public var mode: FileMode
        public var id: ObjectID
        /// The permissions and owner it comes back with (nil: the defaults for its mode).
        public var metadata: FileMetadata? = nil
    }

    /// What a restore did.
    public struct Outcome: Sendable {
        /// The path, relative to the target.
        public var path: TreePath
        /// The version now at the path.
        public var restored: Version
        /// The version it replaced, when that was saved and recorded (it differed from the last sync's).
        public var saved: KeptVersion?
        /// True when the path already held that version: nothing was written.
        public var unchanged: Bool
    }

    /// The versions of `path` (relative to the target, or absolute inside it) that can be restored: kept
    /// versions, the most recent first, then the kept generations holding it, the most recent first.
    ///
    /// A switch a killed run left is recovered first when the listing can take the target lock without waiting (under
    /// the store's shared lock), as ``run(path:target:generation:store:state:events:)`` recovers it: a killed
    /// rollback's pending kept versions are listed now, not only after the next run. When another run holds the lock
    /// (an `update` holds it for minutes) the listing does not wait: it goes on as things stand, with a warning naming
    /// the holder's process and saying that what that run keeps shows once it ends. That is safe without the lock:
    /// kept versions are appended one `write` a batch under `O_APPEND` (a torn last line reads as damaged and is
    /// skipped), and a generation is listed only once its `tree` is in place. When the recovery cannot start (a gc
    /// holds the store's lock) or cannot finish the switch (a damaged journal, an unsafe sidecar: the run that needs it
    /// stops on it), the listing goes on without it, with a warning that such pending versions show once the switch is
    /// finished. A target never synced (no state directory) is listed without a lock: nothing is created for a
    /// listing. What the recovery warns of (a pending version whose object is gone) goes to `events`.
    public static func versions(
        of path: String, target: String, state: StateStore, store: ObjectStore,
        events: (SyncEvent) -> Void = { _ in }
    ) throws -> [Version] {
        let target = StateStore.normalize(target)
        let relative = try relativePath(path, target: target)
        if TreeOps.isDirectory(state.directory(for: target)) {
            do {
                let storeLock = try store.lock(shared: true)
                defer { storeLock.release() }
                do {
                    try recoveredHoldingStoreLock(
                        target: target, state: state, store: store, looks: false, events: events) {}
                } catch let error as SmartSyncError where error.code == .locked {
                    // The target's lock (the store's is held): a live run. The listing does not wait for it (an
                    // `update` holds it for minutes) and reads nothing it could see half written (below). The
                    // message names the holder, not a killed run. A gc holding the store's lock is the catch below.
                    events(
                        .warning(
                            "\(error.message): listed as it stands, without waiting; what that run keeps (or a killed "
                                + "run's switch it finishes) shows once it ends"))
                }
            } catch let error as SmartSyncError {
                events(
                    .warning(
                        "listed without finishing a switch a killed run may have left in \(target) (a killed "
                            + "rollback's kept versions show once it is finished): \(error.text)"))
            }
        }
        var out = try KeptVersionLog(state: state, target: target).versions(of: relative).map {
            Version(origin: .kept($0), mode: $0.mode, id: $0.id, metadata: $0.metadata)
        }
        for g in try GenerationStore(layout: SwitchLayout(target: target)).list() {
            guard let tree = try? TreeReader(root: g.tree), let (mode, id, _) = try? inspect(relative, in: tree)
            else { continue }
            out.append(Version(origin: .generation(sequence: g.sequence, commit: g.state?.commit), mode: mode, id: id))
        }
        return out
    }

    /// Restores `path` in `target`: the most recent kept version, or the file as it is in generation
    /// `generation`'s tree. Needs no source. What the recovery of a killed run's switch warns of goes to `events`.
    public static func run(
        path: String, target: String, generation: Int? = nil, store: ObjectStore, state: StateStore,
        events: (SyncEvent) -> Void = { _ in }
    ) throws -> Outcome {
        let target = StateStore.normalize(target)
        let relative = try relativePath(path, target: target)
        return try recovered(target: target, state: state, store: store, events: events) {
            try restore(relative, target: target, generation: generation, store: store, state: state)
        }
    }

    /// Runs `body` under the store's shared lock and the target lock, after recovering a switch a killed run left. As
    /// every run under the lock: a switch finished here is recorded from its intent (or its journal), which finishing
    /// it without recording would lose (the state then naming the tree it replaced). The looks marked are done too
    /// (``PendingLook``: `restore PATH` does them; the listing, which writes nothing of its own, recovers without).
    private static func recovered<R>(
        target: String, state: StateStore, store: ObjectStore, events: (SyncEvent) -> Void, _ body: () throws -> R
    ) throws -> R {
        let storeLock = try store.lock(shared: true)
        defer { storeLock.release() }
        return try recoveredHoldingStoreLock(
            target: target, state: state, store: store, looks: true, events: events, body)
    }

    /// ``recovered(target:state:store:looks:events:_:)`` with the store's shared lock already held by the caller: only
    /// the target's lock can answer `.locked` here.
    private static func recoveredHoldingStoreLock<R>(
        target: String, state: StateStore, store: ObjectStore, looks: Bool, events: (SyncEvent) -> Void,
        _ body: () throws -> R
    ) throws -> R {
        let lock = try state.lock(target: target)
        defer { lock.release() }
        try state.recoverSwitch(target: target, store: store, looks: looks) { events(.warning($0)) }
        return try body()
    }

    /// ``run(path:target:generation:store:state:events:)`` under the locks, the switch recovered.
    private static func restore(
        _ relative: TreePath, target: String, generation: Int?, store: ObjectStore, state: StateStore
    ) throws -> Outcome {
        try checkParents(root: target, relative)

        let log = KeptVersionLog(state: state, target: target)
        let kept = try log.versions(of: relative)
        let manifest = try state.load(target: target)?.manifest ?? Manifest()
        let chosen: Version
        if let generation {
            chosen = try fromGeneration(generation, relative, target: target, kept: kept, store: store)
        } else {
            guard let record = kept.first else {
                throw SmartSyncError(
                    .notFound,
                    "no local version of '\(relative)' was kept for \(target)",
                    hint: "`smart-sync restore '\(relative)' --list --target \(target)` shows the generations holding "
                        + "it (restore one with --generation N)"
                )
            }
            try verifyObject(record.id, store: store, what: "the kept version of '\(relative)'")
            chosen = Version(origin: .kept(record), mode: record.mode, id: record.id, metadata: record.metadata)
        }

        // Save what is there now (unless it is what the sync put there), then put the chosen version in its place.
        let current = try TreeReader(root: target)
        var saved: KeptVersion?
        if let (mode, id, metadata) = try inspect(relative, in: current) {
            if mode == chosen.mode && id == chosen.id && (chosen.metadata == nil || chosen.metadata == metadata) {
                return Outcome(path: relative, restored: chosen, saved: nil, unchanged: true)
            }
            try LocalVersionSaver(store: store).save(relative, in: current, mode: mode, id: id)
            if manifest[relative] != Manifest.Entry(mode: mode, id: id)
                || !metadata.isInstalled(as: mode, owner: Seal.owner)
            {
                let record = KeptVersion(
                    timeNs: SyncRunner.nowNs(), mode: mode, id: id, replacedBy: nil, path: relative, metadata: metadata)
                try log.append([record])
                saved = record
            }
        }
        try write(chosen, to: relative, target: target, store: store)
        return Outcome(path: relative, restored: chosen, saved: saved, unchanged: false)
    }

    /// Takes `relative` from generation `sequence` into the store, checking it against what the generation's
    /// manifest, a kept record or the current file say it should be.
    private static func fromGeneration(
        _ sequence: Int, _ relative: TreePath, target: String, kept: [KeptVersion], store: ObjectStore
    ) throws -> Version {
        let generations = try GenerationStore(layout: SwitchLayout(target: target)).list()
        guard let g = generations.first(where: { $0.sequence == sequence }) else {
            let available = generations.map(\.sequence).map(String.init).joined(separator: ", ")
            throw SmartSyncError(
                .notFound,
                "\(target) has no kept generation \(sequence) (kept: \(available.isEmpty ? "none" : available))",
                hint: "`smart-sync rollback --list --target \(target)` lists them"
            )
        }
        let tree = try TreeReader(root: g.tree)
        guard let (mode, _, _) = try inspect(relative, in: tree) else {
            throw SmartSyncError(
                .notFound,
                "generation \(sequence) of \(target) has no '\(relative)'",
                hint: "`smart-sync restore '\(relative)' --list --target \(target)` shows where it is"
            )
        }
        // Into the store: hashed as it is copied and published only under the id it hashes to.
        let id = try LocalVersionSaver(store: store).save(relative, in: tree, mode: mode, id: nil)
        var expected: Set<ObjectID> = Set(kept.map(\.id))
        if let entry = g.state?.manifest[relative] { expected.insert(entry.id) }
        if let (_, current, _) = try? inspect(relative, in: TreeReader(root: target)) { expected.insert(current) }
        guard expected.isEmpty || expected.contains(id) else {
            throw SmartSyncError(
                .integrity,
                "generation \(sequence)'s '\(relative)' hashes to \(id.abbreviated()), which is neither what that "
                    + "generation's sync put there nor a kept local version: it was changed "
                    + "after it was kept; not restored",
                hint: "copy \(tree.display(relative)) by hand if you want it anyway")
        }
        try verifyObject(id, store: store, what: "generation \(sequence)'s '\(relative)'")
        return Version(origin: .generation(sequence: sequence, commit: g.state?.commit), mode: mode, id: id)
    }

    /// Writes `version` at `relative` as a private copy: temporary name, fsync, rename over the path.
    private static func write(_ version: Version, to relative: TreePath, target: String, store: ObjectStore) throws {
        try Materializer.replace(relative, under: target) { dirFD, tmp, display in
            if version.mode == .symlink {
                try Materializer.symlink(
                    try store.readVerifiedBlob(version.id), dirFD: dirFD, tmp: tmp, display: display)
                if let owner = version.metadata {
                    guard fchownat(dirFD, tmp, owner.owner, owner.group, AT_SYMLINK_NOFOLLOW) == 0 else {
                        throw SmartSyncError.io("lchown", path: display)
                    }
                }
            } else {
                try copy(
                    store.path(for: version.id), id: version.id, dirFD: dirFD, tmp: tmp, display: display,
                    metadata: version.metadata, executable: version.mode == .executable)
            }
        }
    }

    /// Copies the store object at `source` to `tmp` in `dirFD`, hashing the bytes as they go (they must hash to
    /// `id`), with `metadata`'s owner and permissions (none: a generation's file, `0644` or `0755`, owned by the
    /// effective user with the group the file system gave it, a setgid directory's as in place); fsynced. The copy is
    /// private (0600) until it is complete and owned as it should be: a kept 0600 secret is never readable by others,
    /// not even while it is written. Removes `tmp` on failure.
    private static func copy(
        _ source: String, id: ObjectID, dirFD: Int32, tmp: String, display: String, metadata kept: FileMetadata?,
        executable: Bool
    ) throws {
        let src = open(source, O_RDONLY | O_CLOEXEC)
        guard src >= 0 else { throw SmartSyncError.io("open", path: source) }
        defer { close(src) }
        var st = stat()
        guard fstat(src, &st) == 0 else { throw SmartSyncError.io("fstat", path: source) }
        let dst = openat(dirFD, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard dst >= 0 else { throw SmartSyncError.io("create", path: display) }
        var ok = false
        defer {
            close(dst)
            if !ok { unlinkat(dirFD, tmp, 0) }
        }
        let hasher = BlobHasher(size: Int(st.st_size))
        try readChunks(fd: src, path: source) { chunk in
            hasher.update(chunk)
            try FileSystem.writeAll(fd: dst, chunk, path: display)
        }
        guard hasher.finalize() == id else {
            throw SmartSyncError(
                .integrity,
                "the store object \(id.abbreviated()) changed while it was copied to '\(display)'; not restored")
        }
        var made = stat()
        guard fstat(dst, &made) == 0 else { throw SmartSyncError.io("fstat", path: display) }
        let metadata =
            kept ?? FileMetadata(permissions: executable ? 0o755 : 0o644, owner: Seal.owner, group: made.st_gid)
        // The owner first: chown clears setuid and setgid bits, which the chmod then sets as kept.
        guard fchown(dst, metadata.owner, metadata.group) == 0 else { throw SmartSyncError.io("fchown", path: display) }
        guard fchmod(dst, mode_t(metadata.permissions)) == 0 else { throw SmartSyncError.io("fchmod", path: display) }
        guard fsync(dst) == 0 else { throw SmartSyncError.io("fsync", path: display) }
        ok = true
    }
}
