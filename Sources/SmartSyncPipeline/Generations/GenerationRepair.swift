import Glibc
import SmartSyncCore
import SmartSyncFileSystem
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
/// store has no intact copy either, or a directory stands where the tree has a file, the rollback is refused before
/// anything changes.
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
    ///
    /// Two passes. The first looks at every path and changes nothing in the generation's tree (the store's own checks
    /// may reseal or quarantine an object of its own): a refusal (no intact copy in the store, a directory where the
    /// tree has a file) leaves the generation as it was, so no path is mended whose kept version would then go
    /// unrecorded. The second saves every version and syncs the store (a version is durable before the file it holds
    /// is replaced), then installs. When an install fails after that (an I/O error), the versions saved are recorded
    /// in the log before the error is thrown: the paths mended before it hold the tree's blob now, and a retry would
    /// find nothing to keep. (What fails after the repair and before the exchange is not covered: ARCHITECTURE,
    /// "Generations are checked before a rollback".)
    func repair(_ generation: Generation) throws -> (repaired: [TreePath], kept: [KeptVersion]) {
        guard let manifest = generation.state?.manifest else { return ([], []) }
        var trust = try GenerationTrust(store: store, cache: generation.statCache())
        let tree = try TreeReader(root: generation.tree)
        // A blob at more than one path: each gets an inode of its own when placed, even with hard links.
        var uses: [Manifest.Entry: Int] = [:]
        for entry in manifest.entries.values { uses[entry, default: 0] += 1 }
        lazy var recorded = Set((try? log.load())?.map { KeptKey($0) } ?? [])
        // Pass 1: what each damaged path holds, what is kept of it, whether the store can mend it.
        var mends: [Mend] = []
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
            case S_IFDIR?:
                throw directoryRefusal(generation, path)
            default:
                found = nil
            }
            var version: KeptVersion?
            if let found, let st, let mode = FileMode(blobOf: st) {
                // What the generation held instead (content, kind or metadata): kept, as any local version a sync
                // replaces, unless the sync that healed the target kept it already.
                let v = KeptVersion(
                    timeNs: SyncRunner.nowNs(), mode: mode, id: found, replacedBy: generation.state?.commit,
                    path: path, metadata: FileMetadata(st), rollbackTo: generation.sequence)
                if !recorded.contains(KeptKey(v)) { version = v }
            }
            let intact = try store.holds(entry.id, size: nil, repair: true)
            guard intact || found == entry.id else {
                throw refusal(generation, path, "the store has no intact copy of blob \(entry.id.abbreviated())")
            }
            mends.append(Mend(path: path, entry: entry, version: version, fromTree: !intact))
        }
        // Pass 2: every version saved, then the installs.
        let saver = LocalVersionSaver(store: store)
        for mend in mends {
            if let v = mend.version { _ = try saver.save(mend.path, in: tree, mode: v.mode, id: v.id) }
            if mend.fromTree {
                try tree.insert(mend.path, mode: mend.entry.mode, into: store, expecting: mend.entry.id)
            }
        }
        let kept = mends.compactMap(\.version)
        if mends.contains(where: { $0.version != nil || $0.fromTree }) {
            try FileSystem.syncFileSystem(containing: store.root)
        }
        var repaired: [TreePath] = []
        do {
            for mend in mends {
                try PathInstaller(store: store, linkMode: linkMode).install(
                    mend.entry, at: mend.path, under: generation.tree, shareable: uses[mend.entry, default: 0] < 2)
                repaired.append(mend.path)
            }
        } catch {
            // Those mended hold the tree's blob now: their versions are recorded here (the store synced above, as a
            // record trusts it), or a retry loses them.
            if !repaired.isEmpty, !kept.isEmpty { try log.append(kept) }
            throw error
        }
        return (repaired, kept)
    }

    /// A path the second pass mends: the version it keeps first (nil when there is none to keep, or the log holds
    /// it), and whether its blob comes from the tree itself (the store's copy is not intact, the tree's file is).
    private struct Mend {
        var path: TreePath
        var entry: Manifest.Entry
        var version: KeptVersion?
        var fromTree: Bool
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

    /// A directory where the tree has a file (the operator's, kept with the generation): refused before anything
    /// changes, so none of its files is lost.
    private func directoryRefusal(_ generation: Generation, _ path: TreePath) -> SmartSyncError {
        let shown = generation.tree + "/" + path.description
        return SmartSyncError(
            .conflict,
            "generation \(generation.sequence)'s tree has a directory at '\(shown)', where the generation has a file "
                + "or symlink; nothing was rolled back",
            hint: "move '\(shown)' away (or copy out the files you need and remove it), then roll back again")
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
