import GitObjects
import ObjectStore
import SmartSyncCore
import Sync

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
    func relative(_ configPath: String) -> String? {
        let full = context.resolve(configPath)
        guard full.hasPrefix(context.target + "/") else { return nil }
        return String(full.dropFirst(context.target.count + 1))
    }

    /// True when `rel` is in the last manifest, differs from it on disk, and its store object is intact.
    func canRestore(_ rel: String) -> Bool {
        guard let entry = last.manifest[rel], objectIsIntact(entry) else { return false }
        if let st = FileInfo.noFollow(context.target + "/" + rel), FileInfo.isDirectory(st) { return false }
        return differs(rel)
    }

    /// True when `rel` is missing or not what the manifest says.
    func differs(_ rel: String) -> Bool {
        guard let entry = last.manifest[rel] else { return false }
        let single = Manifest(entries: [rel: entry])
        guard let report = try? TargetVerifier().verify(target: context.target, manifest: single, store: store)
        else { return true }
        return !report.findings.isEmpty
    }

    /// The object (and for executables its `.x` twin) hashes to its id and has the store's read-only mode.
    func objectIsIntact(_ entry: Manifest.Entry) -> Bool {
        let path = store.path(for: entry.id)
        guard let st = FileInfo.noFollow(path), FileInfo.isRegular(st), st.st_mode & 0o7777 == 0o444,
            (try? BlobHasher.hashFile(atPath: path).id) == entry.id
        else { return false }
        return true
    }

    /// Runs `body` holding the target's lock (a sync may not run meanwhile).
    func locked<T>(_ body: () throws -> T) throws -> T {
        let lock = try stateStore.lock(target: context.target)
        defer { lock.release() }
        return try body()
    }

    /// Replaces `rel` by the manifest's version: a hardlink of the store object (a copy when the link fails, or
    /// when another manifest path uses the same object, so no two target paths share an inode).
    func restore(_ rel: String) throws -> String {
        guard let entry = last.manifest[rel] else {
            throw SmartSyncError(.notFound, "'\(rel)' is not in the last sync's manifest; sync the target again")
        }
        guard objectIsIntact(entry) else {
            throw SmartSyncError(
                .integrity,
                "the store object \(entry.id.abbreviated()) for '\(rel)' is damaged or gone; run `smart-sync verify OWNER/REPO --repair`"
            )
        }
        let full = context.target + "/" + rel
        let dir = FileInfo.parent(full)
        try FileSystem.makeDirectories(dir)
        let tmp = dir + "/.smart-sync-tmp-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        var how = "linked from the store"
        switch entry.mode {
        case .symlink:
            let destination = try store.read(entry.id)
            let ok = (destination.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer {
                symlink($0.baseAddress!, tmp) == 0
            }
            guard ok else { throw SmartSyncError.io("symlink", path: full) }
            how = "symlink recreated from the store"
        default:
            let executable = entry.mode == .executable
            var source = store.path(for: entry.id)
            if executable {
                source = try store.executablePath(for: entry.id)
                guard (try? BlobHasher.hashFile(atPath: source).id) == entry.id else {
                    throw SmartSyncError(
                        .integrity,
                        "the executable twin \(source) is damaged; run `smart-sync verify OWNER/REPO --repair`")
                }
            }
            let shared = last.manifest.entries.contains { $0.key != rel && $0.value == entry }
            if shared || link(source, tmp) != 0 {
                try FileSystem.copyFile(from: source, to: tmp, mode: executable ? 0o555 : 0o444)
                how = "copied from the store"
            }
        }
        guard rename(tmp, full) == 0 else {
            let err = errno
            unlink(tmp)
            throw SmartSyncError.io("rename", path: full, errno: err, hint: "Move what stands there away and retry")
        }
        return "restored \(full) (\(how), blob \(entry.id.abbreviated()))"
    }
}
