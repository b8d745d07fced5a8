import Glibc
import SmartSyncCore
import SmartSyncGitObjects

/// The git calls of a publish, in the repository it publishes from (``ProcessRunner/git(_:in:environmentChanges:)``:
/// a clean environment, no system or user config).
struct PublishGit: Sendable {
    let repository: String

    /// A commit or blob file to copy out of the repository.
    struct ObjectFile: Sendable {
        var id: ObjectID
        var kind: ObjectKind
        /// Its path in the mirror.
        var file: String
    }

    /// The root tree of `commit`.
    func rootTree(of commit: ObjectID) async throws -> ObjectID {
        let r = try await run(["rev-parse", "--verify", "--quiet", "--end-of-options", commit.hex + "^{tree}"])
        guard let tree = ObjectID(hex: r.output) else {
            throw SmartSyncError(.sourceUnavailable, "commit \(commit) has no tree in \(repository)")
        }
        return tree
    }

    /// The listing of `tree`.
    func listing(of tree: ObjectID) async throws -> PublishListing {
        let r = try await run(["ls-tree", "-r", "-t", "-l", "-z", "--full-tree", tree.hex])
        return try PublishListing(bytes: r.stdout, tree: tree)
    }

    /// Up to `limit` commits reachable from `tips` and not from `since` (those this repository has), newest
    /// first; a shallow repository's history ends at its boundary.
    func history(of tips: [ObjectID], since: [ObjectID], limit: Int) async throws -> [ObjectID] {
        guard limit > 0, !tips.isEmpty else { return [] }
        var args = ["rev-list", "--ignore-missing", "--max-count=\(limit)"] + tips.map(\.hex)
        if !since.isEmpty { args += ["--not"] + since.map(\.hex) }
        let r = try await run(args)
        return r.stdoutString.split(separator: "\n").compactMap { ObjectID(hex: $0) }
    }

    /// `git pack-objects` of `commit`, its root tree and everything in `listing` into `packs/<commit>.pack`:
    /// self-contained (deltas only against objects in the same pack). Returns the pack's size.
    func pack(commit: ObjectID, tree: ObjectID, listing: PublishListing, into out: PublishDirectory) async throws
        -> Int
    {
        var input = Array((commit.hex + "\n" + tree.hex + "\n").utf8)
        for (id, path) in listing.objects {
            input += Array(id.hex.utf8)
            // The path is a hint for delta selection; one with a newline would end the line early.
            if !path.contains(UInt8(ascii: "\n")) {
                input.append(UInt8(ascii: " "))
                input += path
            }
            input.append(UInt8(ascii: "\n"))
        }
        // git writes the pack into a file the spawn creates (O_EXCL | O_NOFOLLOW: never through a planted name).
        // One thread and no reuse of the repository's deltas: for one git version, the bytes depend only on
        // the objects (docs/MIRROR.md: not across versions or publishers).
        let temporary = out.temporaryName()
        defer { out.removeTemporary(temporary) }
        let r = try await ProcessRunner.git(
            ["pack-objects", "--stdout", "-q", "--delta-base-offset", "--threads=1", "--no-reuse-delta",
             "--no-reuse-object"], in: repository
        ).run(input: .bytes(input), output: .newFile(out.temporaryPath(temporary)), error: .captured)
        guard r.status == 0 else {
            throw SmartSyncError(
                .sourceUnavailable, "git pack-objects failed for commit \(commit) in \(repository): \(r.errorExcerpt)",
                hint: "check the repository with git fsck")
        }
        let size = try out.size(ofTemporary: temporary)
        try out.install(temporary, as: PublishDirectory.packFile(commit))
        return size
    }

    /// git in the repository, to completion; a failure is `.sourceUnavailable` naming the command.
    private func run(_ arguments: [String]) async throws -> ProcessResult {
        let r = try await ProcessRunner.runGit(arguments, in: repository)
        guard r.status == 0 else {
            throw SmartSyncError(
                .sourceUnavailable, "git \(arguments[0]) failed in \(repository): \(r.errorExcerpt)")
        }
        return r
    }
}
