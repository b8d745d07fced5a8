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
    public func editedPaths(state: TargetState, cache: StatCache) -> [TreePath] {
        var edited: [TreePath] = Array(state.keptLocal.entries.keys)
        let root = Array(target.utf8) + [0x2F]
        for (path, entry) in state.manifest.entries where entry.mode.isBlob {
            if differs(root + path.bytes, entry, cached: cache.entries[path]) { edited.append(path) }
        }
        return edited.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }

    private func differs(_ full: [UInt8], _ entry: Manifest.Entry, cached: StatCache.Entry?) -> Bool {
        var st = stat()
        let found = (full + [0]).withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { lstat($0.baseAddress!, &st) == 0 }
        }
        guard found else { return true }
        return Self.differs(st, entry, cached: cached) { Self.readLink(full) }
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

    private static func readLink(_ path: [UInt8]) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = (path + [0]).withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { c in
                buffer.withUnsafeMutableBufferPointer { b in
                    b.withMemoryRebound(to: CChar.self) { readlink(c.baseAddress!, $0.baseAddress!, $0.count) }
                }
            }
        }
        return n < 0 ? [] : Array(buffer[..<n])
    }
}
