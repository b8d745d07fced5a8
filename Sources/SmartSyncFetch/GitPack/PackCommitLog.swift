import Foundation
import SmartSyncFileSystem
import SmartSyncGitObjects

/// The commits the pack transport listed into this store, newest first, so a later run (another target, a warm of the
/// next ref) can say `have` for them. A commit is only used once its whole closure is found in the store.
///
/// One small text file per repository under the cache directory; a missing or damaged file only costs deltas.
struct PackCommitLog: Sendable {
    let path: String?
    static let capacity = 8

    init(directory: String?, repositoryURL: String) {
        path = directory.map { $0 + "/pack-commits-" + ObjectID.hash(.blob, Array(repositoryURL.utf8)).abbreviated(16) }
    }

    /// The recorded commits, newest first.
    func load() -> [ObjectID] {
        guard let path, let bytes = try? FileSystem.readFile(path) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { ObjectID(hex: String($0)) }
    }

    /// Puts `commit` first, keeping at most ``capacity`` entries.
    func record(_ commit: ObjectID) {
        guard let path else { return }
        var commits = load().filter { $0 != commit }
        commits.insert(commit, at: 0)
        let text = commits.prefix(Self.capacity).map(\.hex).joined(separator: "\n") + "\n"
        _ = try? FileSystem.writeFileAtomically(path, Array(text.utf8))
    }
}
