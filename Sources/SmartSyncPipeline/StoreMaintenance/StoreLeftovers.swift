import Glibc
import SmartSyncFetch
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// A file or directory gc removed (or would remove) outside `objects/`.
public struct Leftover: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        /// An entry of `tmp/` (an object being written, a private partial, a shallow clone) left by a killed run.
        case temporary
        /// A pack spool in `tmp/` that no run holds (a killed run's interrupted pack).
        case spool
        /// A kept partial download (`partials/<id>` and its `.meta`) not resumed for the partial age, or whose object
        /// is complete in the store.
        case partial
        /// A quarantined object (its twin, its note) older than the quarantine age that nothing else links.
        case quarantine
    }

    public var kind: Kind
    public var path: String
    /// Its disk space.
    public var bytes: Int
}

/// The leftovers part of gc: stale entries of `tmp/`, `partials/` and `quarantine/`. Ages are by `ctime` (which any
/// write, rename or link moves). A file some process holds an `flock` on (a pack spool being written or imported, a
/// partial being resumed) is never removed, whatever its age.
struct StoreLeftovers {
    let store: ObjectStore
    let nowNs: Int64
    let graceNs: Int64
    let partialAgeNs: Int64
    let quarantineAgeNs: Int64
    let dryRun: Bool

    /// Removes (or, in a dry run, lists) the leftovers; `visit` sees each.
    func clean(_ visit: (Leftover) -> Void) {
        for name in (try? FileSystem.names(in: store.temporaryDirectory)) ?? [] {
            let path = store.temporaryDirectory + "/" + name
            // A listing's pack spool or one held for a commit's checks (GitPackSource's).
            let spool =
                name.hasPrefix(GitPackSource.spoolPrefix) || name.hasPrefix(GitPackSource.heldSpoolPrefix)
            let kind: Leftover.Kind = spool ? .spool : .temporary
            if olderThan(graceNs, path) { remove(path, kind, visit) }
        }
        let partials = store.partialsDirectory
        for name in (try? FileSystem.names(in: partials)) ?? [] {
            let path = partials + "/" + name
            if name.hasSuffix(".meta") {
                // Metadata whose data file is gone.
                if !FileSystem.exists(String(path.dropLast(5))) && olderThan(graceNs, path) {
                    remove(path, .partial, visit)
                }
                continue
            }
            guard let id = ObjectID(hex: name) else { continue }
            let done = FileSystem.exists(store.path(for: id))
            if (done && olderThan(graceNs, path)) || olderThan(partialAgeNs, path) {
                if remove(path, .partial, visit) && FileSystem.exists(path + ".meta") {
                    remove(path + ".meta", .partial, visit)
                }
            }
        }
        cleanQuarantine(visit)
    }

    /// Quarantined objects older than the quarantine age, each with its twin and note, unless a file outside the
    /// store still links one of them: while a target or generation holds a damaged inode, the quarantine's link is
    /// what names it as damaged (``ObjectStore/quarantinedIdentities()``).
    private func cleanQuarantine(_ visit: (Leftover) -> Void) {
        let dir = store.quarantineDirectory
        var stems: [String: [String]] = [:]
        for name in (try? FileSystem.names(in: dir)) ?? [] {
            let stem =
                name.hasSuffix(".why")
                ? String(name.dropLast(4)) : name.hasSuffix(".x") ? String(name.dropLast(2)) : name
            stems[stem, default: []].append(dir + "/" + name)
        }
        for (_, paths) in stems.sorted(by: { $0.key < $1.key }) {
            guard paths.allSatisfy({ olderThan(quarantineAgeNs, $0) }) else { continue }
            let stillLinked = paths.contains { path in
                var st = stat()
                return !path.hasSuffix(".why") && lstat(path, &st) == 0 && st.st_nlink > 1
            }
            guard !stillLinked else { continue }
            for path in paths.sorted() { remove(path, .quarantine, visit) }
        }
    }

    private func olderThan(_ age: Int64, _ path: String) -> Bool {
        FileSystem.inodeAgeNs(path, at: nowNs).map { $0 > age } ?? false
    }

    /// Removes `path` (a whole directory too) unless a process holds an `flock` on it; true when it went (or would).
    @discardableResult
    private func remove(_ path: String, _ kind: Leftover.Kind, _ visit: (Leftover) -> Void) -> Bool {
        var st = stat()
        guard lstat(path, &st) == 0 else { return false }
        let bytes = FileSystem.diskUsage(of: path)
        if (st.st_mode & S_IFMT) == S_IFDIR {
            if !dryRun {
                guard (try? TreeOps.removeTree(path)) != nil else { return false }
            }
        } else {
            let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                // Held by a live run (in any PID namespace): not ours to take.
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
                if !dryRun && unlink(path) != 0 { return false }
            } else if !dryRun && unlink(path) != 0 {
                return false
            }
        }
        visit(Leftover(kind: kind, path: path, bytes: bytes))
        return true
    }
}
