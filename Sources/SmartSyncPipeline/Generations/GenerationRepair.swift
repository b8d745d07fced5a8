import Glibc
import SmartSyncCore
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Checks a kept generation against its manifest before it goes back into the target, and mends what an in-place
/// write damaged since it was kept. Regular files are vouched for by ``GenerationTrust`` (the store's own intact
/// object, or exactly as the scan that hashed them saw them) or read; symlinks are read.
///
/// A generation's files are the inodes the target had: with hard links they are the store's objects, so a write
/// through the target (or a `chmod`) reached them too. A file that no longer holds its blob with the tree's mode is
/// replaced by
/// a fresh one from the store (after its content is saved as a kept local version, so nothing is lost); when the
/// store has no intact copy either, the rollback is refused before anything changes.
struct GenerationRepair {
    let store: ObjectStore
    let linkMode: LinkMode
    /// The target's kept-version log: a version it holds already (kept by the sync that healed the target) is not
    /// returned again.
    let log: KeptVersionLog

    /// Checks and mends `generation` (whose tree is not in use). Returns the paths it replaced and the versions to
    /// record (what those paths held instead, saved into the store): the caller records them once its exchange stands
    /// (a rollback journals them with its own, ``SwitchJournal/pending``), so a rollback that fails or is killed before
    /// it leaves no record of a switch that never happened, and a retry records them once.
    func repair(_ generation: Generation) throws -> (repaired: [TreePath], kept: [KeptVersion]) {
        guard let manifest = generation.state?.manifest else { return ([], []) }
        var trust = try GenerationTrust(store: store, cache: generation.statCache())
        let tree = try TreeReader(root: generation.tree)
        // A blob at more than one path: each gets an inode of its own when placed, even with hard links.
        var uses: [Manifest.Entry: Int] = [:]
        for entry in manifest.entries.values { uses[entry, default: 0] += 1 }
        var repaired: [TreePath] = []
        var kept: [KeptVersion] = []
        lazy var recorded = Set((try? log.load())?.map { KeptKey($0) } ?? [])
        for (path, entry) in manifest.entries.sorted(by: { $0.key < $1.key }) {
            let st = try tree.status(path)
            let found: ObjectID?
            switch st.map({ $0.st_mode & S_IFMT }) {
            case S_IFLNK?:
                found = ObjectID.blob(try tree.readLink(path))
                if entry.mode == .symlink && found == entry.id { continue }
            case S_IFREG?:
                if try trust.vouches(for: path, id: entry.id, mode: entry.mode, size: nil, st: st!) { continue }
                found = try tree.hashFile(path)?.id
                if found == entry.id, entry.mode != .symlink,
                    FileMetadata(st!).isInstalled(as: entry.mode, owner: Seal.owner)
                {
                    continue  // read, and it holds its blob with its mode after all
                }
            default:
                found = nil
            }
            if let found, let st, let mode = FileMode(blobOf: st) {
                // What the generation held instead (content, kind or metadata): kept, as any local version a sync
                // replaces, unless the sync that healed the target kept it already.
                let version = KeptVersion(
                    timeNs: SyncRunner.nowNs(), mode: mode, id: found, replacedBy: generation.state?.commit,
                    path: path, metadata: FileMetadata(st), rollbackTo: generation.sequence)
                if !recorded.contains(KeptKey(version)) {
                    try LocalVersionSaver(store: store).save(path, in: tree, mode: mode, id: found)
                    kept.append(version)
                }
            }
            if try !store.holds(entry.id, size: nil, repair: true) {
                guard found == entry.id else {
                    throw refusal(generation, path, "the store has no intact copy of blob \(entry.id.abbreviated())")
                }
                try tree.insert(path, mode: entry.mode, into: store, expecting: entry.id)
            }
            try PathInstaller(store: store, linkMode: linkMode).install(
                entry, at: path, under: generation.tree, shareable: uses[entry, default: 0] < 2)
            repaired.append(path)
        }
        return (repaired, kept)
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
            "generation \(generation.sequence)'s '\(path)' was changed after it was kept (it shared its inode with a "
                + "file written in place) and \(why); nothing was rolled back",
            hint: "`smart-sync sync --ref \(commit)` brings the same tree from the source")
    }
}
