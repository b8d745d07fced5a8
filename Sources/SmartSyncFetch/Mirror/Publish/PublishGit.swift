import Glibc
import SmartSyncCore
import SmartSyncGitObjects

/// A root tree's listing as the mirror serves it: the bytes of `git ls-tree -r -t -l -z --full-tree <tree>`, and
/// what a pack of its commit needs.
struct PublishListing: Sendable {
    /// The listing file's bytes.
    var bytes: [UInt8]
    /// Each blob's id, once (submodule entries are no objects of this repository).
    var blobs: [ObjectID]
    /// Every tree and blob below the root, with its path (git's delta heuristics group by it).
    var objects: [(id: ObjectID, path: ArraySlice<UInt8>)]

    /// Parses ls-tree's `<mode> SP <type> SP <id> SP+ <size> TAB <path> NUL` records.
    init(bytes: [UInt8], tree: ObjectID) throws {
        self.bytes = bytes
        var blobs: [ObjectID] = []
        var seen = Set<ObjectID>()
        var objects: [(id: ObjectID, path: ArraySlice<UInt8>)] = []
        for record in bytes.split(separator: 0) {
            guard let tab = record.firstIndex(of: UInt8(ascii: "\t")) else {
                throw SmartSyncError(.malformedResponse, "unexpected git ls-tree output for tree \(tree)")
            }
            let fields = record[record.startIndex..<tab].split(separator: UInt8(ascii: " "))
            guard fields.count == 4, let id = ObjectID(hex: String(decoding: fields[2], as: UTF8.self)) else {
                throw SmartSyncError(.malformedResponse, "unexpected git ls-tree output for tree \(tree)")
            }
            switch String(decoding: fields[1], as: UTF8.self) {
            case "blob":
                if seen.insert(id).inserted { blobs.append(id) }
                objects.append((id, record[(tab + 1)...]))
            case "tree": objects.append((id, record[(tab + 1)...]))
            default: break  // a submodule's commit
            }
        }
        self.blobs = blobs
        self.objects = objects
    }
}

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
        let temporary = out.temporaryPath()
        let r = try await ProcessRunner.git(
            ["pack-objects", "--stdout", "-q", "--delta-base-offset"], in: repository
        ).run(input: .bytes(input), output: .file(temporary), error: .captured)
        guard r.status == 0 else {
            unlink(temporary)
            throw SmartSyncError(
                .sourceUnavailable, "git pack-objects failed for commit \(commit) in \(repository): \(r.errorOutput)")
        }
        var st = stat()
        let size = stat(temporary, &st) == 0 ? Int(st.st_size) : 0
        try out.install(temporary, as: PublishDirectory.packFile(commit))
        return size
    }

    /// git in the repository, to completion; a failure is `.sourceUnavailable` naming the command.
    private func run(_ arguments: [String]) async throws -> ProcessResult {
        let r = try await ProcessRunner.runGit(arguments, in: repository)
        guard r.status == 0 else {
            throw SmartSyncError(
                .sourceUnavailable, "git \(arguments[0]) failed in \(repository): \(r.errorOutput)")
        }
        return r
    }
}
