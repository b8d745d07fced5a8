#if canImport(Glibc)
    import Glibc
#endif
import GitObjects
import ObjectStore
import SmartSyncCore

/// Checks a kept generation against its manifest before it goes back into the target, and mends what an in-place
/// write damaged since it was kept.
///
/// A generation's files are the inodes the target had: with hard links they are the store's objects, so a write
/// through the target (or a `chmod`) reached them too. Each regular file is trusted without reading it when it is the
/// store's own sealed object, or when it is an inode of its own that keeps its ``Seal`` and is not one the store
/// quarantined; anything else is re-hashed. A file that no longer holds its blob with the tree's mode is replaced by
/// a fresh one from the store (after its content is saved as a kept local version, so nothing is lost); when the
/// store has no intact copy either, the rollback is refused before anything changes.
struct GenerationRepair {
    let store: ObjectStore
    let linkMode: LinkMode
    /// The target's kept-version log: what a repaired file held is recorded there.
    let log: KeptVersionLog

    /// Checks and mends `generation` (whose tree is not in use). Returns the paths it replaced.
    func repair(_ generation: Generation) throws -> [TreePath] {
        guard let manifest = generation.state?.manifest else { return [] }
        let quarantined = try store.quarantinedIdentities()
        let tree = try TreeReader(root: generation.tree)
        var repaired: [TreePath] = []
        var kept: [KeptVersion] = []
        lazy var recorded = Set((try? log.load())?.map { KeptKey($0) } ?? [])
        for (path, entry) in manifest.entries.sorted(by: { $0.key < $1.key }) where entry.mode != .symlink {
            let st = try tree.status(path)
            if let st, try isIntact(st, entry, quarantined: quarantined) { continue }
            let found = st.map { ($0.st_mode & S_IFMT) == S_IFREG } == true ? try tree.hashFile(path) : nil
            if let found, let st {
                // What the generation held instead (content or metadata): kept, as any local version a sync
                // replaces, unless the sync that healed the target kept it already.
                let version = KeptVersion(
                    timeNs: SyncRunner.nowNs(), mode: entry.mode, id: found, replacedBy: generation.state?.commit,
                    path: path, metadata: FileMetadata(st))
                if found != entry.id || !FileMetadata(st).isInstalled(as: entry.mode, owner: geteuid()),
                    !recorded.contains(KeptKey(version))
                {
                    try LocalVersionSaver(store: store).save(path, in: tree, mode: entry.mode, id: found)
                    kept.append(version)
                }
            }
            if try !store.holds(entry.id, size: nil, repair: true) {
                guard found == entry.id else {
                    throw refusal(generation, path, "the store has no intact copy of blob \(entry.id.abbreviated())")
                }
                try tree.insert(path, mode: entry.mode, into: store, expecting: entry.id)
            }
            try PathInstaller(store: store, linkMode: linkMode).install(entry, at: path, under: generation.tree)
            repaired.append(path)
        }
        try log.append(kept)
        return repaired
    }

    /// True when the file needs no reading: it is the store's sealed object (or twin) itself, or an inode of its own
    /// (a reflink or copy) whose seal holds and that the store never quarantined.
    private func isIntact(_ st: stat, _ entry: Manifest.Entry, quarantined: Set<FileIdentity>) throws -> Bool {
        let executable = entry.mode == .executable
        let identity = FileIdentity(st)
        guard !quarantined.contains(identity), Seal.breach(of: st, executable: executable, size: nil) == nil else {
            return false
        }
        var object = stat()
        let objectPath = store.path(for: entry.id) + (executable ? ".x" : "")
        if lstat(objectPath, &object) == 0, FileIdentity(object) == identity {
            // The store's own inode: its check (a re-hash only if its seal is broken) speaks for this file.
            return try store.holds(entry.id, size: nil, repair: true)
        }
        return true
    }

    /// A kept version without its time: what makes two records the same version.
    private struct KeptKey: Hashable {
        var path: TreePath
        var id: ObjectID
        var metadata: FileMetadata?
        init(_ v: KeptVersion) {
            path = v.path
            id = v.id
            metadata = v.metadata
        }
    }

    private func refusal(_ generation: Generation, _ path: TreePath, _ why: String) -> SmartSyncError {
        let commit = generation.state?.commit.hex ?? "COMMIT"
        return SmartSyncError(
            .integrity,
            "generation \(generation.sequence)'s '\(path)' was changed after it was kept (it shared its inode with a file written in place) and \(why); nothing was rolled back",
            hint: "`smart-sync sync --ref \(commit)` brings the same tree from the source")
    }
}
