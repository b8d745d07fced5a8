import Dispatch
import Glibc
import SmartSyncCore
import SmartSyncFileSystem
import SmartSyncGitObjects
import Synchronization

/// A store object that failed ``ObjectStore/fsck(threads:)``.
public struct FsckFinding: Sendable, Equatable {
    /// What is wrong with it.
    public enum Problem: Sendable, Equatable {
        /// The content hashes to its name as no object kind (a flipped byte, a write through a target's hardlink,
        /// a truncation).
        case content
        /// The content is right but its ``Seal`` is broken (a `chmod`, `chown` or `touch` through a target's
        /// hardlink, or an object of an earlier release).
        case seal(Seal.Breach)
        /// Not a regular file.
        case notAFile
        /// It could not be read (the `errno` text).
        case unreadable(String)

        /// A short name: `content`, `seal`, `not-a-file`, `unreadable`.
        public var name: String {
            switch self {
            case .content: return "content"
            case .seal: return "seal"
            case .notAFile: return "not-a-file"
            case .unreadable: return "unreadable"
            }
        }
    }

    /// The object's id (its name).
    public var id: ObjectID
    /// True when the finding is about the executable twin (`….x`), not the object itself.
    public var isTwin: Bool
    /// Its path in the store.
    public var path: String
    public var problem: Problem

    /// One line for a human.
    public var summary: String {
        let what = isTwin ? "the executable twin of \(id.hex)" : "object \(id.hex)"
        switch problem {
        case .content: return "\(what): content does not hash to its name"
        case .seal(let breach): return "\(what): content intact, seal broken (\(breach))"
        case .notAFile: return "\(what): not a regular file"
        case .unreadable(let why): return "\(what): unreadable (\(why))"
        }
    }
}

/// What ``ObjectStore/fsck(threads:)`` found.
public struct FsckReport: Sendable {
    /// Object files checked (twins included).
    public var checked = 0
    /// Their bytes, all hashed.
    public var bytes = 0
    /// Objects by the kind whose header their content hashes to.
    public var kinds: [ObjectKind: Int] = [:]
    /// The damaged ones, sorted by id (a twin's before its object's).
    public var findings: [FsckFinding] = []

    public init() {}

    mutating func merge(_ other: FsckReport) {
        checked += other.checked
        bytes += other.bytes
        kinds.merge(other.kinds, uniquingKeysWith: +)
        findings += other.findings
    }
}

extension ObjectStore {
    /// Re-hashes every object under `objects/`, on `threads` threads (default: one per online CPU), each fan-out
    /// directory on one of them. An object is hashed as a blob first, then, when that does not give its name, as a
    /// tree, commit and tag (the store keeps no kind); a twin must hash as a blob to its base's id. Seals are checked
    /// too (``Seal/breach(of:executable:size:)``). Changes nothing: ``mend(_:)`` acts on what it reports.
    ///
    /// Memory is one 256 KiB buffer per thread plus a directory's names at a time. Files that vanish while it runs
    /// (a gc, a quarantine) are skipped.
    public func fsck(threads: Int? = nil) -> FsckReport {
        let fans = ((try? FileSystem.names(in: objectsDirectory)) ?? []).filter { $0.utf8.count == 2 }.sorted()
        let workers = max(1, min(threads ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), fans.count))
        let next = Mutex(0)
        let total = Mutex(FsckReport())
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            let checker = ObjectChecker()
            var mine = FsckReport()
            while true {
                let index = next.withLock { i -> Int in
                    defer { i += 1 }
                    return i
                }
                guard index < fans.count else { break }
                let dir = objectsDirectory + "/" + fans[index]
                for name in (try? FileSystem.names(in: dir)) ?? [] {
                    let isTwin = name.hasSuffix(".x")
                    guard let id = ObjectID(hex: fans[index] + (isTwin ? name.dropLast(2) : name[...])) else {
                        continue
                    }
                    checker.check(id, path: dir + "/" + name, isTwin: isTwin, into: &mine)
                }
            }
            total.withLock { $0.merge(mine) }
        }
        var report = total.withLock { $0 }
        // A twin's finding first: mending its object's (a fresh sealed copy drops the twin) must not unlink a
        // damaged twin that belongs in the quarantine.
        report.findings.sort { ($0.id, $0.isTwin ? 0 : 1) < ($1.id, $1.isTwin ? 0 : 1) }
        return report
    }
}

extension ObjectStore {
    /// Acts on an fsck finding, as the check before each link would: damaged content (or something that is not a
    /// file) goes to the quarantine, so the next fetch publishes a good copy; intact content with a broken seal is
    /// sealed again (in place when only its time moved, else as a fresh sealed inode, the old one staying with whoever
    /// links it); a twin with a broken seal is dropped (made again from its base on demand). Returns what was done, for
    /// the report; nil when nothing was (unreadable, or gone meanwhile).
    public func mend(_ finding: FsckFinding) throws -> String? {
        let reason = "fsck: " + finding.summary
        switch finding.problem {
        case .content, .notAFile:
            let moved =
                finding.isTwin
                ? try quarantineTwin(of: finding.id, reason: reason) : try quarantine(finding.id, reason: reason)
            return moved.map { "quarantined at \($0)" }
        case .seal(let breach):
            if finding.isTwin {
                guard unlink(finding.path) == 0 else { return nil }
                return "twin dropped (made again from its object when needed)"
            }
            if breach.keepsPermissionsAndOwner {
                try Seal.apply(dirFD: AT_FDCWD, name: finding.path, display: finding.path)
                return "sealed again in place"
            }
            try replaceWithSealedCopy(finding.id, from: finding.path)
            return "replaced by a sealed copy (the old inode stays with the files that link it)"
        case .unreadable:
            return nil
        }
    }
}

/// Hashes one object file at a time through a reused buffer (one per thread).
private final class ObjectChecker {
    static let bufferSize = 256 * 1024
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: ObjectChecker.bufferSize, alignment: 16)

    deinit { buffer.deallocate() }

    func check(_ id: ObjectID, path: String, isTwin: Bool, into report: inout FsckReport) {
        func finding(_ problem: FsckFinding.Problem) {
            report.findings.append(FsckFinding(id: id, isTwin: isTwin, path: path, problem: problem))
        }
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT { return }
            if err == ELOOP { return finding(.notAFile) }
            return finding(.unreadable(String(cString: strerror(err))))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return finding(.unreadable(String(cString: strerror(errno)))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return finding(.notAFile) }
        report.checked += 1
        let size = Int(st.st_size)
        report.bytes += size
        let kinds: [ObjectKind] = isTwin ? [.blob] : [.blob, .tree, .commit, .tag]
        guard let kind = try? kindHashing(fd: fd, size: size, to: id, trying: kinds) else {
            return finding(.content)
        }
        if !isTwin { report.kinds[kind, default: 0] += 1 }
        if let breach = Seal.breach(of: st, executable: isTwin, size: nil) { finding(.seal(breach)) }
    }

    /// The first of `kinds` whose header makes the content hash to `id`, or nil. The content is read once for the
    /// first kind; the others hash it from the buffer when it fits, else from one more read through all of them.
    private func kindHashing(fd: Int32, size: Int, to id: ObjectID, trying kinds: [ObjectKind]) throws -> ObjectKind? {
        let first = BlobHasher(kind: kinds[0], size: size)
        try read(fd: fd, size: size) { first.update($0) }
        if first.finalize() == id { return kinds[0] }
        let rest = kinds.dropFirst().map { BlobHasher(kind: $0, size: size) }
        guard !rest.isEmpty else { return nil }
        if size <= buffer.count {
            let content = UnsafeRawBufferPointer(rebasing: buffer[0..<size])
            for hasher in rest { hasher.update(content) }
        } else {
            try read(fd: fd, size: size) { chunk in for hasher in rest { hasher.update(chunk) } }
        }
        return zip(kinds.dropFirst(), rest).first { $0.1.finalize() == id }?.0
    }

    /// Reads `size` bytes from offset 0 through the buffer (`pread`), handing each chunk to `body`. Content that fits
    /// is laid out whole in the buffer (each chunk after the previous one), so it can be hashed again from there.
    private func read(fd: Int32, size: Int, _ body: (UnsafeRawBufferPointer) -> Void) throws {
        let whole = size <= buffer.count
        var offset = 0
        while offset < size {
            let start = whole ? offset : 0
            let n = pread(fd, buffer.baseAddress! + start, min(buffer.count - start, size - offset), off_t(offset))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw SmartSyncError(.io, "the object ended before its size while it was read") }
            body(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + n)]))
            offset += n
        }
    }
}
