import Glibc
import SmartSyncCore
import SmartSyncFileSystem

/// An append-only log of text lines, bounded: the shape of the kept-version log and the run history.
///
/// Each append is one `write` under `O_APPEND`, then `fsync` (unless not ``durable``). A last line without its newline
/// was cut short by a crash: reading skips it, and the next append closes it off first so its own line starts clean.
/// When the log would hold more than ``limit`` lines it is rewritten atomically with the most recent ones (mode 0600):
/// ``trimmedTo`` of them.
public struct LineLog: Sendable {
    /// The log file.
    public let path: String
    /// Lines kept at most.
    public var limit: Int
    /// Lines a trim keeps (clamped to 0…``limit``; nil: ``limit``). Fewer than the limit spare the appends after a
    /// trim a rewrite each: a log trimmed to exactly its limit is rewritten whole by every later append (the run
    /// history, after its first 1,000 runs: ~300 KB and an fsync every run).
    public var trimmedTo: Int?
    /// Each append fsynced (the kept-version log: what `restore` needs). Not for the run history, a report of runs: a
    /// power cut may lose its last lines, as git's own reflogs and index are not fsynced either. The rewrite that trims
    /// the log is fsynced either way: it replaces the whole file, and a replacing rename not ordered after its data
    /// (XFS, btrfs) could otherwise leave the whole history empty after a power cut, not only its last lines.
    public var durable = true

    public init(path: String, limit: Int) {
        self.path = path
        self.limit = limit
    }

    /// Every whole line, oldest first (a torn last line is left out).
    public func lines() throws -> [Substring] {
        guard let (bytes, _) = try FileSystem.readFileIfPresent(path) else { return [] }
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        if !text.hasSuffix("\n"), !lines.isEmpty { lines.removeLast() }
        return lines
    }

    /// Appends `newLines` (each without its newline). `keep` picks, from the whole lines already there, those
    /// still worth keeping when the log has to be trimmed (the kept-version log drops damaged records then).
    public func append(_ newLines: [String], keep: ([Substring]) -> [String] = { $0.map(String.init) }) throws {
        guard !newLines.isEmpty else { return }
        if let slash = path.lastIndex(of: "/") { try FileSystem.makeDirectories(String(path[..<slash])) }
        let existing = try FileSystem.readFileIfPresent(path)?.bytes ?? []
        let lineCount = existing.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        if lineCount + newLines.count > limit {
            let all = try keep(lines()) + newLines
            let text = all.suffix(max(0, min(trimmedTo ?? limit, limit))).map { $0 + "\n" }.joined()
            try FileSystem.writeFileAtomically(path, Array(text.utf8), mode: 0o600)  // durable: see ``durable``
            return
        }
        var text = existing.last.map { $0 == 0x0A ? "" : "\n" } ?? ""
        text += newLines.map { $0 + "\n" }.joined()
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SmartSyncError.io("open", path: path) }
        defer { close(fd) }
        try Array(text.utf8).withUnsafeBytes { try FileSystem.writeAll(fd: fd, $0, path: path) }
        guard !durable || fsync(fd) == 0 else { throw SmartSyncError.io("fsync", path: path) }
    }
}
