import FoundationEssentials
import SmartSyncFileSystem
import SmartSyncGitObjects
import SmartSyncObjectStore

/// The commits the pack transport listed into this store, newest first, so a later run (another target, a warm of the
/// next ref) can say `have` for them. A commit is only used once its whole closure is found in the store.
///
/// One small file per repository under the cache directory (`pack-commits-<hash of the URL>`), replaced atomically by
/// each record: a bounded most-recent list, not an append-only log, so a ``JSONRecord`` (format
/// `smart-sync-pack-commits`). The text of smart-sync 0.1.0 (one hex id per line) is read and rewritten. A missing or
/// damaged file only costs deltas, so it is not fsynced (two fsyncs on every update that lists through a pack, each a
/// wait for the journal): a record a power cut loses or cuts short is read as no record (``load()``: a JSON line that
/// does not decode is none), and nothing trusts it: a commit is used only once its whole closure is found in the store.
struct PackCommitLog: Sendable {
    let path: String?
    static let capacity = 8

    init(directory: String?, repositoryURL: String) {
        path = directory.map { $0 + "/pack-commits-" + ObjectID.hash(.blob, Array(repositoryURL.utf8)).abbreviated(16) }
    }

    /// The file's record.
    struct Record: JSONRecord, Equatable {
        static let format = "smart-sync-pack-commits"
        static let version = 1
        /// Newest first.
        var commits: [ObjectID]
    }

    /// The recorded commits, newest first.
    func load() -> [ObjectID] {
        guard let path, let record = try? Record.readMigrating(at: path, legacy: Self.legacyRecord)?.record else {
            return []
        }
        return record.commits
    }

    /// Puts `commit` first, keeping at most ``capacity`` entries.
    func record(_ commit: ObjectID) {
        guard let path else { return }
        var commits = load().filter { $0 != commit }
        commits.insert(commit, at: 0)
        try? Record(commits: Array(commits.prefix(Self.capacity))).write(to: path, durable: false)
    }

    /// Parses the text of smart-sync 0.1.0: one commit id in hex per line, newest first (other lines skipped).
    static func legacyRecord(_ bytes: [UInt8]) -> (record: Record, payload: ArraySlice<UInt8>)? {
        let commits = String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap {
            ObjectID(hex: String($0))
        }
        return (Record(commits: commits), [])
    }
}
