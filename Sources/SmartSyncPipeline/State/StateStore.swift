import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects

/// The state directory: per-target state, stat caches and locks, plus small auxiliary slots.
///
/// Layout:
/// ```
/// <root>/targets/<key>/state        TargetState (binary, checksummed)
/// <root>/targets/<key>/stat-cache   StatCache
/// <root>/targets/<key>/lock         TargetLock
/// <root>/targets/<key>/intent       TargetState an apply is about to write (until its state is saved)
/// <root>/targets/<key>/excludes     the exclude globs of the state (or intent) with their commit and time
/// <root>/targets/<key>/pending-rebuild PendingRebuild (a JSONRecord): `update` switched, the tree not confirmed yet
/// <root>/targets/<key>/history RunHistory: a JSON line per run (`status --history`)
/// <root>/targets/<key>/counters.json TargetCounters: what the metrics file counts (and its `counters.lock`)
/// <root>/aux/<name> auxiliary blobs (e.g. the source cache of ETags)
/// ```
/// `<key>` is the hex SHA-1 of the target's absolute, lexically normalized path.
/// Every file is replaced atomically (temp, fsync, rename; `history` and `counters.json`, reports of runs, and
/// `stat-cache`, which checks itself as it is read, without the fsync). The directory is private to its owner (0700, or
/// 0750 with a group): kept versions' records name the operator's files.
public struct StateStore: Sendable {
    public let root: String
    /// A throw at a named point stands in for a kill between two writes (tests): `excludes-saved`, once the excludes
    /// file is written and before the state or intent it describes (``saveExcludes(of:durable:)``). Set by the
    /// runner's (``SyncRunner/checkpoint``), the one seam a test sets.
    var checkpoint: @Sendable (String) throws -> Void = { _ in }

    /// Opens (creating when missing) the state directory.
    public init(root: String) throws {
        self.root = root
        try FileSystem.makePrivateDirectory(root)
        try FileSystem.makeDirectories(root + "/targets")
        try FileSystem.makeDirectories(root + "/aux")
    }

    /// The absolute, normalized form of `target` ("." and ".." resolved lexically, no trailing slash).
    public static func normalize(_ target: String) -> String {
        var path = target
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            if getcwd(&buffer, buffer.count) != nil {
                let cwd = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                path = cwd + "/" + path
            }
        }
        var parts: [Substring] = []
        for c in path.split(separator: "/") {
            if c == "." { continue }
            if c == ".." {
                _ = parts.popLast()
                continue
            }
            parts.append(c)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The key of `target`: hex SHA-1 of its normalized path.
    public static func key(for target: String) -> String {
        ObjectID.hash(.blob, Array(normalize(target).utf8)).hex
    }

    /// The directory holding `target`'s files (created on demand by the savers).
    public func directory(for target: String) -> String { root + "/targets/" + Self.key(for: target) }

    /// Where `target`'s state lives.
    public func statePath(for target: String) -> String { directory(for: target) + "/state" }

    /// Where `target`'s stat cache lives.
    public func statCachePath(for target: String) -> String { directory(for: target) + "/stat-cache" }

    /// The last state saved for `target`, or nil when there is none (or it is damaged).
    public func load(target: String) throws -> TargetState? {
        var state = try TargetState.read(from: directory(for: target) + "/state")
        state?.pendingDeletes = Manifest()  // an intent's alone (``TargetState/pendingDeletes``)
        if let loaded = state { state?.excludes = loadExcludes(of: loaded) }
        return state
    }

    /// Saves `state` atomically. Its target is normalized first; an intent's pending deletes are left out (a state
    /// never claims them: ``TargetState/pendingDeletes``).
    public func save(_ state: TargetState) throws {
        var state = state
        state.target = Self.normalize(state.target)
        state.pendingDeletes = Manifest()
        let dir = directory(for: state.target)
        try FileSystem.makeDirectories(dir)
        try saveExcludes(of: state)
        try FileSystem.writeFileAtomically(dir + "/state", state.encoded())
    }

    /// Loads `target`'s stat cache (empty when missing or damaged).
    /// Records what an apply is about to put in `target`, before it starts (see ``loadIntent(target:)``).
    ///
    /// With `durable` false the file is written and renamed into place without an fsync, and the caller makes it
    /// durable before anything changes the target (the staged switch: by its stage's `syncfs` when this directory
    /// shares that file system, else fsynced on its own after that sync). Returns whether it was left unsynced: an
    /// intent already there (a killed run's) is replaced durably all the same, since a power cut before the caller's
    /// sync could otherwise lose both. The caller puts the killed run's entries this apply deletes in the new
    /// intent's ``TargetState/pendingDeletes`` before calling, so they stay ours until the deletes are done.
    @discardableResult
    public func saveIntent(_ intent: TargetState, durable: Bool = true) throws -> Bool {
        let dir = directory(for: intent.target)
        try FileSystem.makeDirectories(dir)
        try saveExcludes(of: intent, durable: durable)
        let path = intentPath(for: intent.target)
        var st = stat()
        let unsynced = !durable && lstat(path, &st) != 0
        try FileSystem.writeFileAtomically(path, intent.encoded(), durable: !unsynced)
        return unsynced
    }

    /// Where `target`'s intent lives.
    func intentPath(for target: String) -> String { directory(for: target) + "/intent" }

    /// What an interrupted apply meant to put in `target`, or nil when the last apply finished.
    public func loadIntent(target: String) throws -> TargetState? {
        var intent = try TargetState.read(from: intentPath(for: target))
        if let loaded = intent { intent?.excludes = loadExcludes(of: loaded) }
        return intent
    }

    /// Records the intent saved for `target` (``saveIntent(_:)``, durable) as its state: renamed over the state file
    /// and the directory synced, so the state is recorded and the intent dropped in one step, with no encoding or
    /// writing of its manifest again. For an apply whose intent is the state to record. False (nothing changed) when
    /// `target` has no intent.
    func recordIntent(target: String) throws -> Bool {
        let dir = directory(for: target)
        guard rename(dir + "/intent", dir + "/state") == 0 else {
            let err = errno  // read before the message is built (it allocates)
            if err == ENOENT { return false }
            throw SmartSyncError.io("rename", path: dir + "/state", errno: err)
        }
        FileSystem.syncDirectory(dir)
        return true
    }

    /// Drops the intent once the apply it announced has finished.
    public func clearIntent(target: String) throws {
        let path = intentPath(for: target)
        if unlink(path) != 0 && errno != ENOENT { throw SmartSyncError.io("unlink", path: path) }
    }

    /// Forgets what smart-sync applied to `target` (its manifest and stat cache), e.g. after rolling back to a
    /// tree it found rather than synced.
    public func forget(target: String) throws {
        for path in [directory(for: target) + "/state", statCachePath(for: target), excludesPath(for: target)]
        where unlink(path) != 0 && errno != ENOENT {
            throw SmartSyncError.io("unlink", path: path)
        }
    }

    /// Paths equal to one of `sharing` (sorted: the target's manifest's) share its storage.
    public func loadStatCache(target: String, trustCtime: Bool = true, sharing: [TreePath] = []) throws -> StatCache {
        try StatCache.load(from: statCachePath(for: target), trustCtime: trustCtime, sharing: sharing)
    }

    /// Saves `target`'s stat cache atomically (updating its timestamp), without an fsync (``StatCache/save(to:)``).
    public func saveStatCache(_ cache: inout StatCache, target: String) throws {
        try FileSystem.makeDirectories(directory(for: target))
        try cache.save(to: statCachePath(for: target))
    }

    /// Drops the stat cache of `target`, so the next scan re-hashes every file.
    public func resetStatCache(target: String) throws {
        let path = statCachePath(for: target)
        if unlink(path) != 0 && errno != ENOENT { throw SmartSyncError.io("unlink", path: path) }
    }

    /// Takes `target`'s lock without waiting; throws `.locked` when another run holds it.
    public func lock(target: String) throws -> TargetLock {
        let dir = directory(for: target)
        try FileSystem.makeDirectories(dir)
        return try TargetLock.acquire(path: dir + "/lock", target: Self.normalize(target))
    }

    /// An auxiliary blob shared by all targets (e.g. `"source-cache"`), or nil when never saved.
    public func loadAuxiliary(name: String) throws -> [UInt8]? {
        try Self.checkName(name)
        return try FileSystem.readFileIfPresent(root + "/aux/" + name)?.bytes
    }

    /// Saves an auxiliary blob atomically.
    public func saveAuxiliary(name: String, bytes: [UInt8]) throws {
        try Self.checkName(name)
        try FileSystem.writeFileAtomically(root + "/aux/" + name, bytes)
    }

    private static func checkName(_ name: String) throws {
        guard !name.isEmpty, !name.hasPrefix("."), !name.contains("/"), !name.utf8.contains(0) else {
            throw SmartSyncError(
                .invalidArgument, "'\(name)' is not a valid auxiliary state name (no '/', no leading '.')")
        }
    }
}
