import Glibc
import SmartSyncGitObjects
import SmartSyncObjectStore

/// Which paths of a target differ from what its last sync put there, found cheaply: one `lstat` per path of the
/// manifest; nothing is read or hashed (a symlink's target is read, a few bytes). A regular file is as it was put
/// there when the stat cache the last scan saved vouches for it (same `stat` data, the tree's blob), or else when
/// its ``Seal`` holds (every file smart-sync installs is sealed: 0444/0555, owned by it, modification time 1 s; any
/// write or `chmod` breaks that). A path counts as edited when it is gone, is of another type or mode, or neither
/// vouches for it; tree paths `--keep-local` left alone count too. Files that were never ours (untracked) do not.
///
/// This is what `status` and the metrics file report as pending local edits: the next sync keeps those versions
/// (`smart-sync restore`) and replaces them, or leaves them with `--keep-local`. A write that puts the sealed
/// time back and keeps the size escapes it, as it escapes the seal; `verify` re-hashes everything.
public struct LocalEditScan: Sendable {
    public let target: String

    public init(target: String) {
        self.target = StateStore.normalize(target)
    }

    /// The edited paths, sorted.
    ///
    /// The target is read by directory descriptor (``TreeReader``: every directory on the way opened with
    /// `O_NOFOLLOW`), as every walk of it is: a directory the operator replaced with a symlink is not followed
    /// to what it points at (which may hold the very files the manifest names), and every path below it counts as
    /// edited, as the next sync finds it.
    public func editedPaths(state: TargetState, cache: StatCache) -> [TreePath] {
        var edited: [TreePath] = Array(state.keptLocal.entries.keys)
        let reader = try? TreeReader(root: target, blockedIsMissing: true)
        for (path, entry) in state.manifest.entries where entry.mode.isBlob {
            if differs(path, entry, in: reader, cached: cache.entries[path]) { edited.append(path) }
        }
        return edited.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }

    /// Whether `path` is not as the last sync put it there: gone, unreachable (a symlink or a file where a directory
    /// on the way belongs), of another type or mode, or vouched for by neither the stat cache nor the seal.
    private func differs(_ path: TreePath, _ entry: Manifest.Entry, in reader: TreeReader?, cached: StatCache.Entry?)
        -> Bool
    {
        guard let reader, let st = try? reader.status(path) else { return true }
        return (try? Self.differs(st, entry, cached: cached) { try reader.readLink(path) }) ?? true
    }

    /// Whether the path whose `lstat` is `st` differs from `entry`, what the last sync put there (the rules above);
    /// `link` reads a symlink's target.
    static func differs(_ st: stat, _ entry: Manifest.Entry, cached: StatCache.Entry?, link: () throws -> [UInt8])
        rethrows -> Bool
    {
        let type = st.st_mode & S_IFMT
        if entry.mode == .symlink {
            guard type == S_IFLNK else { return true }
            return ObjectID.hash(.blob, try link()) != entry.id
        }
        guard type == S_IFREG, (st.st_mode & 0o100 != 0) == (entry.mode == .executable) else { return true }
        if let cached, StatData(st) == cached.stat { return cached.id != entry.id }
        return Seal.breach(of: st, executable: entry.mode == .executable, size: nil) != nil
    }
}
