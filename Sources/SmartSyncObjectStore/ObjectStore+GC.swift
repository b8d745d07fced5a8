import Glibc
import SmartSyncFileSystem
import SmartSyncGitObjects

/// One object file the sweep removed (or, in a dry run, would remove).
public struct SweptObject: Sendable, Hashable {
    /// The object's id.
    public var id: ObjectID
    /// True for an executable twin (`….x`).
    public var isTwin: Bool
    /// Its path in the store.
    public var path: String
    /// Its size.
    public var bytes: Int
    /// Disk space its removal gives back: its blocks when the store held its only link, else 0 (a target file
    /// still links the inode).
    public var freedBytes: Int
}

/// What a sweep of `objects/` did.
public struct SweepReport: Sendable, Equatable {
    /// Object files kept because a root needs them.
    public var keptMarked = 0
    /// Object files kept because they are younger than the grace period (by `ctime`).
    public var keptYoung = 0
    /// Object files kept because another link to them exists (a target file outside every root): removing them
    /// would free nothing.
    public var keptLinked = 0
    /// Object files removed (bases and twins).
    public var removed = 0
    /// Their total size.
    public var removedBytes = 0
    /// The disk space given back (see ``SweptObject/freedBytes``).
    public var freedBytes = 0
    /// Names under `objects/` that are not objects (left alone).
    public var unknown = 0
    /// Disk space of the kept object files the store holds the only link to.
    public var keptOwnBytes = 0

    public init() {}
}

extension ObjectStore {
    /// The sweep of gc: removes every object file under `objects/` that is not kept, and returns what it did.
    ///
    /// One `fstatat` per object file, no content read. An object is kept when its id is in `marked`, when its `ctime`
    /// is less than `graceNs` old (a concurrent run's fresh objects; `ctime` because published objects carry a fixed
    /// `mtime`, and `ctime` also moves when an object is linked, so it errs on the side of keeping), or when it has
    /// other links (a target file still holds the inode, so removing it frees nothing). An executable twin goes with
    /// its base: it is kept while its base is kept, and otherwise judged as an object of its own. With `dryRun`,
    /// nothing is removed but `visit` sees what would be. The caller holds the store lock exclusively. Removals are not
    /// fsynced: one a crash undoes leaves a valid object behind, removed by the next gc.
    public func sweep(
        keeping marked: Set<ObjectID>, graceNs: Int64, nowNs: Int64 = Timestamps.nowNs(), dryRun: Bool,
        visit: (SweptObject) -> Void = { _ in }
    ) throws -> SweepReport {
        var report = SweepReport()
        let young = nowNs - graceNs
        for fan in try FileSystem.names(in: objectsDirectory).sorted() {
            guard fan.utf8.count == 2, ObjectID(hex: fan + String(repeating: "0", count: 38)) != nil else {
                report.unknown += 1
                continue
            }
            let dirPath = objectsDirectory + "/" + fan
            let dirFD = open(dirPath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard dirFD >= 0 else {
                report.unknown += 1
                continue
            }
            defer { close(dirFD) }
            var kept: [ObjectID: Verdict] = [:]
            var twins: [(ObjectID, String)] = []
            for name in try FileSystem.names(in: dirPath) {
                let isTwin = name.hasSuffix(".x")
                guard let id = ObjectID(hex: fan + (isTwin ? name.dropLast(2) : name[...])) else {
                    report.unknown += 1
                    continue
                }
                if isTwin {
                    twins.append((id, name))
                    continue
                }
                let verdict = judge(
                    id, name, isTwin: false, keep: marked.contains(id) ? .marked : nil, dirFD: dirFD, dirPath: dirPath,
                    young: young, dryRun: dryRun, report: &report, visit: visit)
                report.count(verdict)
                if !verdict.isRemoved { kept[id] = verdict }
            }
            for (id, name) in twins {
                // A twin is kept for as long as its base is, for the same reason.
                let verdict = judge(
                    id, name, isTwin: true, keep: kept[id], dirFD: dirFD, dirPath: dirPath, young: young,
                    dryRun: dryRun, report: &report, visit: visit)
                report.count(verdict)
            }
        }
        return report
    }

    /// Keeps or removes one object file: kept as `keep` says when given (marked, or its base is kept), else by its
    /// age and links. Counts a kept file's blocks as the store's own when the store holds its only link.
    private func judge(
        _ id: ObjectID, _ name: String, isTwin: Bool, keep: Verdict?, dirFD: Int32, dirPath: String, young: Int64,
        dryRun: Bool, report: inout SweepReport, visit: (SweptObject) -> Void
    ) -> Verdict {
        var st = stat()
        guard fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            return keep ?? .unknown
        }
        let verdict: Verdict
        if let keep {
            verdict = keep
        } else if Timestamps.ctimeNs(st) >= young {
            verdict = .young
        } else if st.st_nlink > 1 {
            verdict = .linked
        } else {
            // Gone meanwhile, or not removable: either way not counted as removed.
            if !dryRun && unlinkat(dirFD, name, 0) != 0 { return .unknown }
            let (bytes, freed) = (Int(st.st_size), Int(st.st_blocks) * 512)
            visit(SweptObject(id: id, isTwin: isTwin, path: dirPath + "/" + name, bytes: bytes, freedBytes: freed))
            return .removed(bytes: bytes, freed: freed)
        }
        if st.st_nlink == 1 { report.keptOwnBytes += Int(st.st_blocks) * 512 }
        return verdict
    }

    /// The disk space the store itself holds, in bytes: object files no target links (a linked object's blocks
    /// are the target's too, and removing it would free nothing), plus everything under `partials/`, `tmp/` and
    /// `quarantine/`. What `--max-size` is compared with. One `fstatat` per file; reads no content.
    public func ownDiskUsage() -> Int {
        var total = 0
        for fan in (try? FileSystem.names(in: objectsDirectory)) ?? [] {
            total += FileSystem.diskUsage(of: objectsDirectory + "/" + fan, onlyUnlinked: true)
        }
        for dir in [partialsDirectory, temporaryDirectory, quarantineDirectory] {
            total += FileSystem.diskUsage(of: dir)
        }
        return total
    }
}

extension FileSystem {
    /// The disk space (allocated blocks, in bytes) of `path` and, for a directory, everything below it, not
    /// following symlinks. With `onlyUnlinked`, files with more than one link count as nothing (another name holds
    /// their blocks).
    public static func diskUsage(of path: String, onlyUnlinked: Bool = false) -> Int {
        var st = stat()
        guard lstat(path, &st) == 0 else { return 0 }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            return onlyUnlinked && st.st_nlink > 1 ? 0 : Int(st.st_blocks) * 512
        }
        var total = 0
        for name in (try? FileSystem.names(in: path)) ?? [] {
            total += diskUsage(of: path + "/" + name, onlyUnlinked: onlyUnlinked)
        }
        return total
    }
}

/// What the sweep decided for one object file.
enum Verdict {
    case marked, young, linked, unknown
    case removed(bytes: Int, freed: Int)

    var isRemoved: Bool {
        if case .removed = self { return true }
        return false
    }
}

extension SweepReport {
    mutating func count(_ verdict: Verdict) {
        switch verdict {
        case .marked: keptMarked += 1
        case .young: keptYoung += 1
        case .linked: keptLinked += 1
        case .unknown: unknown += 1
        case .removed(let bytes, let freed):
            removed += 1
            removedBytes += bytes
            freedBytes += freed
        }
    }
}
